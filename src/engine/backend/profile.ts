import {
  engine,
  getKernelsForBackend,
  getBackend,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/**
 * Time per kernel, for `npm run bench -- --profile`: while a profile runs, every kernel of the
 * current backend is wrapped with a timer. What the kernels do not account for is the price of
 * running them through tfjs (op dispatch, the gradient tape, tidy scopes, tensor bookkeeping) and
 * the JavaScript around them.
 *
 * Each call is attributed to the phase it ran in: the backward pass (inside the engine's
 * 'backward' scope, where tf.grad and variableGrads run the gradient functions), the optimiser
 * (inside a scope named OPTIMIZER_SCOPE) or else the forward pass. Times are exclusive: a kernel
 * that runs others through the engine is charged only for its own time.
 */
export type ProfilePhase = 'forward' | 'backward' | 'optimizer';

/** Name of the tidy scope the optimiser's update runs in (train/adam.ts), so its kernels are told apart. */
export const OPTIMIZER_SCOPE = 'optimizer';

export interface KernelStat {
  kernel: string;
  phase: ProfilePhase;
  calls: number;
  /** Exclusive wall time, milliseconds. */
  ms: number;
  /**
   * Exclusive CPU time of the process (all threads), milliseconds. With one kernel thread
   * (FIM_THREADS=1) it is what the wall time would be on a quiet machine, even on a busy one.
   */
  cpuMs: number;
  /** Tensors the calls returned (allocations the kernel made for its outputs). */
  outputs: number;
}

export interface Profile {
  kernels: KernelStat[];
  /** Wall time between start and stop, milliseconds. */
  wallMs: number;
  /** CPU time of the process (all threads) between start and stop, milliseconds. */
  cpuMs: number;
  /** Tensors created between start and stop (kernel outputs, tensors made from data, clones). */
  tensorsCreated: number;
}

interface ScopeLike {
  name: string;
}

function phaseNow(): ProfilePhase {
  const stack = (engine() as unknown as { state: { scopeStack: ScopeLike[] } }).state.scopeStack;
  let phase: ProfilePhase = 'forward';
  for (const s of stack) {
    if (s.name === 'backward') return 'backward';
    if (s.name === OPTIMIZER_SCOPE) phase = 'optimizer';
  }
  return phase;
}

/** tfjs-core numbers every tensor from one counter (Engine.nextTensorId, a static field). */
function tensorCounter(): number {
  const ctor = (engine() as unknown as { constructor: { nextTensorId?: number } }).constructor;
  return ctor.nextTensorId ?? 0;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export class KernelProfiler {
  private readonly originals: KernelConfig[] = [];
  private readonly stats = new Map<string, KernelStat>();
  /** Wall and CPU time spent in kernels nested inside the currently running ones, per depth. */
  private readonly childMs: number[] = [];
  private readonly childCpu: number[] = [];
  private t0 = 0;
  private c0 = 0;
  private n0 = 0;

  /** Wraps every kernel of the current backend. */
  start(): void {
    if (this.originals.length) throw new Error('the kernel profiler is already running');
    const backendName = getBackend();
    for (const config of getKernelsForBackend(backendName)) {
      this.originals.push(config);
      unregisterKernel(config.kernelName, backendName);
      registerKernel({ ...config, kernelFunc: this.wrap(config.kernelName, config.kernelFunc) });
    }
    this.t0 = performance.now();
    this.c0 = cpuMs();
    this.n0 = tensorCounter();
  }

  /** Restores the kernels and returns what was measured since start. */
  stop(): Profile {
    const wallMs = performance.now() - this.t0;
    const cpu = cpuMs() - this.c0;
    const tensorsCreated = tensorCounter() - this.n0;
    for (const config of this.originals) {
      unregisterKernel(config.kernelName, config.backendName);
      registerKernel(config);
    }
    this.originals.length = 0;
    const kernels = [...this.stats.values()].sort((a, b) => b.ms - a.ms);
    this.stats.clear();
    return { kernels, wallMs, cpuMs: cpu, tensorsCreated };
  }

  private wrap(name: string, f: KernelFunc): KernelFunc {
    return (args) => {
      const phase = phaseNow();
      this.childMs.push(0);
      this.childCpu.push(0);
      const c = cpuMs();
      const t = performance.now();
      let out: TensorInfo | TensorInfo[] | undefined;
      try {
        out = f(args);
        return out;
      } finally {
        const total = performance.now() - t;
        const totalCpu = cpuMs() - c;
        const own = total - this.childMs.pop()!;
        const ownCpu = totalCpu - this.childCpu.pop()!;
        if (this.childMs.length) {
          this.childMs[this.childMs.length - 1]! += total;
          this.childCpu[this.childCpu.length - 1]! += totalCpu;
        }
        const key = `${name}/${phase}`;
        let s = this.stats.get(key);
        if (!s) this.stats.set(key, (s = { kernel: name, phase, calls: 0, ms: 0, cpuMs: 0, outputs: 0 }));
        s.calls++;
        s.ms += own;
        s.cpuMs += ownCpu;
        s.outputs += out === undefined ? 0 : Array.isArray(out) ? out.length : 1;
      }
    };
  }
}
