// Writes small synthetic data sets in each format `fim train --dataset …` reads, to try them:
//   node scripts/make-sample-datasets.mjs [OUT_DIR] [--per-class N] [--test-per-class N] [--seed S]
// OUT_DIR (default ./sample-data) gets cifar10/ (binary batches), gtsrb/ (official layout: PPM +
// GT CSVs), idx/ (gzipped MNIST-named IDX files) and folder/ (one sub-folder of PNG/JPEG per class).
// The writers are the engine's own (test/fixtures/datasets.ts), loaded through tsx.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'per-class': { type: 'string' },
    'test-per-class': { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(
    'usage: node scripts/make-sample-datasets.mjs [OUT_DIR] [--per-class N (default 20)] [--test-per-class N (default 5)] [--seed S]',
  );
  process.exit(0);
}
const count = (name, v, def) => {
  const n = v === undefined ? def : Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${v}`);
    process.exit(2);
  }
  return n;
};
const perClass = count('per-class', values['per-class'], 20);
const testPerClass = count('test-per-class', values['test-per-class'], 5);
const seed = values.seed === undefined ? 0 : count('seed', values.seed, 0);
const out = path.resolve(positionals[0] ?? 'sample-data');

const { writeSampleDatasets } = await tsImport('../test/fixtures/datasets.ts', import.meta.url);
const dirs = writeSampleDatasets(out, { perClass, testPerClass }, seed);
console.log(`wrote sample data sets under ${out}:`);
console.log(`  node bin/fim.js train --dataset cifar10 --data-dir ${dirs.cifar10} --model vgg11`);
console.log(`  node bin/fim.js train --dataset gtsrb   --data-dir ${dirs.gtsrb} --model resnet14`);
console.log(`  node bin/fim.js train --dataset idx     --data-dir ${dirs.idx} --model convnet`);
console.log(`  node bin/fim.js train --dataset folder  --data-dir ${dirs.folder} --image-size 32 --model vgg11`);
