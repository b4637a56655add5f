// Builds the optional native kernels (native/src → native/build/fim_native.node) with the system
// C++ compiler and OpenMP, as one portable addon: the kernel files are compiled once per
// instruction-set level and the addon picks the best level the CPU has when it loads
// (native/src/dispatch.cc). On x86-64 the levels are avx512 (x86-64-v4), avx2 (x86-64-v3) and
// generic (x86-64, SSE2); on other architectures the one level generic, for the compiler's own
// target. So a build (or a VSIX) made on one machine runs at full speed on another.
//
// The engine runs without the addon (portable kernels), so failure here is reported, never fatal
// to the install: postinstall ignores our exit code. Run by hand: `node scripts/build-native.mjs`.
//
// Environment:
//   CXX                 compiler (default g++, then clang++)
//   FIM_NATIVE_MARCH    build one level for that -march instead (e.g. "native": this machine's
//                       CPU only, refused by the engine on a CPU that lacks its features)
//   FIM_NATIVE_CXXFLAGS extra compiler flags, split on spaces (e.g. sanitizers)
// Options: --out DIR (default native/build).
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const srcDir = path.join(root, 'native', 'src');
const ADDON = 'fim_native.node';
/** Compiled once, for the baseline: the N-API binding and the level dispatch. Every other .cc is a kernel file. */
const ONCE = ['addon.cc', 'dispatch.cc'];

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

/** Instruction-set extensions the compiler enables for these flags, read from its predefined macros. */
function targetFeatures(cxx, flags) {
  const r = spawnSync(cxx, [...flags, '-dM', '-E', '-x', 'c++', '/dev/null'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const map = { __AVX512F__: 'avx512f', __AVX2__: 'avx2', __FMA__: 'fma', __AVX__: 'avx', __SSE4_2__: 'sse4_2' };
  return Object.entries(map)
    .filter(([macro]) => r.stdout.includes(`#define ${macro} `))
    .map(([, flag]) => flag);
}

/**
 * The levels to build, best first; the last is the baseline that addon.cc and dispatch.cc are
 * compiled for. `march` set (FIM_NATIVE_MARCH) gives one level for that CPU.
 */
export function levelsFor(arch, march) {
  if (march) return [{ name: 'native', flags: [`-march=${march}`] }];
  if (arch === 'x64')
    return [
      { name: 'avx512', flags: ['-march=x86-64-v4', '-mtune=generic'] },
      { name: 'avx2', flags: ['-march=x86-64-v3', '-mtune=generic'] },
      { name: 'generic', flags: ['-march=x86-64', '-mtune=generic'] },
    ];
  return [{ name: 'generic', flags: [] }];
}

/** Whether the compiler accepts a level's flags (an old compiler may not know x86-64-v4). */
function compilerAccepts(cxx, flags) {
  return spawnSync(cxx, [...flags, '-E', '-x', 'c++', '/dev/null'], { encoding: 'utf8' }).status === 0;
}

function compile(cxx, args) {
  return new Promise((resolve) => {
    const p = spawn(cxx, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('close', (code) => resolve(code));
    p.on('error', () => resolve(-1));
  });
}

/** Runs the compile jobs, as many at a time as there are cores; resolves with the first failure or null. */
async function compileAll(cxx, jobs) {
  let next = 0;
  let failed = null;
  const worker = async () => {
    while (next < jobs.length && !failed) {
      const job = jobs[next++];
      const code = await compile(cxx, job.args);
      if (code !== 0) failed ??= `${cxx} failed on ${job.what} (exit ${code})`;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(os.cpus().length, jobs.length)) }, worker));
  return failed;
}

/**
 * Functions that use wider vector instructions than the baseline although they belong to no
 * wider level: a template instance the linker kept from a wider level's object would run on a CPU
 * without those instructions and die with SIGILL. Reads `objdump -d`; null when objdump is absent.
 * On x86-64 the baseline has no VEX/EVEX instruction (mnemonics starting with "v"); avx2 code has
 * no 512-bit register and no mask register.
 */
export function isaLeaks(file) {
  const r = spawnSync('objdump', ['-d', '-C', '--no-show-raw-insn', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) return null;
  const leaks = new Set();
  let fn = '';
  for (const line of r.stdout.split('\n')) {
    const head = /^[0-9a-f]+ <(.+)>:$/.exec(line);
    if (head) {
      fn = head[1];
      continue;
    }
    const ins = /^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$/.exec(line);
    if (!ins || !fn) continue;
    const [, op, operands] = ins;
    if (fn.includes('fim::avx512::')) continue;
    if (fn.includes('fim::avx2::')) {
      if (/%zmm|%k[0-7]\b/.test(operands)) leaks.add(fn);
      continue;
    }
    if (fn.includes('fim::native::')) continue;
    if (op.startsWith('v') && op !== 'verr' && op !== 'verw') leaks.add(fn);
  }
  return [...leaks];
}

async function main() {
  if (process.platform === 'win32') fail('building the native kernels is supported on Linux and macOS only');
  if (!fs.existsSync(srcDir)) fail(`no sources at ${srcDir}`);
  const outIdx = process.argv.indexOf('--out');
  const outDir = outIdx > 0 && process.argv[outIdx + 1] ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'native', 'build');
  const target = path.join(outDir, ADDON);
  const include = nodeIncludeDir();
  if (!include) fail("Node's C headers (node_api.h) were not found; install the nodejs development headers");
  const compiler = findCompiler();
  if (!compiler) fail('no C++ compiler found (install g++ or clang++, or set CXX)');
  const march = process.env.FIM_NATIVE_MARCH || null;
  const wanted = levelsFor(process.arch, march);
  const levels = wanted.filter((l, i) => i === wanted.length - 1 || compilerAccepts(compiler.cxx, l.flags));
  const skipped = wanted.filter((l) => !levels.includes(l)).map((l) => l.name);
  if (!compilerAccepts(compiler.cxx, levels[levels.length - 1].flags))
    fail(`${compiler.cxx} does not accept ${levels[levels.length - 1].flags.join(' ')}`);
  const baseline = levels[levels.length - 1];
  const extra = (process.env.FIM_NATIVE_CXXFLAGS ?? '').split(/\s+/).filter(Boolean);
  const common = [
    '-O3',
    '-fopenmp',
    '-std=c++17',
    '-fPIC',
    '-fvisibility=hidden',
    '-DNAPI_VERSION=8',
    '-DNODE_GYP_MODULE_NAME=fim_native',
    `-I${include}`,
    ...extra,
  ];
  const sources = fs
    .readdirSync(srcDir)
    .filter((f) => f.endsWith('.cc'))
    .sort();
  const kernelFiles = sources.filter((f) => !ONCE.includes(f));
  fs.mkdirSync(outDir, { recursive: true });
  const objDir = fs.mkdtempSync(path.join(outDir, '.obj-'));
  const obj = (level, f) => path.join(objDir, `${level}.${f.replace(/\.cc$/, '.o')}`);
  const levelMacros = levels.map((l) => `-DFIM_LEVEL_${l.name.toUpperCase()}=1`);
  const jobs = [
    ...sources
      .filter((f) => ONCE.includes(f))
      .map((f) => ({
        what: f,
        out: obj('once', f),
        args: [...common, ...baseline.flags, ...levelMacros, '-c', path.join(srcDir, f), '-o', obj('once', f)],
      })),
    // The baseline's objects come first in the link: where several levels' objects hold the
    // same library template instance, the linker keeps the first (checked by isaLeaks below).
    ...[...levels].reverse().flatMap((l) =>
      kernelFiles.map((f) => ({
        what: `${f} (${l.name})`,
        out: obj(l.name, f),
        args: [...common, ...l.flags, `-DFIM_ISA=${l.name}`, '-c', path.join(srcDir, f), '-o', obj(l.name, f)],
      })),
    ),
  ];
  const tmp = `${target}.tmp-${process.pid}`;
  const t0 = Date.now();
  try {
    const failed = await compileAll(compiler.cxx, jobs);
    if (failed) fail(`${failed}; the engine will use its portable kernels`);
    const link = [...common, ...baseline.flags, '-shared', ...jobs.map((j) => j.out), '-o', tmp];
    // -Bsymbolic: the addon's own library template instances, never another module's.
    if (process.platform === 'darwin') link.push('-undefined', 'dynamic_lookup');
    else link.push('-Wl,-Bsymbolic');
    const r = spawnSync(compiler.cxx, link, { stdio: 'inherit' });
    if (r.status !== 0) fail(`${compiler.cxx} failed to link (exit ${r.status}); the engine will use its portable kernels`);
    if (process.arch === 'x64' && !march) {
      const leaks = isaLeaks(tmp);
      if (leaks?.length) fail(`wider instructions outside their level, which would crash older CPUs: ${leaks.slice(0, 5).join('; ')}`);
    }
    fs.renameSync(tmp, target);
  } finally {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(objDir, { recursive: true, force: true });
  }
  const info = {
    builtAt: new Date().toISOString(),
    compiler: compiler.version,
    march: march ?? 'portable',
    /** Levels built in, best first; the addon picks the best this CPU runs. */
    levels: levels.map((l) => l.name),
    /** What the CPU must have to load the addon at all: the baseline's features. */
    requires: targetFeatures(compiler.cxx, baseline.flags),
    sourceHash: sourceHash(),
    node: process.version,
  };
  fs.writeFileSync(path.join(outDir, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
  console.log(
    `build-native: ${path.relative(root, target)} (levels ${info.levels.join(', ')}${skipped.length ? `; ${compiler.cxx} cannot build ${skipped.join(', ')}` : ''}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
