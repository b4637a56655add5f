// Builds the optional native kernels (native/src/*.cc → native/build/fim_native.node) with the
// system C++ compiler, for this machine's CPU (-march=native) and with OpenMP for all cores.
// The engine runs without them (portable kernels), so failure here is reported, never fatal to
// the install: postinstall ignores our exit code. Run by hand: `node scripts/build-native.mjs`.
//
// Environment: CXX (compiler, default g++ then clang++), FIM_NATIVE_MARCH (default "native").
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const srcDir = path.join(root, 'native', 'src');
const outDir = path.join(root, 'native', 'build');
const target = path.join(outDir, 'fim_native.node');

function fail(msg) {
  console.error(`build-native: ${msg}`);
  process.exit(1);
}

function nodeIncludeDir() {
  const candidates = [
    path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'),
    process.config?.variables?.node_prefix ? path.join(process.config.variables.node_prefix, 'include', 'node') : null,
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  return candidates.find((d) => fs.existsSync(path.join(d, 'node_api.h'))) ?? null;
}

function findCompiler() {
  const list = process.env.CXX ? [process.env.CXX] : ['g++', 'clang++'];
  for (const cxx of list) {
    const r = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { cxx, version: r.stdout.split('\n')[0] };
  }
  return null;
}

/** Hash of the sources, so the engine can tell a stale build from a current one. */
export function sourceHash(dir = srcDir) {
  const h = crypto.createHash('sha256');
  for (const f of fs
    .readdirSync(dir)
    .filter((f) => /\.(cc|h)$/.test(f))
    .sort()) {
    h.update(f);
    h.update(fs.readFileSync(path.join(dir, f)));
  }
  return h.digest('hex').slice(0, 16);
}

/** Instruction-set extensions the compiler enables for -march, read from its predefined macros. */
function targetFeatures(cxx, march) {
  const r = spawnSync(cxx, [`-march=${march}`, '-dM', '-E', '-x', 'c++', '/dev/null'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const map = { __AVX512F__: 'avx512f', __AVX2__: 'avx2', __FMA__: 'fma', __AVX__: 'avx', __SSE4_2__: 'sse4_2' };
  return Object.entries(map)
    .filter(([macro]) => r.stdout.includes(`#define ${macro} `))
    .map(([, flag]) => flag);
}

function main() {
  if (process.platform === 'win32') fail('building the native kernels is supported on Linux and macOS only');
  if (!fs.existsSync(srcDir)) fail(`no sources at ${srcDir}`);
  const include = nodeIncludeDir();
  if (!include) fail("Node's C headers (node_api.h) were not found; install the nodejs development headers");
  const compiler = findCompiler();
  if (!compiler) fail('no C++ compiler found (install g++ or clang++, or set CXX)');
  const march = process.env.FIM_NATIVE_MARCH ?? 'native';
  const sources = fs
    .readdirSync(srcDir)
    .filter((f) => f.endsWith('.cc'))
    .sort()
    .map((f) => path.join(srcDir, f));
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  const args = [
    '-O3',
    `-march=${march}`,
    '-fopenmp',
    '-std=c++17',
    '-fPIC',
    '-shared',
    '-fvisibility=hidden',
    '-DNAPI_VERSION=8',
    '-DNODE_GYP_MODULE_NAME=fim_native',
    `-I${include}`,
    ...sources,
    '-o',
    tmp,
  ];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  const t0 = Date.now();
  const r = spawnSync(compiler.cxx, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    fail(`${compiler.cxx} failed (exit ${r.status}); the engine will use its portable kernels`);
  }
  fs.renameSync(tmp, target);
  const info = {
    builtAt: new Date().toISOString(),
    compiler: compiler.version,
    march,
    requires: targetFeatures(compiler.cxx, march),
    sourceHash: sourceHash(),
    node: process.version,
  };
  fs.writeFileSync(path.join(outDir, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
  console.log(
    `build-native: ${path.relative(root, target)} (${info.requires.join(', ') || 'baseline ISA'}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main();
