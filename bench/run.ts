// `npm run bench`: the engine against PyTorch on this machine, same model, same inputs, same run.
//
// Each repeat runs bench/ours.ts (the engine, one process) and bench/peer/torch_tasks.py with 1 and
// with 2 threads, in an order that rotates from repeat to repeat, so that drift in the machine's
// load hits all sides alike; the table shows medians over the repeats, their range, and
// ours/PyTorch ratios. Every measured window records how much CPU other processes used
// (bench/load.ts); a run in which the machine was busy is not written (see resultsAction). The
// peer gets the engine's thread policy (OMP_WAIT_POLICY=passive, one inter-op thread). Without
// torch the engine side still runs and the table says the peer was missing. Results go to
// bench/results.json and the table into bench/README.md.
//
// Options: --repeats N (default 5), --quick (1 repeat, fewer steps: never written), --smoke (1
// repeat of every task at a tiny size, never written: checks the harness end to end in about a minute),
// --no-peer, --no-write, --force (write even an invalid run, marked so), --profile (one engine
// run with every kernel timed; prints where the time goes, writes nothing).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KernelStat } from '../src/engine/backend/profile';
import { limitDataset } from '../src/engine/data/dataset';
import { loadDataset } from '../src/engine/data/registry';
import { median } from '../src/shared/stats';
import { cpuSample, judgeRun, MIN_REPEATS, QUIET, resultsAction, windowLoad, type LabelledWindow, type RunVerdict } from './load';
import { AUTOATTACK_BENCH, PEER_TASK, TASKS, type OursResult, type PeerResult, type Task, type WindowSamples } from './tasks';
import { prepareTrained } from './trained';

const root = path.resolve(__dirname, '..');
const PYTHON = '/usr/bin/python3';
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const smoke = flag('smoke');
const quick = flag('quick') || smoke;
const profile = flag('profile');
const repeats = option('repeats', quick || profile ? 1 : MIN_REPEATS);
// --smoke: one logging interval of measured training steps (the loss is read per interval), a batch of attacks.
const trainSteps = smoke ? 10 : quick ? 20 : 30;
const samples = smoke ? 20 : quick ? 100 : 200;
const cores = os.cpus().length;
/**
 * --no-autoattack leaves out the APGD-CE and AutoAttack rows: on 2 cores their 1,000-sample
 * cascades take about 10 minutes per repeat for the three sides, so 5 repeats of them are a run of
 * their own. The results say which rows were measured.
 */
const RUN_TASKS: readonly Task[] = flag('no-autoattack') ? TASKS.filter((t) => t !== 'apgd-ce100' && t !== 'autoattack') : TASKS;

/**
 * The thread policy both sides get. The engine's native kernels wait passively between parallel
 * regions (src/engine/backend/native/addon.ts sets OMP_WAIT_POLICY=passive) and run on one
 * JavaScript thread; the peer gets the same, so that neither side spins on a core the other needs.
 */
const THREAD_POLICY = { OMP_WAIT_POLICY: 'PASSIVE' } as const;

const LABELS: Record<Task, string> = {
  'train-32': 'training, batch 32 (ConvNet + trace loss, Adam)',
  'train-128': 'training, batch 128 (ConvNet + trace loss, Adam)',
  infer: 'inference, batch 256',
  fim: 'exact λmax(G_x) + eigenvector',
  ossa: 'OSSA attack (ε = 6, squared l2)',
  pgd10: 'PGD-10 attack (l∞, ε = 0.3)',
  'apgd-ce100': `APGD-CE, 100 iterations (l∞, ε = ${AUTOATTACK_BENCH.epsilon}; trained ConvNet, MNIST test)`,
  autoattack: `AutoAttack standard cascade (l∞, ε = ${AUTOATTACK_BENCH.epsilon}; trained ConvNet, MNIST test)`,
  'train-128-onnx': 'training, batch 128, the same ConvNet imported from PyTorch ONNX',
  'fim-onnx': 'exact λmax(G_x), the same ConvNet imported from PyTorch ONNX',
};

type Side = 'ours' | 'torch1' | 'torch2';
const SIDE_LABEL: Record<Side, string> = { ours: 'engine', torch1: 'PyTorch 1 thread', torch2: 'PyTorch 2 threads' };

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function runJson<T>(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): T {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', env, maxBuffer: 64 << 20, timeout: 20 * 60_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${argv.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

function torchVersion(): string | null {
  if (!fs.existsSync(PYTHON)) return null;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function machine(): { cpu: string; cores: number; memoryGiB: number; os: string } {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  const r = spawnSync('lscpu', [], { encoding: 'utf8' });
  const m = r.status === 0 ? /^Model name:\s*(.+)$/m.exec(r.stdout) : null;
  if (m) cpu = m[1]!.trim();
  return { cpu, cores, memoryGiB: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()}` };
}

/** The first MNIST training images as the peer reads them: header, uint8 pixels, int32 labels. */
async function writeInputs(file: string, n: number): Promise<void> {
  const d = limitDataset((await loadDataset('mnist')).train, n);
  const header = new Uint32Array([d.count, ...d.imageShape]);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    Buffer.concat([
      Buffer.from(header.buffer),
      Buffer.from(d.pixels.buffer, d.pixels.byteOffset, d.pixels.byteLength),
      Buffer.from(d.labels.slice().buffer),
    ]),
  );
}

function fmt(v: number | undefined | null): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

/** Other processes' CPU share during a few seconds before the run: a busy machine is reported before anything is measured. */
async function idleCheck(seconds = 3): Promise<number | null> {
  const before = cpuSample();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = cpuSample();
  return before && after ? windowLoad(before, after, cores).otherShare : null;
}

interface SideRun<R> {
  result: R;
  load1Before: number;
  load1After: number;
}

function sideRun<R>(f: () => R): SideRun<R> {
  const load1Before = os.loadavg()[0]!;
  const result = f();
  return { result, load1Before, load1After: os.loadavg()[0]! };
}

function windowsOf(label: string, ws: Partial<Record<Task, WindowSamples>>): LabelledWindow[] {
  return RUN_TASKS.filter((t) => t in ws).map((t) => {
    const s = ws[t];
    return { label: `${label}, ${t}`, load: s ? windowLoad(s.before, s.after, cores) : null };
  });
}

/** Median, min and max of a task's rates over the repeats. */
function stats(
  rs: { samplesPerSecond: Partial<Record<Task, number>> }[],
  t: Task,
): { median: number; min: number; max: number } | undefined {
  const v = rs.map((x) => x.samplesPerSecond[t]).filter((x): x is number => x !== undefined);
  return v.length ? { median: median(v), min: Math.min(...v), max: Math.max(...v) } : undefined;
}

function cell(s: { median: number; min: number; max: number } | undefined, n: number): string {
  if (!s) return '—';
  return n > 1 ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : fmt(s.median);
}

async function profileRun(): Promise<void> {
  const common = ['--tasks', RUN_TASKS.join(','), '--samples', String(samples), '--train-steps', String(trainSteps), '--profile'];
  log('profile: one engine run with every kernel timed');
  const r = runJson<OursResult>(process.execPath, ['--import', 'tsx', path.join('bench', 'ours.ts'), ...common]);
  const lines: string[] = [];
  const verdict = judgeRun(windowsOf('engine', r.windows));
  lines.push(
    `Profile (one run, ${r.backend.details.find((d) => d.startsWith('native kernels')) ?? 'no native kernels'}). ` +
      (verdict.valid ? 'The machine was quiet.' : `The machine was BUSY (${verdict.busy[0]?.reasons.join('; ')}): times are inflated.`),
  );
  for (const t of RUN_TASKS) {
    const p = r.profiles?.[t];
    if (!p) continue;
    const per = p.count;
    const k = p.profile.kernels;
    const kernelMs = k.reduce((a, s) => a + s.ms, 0);
    const kernelCpu = k.reduce((a, s) => a + s.cpuMs, 0);
    const calls = k.reduce((a, s) => a + s.calls, 0);
    const byPhase = (ph: KernelStat['phase']) => k.filter((s) => s.phase === ph).reduce((a, s) => a + s.ms, 0) / per;
    const unit = p.unit;
    lines.push('');
    lines.push(
      `${LABELS[t]}: ${(p.profile.wallMs / per).toFixed(3)} ms per ${unit} (wall), ${(p.profile.cpuMs / p.profile.wallMs).toFixed(2)} cores busy; ` +
        `kernels ${(kernelMs / per).toFixed(3)} ms (${((100 * kernelMs) / p.profile.wallMs).toFixed(0)}%: forward ${byPhase('forward').toFixed(3)}, backward ${byPhase('backward').toFixed(3)}, optimizer ${byPhase('optimizer').toFixed(3)}), ` +
        `outside kernels (tfjs dispatch, tape, JavaScript) ${((p.profile.wallMs - kernelMs) / per).toFixed(3)} ms. ` +
        `CPU time: ${(p.profile.cpuMs / per).toFixed(3)} ms per ${unit}, of which kernels ${(kernelCpu / per).toFixed(3)} ms and outside kernels ${((p.profile.cpuMs - kernelCpu) / per).toFixed(3)} ms; ` +
        `${(calls / per).toFixed(1)} kernel calls and ${(p.profile.tensorsCreated / per).toFixed(1)} tensors per ${unit}.`,
    );
    lines.push('');
    lines.push(`| kernel | phase | calls per ${unit} | wall ms per ${unit} | % of wall | CPU ms per ${unit} | % of CPU |`);
    lines.push('|---|---|---:|---:|---:|---:|---:|');
    const row = (label: string, phase: string, ss: KernelStat[]) => {
      const sum = (f: (s: KernelStat) => number) => ss.reduce((a, s) => a + f(s), 0);
      const wall = sum((s) => s.ms);
      const cpu = sum((s) => s.cpuMs);
      return `| ${label} | ${phase} | ${(sum((s) => s.calls) / per).toFixed(2)} | ${(wall / per).toFixed(4)} | ${((100 * wall) / p.profile.wallMs).toFixed(1)} | ${(cpu / per).toFixed(4)} | ${((100 * cpu) / p.profile.cpuMs).toFixed(1)} |`;
    };
    // By CPU time: with one kernel thread it is the ranking a quiet machine would show.
    const top = [...k].sort((a, b) => b.cpuMs - a.cpuMs);
    for (const s of top.slice(0, 16)) lines.push(row(s.kernel, s.phase, [s]));
    if (top.length > 16) lines.push(row(`${top.length - 16} others`, '', top.slice(16)));
  }
  const text = lines.join('\n');
  process.stdout.write(`\n${text}\n`);
  fs.mkdirSync(path.join(root, 'bench', '.tmp'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench', '.tmp', 'profile.json'), JSON.stringify(r, null, 2) + '\n');
  log('wrote bench/.tmp/profile.json');
}

async function main(): Promise<void> {
  if (profile) return profileRun();
  const torch = flag('no-peer') ? null : torchVersion();
  if (!torch)
    log(
      flag('no-peer')
        ? 'peer skipped (--no-peer)'
        : `PyTorch peer missing: ${PYTHON} cannot import torch and numpy (apt-get install -y python3-torch); measuring the engine only`,
    );
  const write = !flag('no-write') && !quick;
  const idle = await idleCheck();
  if (idle !== null && idle > QUIET.maxOtherShare) {
    const msg = `other processes are using ${(100 * idle).toFixed(0)}% of the ${cores} cores; the benchmark needs a quiet machine`;
    if (write && !flag('force')) {
      log(`${msg}. Run it when the machine is quiet (check uptime), or add --no-write (or --force) to measure anyway.`);
      process.exit(3);
    }
    log(`${msg}; measuring anyway (results will be marked)`);
  }
  const dataFile = path.join(root, 'bench', '.tmp', 'inputs.bin');
  await writeInputs(dataFile, 128 * (10 + trainSteps));
  const testSamples = quick ? 200 : AUTOATTACK_BENCH.testSamples;
  const trained = await prepareTrained(path.join(root, 'bench', '.tmp'), testSamples, log);
  const aaArgs = ['--test-samples', String(testSamples)];
  const common = ['--tasks', RUN_TASKS.join(','), '--samples', String(samples), '--train-steps', String(trainSteps), ...aaArgs];
  // PyTorch runs each model once; the ONNX rows compare with its run of the same ConvNet.
  const peerTasks = RUN_TASKS.filter((t) => !PEER_TASK[t]);
  const peerCommon = ['--tasks', peerTasks.join(','), '--samples', String(samples), '--train-steps', String(trainSteps), ...aaArgs];
  const runs: Record<Side, SideRun<OursResult | PeerResult>[]> = { ours: [], torch1: [], torch2: [] };
  const sides: Side[] = torch ? ['ours', 'torch1', 'torch2'] : ['ours'];
  const t0 = Date.now();
  for (let r = 0; r < repeats; r++) {
    // Rotate the order, so that no side always runs first (or right after the same other side).
    const order = sides.map((_, i) => sides[(i + r) % sides.length]!);
    for (const side of order) {
      log(`repeat ${r + 1}/${repeats}: ${SIDE_LABEL[side]}`);
      if (side === 'ours') {
        runs.ours.push(
          sideRun(() =>
            runJson<OursResult>(process.execPath, ['--import', 'tsx', path.join('bench', 'ours.ts'), ...common, '--run', trained.runDir]),
          ),
        );
      } else {
        const threads = side === 'torch1' ? 1 : 2;
        const env = { ...process.env, ...THREAD_POLICY, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
        runs[side].push(
          sideRun(() =>
            runJson<PeerResult>(
              PYTHON,
              [
                path.join('bench', 'peer', 'torch_tasks.py'),
                '--data',
                dataFile,
                '--threads',
                String(threads),
                ...peerCommon,
                '--checkpoint',
                trained.checkpoint,
              ],
              env,
            ),
          ),
        );
      }
    }
  }
  const ours = runs.ours.map((s) => s.result as OursResult);
  const peer = { 1: runs.torch1.map((s) => s.result as PeerResult), 2: runs.torch2.map((s) => s.result as PeerResult) };
  const windows: LabelledWindow[] = sides.flatMap((side) =>
    runs[side].flatMap((s, i) => windowsOf(`repeat ${i + 1}, ${SIDE_LABEL[side]}`, s.result.windows)),
  );
  const verdict: RunVerdict = judgeRun(windows);
  const n = repeats;

  const rows = RUN_TASKS.map((t) => {
    const o = stats(ours, t);
    const pt = PEER_TASK[t] ?? t;
    const p1 = stats(peer[1], pt);
    const p2 = stats(peer[2], pt);
    const best = p1 || p2 ? Math.max(p1?.median ?? 0, p2?.median ?? 0) : undefined;
    // Per repeat: ours over the faster PyTorch of the same repeat.
    const paired = ours
      .map((x, i) => {
        const a = x.samplesPerSecond[t];
        const b = Math.max(peer[1][i]?.samplesPerSecond[pt] ?? 0, peer[2][i]?.samplesPerSecond[pt] ?? 0);
        return a !== undefined && b > 0 ? a / b : undefined;
      })
      .filter((x): x is number => x !== undefined);
    return {
      task: t,
      label: LABELS[t],
      ours: o?.median,
      oursRange: o ? [o.min, o.max] : null,
      torch1: p1?.median,
      torch1Range: p1 ? [p1.min, p1.max] : null,
      torch2: p2?.median,
      torch2Range: p2 ? [p2.min, p2.max] : null,
      ratioVs1: o && p1 ? o.median / p1.median : null,
      ratioVs2: o && p2 ? o.median / p2.median : null,
      ratioVsBest: o && best ? o.median / best : null,
      ratioVsBestPerRepeat: paired.length ? [Math.min(...paired), Math.max(...paired)] : null,
    };
  });
  const rss = {
    ours: Math.max(...ours.map((o) => o.peakRssMb)),
    torch1: peer[1].length ? Math.max(...peer[1].map((p) => p.peakRssMb)) : null,
    torch2: peer[2].length ? Math.max(...peer[2].map((p) => p.peakRssMb)) : null,
  };
  const m = machine();
  const backend = ours[0]!.backend;
  const lossMed = (t: Task) => median(ours.map((o) => o.trainLoss[t]).filter((x): x is number => x !== undefined));
  const ratio = (v: number | null, range: number[] | null) =>
    v === null ? '—' : `${v.toFixed(2)}×${n > 1 && range ? ` (${range[0]!.toFixed(2)}–${range[1]!.toFixed(2)})` : ''}`;
  const header = torch
    ? '| samples/s, median (range) | ours | PyTorch 1 thread | PyTorch 2 threads | ours / PyTorch 2 threads | ours / best PyTorch (range per repeat) |\n|---|---:|---:|---:|---:|---:|'
    : '| samples/s, median (range) | ours |\n|---|---:|';
  const stat = (r: (typeof rows)[number], side: 'ours' | 'torch1' | 'torch2') => {
    const v = r[side];
    const range = r[`${side}Range`];
    return cell(v === undefined || !range ? undefined : { median: v, min: range[0]!, max: range[1]! }, n);
  };
  const lines = rows.map((r) =>
    torch
      ? `| ${r.label} | ${stat(r, 'ours')} | ${stat(r, 'torch1')} | ${stat(r, 'torch2')} | ${ratio(r.ratioVs2, null)} | ${ratio(r.ratioVsBest, r.ratioVsBestPerRepeat)} |`
      : `| ${r.label} | ${stat(r, 'ours')} |`,
  );
  lines.push(
    torch
      ? `| peak RSS, MB (max over repeats) | ${fmt(rss.ours)} | ${fmt(rss.torch1)} | ${fmt(rss.torch2)} | | |`
      : `| peak RSS, MB | ${fmt(rss.ours)} |`,
  );

  // The physical limit: peak multiply-add throughput, and training's share of it.
  const peaks = ours.map((o) => o.fmaPeak).filter((p) => p !== null);
  const flops = ours[0]!.flopsPerSample;
  const peakAll = peaks.length ? median(peaks.map((p) => p.allThreads)) : null;
  const peakOne = peaks.length ? median(peaks.map((p) => p.oneThread)) : null;
  const gflops = (rate: number | undefined) => (rate === undefined ? null : (rate * flops.train) / 1e9);
  const share = (rate: number | undefined) => {
    const g = gflops(rate);
    return g === null || !peakAll ? '—' : `${g.toFixed(1)} GFLOP/s, ${((100 * g * 1e9) / peakAll).toFixed(1)}%`;
  };
  const flopLines = [
    `| training: achieved fp32 rate, share of peak | ours | PyTorch 1 thread | PyTorch 2 threads |`,
    `|---|---:|---:|---:|`,
    ...rows
      .filter((r) => r.task === 'train-32' || r.task === 'train-128')
      .map((r) => `| ${r.label.split(' (')[0]} | ${share(r.ours)} | ${share(r.torch1)} | ${share(r.torch2)} |`),
  ];

  const loadNote = verdict.valid
    ? `Machine quiet: in all ${verdict.windows} measured windows other processes used at most ${(100 * verdict.maxOtherShare).toFixed(1)}% of the ${cores} cores beyond /proc/stat's one-tick resolution (limit ${(100 * QUIET.maxOtherShare).toFixed(0)}%), steal at most ${(100 * QUIET.maxStealShare).toFixed(0)}%.`
    : `**INVALID: the machine was busy** in ${verdict.busyWindows} of ${verdict.windows} measured windows (${verdict.busy
        .slice(0, 3)
        .map((b) => `${b.label}: ${b.reasons.join('; ')}`)
        .join(' | ')}${verdict.busyWindows > 3 ? ' | …' : ''}); the ratios are not to be trusted.`;
  const loadAverages = sides
    .map((side) => `${SIDE_LABEL[side]} ${runs[side].map((s) => `${s.load1Before.toFixed(1)}→${s.load1After.toFixed(1)}`).join(', ')}`)
    .join('; ');
  const epoch = rows.find((r) => r.task === 'train-128')!.ours;
  const notes = [
    loadNote,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${process.version}; engine backend ${backend.name} (${backend.details.join('; ')}); ${torch ? `PyTorch ${torch}` : 'PyTorch peer missing'}.`,
    `${n} repeat${n > 1 ? 's' : ''}, the sides alternating in a rotating order; ${new Date().toISOString()}; ${Math.round((Date.now() - t0) / 1000)} s. 1-minute load average before→after each repeat: ${loadAverages}. ` +
      `"Best PyTorch" is the faster of its 1- and 2-thread medians; the range after a ratio is that of the per-repeat ratios. ` +
      `Thread policy: the engine's native kernels use all ${cores} cores and wait passively (OMP_WAIT_POLICY=passive); PyTorch ran with OMP_WAIT_POLICY=PASSIVE, OMP_NUM_THREADS and MKL_NUM_THREADS = its thread count, and one inter-op thread.`,
    `Peak fp32 multiply-add throughput (native kernels, level ${peaks[0]?.level ?? '—'}): ${peakOne ? (peakOne / 1e9).toFixed(0) : '—'} GFLOP/s on 1 thread, ${peakAll ? (peakAll / 1e9).toFixed(0) : '—'} GFLOP/s on ${peaks[0]?.threads ?? '—'}. ` +
      `Training counts ${(flops.train / 1e6).toFixed(2)} MFLOP per sample (the multiply-adds of the convolutions and the dense layer, forward and both gradients; src/engine/models/flops.ts).`,
    `Training loss over the measured steps (μ = 0.022): batch 32 ${lossMed('train-32').toFixed(3)}, batch 128 ${lossMed('train-128').toFixed(3)}. One MNIST epoch (60,000 samples) at batch 128: ${epoch ? `${(60000 / epoch).toFixed(0)} s` : '—'}.`,
  ];
  const ours_ = (t: Task) => rows.find((r) => r.task === t)?.ours;
  const ratioOf = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? ratio(a / b, null) : '—');
  notes.push(
    `The ConvNet imported from PyTorch ONNX against the built-in one: training ${ratioOf(ours_('train-128-onnx'), ours_('train-128'))}, λmax(G_x) ${ratioOf(ours_('fim-onnx'), ours_('fim'))} (issue 13 asks for ≥ 0.80×).`,
  );
  const table = [header, ...lines].join('\n');
  const flopTable = flopLines.join('\n');
  process.stdout.write(`\n${table}\n\n${flopTable}\n\n${notes.join('\n\n')}\n`);

  const decision = resultsAction({ verdict, repeats: n, peer: torch !== null }, { write, force: flag('force') });
  const results = {
    valid: decision.reasons.length === 0,
    ...(decision.reasons.length ? { invalidBecause: decision.reasons } : {}),
    date: new Date().toISOString(),
    machine: m,
    node: process.version,
    torch,
    repeats: n,
    trainSteps,
    samples,
    backend,
    threadPolicy: { engine: 'native kernels: all cores, OMP_WAIT_POLICY=passive', peer: { ...THREAD_POLICY, interOpThreads: 1 } },
    load: {
      verdict,
      limits: QUIET,
      windows,
      loadAverages: Object.fromEntries(sides.map((s) => [s, runs[s].map((x) => [x.load1Before, x.load1After])])),
    },
    fmaPeak: { oneThread: peakOne, allThreads: peakAll, level: peaks[0]?.level ?? null },
    flopsPerSample: flops,
    rows,
    peakRssMb: rss,
    runs: { ours, torch1: peer[1], torch2: peer[2] },
  };
  if (decision.action === 'refuse' || decision.action === 'skip') {
    const file = path.join(root, 'bench', '.tmp', 'results-not-written.json');
    fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    if (decision.action === 'refuse') {
      log(
        `NOT writing bench/results.json: ${decision.reasons.join('; ')}. This run is in ${path.relative(root, file)}; --force writes it marked invalid.`,
      );
      process.exit(3);
    }
    log(`results not written (${smoke ? '--smoke' : quick ? '--quick' : '--no-write'}); this run is in ${path.relative(root, file)}`);
    return;
  }
  fs.writeFileSync(path.join(root, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
  const readme = path.join(root, 'bench', 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const begin = '<!-- results:begin -->';
  const end = '<!-- results:end -->';
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  const invalid =
    decision.action === 'write-invalid' ? `**This run is INVALID** (written with --force): ${decision.reasons.join('; ')}.\n\n` : '';
  if (i >= 0 && j > i)
    fs.writeFileSync(
      readme,
      `${text.slice(0, i + begin.length)}\n${invalid}${table}\n\n${flopTable}\n\n${notes.join('\n\n')}\n${text.slice(j)}`,
    );
  log(`wrote bench/results.json and the table in bench/README.md${invalid ? ' (marked invalid)' : ''}`);
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(1);
});
