// Was the machine quiet while the benchmark measured? Every measured window (one task of one
// repeat, on either side) records the machine-wide CPU time (/proc/stat) and the process's own
// CPU time at its start and end; what the machine spent beyond the process itself was spent by
// other processes, and steal time is what the hypervisor gave to other guests. A window in which
// others used more than a small share of the cores, or steal was high, is busy, and a run with a
// busy window is invalid: bench/run.ts then refuses to write bench/results.json.
//
// Why this matters: with other jobs on the 2 cores, PyTorch's 2-thread figures collapse (its
// OpenMP threads wait for each other) far more than the engine's, so a loaded machine inflates the
// ratios (docs/design.md §5).
import * as fs from 'node:fs';
import * as os from 'node:os';

/** One reading, taken by the measuring process itself (bench/ours.ts, bench/peer/torch_tasks.py). */
export interface CpuSample {
  /** Monotonic clock, seconds. */
  t: number;
  /** Machine-wide CPU time, seconds, summed over cores: user+nice+system+irq+softirq. */
  busy: number;
  /** Machine-wide steal time, seconds (a VM's cores running other guests). */
  steal: number;
  /** User+system CPU time of the measuring process, all its threads, seconds. */
  own: number;
  /** 1-minute load average. */
  load1: number;
}

export interface WindowLoad {
  wallSeconds: number;
  /** CPU seconds other processes used during the window. */
  otherSeconds: number;
  /** otherSeconds as a share of the machine's capacity (cores × wall). */
  otherShare: number;
  /** Steal as a share of the machine's capacity. */
  stealShare: number;
  /** `otherShare` less one clock tick of /proc/stat (its resolution): what the window is judged on. */
  otherShareBeyondTick: number;
  /** The window's own CPU use, in cores (how many cores the measured code kept busy). */
  ownCores: number;
  load1Before: number;
  load1After: number;
}

/** What counts as quiet: others below 5% of the cores, steal below 5%. */
export const QUIET = { maxOtherShare: 0.05, maxStealShare: 0.05 } as const;

/** /proc/stat's clock tick (USER_HZ): 100 on every Linux this runs on. */
const TICK = 0.01;

/** Machine-wide busy and steal seconds from the first line of /proc/stat's text. */
export function parseProcStat(text: string): { busy: number; steal: number } | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 8 || v.some((x) => !Number.isFinite(x))) return null;
  const [user, nice, system, , , irq, softirq, steal] = v as [number, number, number, number, number, number, number, number];
  return { busy: (user + nice + system + irq + softirq) * TICK, steal: steal * TICK };
}

/** A reading of this process and the machine; null where /proc/stat is missing (not Linux). */
export function cpuSample(): CpuSample | null {
  let stat: { busy: number; steal: number } | null;
  try {
    stat = parseProcStat(fs.readFileSync('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
  if (!stat) return null;
  const u = process.cpuUsage();
  return { t: performance.now() / 1000, ...stat, own: (u.user + u.system) / 1e6, load1: os.loadavg()[0]! };
}

export function windowLoad(before: CpuSample, after: CpuSample, cores: number): WindowLoad {
  const wall = Math.max(after.t - before.t, 1e-9);
  const own = Math.max(0, after.own - before.own);
  // The process's own time and the machine's are read a moment apart and in different units, so
  // small negative differences are rounding, not negative load.
  const other = Math.max(0, after.busy - before.busy - own);
  return {
    wallSeconds: wall,
    otherSeconds: other,
    otherShare: other / (cores * wall),
    // /proc/stat counts in clock ticks, so a window sees others' time only to within one tick: in
    // a 60 ms window a single tick is 8% of 2 cores. Only what exceeds that resolution is judged.
    otherShareBeyondTick: Math.max(0, other - TICK) / (cores * wall),
    stealShare: Math.max(0, after.steal - before.steal) / (cores * wall),
    ownCores: own / wall,
    load1Before: before.load1,
    load1After: after.load1,
  };
}

export interface Verdict {
  quiet: boolean;
  /** Why not, in words (empty when quiet). */
  reasons: string[];
}

/** A window is quiet when others and steal stayed below the QUIET shares. */
export function judgeWindow(w: WindowLoad | null, limits: { maxOtherShare: number; maxStealShare: number } = QUIET): Verdict {
  if (!w) return { quiet: false, reasons: ['the machine load could not be read (/proc/stat)'] };
  const reasons: string[] = [];
  if (w.otherShareBeyondTick > limits.maxOtherShare)
    reasons.push(
      `other processes used ${(100 * w.otherShare).toFixed(0)}% of the cores (limit ${(100 * limits.maxOtherShare).toFixed(0)}%)`,
    );
  if (w.stealShare > limits.maxStealShare)
    reasons.push(`steal time was ${(100 * w.stealShare).toFixed(0)}% of the cores (limit ${(100 * limits.maxStealShare).toFixed(0)}%)`);
  return { quiet: reasons.length === 0, reasons };
}

export interface LabelledWindow {
  /** e.g. "repeat 2, PyTorch 2 threads, train-32". */
  label: string;
  load: WindowLoad | null;
}

export interface RunVerdict {
  valid: boolean;
  windows: number;
  busyWindows: number;
  /** The busy windows, with their reasons, in order. */
  busy: { label: string; reasons: string[] }[];
  /** Largest share of the cores that other processes used in any window, beyond one clock tick (what is judged). */
  maxOtherShare: number;
}

/** A run is valid when every measured window was quiet. */
export function judgeRun(windows: LabelledWindow[], limits = QUIET): RunVerdict {
  const busy = windows
    .map((w) => ({ label: w.label, verdict: judgeWindow(w.load, limits) }))
    .filter((w) => !w.verdict.quiet)
    .map((w) => ({ label: w.label, reasons: w.verdict.reasons }));
  return {
    valid: windows.length > 0 && busy.length === 0,
    windows: windows.length,
    busyWindows: busy.length,
    busy,
    maxOtherShare: Math.max(0, ...windows.map((w) => w.load?.otherShareBeyondTick ?? 0)),
  };
}

/** At least this many repeats per side before a run may stand as the benchmark's result. */
export const MIN_REPEATS = 5;

export type ResultsAction =
  /** Write bench/results.json and the README table. */
  | 'write'
  /** Write them, marked invalid (--force). */
  | 'write-invalid'
  /** Do not write; say why and exit non-zero. */
  | 'refuse'
  /** Do not write; nothing was asked (--no-write). */
  | 'skip';

/**
 * What becomes of a finished run: only a valid run (every window quiet) with MIN_REPEATS repeats
 * and the peer measured replaces the committed result. --force writes any run, marked invalid
 * with its reasons; --no-write writes nothing.
 */
export function resultsAction(
  run: { verdict: RunVerdict; repeats: number; peer: boolean },
  flags: { write: boolean; force: boolean },
): { action: ResultsAction; reasons: string[] } {
  const reasons: string[] = [];
  if (!run.verdict.valid)
    reasons.push(
      run.verdict.windows === 0
        ? 'no window was measured'
        : `the machine was busy in ${run.verdict.busyWindows} of ${run.verdict.windows} measured windows (first: ${run.verdict.busy[0]!.label}: ${run.verdict.busy[0]!.reasons.join('; ')})`,
    );
  if (run.repeats < MIN_REPEATS) reasons.push(`${run.repeats} repeat${run.repeats === 1 ? '' : 's'} (at least ${MIN_REPEATS} are needed)`);
  if (!run.peer) reasons.push('PyTorch was not measured');
  if (!flags.write) return { action: 'skip', reasons };
  if (reasons.length === 0) return { action: 'write', reasons };
  return { action: flags.force ? 'write-invalid' : 'refuse', reasons };
}
