// `npm run bench`: the engine against PyTorch on this machine, same model, same inputs, same run.
//
// Each repeat runs bench/ours.ts (the engine, one process) and bench/peer/torch_tasks.py with 1 and
// with 2 threads, in turn, so that drift in the machine's load hits both sides alike; the table
// shows medians over the repeats and ours/PyTorch ratios. Without torch the engine side still runs
// and the table says the peer was missing. Results go to bench/results.json and the table into
// bench/README.md.
//
// Options: --repeats N (default 3), --quick (1 repeat, fewer steps), --no-peer, --no-write.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { limitDataset } from '../src/engine/data/dataset';
import { loadDataset } from '../src/engine/data/registry';
import { median } from '../src/shared/stats';
import { AUTOATTACK_BENCH, PEER_TASK, TASKS, type OursResult, type Task } from './tasks';
import { prepareTrained } from './trained';

const root = path.resolve(__dirname, '..');
const PYTHON = '/usr/bin/python3';
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = flag('quick');
const repeats = option('repeats', quick ? 1 : 3);
const trainSteps = quick ? 20 : 30;
const samples = quick ? 100 : 200;

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

interface PeerResult {
  peer: 'pytorch';
  torch: string;
  threads: number;
  samplesPerSecond: Partial<Record<Task, number>>;
  peakRssMb: number;
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function runJson<T>(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): T {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', env, maxBuffer: 16 << 20, timeout: 20 * 60_000 });
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
  return { cpu, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()}` };
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

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : '—';
}

async function main(): Promise<void> {
  const torch = flag('no-peer') ? null : torchVersion();
  if (!torch)
    log(
      flag('no-peer')
        ? 'peer skipped (--no-peer)'
        : `PyTorch peer missing: ${PYTHON} cannot import torch and numpy (apt-get install -y python3-torch); measuring the engine only`,
    );
  const dataFile = path.join(root, 'bench', '.tmp', 'inputs.bin');
  await writeInputs(dataFile, 128 * (10 + trainSteps));
  const testSamples = quick ? 200 : AUTOATTACK_BENCH.testSamples;
  const trained = await prepareTrained(path.join(root, 'bench', '.tmp'), testSamples, log);
  const aaArgs = ['--test-samples', String(testSamples)];
  const common = ['--tasks', TASKS.join(','), '--samples', String(samples), '--train-steps', String(trainSteps), ...aaArgs];
  // PyTorch runs each model once; the ONNX rows compare with its run of the same ConvNet.
  const peerTasks = TASKS.filter((t) => !PEER_TASK[t]);
  const peerCommon = ['--tasks', peerTasks.join(','), '--samples', String(samples), '--train-steps', String(trainSteps), ...aaArgs];
  const ours: OursResult[] = [];
  const peer: Record<1 | 2, PeerResult[]> = { 1: [], 2: [] };
  const t0 = Date.now();
  for (let r = 0; r < repeats; r++) {
    log(`repeat ${r + 1}/${repeats}: engine`);
    ours.push(
      runJson<OursResult>(process.execPath, ['--import', 'tsx', path.join('bench', 'ours.ts'), ...common, '--run', trained.runDir]),
    );
    if (torch) {
      for (const threads of [1, 2] as const) {
        log(`repeat ${r + 1}/${repeats}: PyTorch, ${threads} thread${threads > 1 ? 's' : ''}`);
        const env = { ...process.env, OMP_NUM_THREADS: String(threads) };
        peer[threads].push(
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
        );
      }
    }
  }
  const med = (rs: { samplesPerSecond: Partial<Record<Task, number>> }[], t: Task) => {
    const v = rs.map((x) => x.samplesPerSecond[t]).filter((x): x is number => x !== undefined);
    return v.length ? median(v) : undefined;
  };
  const rows = TASKS.map((t) => {
    const o = med(ours, t);
    const p1 = med(peer[1], PEER_TASK[t] ?? t);
    const p2 = med(peer[2], PEER_TASK[t] ?? t);
    const best = p1 !== undefined || p2 !== undefined ? Math.max(p1 ?? 0, p2 ?? 0) : undefined;
    return {
      task: t,
      label: LABELS[t],
      ours: o,
      torch1: p1,
      torch2: p2,
      ratioVs1: o !== undefined && p1 ? o / p1 : null,
      ratioVs2: o !== undefined && p2 ? o / p2 : null,
      ratioVsBest: o !== undefined && best ? o / best : null,
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
  const header = torch
    ? '| samples/s (median) | ours | PyTorch 1 thread | PyTorch 2 threads | ours / PyTorch 2 threads | ours / best PyTorch |\n|---|---:|---:|---:|---:|---:|'
    : '| samples/s (median) | ours |\n|---|---:|';
  const lines = rows.map((r) =>
    torch
      ? `| ${r.label} | ${fmt(r.ours)} | ${fmt(r.torch1)} | ${fmt(r.torch2)} | ${ratio(r.ours, r.torch2)} | ${ratio(r.ours, Math.max(r.torch1 ?? 0, r.torch2 ?? 0) || undefined)} |`
      : `| ${r.label} | ${fmt(r.ours)} |`,
  );
  lines.push(
    torch
      ? `| peak RSS, MB (max over repeats) | ${fmt(rss.ours)} | ${fmt(rss.torch1 ?? undefined)} | ${fmt(rss.torch2 ?? undefined)} | | |`
      : `| peak RSS, MB | ${fmt(rss.ours)} |`,
  );
  const epoch = rows.find((r) => r.task === 'train-128')!.ours;
  const notes = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${process.version}; engine backend ${backend.name} (${backend.details.join('; ')}); ${torch ? `PyTorch ${torch}` : 'PyTorch peer missing'}.`,
    `${repeats} repeat${repeats > 1 ? 's' : ''}, engine and peer alternating; ${new Date().toISOString()}; ${Math.round((Date.now() - t0) / 1000)} s; load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} (1/5/15 min; ${m.cores} cores). "Best PyTorch" is the faster of its 1- and 2-thread medians.`,
    `Training loss over the measured steps (μ = 0.022): batch 32 ${lossMed('train-32').toFixed(3)}, batch 128 ${lossMed('train-128').toFixed(3)}. One MNIST epoch (60,000 samples) at batch 128: ${epoch ? `${(60000 / epoch).toFixed(0)} s` : '—'}.`,
  ];
  const ours_ = (t: Task) => rows.find((r) => r.task === t)?.ours;
  notes.push(
    `The ConvNet imported from PyTorch ONNX against the built-in one: training ${ratio(ours_('train-128-onnx'), ours_('train-128'))}, λmax(G_x) ${ratio(ours_('fim-onnx'), ours_('fim'))} (issue 13 asks for ≥ 0.80×).`,
  );
  const table = [header, ...lines].join('\n');
  process.stdout.write(`\n${table}\n\n${notes.join('\n')}\n`);
  if (!flag('no-write')) {
    const results = {
      date: new Date().toISOString(),
      machine: m,
      node: process.version,
      torch,
      repeats,
      trainSteps,
      samples,
      backend,
      rows,
      peakRssMb: rss,
      runs: { ours, torch1: peer[1], torch2: peer[2] },
    };
    fs.writeFileSync(path.join(root, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
    const readme = path.join(root, 'bench', 'README.md');
    const text = fs.readFileSync(readme, 'utf8');
    const begin = '<!-- results:begin -->';
    const end = '<!-- results:end -->';
    const i = text.indexOf(begin);
    const j = text.indexOf(end);
    if (i >= 0 && j > i)
      fs.writeFileSync(readme, `${text.slice(0, i + begin.length)}\n${table}\n\n${notes.join('\n\n')}\n${text.slice(j)}`);
    log('wrote bench/results.json and the table in bench/README.md');
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(1);
});
