import { decodeMessage, encodeMessage, type MessageSchema } from './protobuf';

/**
 * The ONNX messages the importer reads and the exporter writes, with the field numbers of
 * onnx.proto (ONNX IR version 3 and later; the numbers have been stable since). Fields this tool
 * never uses (sparse tensors, training info, functions, type denotations) are left out: the
 * decoder skips them, and models that rely on them are refused by name in read.ts.
 */

export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

export const DATA_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]));

export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

export interface StringStringEntryProto {
  key?: string;
  value?: string;
}

export interface TensorProto {
  dims?: number[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: number[];
  name?: string;
  raw_data?: Uint8Array;
  double_data?: number[];
  uint64_data?: number[];
  doc_string?: string;
  external_data?: StringStringEntryProto[];
  /** 0 default, 1 external. */
  data_location?: number;
  /** Present when the tensor is split into segments (unsupported). */
  segment?: Record<string, unknown>;
}

export interface DimensionProto {
  dim_value?: number;
  dim_param?: string;
  denotation?: string;
}

export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim?: DimensionProto[] } };
  /** Non-tensor types: only their presence is checked. */
  sequence_type?: Record<string, unknown>;
  map_type?: Record<string, unknown>;
  optional_type?: Record<string, unknown>;
  sparse_tensor_type?: Record<string, unknown>;
  denotation?: string;
}

export interface ValueInfoProto {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
}

export interface AttributeProto {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparse_tensor?: Record<string, unknown>;
}

export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
}

export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparse_initializer?: Record<string, unknown>[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

export interface OperatorSetIdProto {
  domain?: string;
  version?: number;
}

export interface ModelProto {
  ir_version?: number;
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph?: GraphProto;
  opset_import?: OperatorSetIdProto[];
  metadata_props?: StringStringEntryProto[];
  training_info?: Record<string, unknown>[];
  functions?: Record<string, unknown>[];
}

const opaque: MessageSchema = {};

const stringStringEntry: MessageSchema = {
  1: { name: 'key', type: 'string' },
  2: { name: 'value', type: 'string' },
};

const tensor: MessageSchema = {
  1: { name: 'dims', type: 'int64', repeated: true },
  2: { name: 'data_type', type: 'int32' },
  3: { name: 'segment', type: 'message', message: () => opaque },
  4: { name: 'float_data', type: 'float', repeated: true },
  5: { name: 'int32_data', type: 'int32', repeated: true },
  6: { name: 'string_data', type: 'bytes', repeated: true },
  7: { name: 'int64_data', type: 'int64', repeated: true },
  8: { name: 'name', type: 'string' },
  9: { name: 'raw_data', type: 'bytes' },
  10: { name: 'double_data', type: 'double', repeated: true },
  11: { name: 'uint64_data', type: 'uint64', repeated: true },
  12: { name: 'doc_string', type: 'string' },
  13: { name: 'external_data', type: 'message', repeated: true, message: () => stringStringEntry },
  14: { name: 'data_location', type: 'enum' },
};

const dimension: MessageSchema = {
  1: { name: 'dim_value', type: 'int64' },
  2: { name: 'dim_param', type: 'string' },
  3: { name: 'denotation', type: 'string' },
};

const tensorShape: MessageSchema = { 1: { name: 'dim', type: 'message', repeated: true, message: () => dimension } };

const tensorType: MessageSchema = {
  1: { name: 'elem_type', type: 'int32' },
  2: { name: 'shape', type: 'message', message: () => tensorShape },
};

const typeProto: MessageSchema = {
  1: { name: 'tensor_type', type: 'message', message: () => tensorType },
  4: { name: 'sequence_type', type: 'message', message: () => opaque },
  5: { name: 'map_type', type: 'message', message: () => opaque },
  6: { name: 'denotation', type: 'string' },
  8: { name: 'sparse_tensor_type', type: 'message', message: () => opaque },
  9: { name: 'optional_type', type: 'message', message: () => opaque },
};

const valueInfo: MessageSchema = {
  1: { name: 'name', type: 'string' },
  2: { name: 'type', type: 'message', message: () => typeProto },
  3: { name: 'doc_string', type: 'string' },
};

const attribute: MessageSchema = {
  1: { name: 'name', type: 'string' },
  2: { name: 'f', type: 'float' },
  3: { name: 'i', type: 'int64' },
  4: { name: 's', type: 'bytes' },
  5: { name: 't', type: 'message', message: () => tensor },
  6: { name: 'g', type: 'message', message: () => graph },
  7: { name: 'floats', type: 'float', repeated: true },
  8: { name: 'ints', type: 'int64', repeated: true },
  9: { name: 'strings', type: 'bytes', repeated: true },
  10: { name: 'tensors', type: 'message', repeated: true, message: () => tensor },
  11: { name: 'graphs', type: 'message', repeated: true, message: () => graph },
  13: { name: 'doc_string', type: 'string' },
  20: { name: 'type', type: 'enum' },
  21: { name: 'ref_attr_name', type: 'string' },
  22: { name: 'sparse_tensor', type: 'message', message: () => opaque },
};

const node: MessageSchema = {
  1: { name: 'input', type: 'string', repeated: true },
  2: { name: 'output', type: 'string', repeated: true },
  3: { name: 'name', type: 'string' },
  4: { name: 'op_type', type: 'string' },
  5: { name: 'attribute', type: 'message', repeated: true, message: () => attribute },
  6: { name: 'doc_string', type: 'string' },
  7: { name: 'domain', type: 'string' },
};

const graph: MessageSchema = {
  1: { name: 'node', type: 'message', repeated: true, message: () => node },
  2: { name: 'name', type: 'string' },
  5: { name: 'initializer', type: 'message', repeated: true, message: () => tensor },
  10: { name: 'doc_string', type: 'string' },
  11: { name: 'input', type: 'message', repeated: true, message: () => valueInfo },
  12: { name: 'output', type: 'message', repeated: true, message: () => valueInfo },
  13: { name: 'value_info', type: 'message', repeated: true, message: () => valueInfo },
  15: { name: 'sparse_initializer', type: 'message', repeated: true, message: () => opaque },
};

const operatorSetId: MessageSchema = {
  1: { name: 'domain', type: 'string' },
  2: { name: 'version', type: 'int64' },
};

const model: MessageSchema = {
  1: { name: 'ir_version', type: 'int64' },
  2: { name: 'producer_name', type: 'string' },
  3: { name: 'producer_version', type: 'string' },
  4: { name: 'domain', type: 'string' },
  5: { name: 'model_version', type: 'int64' },
  6: { name: 'doc_string', type: 'string' },
  7: { name: 'graph', type: 'message', message: () => graph },
  8: { name: 'opset_import', type: 'message', repeated: true, message: () => operatorSetId },
  14: { name: 'metadata_props', type: 'message', repeated: true, message: () => stringStringEntry },
  20: { name: 'training_info', type: 'message', repeated: true, message: () => opaque },
  25: { name: 'functions', type: 'message', repeated: true, message: () => opaque },
};

export function decodeModel(bytes: Uint8Array): ModelProto {
  return decodeMessage(model, bytes);
}

export function encodeModel(m: ModelProto): Uint8Array {
  return encodeMessage(model, m as Record<string, unknown>);
}

export function decodeTensor(bytes: Uint8Array): TensorProto {
  return decodeMessage(tensor, bytes);
}
