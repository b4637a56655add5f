/**
 * Column sums that a kernel computed anyway, remembered with the tensor they belong to, for the
 * Sum kernel to return instead of reading the tensor again. The case: a convolution's bias
 * gradient is Σ over batch, rows and columns of its output gradient, which the fused block's
 * backward pass (BnReluPool.ts) writes and can sum on the way. Keyed by the tensor's data
 * (tfjs tensors never change their data), and dropped with it.
 */
const sums = new WeakMap<object, Float32Array>();

export function rememberLeadingSums(dataId: object, columnSums: Float32Array): void {
  sums.set(dataId, columnSums);
}

/** The remembered Σ over all leading axes for `cols` trailing elements, if any. */
export function leadingSumsOf(dataId: object, cols: number): Float32Array | undefined {
  const s = sums.get(dataId);
  return s && s.length === cols ? s : undefined;
}
