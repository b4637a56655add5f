// `npm run test:native-sanitize`: builds the native kernels with AddressSanitizer and
// UndefinedBehaviorSanitizer into native/build-sanitize/ (the normal build in native/build/ is
// untouched) and runs the kernel tests against that build. Any out-of-bounds access, use after
// free or undefined behaviour (a signed overflow, a bad cast) aborts the test run with a report.
//
// The sanitizer runtime must be loaded before anything else in the process, so node runs with
// LD_PRELOAD=libasan.so (found through the compiler). Leak checking is off: Node itself keeps
// allocations until exit.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sourceHash } from './build-native.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const srcDir = path.join(root, 'native', 'src');
const outDir = path.join(root, 'native', 'build-sanitize');
const cxx = process.env.CXX ?? 'g++';

function fail(msg) {
  console.error(`test:native-sanitize: ${msg}`);
  process.exit(1);
}

if (process.platform !== 'linux') {
  console.log('test:native-sanitize: skipped (the sanitizer build is set up for Linux)');
  process.exit(0);
}
const include = ['/usr/include/node', path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node')].find((d) =>
  fs.existsSync(path.join(d, 'node_api.h')),
);
if (!include) fail("Node's C headers (node_api.h) were not found");
const asan = spawnSync(cxx, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim();
if (!asan || !fs.existsSync(asan)) fail(`${cxx} has no AddressSanitizer runtime (libasan.so); install libasan for it`);

fs.mkdirSync(outDir, { recursive: true });
const sources = fs
  .readdirSync(srcDir)
  .filter((f) => f.endsWith('.cc'))
  .sort()
  .map((f) => path.join(srcDir, f));
const target = path.join(outDir, 'fim_native.node');
const t0 = Date.now();
const build = spawnSync(
  cxx,
  [
    '-O1',
    '-g',
    '-fsanitize=address,undefined,float-cast-overflow',
    '-fno-sanitize-recover=undefined',
    '-fno-omit-frame-pointer',
    '-march=native',
    '-fopenmp',
    '-std=c++17',
    '-fPIC',
    '-shared',
    '-DNAPI_VERSION=8',
    '-DNODE_GYP_MODULE_NAME=fim_native',
    `-I${include}`,
    ...sources,
    '-o',
    target,
  ],
  { stdio: 'inherit' },
);
if (build.status !== 0) fail(`${cxx} failed (exit ${build.status})`);
fs.writeFileSync(
  path.join(outDir, 'build-info.json'),
  JSON.stringify(
    { builtAt: new Date().toISOString(), sanitizers: ['address', 'undefined'], requires: [], sourceHash: sourceHash() },
    null,
    2,
  ) + '\n',
);
console.log(`test:native-sanitize: built ${path.relative(root, target)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const tests = ['native.test.ts', 'kernels.test.ts', 'batchNorm.test.ts', 'bnReluPool.test.ts', 'convBnReluPool.test.ts'].map((f) =>
  path.join('test', 'engine', 'backend', f),
);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...tests], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    FIM_BACKEND: 'wasm',
    FIM_NATIVE_BUILD: outDir,
    LD_PRELOAD: asan,
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  },
});
process.exit(r.status ?? 1);
