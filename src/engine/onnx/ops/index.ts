import { registerOps } from '../compile';
import { CONSTANT_OPS } from './constant';
import { Conv } from './conv';
import { BINARY_OPS, UNARY_OPS } from './elementwise';
import { GEMM_OPS } from './gemm';
import { BatchNormalization } from './norm';
import { POOL_OPS } from './pool';
import { REDUCE_OPS } from './reduce';
import { SHAPE_OPS } from './shape';

/** Every operator the importer runs; anything else is refused by name before any work starts. */
registerOps({
  ...CONSTANT_OPS,
  ...UNARY_OPS,
  ...BINARY_OPS,
  ...GEMM_OPS,
  ...POOL_OPS,
  ...REDUCE_OPS,
  ...SHAPE_OPS,
  Conv,
  BatchNormalization,
});
