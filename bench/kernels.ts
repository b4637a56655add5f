// Per-kernel timings of native builds and instruction-set levels, on the shapes of one training
// step of the benchmark's ConvNet (and the FIM's narrow input gradient), to compare builds (the
// portable dispatch build against a -march=native one) and levels on one machine:
//
//   node --import tsx bench/kernels.ts [--addon FILE[@LEVEL]]... [--batch 128] [--rounds 15] [--threads 1]
//
// Every variant (an addon file, optionally forced to a level) is loaded into this one process and
// the variants take turns kernel by kernel, round after round, so that a change in the machine's
// load hits all of them alike. Each measurement is the process CPU time of `reps` calls (with one
// kernel thread, CPU time is not inflated by waiting for a busy core the way wall time is); the
// table gives per-kernel medians over the rounds, their spread, and each variant against the first.
// Default variants: native/build/fim_native.node at every level this CPU runs.
import * as path from 'node:path';
import type { NativeAddon } from '../src/engine/backend/native/addon';
import { median, quantile } from '../src/shared/stats';

const root = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const B = opt('batch', 128);
const rounds = opt('rounds', 15);
const threads = opt('threads', 1);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1]! : '';

interface Variant {
  label: string;
  addon: NativeAddon;
  level: string | null;
}

function loadAddon(file: string): NativeAddon {
  process.env.OMP_WAIT_POLICY ??= 'passive';
  const mod = { exports: {} as NativeAddon };
  process.dlopen(mod, path.resolve(file));
  return mod.exports;
}

function variants(): Variant[] {
  const specs = argv.flatMap((a, i) => (a === '--addon' ? [argv[i + 1]!] : []));
  const loaded = new Map<string, NativeAddon>();
  const get = (file: string) => {
    if (!loaded.has(file)) loaded.set(file, loadAddon(file));
    return loaded.get(file)!;
  };
  if (!specs.length) {
    const file = path.join(root, 'native', 'build', 'fim_native.node');
    const addon = get(file);
    return addon
      .info()
      .levels.filter((l) => l.supported)
      .map((l) => ({ label: l.name, addon, level: l.name }));
  }
  return specs.map((s) => {
    const [file, level] = s.split('@') as [string, string | undefined];
    return { label: s.replace(root + path.sep, ''), addon: get(file), level: level ?? null };
  });
}

/** One heap for all tensors of the step; offsets handed out in order. */
class Heap {
  readonly buf: ArrayBuffer;
  private next = 0;
  constructor(bytes: number) {
    this.buf = new ArrayBuffer(bytes);
  }
  alloc(n: number, seed = 1): number {
    const off = this.next;
    this.next += Math.ceil((n * 4) / 64) * 64;
    if (this.next > this.buf.byteLength) throw new Error('bench heap too small');
    const f = new Float32Array(this.buf, off, n);
    let s = seed;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      f[i] = (s / 4294967296) * 2 - 1;
    }
    return off;
  }
}

type Call = (a: NativeAddon, heap: ArrayBuffer) => void;

function conv(B: number, H: number, W: number, CI: number, CO: number): number[] {
  return [B, H, W, CI, H, W, CO, 3, 3, 1, 1, 1, 1, 1, 1];
}
function pool(B: number, H: number, C: number): number[] {
  return [B, H, H, C, H / 2, H / 2, 2, 2, 2, 2, 1, 1, 0, 0];
}

function kernels(h: Heap): [string, Call][] {
  const x1 = h.alloc(B * 784);
  const w1 = h.alloc(9 * 32);
  const b1 = h.alloc(32);
  const y1 = h.alloc(B * 784 * 32);
  const g1 = h.alloc(B * 784 * 32, 2);
  const p1 = h.alloc(B * 196 * 32);
  const w2 = h.alloc(9 * 32 * 64);
  const b2 = h.alloc(64);
  const y2 = h.alloc(B * 196 * 64);
  const g2 = h.alloc(B * 196 * 64, 3);
  const dx2 = h.alloc(B * 196 * 32);
  const dw2 = h.alloc(9 * 32 * 64);
  const dw1 = h.alloc(9 * 32);
  const p2 = h.alloc(B * 49 * 64);
  const wd = h.alloc(3136 * 10);
  const bd = h.alloc(10);
  const z = h.alloc(B * 10);
  const dz = h.alloc(B * 10, 4);
  const dxd = h.alloc(B * 3136);
  const dwd = h.alloc(3136 * 10);
  const mean = h.alloc(64);
  const vr = h.alloc(64);
  const dg = h.alloc(64);
  const db = h.alloc(64);
  const bnOut = h.alloc(B * 784 * 32);
  // The FIM's input gradient of conv1: 10 tiled copies of 32 samples, one input channel.
  const F = 320;
  const gFim = h.alloc(F * 784 * 32, 5);
  const dxFim = h.alloc(F * 784);
  const pF = h.alloc(F * 196 * 32, 6);
  const routesF = h.alloc(32 * 196 * 32);
  new Int32Array(h.buf, routesF, 32 * 196 * 32).forEach((_, i, r) => (r[i] = i % 5 === 4 ? -1 : i % 4));
  // Variances must be positive for batch norm.
  new Float32Array(h.buf, vr, 64).fill(0.5);
  const gm = h.alloc(64);
  const routes = h.alloc(B * 196 * 32);
  // Routes: window-local indices 0..3 (valid for the route gradient).
  new Int32Array(h.buf, routes, B * 196 * 32).forEach((_, i, r) => (r[i] = i % 5 === 4 ? -1 : i % 4));
  const bt = h.alloc(64);
  // The training blocks' routes and x at them (pooled size), written by the forward kernel, read by its gradient.
  const routeT1 = h.alloc(B * 196 * 32);
  const xa1 = h.alloc(B * 196 * 32);
  const routeT2 = h.alloc(B * 49 * 64);
  const xa2 = h.alloc(B * 49 * 64);
  const A = (v: number[]) => new Float64Array(v);
  return [
    ['conv1 forward', (a, m) => a.conv2d(m, A([x1, w1, b1, y1, ...conv(B, 28, 28, 1, 32), 0]))],
    ['conv1 filter grad', (a, m) => a.conv2dBackpropFilter(m, A([x1, g1, dw1, ...conv(B, 28, 28, 1, 32)]))],
    ['bn1 train', (a, m) => a.batchNormTrain(m, A([y1, -1, -1, bnOut, mean, vr, B * 784, 32, 1e-5]))],
    ['bn1 train grad', (a, m) => a.batchNormTrainGrad(m, A([y1, g1, -1, mean, vr, -1, -1, bnOut, dg, db, B * 784, 32, 1e-5]))],
    ['relu1 grad', (a, m) => a.reluGrad(m, A([g1, y1, bnOut, B * 784 * 32]))],
    ['pool1', (a, m) => a.maxPool(m, A([y1, p1, ...pool(B, 28, 32)]))],
    ['pool1 grad', (a, m) => a.maxPoolGrad(m, A([y1, g1, bnOut, ...pool(B, 28, 32)]))],
    ['block1 train (bn+relu+pool)', (a, m) => a.bnReluPoolTrain(m, A([y1, gm, bt, p1, mean, vr, routeT1, xa1, 1e-5, ...pool(B, 28, 32)]))],
    [
      'block1 train grad',
      (a, m) => a.bnReluPoolTrainGrad(m, A([y1, p1, routeT1, xa1, gm, mean, vr, -1, -1, bnOut, dg, db, -1, 1e-5, ...pool(B, 28, 32)])),
    ],
    ['block1 inference (+ routes)', (a, m) => a.bnReluPoolInference(m, A([y1, mean, vr, bt, gm, p1, routes, 1e-5, ...pool(B, 28, 32)]))],
    ['block1 route grad', (a, m) => a.bnReluPoolRouteGrad(m, A([routes, vr, gm, p1, bnOut, B, 1e-5, 1, ...pool(B, 28, 32)]))],
    [
      'conv1+block1 inference (fused)',
      (a, m) =>
        a.convBnReluPoolInference(m, A([x1, w1, b1, mean, vr, bt, gm, p1, routes, 1e-5, ...conv(B, 28, 28, 1, 32), ...pool(B, 28, 32)])),
    ],
    ['conv2 forward', (a, m) => a.conv2d(m, A([p1, w2, b2, y2, ...conv(B, 14, 14, 32, 64), 0]))],
    ['conv2 input grad', (a, m) => a.conv2dBackpropInput(m, A([g2, w2, dx2, ...conv(B, 14, 14, 32, 64)]))],
    ['conv2 filter grad', (a, m) => a.conv2dBackpropFilter(m, A([p1, g2, dw2, ...conv(B, 14, 14, 32, 64)]))],
    ['bn2 train', (a, m) => a.batchNormTrain(m, A([y2, -1, -1, bnOut, mean, vr, B * 196, 64, 1e-5]))],
    ['bn2 train grad', (a, m) => a.batchNormTrainGrad(m, A([y2, g2, -1, mean, vr, -1, -1, bnOut, dg, db, B * 196, 64, 1e-5]))],
    ['pool2', (a, m) => a.maxPool(m, A([y2, p2, ...pool(B, 14, 64)]))],
    [
      'conv2+block2 inference (fused)',
      (a, m) =>
        a.convBnReluPoolInference(m, A([p1, w2, b2, mean, vr, bt, gm, p2, routes, 1e-5, ...conv(B, 14, 14, 32, 64), ...pool(B, 14, 64)])),
    ],
    ['block2 train (bn+relu+pool)', (a, m) => a.bnReluPoolTrain(m, A([y2, gm, bt, p2, mean, vr, routeT2, xa2, 1e-5, ...pool(B, 14, 64)]))],
    [
      'block2 train grad',
      (a, m) => a.bnReluPoolTrainGrad(m, A([y2, p2, routeT2, xa2, gm, mean, vr, -1, -1, bnOut, dg, db, -1, 1e-5, ...pool(B, 14, 64)])),
    ],
    ['pool2 grad', (a, m) => a.maxPoolGrad(m, A([y2, g2, bnOut, ...pool(B, 14, 64)]))],
    ['dense forward', (a, m) => a.matMul(m, A([p2, wd, bd, z, 1, B, 10, 3136, 0, 0, 0, 0, 0]))],
    ['dense input grad', (a, m) => a.matMul(m, A([dz, wd, -1, dxd, 1, B, 3136, 10, 0, 1, 0, 0, 0]))],
    ['dense filter grad', (a, m) => a.matMul(m, A([p2, dz, -1, dwd, 1, 3136, 10, B, 1, 0, 0, 0, 0]))],
    [
      'FIM conv1 route input grad (320 rows)',
      (a, m) => a.convRouteInputGrad(m, A([routesF, vr, gm, pF, w1, dxFim, 32, 1e-5, ...conv(F, 28, 28, 1, 32), ...pool(F, 28, 32)])),
    ],
    ['FIM conv1 input grad (320 rows)', (a, m) => a.conv2dBackpropInput(m, A([gFim, w1, dxFim, ...conv(F, 28, 28, 1, 32)]))],
  ];
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function main(): void {
  const vs = variants();
  for (const v of vs) v.addon.setThreads(threads);
  const heap = new Heap(1 << 30);
  const ks = kernels(heap).filter(([name]) => name.includes(only));
  // Calls per measurement: enough for ~20 ms of work on the first variant.
  const reps = ks.map(([, k]) => {
    const v = vs[0]!;
    if (v.level) v.addon.setLevel(v.level);
    k(v.addon, heap.buf);
    const t0 = cpuSeconds();
    let n = 0;
    while (cpuSeconds() - t0 < 0.02) {
      k(v.addon, heap.buf);
      n++;
    }
    return Math.max(1, n);
  });
  const times = vs.map(() => ks.map(() => [] as number[]));
  for (let r = 0; r < rounds; r++)
    ks.forEach(([, k], ki) => {
      // Rotate the starting variant each round so that no variant always runs first.
      for (let j = 0; j < vs.length; j++) {
        const vi = (j + r) % vs.length;
        const v = vs[vi]!;
        if (v.level && !v.addon.setLevel(v.level)) throw new Error(`${v.label}: level ${v.level} not available`);
        k(v.addon, heap.buf);
        const t0 = cpuSeconds();
        for (let i = 0; i < reps[ki]!; i++) k(v.addon, heap.buf);
        times[vi]![ki]!.push(((cpuSeconds() - t0) / reps[ki]!) * 1e3);
      }
    });
  const head = `| kernel (batch ${B}, ${threads} thread${threads > 1 ? 's' : ''}), ms CPU per call: median (IQR) | ${vs.map((v) => v.label).join(' | ')} |`;
  const lines = [head, `|---|${vs.map(() => '---:').join('|')}|`];
  const totals = vs.map(() => 0);
  ks.forEach(([name], ki) => {
    const base = median(times[0]![ki]!);
    const cells = vs.map((_, vi) => {
      const t = times[vi]![ki]!;
      const m = median(t);
      totals[vi]! += m;
      const iqr = `${quantile(t, 0.25).toFixed(3)}–${quantile(t, 0.75).toFixed(3)}`;
      return vi === 0 ? `${m.toFixed(3)} (${iqr})` : `${m.toFixed(3)} (${iqr}) ${(base / m).toFixed(2)}×`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  });
  lines.push(
    `| sum of medians | ${totals.map((t, vi) => (vi === 0 ? t.toFixed(2) : `${t.toFixed(2)} ${(totals[0]! / t).toFixed(2)}×`)).join(' | ')} |`,
  );
  process.stdout.write(
    `${lines.join('\n')}\n\n${rounds} rounds, variants alternating; "n×" is the first variant's time over this one's (above 1: faster).\n`,
  );
}

main();
