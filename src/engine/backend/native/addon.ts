import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The optional native kernels (native/src, built by scripts/build-native.mjs into
 * native/build/fim_native.node). They work in place on the wasm backend's heap: every call is
 * (heap, args) with tensors given as byte offsets into the heap; the argument layouts are listed
 * with each function in native/src/addon.cc.
 */
export interface NativeAddon {
  conv2d(heap: ArrayBuffer, args: Float64Array): void;
  conv2dBackpropInput(heap: ArrayBuffer, args: Float64Array): void;
  conv2dBackpropFilter(heap: ArrayBuffer, args: Float64Array): void;
  maxPool(heap: ArrayBuffer, args: Float64Array): void;
  maxPoolGrad(heap: ArrayBuffer, args: Float64Array): void;
  batchNormTrain(heap: ArrayBuffer, args: Float64Array): void;
  batchNormTrainGrad(heap: ArrayBuffer, args: Float64Array): void;
  matMul(heap: ArrayBuffer, args: Float64Array): void;
  batchNormInference(heap: ArrayBuffer, args: Float64Array): void;
  bnReluPoolTrain(heap: ArrayBuffer, args: Float64Array): void;
  bnReluPoolTrainGrad(heap: ArrayBuffer, args: Float64Array): void;
  bnReluPoolInference(heap: ArrayBuffer, args: Float64Array): void;
  bnReluPoolRouteGrad(heap: ArrayBuffer, args: Float64Array): void;
  convBnReluPoolInference(heap: ArrayBuffer, args: Float64Array): void;
  convRouteInputGrad(heap: ArrayBuffer, args: Float64Array): void;
  reluGrad(heap: ArrayBuffer, args: Float64Array): void;
  adamUpdate(heap: ArrayBuffer, args: Float64Array): void;
  minMax(heap: ArrayBuffer, args: Float64Array): void;
  sumRows(heap: ArrayBuffer, args: Float64Array): void;
  setThreads(n: number): void;
  /** Runs `iterations` rounds of independent vector multiply-adds on every kernel thread; returns the FLOPs done (peak throughput). */
  fmaPeak(iterations: number): number;
  /** Selects an instruction-set level by name; false when it is not built in or the CPU cannot run it. */
  setLevel(name: string): boolean;
  info(): NativeInfo;
}

/** What the addon reports about itself (native/src/addon.cc, Info). */
export interface NativeInfo {
  /** The active instruction-set level (native/src/dispatch.cc): avx512, avx2, generic, or native for a -march build. */
  level: string;
  /** What the active level's code is vectorised for (avx512, avx2, sse2, neon, ...). */
  simd: string;
  threads: number;
  vectorFloats: number;
  /** Every level built in, best first, and whether this CPU runs it. */
  levels: { name: string; supported: boolean }[];
}

export interface NativeStatus {
  addon: NativeAddon | null;
  /** One line for the backend report: what is used, or why the addon is absent. */
  summary: string;
}

interface BuildInfo {
  requires?: string[];
  sourceHash?: string;
  compiler?: string;
}

const ADDON_FILE = 'fim_native.node';

/** The repository's native/ directory, searched upwards from this file (works bundled or not). */
function nativeDir(): string | null {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, 'native');
    if (fs.existsSync(path.join(candidate, 'src')) || fs.existsSync(path.join(candidate, 'build', ADDON_FILE))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** Same digest as scripts/build-native.mjs's sourceHash. */
export function nativeSourceHash(srcDir: string): string {
  const h = crypto.createHash('sha256');
  for (const f of fs
    .readdirSync(srcDir)
    .filter((f) => /\.(cc|h)$/.test(f))
    .sort()) {
    h.update(f);
    h.update(fs.readFileSync(path.join(srcDir, f)));
  }
  return h.digest('hex').slice(0, 16);
}

function cpuFlags(): Set<string> | null {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('flags'));
    return line ? new Set(line.split(':')[1]!.trim().split(/\s+/)) : null;
  } catch {
    return null;
  }
}

const REBUILD = 'build it with `node scripts/build-native.mjs` (needs g++ or clang++)';

function load(): NativeStatus {
  const absent = (why: string): NativeStatus => ({ addon: null, summary: `native kernels off: ${why}` });
  if (process.env.FIM_NATIVE === '0') return absent('disabled by FIM_NATIVE=0');
  const dir = nativeDir();
  if (!dir) return absent('native/ not found next to the engine');
  // FIM_NATIVE_BUILD: another build of the same sources (the sanitizer build of npm run test:native-sanitize).
  const buildDir = process.env.FIM_NATIVE_BUILD ? path.resolve(process.env.FIM_NATIVE_BUILD) : path.join(dir, 'build');
  const file = path.join(buildDir, ADDON_FILE);
  if (!fs.existsSync(file)) return absent(`not built; ${REBUILD}`);
  let info: BuildInfo;
  try {
    info = JSON.parse(fs.readFileSync(path.join(buildDir, 'build-info.json'), 'utf8')) as BuildInfo;
  } catch {
    return absent(`native/build/build-info.json is missing or unreadable; ${REBUILD}`);
  }
  // A build for another CPU would die with SIGILL on the first vector instruction: check first.
  const flags = cpuFlags();
  const missing = flags ? (info.requires ?? []).filter((f) => !flags.has(f)) : [];
  if (missing.length) return absent(`built for a CPU with ${missing.join(', ')}, which this one lacks; ${REBUILD}`);
  const src = path.join(dir, 'src');
  if (fs.existsSync(src) && info.sourceHash && nativeSourceHash(src) !== info.sourceHash) {
    return absent(`the build is older than native/src; ${REBUILD}`);
  }
  let addon: NativeAddon;
  // OpenMP's default is to spin-wait between parallel regions; on a machine whose cores are also
  // busy with other work (2 shared cores here) the spinning thread steals the core the main thread
  // needs and training ran 3× slower. Waiting passively costs a few microseconds per kernel.
  // libgomp reads the variable when it is loaded, so it is set around the load only.
  const setPolicy = process.env.OMP_WAIT_POLICY === undefined;
  if (setPolicy) process.env.OMP_WAIT_POLICY = 'passive';
  try {
    const mod = { exports: {} as NativeAddon };
    process.dlopen(mod, file);
    addon = mod.exports;
  } catch (e) {
    return absent(`failed to load (${(e as Error).message.split('\n')[0]}); ${REBUILD}`);
  } finally {
    if (setPolicy) delete process.env.OMP_WAIT_POLICY;
  }
  const threads = Number(process.env.FIM_THREADS);
  if (Number.isInteger(threads) && threads > 0) addon.setThreads(threads);
  const forced = forceLevel(addon, process.env.FIM_NATIVE_ISA);
  const i = addon.info();
  const level = i.level === 'native' ? `native build, ${i.simd}` : i.level;
  return { addon, summary: `native kernels on (${level}, ${i.threads} thread${i.threads === 1 ? '' : 's'}${forced})` };
}

/**
 * FIM_NATIVE_ISA=<level> runs the kernels of that instruction-set level instead of the best one
 * (to compare levels, or to check one; the tests force each). Returns what the backend report
 * adds: that the level was forced, or why the request was not followed.
 */
export function forceLevel(addon: NativeAddon, request: string | undefined): string {
  if (!request) return '';
  const levels = addon.info().levels;
  const best = levels.find((l) => l.supported)?.name;
  if (addon.setLevel(request)) return request === best ? '' : `, forced by FIM_NATIVE_ISA; best here ${best}`;
  const known = levels.find((l) => l.name === request);
  const why = known ? 'this CPU cannot run it' : `not one of ${levels.map((l) => l.name).join(', ')}`;
  return `; FIM_NATIVE_ISA=${request} ignored: ${why}`;
}

let cached: NativeStatus | null = null;

/** Loads the addon once per process; never throws. */
export function nativeStatus(): NativeStatus {
  cached ??= load();
  return cached;
}
