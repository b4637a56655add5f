/**
 * The runtime schema of every engine request's parameters (the types are in engine.ts), one per
 * request method. The engine validates each request against it before doing anything and
 * answers a bad one with JSON-RPC's InvalidParams, naming the field ("budgets[1]: expected a
 * number"), instead of failing inside with a bare TypeError. A compile-time check below keeps
 * each schema equal to its protocol type, and test/protocol/engineParams.test.ts checks that every
 * request in engine.ts has one.
 *
 * valibot: small, tree-shaken (only the validators used are bundled), typed schemas whose
 * inferred types are checked against the protocol's interfaces.
 */
import * as v from 'valibot';
import { BACKEND_NAMES } from './backend';
import type {
  AutoAttackParams,
  CompleteInspectionParams,
  DistanceParams,
  ExportParams,
  ImportParams,
  InitializeParams,
  InspectParams,
  ResumeParams,
  StopParams,
  SweepParams,
  TrainParams,
  TransferParams,
  WorstCaseParams,
} from './engine';
import { evalNameProblem } from './names';

const MAX_PATH = 4096;

const text = (max: number) =>
  v.pipe(v.string('expected a string'), v.minLength(1, 'must not be empty'), v.maxLength(max, `must be at most ${max} characters`));
const filePath = v.pipe(
  text(MAX_PATH),
  v.check((s) => !s.includes('\0'), 'must not contain a NUL character'),
);
const finite = v.pipe(v.number('expected a number'), v.finite('must be a finite number'));
const integer = (min: number) =>
  v.pipe(
    v.number('expected a number'),
    v.integer('must be an integer'),
    v.minValue(min, `must be ≥ ${min}`),
    v.maxValue(2 ** 31 - 1, 'is too large'),
  );
const nonNegative = v.pipe(finite, v.minValue(0, 'must be ≥ 0'));
const positive = v.pipe(finite, v.gtValue(0, 'must be > 0'));
const evalName = v.pipe(
  v.string('expected a string'),
  v.check(
    (s) => evalNameProblem(s) === null,
    (issue) => evalNameProblem(issue.input) ?? 'is not a valid evaluation name',
  ),
);
const jobId = text(200);

export const InitializeParamsSchema = v.object({
  protocolVersion: v.number('expected a number'),
  backend: v.picklist(['auto', ...BACKEND_NAMES], `expected one of auto, ${BACKEND_NAMES.join(', ')}`),
  trusted: v.optional(v.boolean('expected true or false')),
});

const layout = v.picklist(['nchw', 'nhwc'], 'expected nchw or nhwc');
const modelOptions = v.object({
  inputLayout: v.optional(layout),
  normalize: v.optional(
    v.object({
      mean: v.pipe(v.array(finite, 'expected a list of numbers'), v.minLength(1, 'needs a value per channel')),
      std: v.pipe(v.array(positive, 'expected a list of numbers'), v.minLength(1, 'needs a value per channel')),
    }),
  ),
  freezeBatchNorm: v.optional(v.boolean('expected true or false')),
});

/**
 * A defence other than the trace term (src/runs/types.ts DefenceConfig). Listed here so that the
 * object schema does not drop it: the engine then checks its values with defenceProblem.
 */
const defence = v.variant('kind', [
  v.object({ kind: v.literal('spectral'), weight: nonNegative, fdStep: positive, rows: integer(0) }),
  v.object({ kind: v.literal('trades'), weight: nonNegative, epsilon: positive, steps: integer(1), stepSize: positive }),
  v.object({ kind: v.literal('trace-scaled'), weight: nonNegative, scale: positive, probes: integer(1), fdStep: positive }),
]);

export const TrainParamsSchema = v.object({
  jobId,
  model: text(MAX_PATH),
  dataset: text(1000),
  dataDir: v.optional(filePath),
  mu: nonNegative,
  labelSmoothing: v.optional(v.pipe(nonNegative, v.ltValue(1, 'must be < 1'))),
  epochs: integer(1),
  batchSize: integer(1),
  learningRate: positive,
  seed: integer(0),
  limitTrain: v.optional(integer(1)),
  limitTest: v.optional(integer(1)),
  storeDir: filePath,
  name: v.optional(text(200)),
  augmentation: v.optional(v.picklist(['none', 'crop-flip', 'crop'], 'expected none, crop or crop-flip')),
  adversarialTraining: v.optional(
    v.object({
      epsilon: positive,
      steps: integer(1),
      stepSize: positive,
      ratio: v.pipe(positive, v.maxValue(1, 'must be ≤ 1')),
    }),
  ),
  defence: v.optional(defence),
  logEvery: v.optional(integer(1)),
  modelOptions: v.optional(modelOptions),
});

export const ResumeParamsSchema = v.object({ jobId, runDir: filePath });

export const InspectParamsSchema = v.object({
  jobId,
  runDir: filePath,
  samples: integer(1),
  images: v.optional(integer(0)),
  name: v.optional(evalName),
});

export const SweepParamsSchema = v.object({
  jobId,
  runDir: filePath,
  attack: text(100),
  budgets: v.pipe(
    v.array(nonNegative, 'expected a list of numbers'),
    v.minLength(1, 'needs at least one budget'),
    v.maxLength(1000, 'has too many budgets'),
  ),
  samples: integer(1),
  name: v.optional(evalName),
});

export const AutoAttackParamsSchema = v.object({
  jobId,
  runDir: filePath,
  norm: v.picklist(['linf', 'l2'], 'expected linf or l2'),
  epsilon: positive,
  samples: integer(1),
  curveSamples: v.optional(integer(0)),
  name: v.optional(evalName),
});

export const StopParamsSchema = v.object({ jobId });

export const ImportParamsSchema = v.object({
  jobId,
  model: filePath,
  dataset: text(1000),
  dataDir: v.optional(filePath),
  storeDir: filePath,
  name: v.optional(text(200)),
  limitTest: v.optional(integer(1)),
  modelOptions: v.optional(modelOptions),
});

export const ExportParamsSchema = v.object({ jobId, runDir: filePath, out: filePath, inputLayout: v.optional(layout) });

/** An attack's option overrides (`--option k=v`): names to numbers, strings or booleans. */
const attackOptions = v.record(
  text(100),
  v.union([finite, v.pipe(v.string(), v.maxLength(1000)), v.boolean()], 'expected a number, a string or true/false'),
);
const attackList = v.pipe(v.array(text(100), 'expected a list of attack names'), v.maxLength(100, 'has too many attacks'));
const budgetList = v.pipe(
  v.array(nonNegative, 'expected a list of numbers'),
  v.minLength(1, 'needs at least one budget'),
  v.maxLength(1000, 'has too many budgets'),
);

export const DistanceParamsSchema = v.object({
  jobId,
  runDir: filePath,
  attacks: attackList,
  samples: integer(1),
  options: v.optional(v.record(text(100), attackOptions)),
  name: v.optional(evalName),
});

export const TransferParamsSchema = v.object({
  jobId,
  fromRunDir: filePath,
  toRunDir: filePath,
  attack: text(100),
  budget: v.optional(nonNegative),
  samples: integer(1),
  options: v.optional(attackOptions),
  name: v.optional(evalName),
});

export const WorstCaseParamsSchema = v.object({
  jobId,
  runDir: filePath,
  attacks: v.pipe(attackList, v.minLength(1, 'needs at least one attack')),
  budgets: budgetList,
  samples: integer(1),
  options: v.optional(v.record(text(100), attackOptions)),
  name: v.optional(evalName),
});

export const CompleteInspectionParamsSchema = v.object({ jobId, runDir: filePath, evalName: v.pipe(text(200), evalName) });

/** Every request method with parameters, and its schema (fim/shutdown has none). */
export const PARAMS_SCHEMAS = {
  'fim/initialize': InitializeParamsSchema,
  'fim/train': TrainParamsSchema,
  'fim/resume': ResumeParamsSchema,
  'fim/inspect': InspectParamsSchema,
  'fim/attackSweep': SweepParamsSchema,
  'fim/autoattack': AutoAttackParamsSchema,
  'fim/stopJob': StopParamsSchema,
  'fim/import': ImportParamsSchema,
  'fim/export': ExportParamsSchema,
  'fim/distance': DistanceParamsSchema,
  'fim/transfer': TransferParamsSchema,
  'fim/worstCase': WorstCaseParamsSchema,
  'fim/completeInspection': CompleteInspectionParamsSchema,
} as const;

export type ParamsMethod = keyof typeof PARAMS_SCHEMAS;

/** Where an issue is, as a field path: `budgets[1]`, `adversarialTraining.steps`, or `params`. */
function fieldOf(issue: v.BaseIssue<unknown>): string {
  let out = '';
  for (const item of issue.path ?? []) {
    const key = (item as { key?: unknown }).key;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || 'params';
}

/**
 * The params when they fit the method's schema, else a one-line reason naming the first bad
 * field (unknown fields are dropped, as valibot's object schemas do).
 */
export function validateParams<M extends ParamsMethod>(
  method: M,
  params: unknown,
): { ok: true; value: v.InferOutput<(typeof PARAMS_SCHEMAS)[M]> } | { ok: false; message: string } {
  const r = v.safeParse(PARAMS_SCHEMAS[method], params);
  if (r.success) return { ok: true, value: r.output };
  const issue = r.issues[0];
  const missing = issue.input === undefined && issue.kind === 'schema' && (issue.path?.length ?? 0) > 0;
  return { ok: false, message: `invalid ${method} params: ${fieldOf(issue)}: ${missing ? 'is required' : issue.message}` };
}

// Compile-time: each schema's type is exactly its protocol type, so neither can change alone.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemasMatchTypes: [
  Same<v.InferOutput<typeof InitializeParamsSchema>, InitializeParams>,
  Same<v.InferOutput<typeof TrainParamsSchema>, TrainParams>,
  Same<v.InferOutput<typeof ResumeParamsSchema>, ResumeParams>,
  Same<v.InferOutput<typeof InspectParamsSchema>, InspectParams>,
  Same<v.InferOutput<typeof SweepParamsSchema>, SweepParams>,
  Same<v.InferOutput<typeof StopParamsSchema>, StopParams>,
  Same<v.InferOutput<typeof ImportParamsSchema>, ImportParams>,
  Same<v.InferOutput<typeof ExportParamsSchema>, ExportParams>,
  Same<v.InferOutput<typeof DistanceParamsSchema>, DistanceParams>,
  Same<v.InferOutput<typeof TransferParamsSchema>, TransferParams>,
  Same<v.InferOutput<typeof WorstCaseParamsSchema>, WorstCaseParams>,
  Same<v.InferOutput<typeof CompleteInspectionParamsSchema>, CompleteInspectionParams>,
  Same<v.InferOutput<typeof AutoAttackParamsSchema>, AutoAttackParams>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true];
void schemasMatchTypes;
