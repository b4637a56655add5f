// `npm test`: every test/**/*.test.ts (and .test.mts, for ES-module tests of the webviews) except the e2e suite, through node's own test runner
// (so results are counted), with TypeScript loaded by tsx. Extra arguments are passed to node
// (e.g. --test-name-pattern). FIM_TEST_FILTER=engine/fim limits the files to a path fragment.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filter = process.env.FIM_TEST_FILTER ?? '';

function find(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'e2e' || e.name === 'fixtures' ? [] : find(p);
    return /\.test\.m?ts$/.test(e.name) ? [p] : [];
  });
}

const files = find(path.join(root, 'test'))
  .map((f) => path.relative(root, f))
  .filter((f) => f.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no test files match "${filter}"`);
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', ...process.argv.slice(2), ...files];
const r = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' },
});
process.exit(r.status ?? 1);
