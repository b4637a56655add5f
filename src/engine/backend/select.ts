import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// Gradients are registered separately from ops in tfjs-core; training, FIM and attacks need them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { BACKEND_NAMES, isBackendName, type BackendName, type BackendReport, type BackendRequest } from '../../protocol/backend';
import { registerProjectKernels, type KernelSetReport } from './kernels/register';

/**
 * Backend selection, best first: CUDA (tfjs-node-gpu) → native TensorFlow (tfjs-node) → wasm
 * (+ the project's kernels) → pure JS cpu. The native tfjs packages are optional dependencies
 * whose install usually fails offline (their install script downloads libtensorflow), so their
 * absence or a failed load is normal and only reported.
 */
/** The request from (in order) an explicit argument, the FIM_BACKEND environment variable, or auto. */
export function backendRequestFrom(explicit?: string): BackendRequest {
  const v = explicit ?? process.env.FIM_BACKEND ?? 'auto';
  if (v === 'auto' || isBackendName(v)) return v;
  throw new Error(`unknown backend "${v}"; expected one of auto, ${BACKEND_NAMES.join(', ')}`);
}

function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.slice(0, 300);
}

/** Directory of the wasm binaries, resolved from the installed package (works bundled or not). */
export function wasmBinaryDir(): string {
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
}

async function tryNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node', wantGpu: boolean): Promise<string | null> {
  try {
    // Loaded by name at run time, synchronously and for its side effect (it registers the
    // 'tensorflow' backend): an optional dependency that may be absent or unloadable.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'MODULE_NOT_FOUND' && errorLine(e).includes(pkg)
      ? `${pkg} is not installed (optional dependency; its install downloads libtensorflow)`
      : `${pkg} failed to load: ${errorLine(e)}`;
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) return `${pkg} loaded but its backend did not initialise`;
  } catch (e) {
    return `${pkg} backend failed to initialise: ${errorLine(e)}`;
  }
  if (wantGpu) {
    // tfjs-node-gpu falls back to CPU silently when CUDA is missing; tell the user instead.
    const devices = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
    if (devices === false) return `${pkg} loaded but found no CUDA GPU`;
  }
  return null;
}

async function tryWasm(report: BackendReport): Promise<string | null> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmBinaryDir());
    if (!(await tf.setBackend('wasm'))) return 'wasm backend did not initialise';
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    report.details.push(`wasm ${simd ? 'SIMD' : 'without SIMD'} (its own kernels single-threaded)`);
    return null;
  } catch (e) {
    return `wasm backend failed: ${errorLine(e)}`;
  }
}

async function tryCpu(): Promise<string | null> {
  try {
    await import('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend('cpu'))) return 'cpu backend did not initialise';
    // The cpu backend prints a banner recommending tfjs-node on first use; selection already
    // reports why tfjs-node was skipped, so silence it (an internal flag of MathBackendCPU).
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return null;
  } catch (e) {
    return `cpu backend failed: ${errorLine(e)}`;
  }
}

let current: BackendReport | null = null;

/** The report of the backend initialised by `initBackend`, or null before. */
export function currentBackend(): BackendReport | null {
  return current;
}

/**
 * Initialises the requested backend (or the best available one) and registers the project's
 * kernels for it. A forced backend that cannot start is an error; `auto` moves down the list.
 */
export async function initBackend(request: BackendRequest = backendRequestFrom()): Promise<BackendReport> {
  if (current && (request === 'auto' || request === current.name)) return current;
  const order: BackendName[] = request === 'auto' ? [...BACKEND_NAMES] : [request];
  const report: BackendReport = { name: 'cpu', tfBackend: 'cpu', skipped: [], details: [] };
  for (const name of order) {
    let reason: string | null;
    switch (name) {
      case 'tfjs-node-gpu':
        reason = await tryNative('@tensorflow/tfjs-node-gpu', true);
        break;
      case 'tfjs-node':
        reason = await tryNative('@tensorflow/tfjs-node', false);
        break;
      case 'wasm':
        reason = await tryWasm(report);
        break;
      case 'cpu':
        reason = await tryCpu();
        break;
    }
    if (reason === null) {
      report.name = name;
      report.tfBackend = tf.getBackend();
      const kernels: KernelSetReport = registerProjectKernels(report.tfBackend);
      report.details.push(...kernels.details);
      current = report;
      return report;
    }
    report.skipped.push({ name, reason });
  }
  const why = report.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new Error(request === 'auto' ? `no tfjs backend could start (${why})` : `backend ${request} is not available: ${why}`);
}

export function describeBackend(r: BackendReport): string {
  const skipped = r.skipped.map((s) => `  skipped ${s.name}: ${s.reason}`).join('\n');
  const details = r.details.length ? ` (${r.details.join('; ')})` : '';
  return `backend ${r.name}${details}${skipped ? '\n' + skipped : ''}`;
}
