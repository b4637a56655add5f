import {
  backend_util,
  engine,
  mul,
  neg,
  registerGradient,
  reshape,
  rsqrt,
  scalar,
  sub,
  sum,
  add,
  zerosLike,
  type GradConfig,
  type KernelConfig,
  type NamedAttrMap,
  type NamedTensorMap,
  type Tensor,
  type Tensor1D,
  type Tensor4D,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { poolDims } from './geometry';
import { rememberLeadingSums } from './leadingSums';
import { heapBuffer, heapF32, heapI32, heapOffset, readHeap, sizeOf, writeHeap, type WasmBackendLike } from './wasmHeap';

/**
 * Batch normalisation, ReLU and max pooling (the tail of a conv block) as one op each way, in
 * training mode (batch statistics) and in inference mode (moving statistics):
 *
 *   y = maxpool(relu((x − m)·a + b)),  a = γ/√(var + ε), b = β
 *
 * with m, var the batch's mean and biased variance (training) or the moving ones (inference).
 * The backward pass sends each pooled gradient to the first maximal element of its window in
 * row-major order (the tie rule of docs/design.md §1) where that maximum is positive, then
 * through the batch norm's closed-form gradient (BatchNormTrain.ts). One read of x forward and
 * three passes backward replace batch norm, ReLU, pooling and their three gradients (about ten
 * full-size passes and six recorded ops). src/engine/layers/sequential.ts runs a model's
 * BatchNormalization → ReLU → MaxPooling2D layers through these ops where they are registered.
 *
 * The training op also returns the updated moving statistics, computed as the Keras layer does
 * (moving − (moving − batch)·(1 − momentum), in float32 operation by operation), so that the
 * layer needs no further ops to update them.
 */
export const BN_RELU_POOL_TRAIN = 'FimBnReluPoolTrain';
export const BN_RELU_POOL_TRAIN_GRAD = 'FimBnReluPoolTrainGrad';
export const BN_RELU_POOL = 'FimBnReluPool';
export const BN_RELU_POOL_ROUTE_GRAD = 'FimBnReluPoolRouteGrad';
export const SCRATCH = 'FimScratch';

/**
 * An uninitialised tensor that one of the fused kernels fills: the pooling routes (and x at them)
 * are written into tensors passed as inputs rather than returned as outputs. tfjs gives every
 * output of a recorded op that no loss depends on a gradient of zeros, made in JavaScript and
 * copied into the heap (util.makeZerosTypedArray): for the routes of a training step that was
 * 10 MB per step, and the garbage collector's pauses that came with it.
 */
export function scratch(shape: number[], dtype: 'float32' | 'int32'): Tensor {
  return engine().runKernel<Tensor>(SCRATCH, {}, { shape, dtype });
}

/** The pooling window, as MaxPooling2D and tf.maxPool take it. */
export interface PoolSpec {
  filterSize: [number, number];
  strides: [number, number];
  pad: 'valid' | 'same';
}

export interface BnReluPoolTrainAttrs extends PoolSpec {
  epsilon: number;
  momentum: number;
}

export interface BnReluPoolAttrs extends PoolSpec {
  epsilon: number;
}

/**
 * The route gradient kernel: dx from the routes of the inference op alone, times the batch norm's
 * scale (scaled) or not (the gradient at the batch norm's output). dy may hold several copies of
 * the routes' batch (image b uses the routes of image b % routes).
 */
export interface RouteGradAttrs extends BnReluPoolAttrs {
  scaled: boolean;
  /** dx's shape: [dy's batch, H, W, C]. */
  inputShape: [number, number, number, number];
}

/**
 * [y, batch mean, batch variance, new moving mean, new moving variance, routes, x at the routes];
 * every vector has one value per channel. The routes (int32) and x there, shaped like y, are what
 * the backward pass reads instead of recomputing the windows from x; they are filled in place
 * (see `scratch`), so the recorded op has the first five as its outputs.
 */
export function bnReluPoolTrain(
  x: Tensor4D,
  gamma: Tensor1D,
  beta: Tensor1D,
  movingMean: Tensor1D,
  movingVariance: Tensor1D,
  attrs: BnReluPoolTrainAttrs,
): [Tensor4D, Tensor1D, Tensor1D, Tensor1D, Tensor1D, Tensor4D, Tensor4D] {
  const shape = pooledShape(x.shape, attrs);
  const routes = scratch(shape, 'int32') as Tensor4D;
  const xa = scratch(shape, 'float32') as Tensor4D;
  const outs = engine().runKernel(
    BN_RELU_POOL_TRAIN,
    { x, gamma, beta, movingMean, movingVariance, routes, xa },
    attrs as unknown as NamedAttrMap,
  ) as unknown as [Tensor4D, Tensor1D, Tensor1D, Tensor1D, Tensor1D];
  return [...outs, routes, xa];
}

/**
 * Inference mode: [y, routes], y = maxpool(relu((x − mean)·scale/√(variance + ε) + offset)). The
 * routes (int32, shaped like y, filled in place: see `scratch`) say which element of each window
 * the gradient goes to: the window-local index (fh·FW + fw) of its first maximum where that
 * maximum is positive, −1 where no gradient passes. The backward pass needs only them (no read
 * of x).
 */
export function bnReluPool(
  x: Tensor4D,
  mean: Tensor1D,
  variance: Tensor1D,
  offset: Tensor1D,
  scale: Tensor1D,
  attrs: BnReluPoolAttrs,
): [Tensor4D, Tensor4D] {
  const routes = scratch(pooledShape(x.shape, attrs), 'int32') as Tensor4D;
  const y = engine().runKernel(
    BN_RELU_POOL,
    { x, mean, variance, offset, scale, routes },
    attrs as unknown as NamedAttrMap,
  ) as unknown as Tensor4D;
  return [y, routes];
}

/** The input gradient of the inference op from its routes (see RouteGradAttrs). */
export function bnReluPoolRouteGrad(routes: Tensor, variance: Tensor, scale: Tensor, dy: Tensor, attrs: RouteGradAttrs): Tensor4D {
  return engine().runKernel(
    BN_RELU_POOL_ROUTE_GRAD,
    { routes, variance, scale, dy },
    attrs as unknown as NamedAttrMap,
  ) as unknown as Tensor4D;
}

function poolInfo(shape: number[], p: PoolSpec): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(shape as [number, number, number, number], p.filterSize, p.strides, 1, p.pad);
}

/** The pooled shape of x [B, H, W, C]. */
export function pooledShape(shape: number[], p: PoolSpec): number[] {
  return poolInfo(shape, p).outShape;
}

const trainGrad: GradConfig = {
  kernelName: BN_RELU_POOL_TRAIN,
  inputsToSave: ['x', 'gamma', 'routes', 'xa'],
  outputsToSave: [false, true, true, false, false],
  gradFunc: (dys, saved, attrs) => {
    const [dy, dmean, dvariance] = dys as Tensor[];
    const [x, gamma, routes, xa, mean, variance] = saved;
    // One kernel gives all three; computed here, since tfjs disposes what the closures do not return.
    const [dx, dgamma, dbeta] = engine().runKernel(
      BN_RELU_POOL_TRAIN_GRAD,
      { x, dy, routes, xa, gamma, mean, variance, dmean, dvariance } as unknown as NamedTensorMap,
      attrs,
    ) as unknown as Tensor[];
    return {
      x: () => dx!,
      gamma: () => dgamma!,
      beta: () => dbeta!,
      // The moving statistics only feed the new moving statistics, which no loss depends on.
      movingMean: () => zerosLike(mean!),
      movingVariance: () => zerosLike(variance!),
      // Written by the forward kernel, not computed from anything.
      routes: () => zerosLike(routes!),
      xa: () => zerosLike(xa!),
    };
  },
};

const inferenceGrad: GradConfig = {
  kernelName: BN_RELU_POOL,
  inputsToSave: ['x', 'mean', 'variance', 'offset', 'scale', 'routes'],
  gradFunc: (dyIn, saved, attrs) => {
    const dy = dyIn as Tensor;
    const [x, mean, variance, , scale, routes] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    const a = attrs as unknown as BnReluPoolAttrs;
    // The parameters' gradients are rarely wanted (FIM and attacks differentiate by x).
    const params = () => bnReluPoolInferenceParamGrads(x, routes, mean, variance, scale, dy, a);
    return {
      x: () =>
        bnReluPoolRouteGrad(routes, variance, scale, dy, { ...a, scaled: true, inputShape: x.shape as [number, number, number, number] }),
      routes: () => zerosLike(routes),
      offset: () => params().offset,
      scale: () => params().scale,
      mean: () => params().mean,
      variance: () => params().variance,
    };
  },
};

/**
 * The gradients of the inference op's batch-norm parameters, from g, the gradient at the batch
 * norm's output (the routed dy), as in FusedBatchNormGrad.ts; x is the op's input.
 */
export function bnReluPoolInferenceParamGrads(
  x: Tensor,
  routes: Tensor,
  mean: Tensor,
  variance: Tensor,
  scale: Tensor,
  dy: Tensor,
  a: BnReluPoolAttrs,
): { offset: Tensor; scale: Tensor; mean: Tensor; variance: Tensor } {
  const g = bnReluPoolRouteGrad(routes, variance, scale, dy, {
    ...a,
    scaled: false,
    inputShape: x.shape as [number, number, number, number],
  });
  const axes = [0, 1, 2];
  const r = rsqrt(add(variance, scalar(a.epsilon)));
  return {
    offset: sum(g, axes),
    scale: sum(mul(g, mul(sub(x, mean), r)), axes),
    mean: neg(sum(mul(g, mul(scale, r)), axes)),
    variance: reshape(sum(mul(mul(g, sub(x, mean)), mul(mul(mul(mul(r, r), r), scalar(-0.5)), scale)), axes), mean.shape),
  };
}

let gradientsRegistered = false;
export function registerBnReluPoolGradients(): void {
  if (gradientsRegistered) return;
  registerGradient(trainGrad);
  registerGradient(inferenceGrad);
  gradientsRegistered = true;
}

// ---- Portable implementations (no addon): the same arithmetic as native/src/block.cc ----

const fround = Math.fround;

interface Geometry {
  B: number;
  IH: number;
  IW: number;
  C: number;
  OH: number;
  OW: number;
  FH: number;
  FW: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

function geometry(info: backend_util.Conv2DInfo): Geometry {
  return {
    B: info.batchSize,
    IH: info.inHeight,
    IW: info.inWidth,
    C: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    FH: info.filterHeight,
    FW: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/**
 * Visits every output pixel's window maxima of relu((x − m)·a + b): best[c] and the pixel of the
 * first maximum (−1 when the window is empty). NaN propagates, as in the native kernel.
 */
function forEachWindow(
  g: Geometry,
  x: Float32Array,
  m: Float32Array,
  a: Float32Array,
  b: Float32Array,
  visit: (image: number, out: number, best: Float32Array, where: Int32Array) => void,
): void {
  const { C } = g;
  const best = new Float32Array(C);
  const where = new Int32Array(C);
  const imageSize = g.IH * g.IW * C;
  for (let bi = 0; bi < g.B; bi++) {
    const xo = bi * imageSize;
    for (let oy = 0; oy < g.OH; oy++)
      for (let ox = 0; ox < g.OW; ox++) {
        best.fill(-Infinity);
        where.fill(-1);
        for (let fh = 0; fh < g.FH; fh++) {
          const iy = oy * g.sh + fh - g.pt;
          if (iy < 0 || iy >= g.IH) continue;
          for (let fw = 0; fw < g.FW; fw++) {
            const ix = ox * g.sw + fw - g.pl;
            if (ix < 0 || ix >= g.IW) continue;
            const pix = iy * g.IW + ix;
            const p = xo + pix * C;
            for (let c = 0; c < C; c++) {
              const v = fround(fround(fround(x[p + c]! - m[c]!) * a[c]!) + b[c]!);
              const r = v > 0 ? v : Number.isNaN(v) ? v : 0;
              const bc = best[c]!;
              if (r > bc || (Number.isNaN(r) && !Number.isNaN(bc))) {
                best[c] = r;
                where[c] = pix;
              }
            }
          }
        }
        visit(bi, oy * g.OW + ox, best, where);
      }
  }
}

function trainAffine(
  C: number,
  gamma: Float32Array,
  beta: Float32Array,
  variance: Float32Array,
  eps: number,
): [Float32Array, Float32Array] {
  const a = new Float32Array(C);
  for (let c = 0; c < C; c++) a[c] = fround(gamma[c]! * fround(1 / fround(Math.sqrt(fround(variance[c]! + eps)))));
  return [a, beta];
}

function inferenceAffine(C: number, variance: Float32Array, scale: Float32Array, eps: number): Float32Array {
  const a = new Float32Array(C);
  for (let c = 0; c < C; c++) a[c] = fround(scale[c]! / fround(Math.sqrt(fround(variance[c]! + eps))));
  return a;
}

function poolForward(g: Geometry, x: Float32Array, m: Float32Array, a: Float32Array, b: Float32Array, routes?: Int32Array): Float32Array {
  const y = new Float32Array(g.B * g.OH * g.OW * g.C);
  const outImage = g.OH * g.OW * g.C;
  forEachWindow(g, x, m, a, b, (bi, o, best, where) => {
    const at = bi * outImage + o * g.C;
    y.set(best, at);
    if (!routes) return;
    // The pixel index of the maximum → its window-local index; −1 where no gradient passes.
    const oy = Math.floor(o / g.OW);
    const ox = o % g.OW;
    for (let c = 0; c < g.C; c++) {
      const pix = where[c]!;
      const k = ((Math.floor(pix / g.IW) - (oy * g.sh - g.pt)) * g.FW + (pix % g.IW) - (ox * g.sw - g.pl)) | 0;
      routes[at + c] = best[c]! > 0 ? k : -1;
    }
  });
  return y;
}

/** The pixel (iy·IW + ix) that window-local index k of output pixel (oy, ox) stands for. */
function routedPixel(g: Geometry, oy: number, ox: number, k: number): number {
  return (oy * g.sh + Math.floor(k / g.FW) - g.pt) * g.IW + ox * g.sw + (k % g.FW) - g.pl;
}

/** dx of the inference op from its routes: a·dy at each routed element (a null: 1). */
function routeGradRows(g: Geometry, routeBatch: number, routes: Int32Array, a: Float32Array | null, dy: Float32Array): Float32Array {
  const { C } = g;
  const dx = new Float32Array(g.B * g.IH * g.IW * C);
  const imageSize = g.IH * g.IW * C;
  const outImage = g.OH * g.OW * C;
  for (let bi = 0; bi < g.B; bi++) {
    const ro = (bi % routeBatch) * outImage;
    for (let oy = 0; oy < g.OH; oy++)
      for (let ox = 0; ox < g.OW; ox++) {
        const o = (oy * g.OW + ox) * C;
        for (let c = 0; c < C; c++) {
          const k = routes[ro + o + c]!;
          if (k < 0) continue;
          const iy = oy * g.sh + Math.floor(k / g.FW) - g.pt;
          const ix = ox * g.sw + (k % g.FW) - g.pl;
          const i = bi * imageSize + (iy * g.IW + ix) * C + c;
          const gv = dy[bi * outImage + o + c]!;
          dx[i] = fround(dx[i]! + (a ? fround(a[c]! * gv) : gv));
        }
      }
  }
  return dx;
}

function batchStats(N: number, C: number, x: Float32Array): [Float32Array, Float32Array] {
  const s = new Float64Array(C);
  for (let i = 0; i < N * C; i++) s[i % C]! += x[i]!;
  const mean = new Float32Array(C);
  for (let c = 0; c < C; c++) mean[c] = s[c]! / N;
  const q = new Float64Array(C);
  for (let i = 0; i < N * C; i++) {
    const t = fround(x[i]! - mean[i % C]!);
    q[i % C]! += t * t;
  }
  const variance = new Float32Array(C);
  for (let c = 0; c < C; c++) variance[c] = q[c]! / N;
  return [mean, variance];
}

// ---- wasm kernels ----

type In = Record<string, TensorInfo>;

function movingUpdate(b: WasmBackendLike, moving: TensorInfo, value: TensorInfo, momentum: number, out: TensorInfo): void {
  // tf.sub(moving, tf.mul(tf.sub(moving, value), 1 − momentum)), each op rounded to float32.
  const f = fround(1 - momentum);
  const mv = heapF32(b, moving);
  const v = heapF32(b, value);
  const o = heapF32(b, out);
  for (let i = 0; i < o.length; i++) o[i] = fround(mv[i]! - fround(fround(mv[i]! - v[i]!) * f));
}

export function bnReluPoolWasmConfigs(addon: NativeAddon | null): KernelConfig[] {
  const train: KernelConfig = {
    kernelName: BN_RELU_POOL_TRAIN,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, gamma, beta, movingMean, movingVariance, routes, xa } = inputs as In;
      const at = attrs as unknown as BnReluPoolTrainAttrs;
      const info = poolInfo(x!.shape, at);
      const C = info.inChannels;
      const outs = [b.makeOutput(info.outShape, 'float32'), ...[0, 1, 2, 3].map(() => b.makeOutput([C], 'float32'))] as [
        TensorInfo,
        TensorInfo,
        TensorInfo,
        TensorInfo,
        TensorInfo,
      ];
      const [y, mean, variance, newMean, newVariance] = outs;
      if (addon) {
        const t = [x, gamma, beta, y, mean, variance, routes, xa].map((ti) => heapOffset(b, ti));
        addon.bnReluPoolTrain(heapBuffer(b), new Float64Array([...t, at.epsilon, ...poolDims(info)]));
      } else {
        const g = geometry(info);
        const xv = readHeap(b, x!);
        const [mv, vv] = batchStats(sizeOf(x!) / C, C, xv);
        const [a, bb] = trainAffine(C, readHeap(b, gamma!), readHeap(b, beta!), vv, at.epsilon);
        const r = new Int32Array(sizeOf(routes!));
        writeHeap(b, y, poolForward(g, xv, mv, a, bb, r));
        // x at each routed element (0 where none).
        const xr = new Float32Array(r.length);
        const imageSize = g.IH * g.IW * C;
        const outImage = g.OH * g.OW * C;
        for (let i = 0; i < r.length; i++) {
          if (r[i]! < 0) continue;
          const bi = Math.floor(i / outImage);
          const o = Math.floor((i % outImage) / C);
          xr[i] = xv[bi * imageSize + routedPixel(g, Math.floor(o / g.OW), o % g.OW, r[i]!) * C + (i % C)]!;
        }
        heapI32(b, routes!).set(r);
        writeHeap(b, xa!, xr);
        writeHeap(b, mean, mv);
        writeHeap(b, variance, vv);
      }
      movingUpdate(b, movingMean!, mean, at.momentum, newMean);
      movingUpdate(b, movingVariance!, variance, at.momentum, newVariance);
      return outs;
    },
  };
  const trainGradKernel: KernelConfig = {
    kernelName: BN_RELU_POOL_TRAIN_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, dy, routes, xa, gamma, mean, variance, dmean, dvariance } = inputs as In;
      const at = attrs as unknown as BnReluPoolTrainAttrs;
      const info = poolInfo(x!.shape, at);
      const C = info.inChannels;
      const outs = [b.makeOutput(x!.shape, 'float32'), b.makeOutput([C], 'float32'), b.makeOutput([C], 'float32')] as [
        TensorInfo,
        TensorInfo,
        TensorInfo,
      ];
      const [dx, dgamma, dbeta] = outs;
      // Σ dx per channel on the way: the convolution's bias gradient (leadingSums.ts).
      let colSums: Float32Array;
      if (addon) {
        const dxSum = b.makeOutput([C], 'float32');
        const t = [x, dy, routes, xa, gamma, mean, variance, dmean, dvariance, dx, dgamma, dbeta, dxSum].map((ti) => heapOffset(b, ti));
        addon.bnReluPoolTrainGrad(heapBuffer(b), new Float64Array([...t, at.epsilon, ...poolDims(info)]));
        colSums = heapF32(b, dxSum).slice();
        b.disposeData(dxSum.dataId);
      } else {
        const g = geometry(info);
        const v = (ti: TensorInfo | undefined) => (ti ? readHeap(b, ti) : new Float32Array(C));
        const [xv, dyv, xav, gv, mv, vv, dmv, dvv] = [x, dy, xa, gamma, mean, variance, dmean, dvariance].map<Float32Array>(v);
        const r = heapI32(b, routes!).slice();
        const sdy = new Float64Array(C);
        const sdyxm = new Float64Array(C);
        for (let i = 0; i < r.length; i++)
          if (r[i]! >= 0) {
            sdy[i % C]! += dyv![i]!;
            sdyxm[i % C]! += dyv![i]! * (xav![i]! - mv![i % C]!);
          }
        const N = sizeOf(x!) / C;
        const alpha = new Float32Array(C);
        const kappa = new Float32Array(C);
        const gam = new Float32Array(C);
        const dg = new Float32Array(C);
        for (let c = 0; c < C; c++) {
          const inv = 1 / Math.sqrt(vv![c]! + at.epsilon);
          const sdyx = sdyxm[c]! * inv;
          dg[c] = sdyx;
          alpha[c] = gv![c]! * inv;
          kappa[c] = -((gv![c]! * inv * sdyx * inv - 2 * dvv![c]!) / N);
          gam[c] = -((gv![c]! * inv * sdy[c]! - dmv![c]!) / N);
        }
        const out = new Float32Array(xv!.length);
        for (let i = 0; i < out.length; i++) out[i] = fround(fround(kappa[i % C]! * fround(xv![i]! - mv![i % C]!)) + gam[i % C]!);
        const imageSize = g.IH * g.IW * C;
        const outImage = g.OH * g.OW * C;
        for (let i = 0; i < r.length; i++) {
          if (r[i]! < 0) continue;
          const bi = Math.floor(i / outImage);
          const o = Math.floor((i % outImage) / C);
          const j = bi * imageSize + routedPixel(g, Math.floor(o / g.OW), o % g.OW, r[i]!) * C + (i % C);
          out[j] = fround(out[j]! + fround(alpha[i % C]! * dyv![i]!));
        }
        colSums = new Float32Array(C);
        const s64 = new Float64Array(C);
        for (let i = 0; i < out.length; i++) s64[i % C]! += out[i]!;
        colSums.set(s64);
        writeHeap(b, dx, out);
        writeHeap(b, dgamma, dg);
        writeHeap(b, dbeta, Float32Array.from(sdy));
      }
      rememberLeadingSums(dx.dataId, colSums);
      return outs;
    },
  };
  const inference: KernelConfig = {
    kernelName: BN_RELU_POOL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, mean, variance, offset, scale, routes } = inputs as In;
      const at = attrs as unknown as BnReluPoolAttrs;
      const info = poolInfo(x!.shape, at);
      const y = b.makeOutput(info.outShape, 'float32');
      if (addon) {
        const t = [x, mean, variance, offset, scale, y, routes].map((ti) => heapOffset(b, ti));
        addon.bnReluPoolInference(heapBuffer(b), new Float64Array([...t, at.epsilon, ...poolDims(info)]));
      } else {
        const a = inferenceAffine(info.inChannels, readHeap(b, variance!), readHeap(b, scale!), at.epsilon);
        const r = new Int32Array(sizeOf(routes!));
        writeHeap(b, y, poolForward(geometry(info), readHeap(b, x!), readHeap(b, mean!), a, readHeap(b, offset!), r));
        heapI32(b, routes!).set(r);
      }
      return y;
    },
  };
  const inferenceGradKernel: KernelConfig = {
    kernelName: BN_RELU_POOL_ROUTE_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { routes, variance, scale, dy } = inputs as In;
      const at = attrs as unknown as RouteGradAttrs;
      const info = poolInfo(at.inputShape, at);
      const routeBatch = routes!.shape[0]!;
      if (at.inputShape[0] % routeBatch !== 0)
        throw new Error(`${BN_RELU_POOL_ROUTE_GRAD}: batch ${at.inputShape[0]} is not a multiple of ${routeBatch}`);
      const dx = b.makeOutput(at.inputShape, 'float32');
      if (addon) {
        const t = [routes, variance, scale, dy, dx].map((ti) => heapOffset(b, ti));
        addon.bnReluPoolRouteGrad(heapBuffer(b), new Float64Array([...t, routeBatch, at.epsilon, at.scaled ? 1 : 0, ...poolDims(info)]));
      } else {
        const a = at.scaled ? inferenceAffine(info.inChannels, readHeap(b, variance!), readHeap(b, scale!), at.epsilon) : null;
        writeHeap(b, dx, routeGradRows(geometry(info), routeBatch, heapI32(b, routes!).slice(), a, readHeap(b, dy!)));
      }
      return dx;
    },
  };
  const scratchKernel: KernelConfig = {
    kernelName: SCRATCH,
    backendName: 'wasm',
    kernelFunc: ({ backend, attrs }) => {
      const { shape, dtype } = attrs as unknown as { shape: number[]; dtype: 'float32' | 'int32' };
      return (backend as unknown as WasmBackendLike).makeOutput(shape, dtype);
    },
  };
  return [train, trainGradKernel, inference, inferenceGradKernel, scratchKernel];
}
