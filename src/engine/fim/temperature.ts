/**
 * Temperature scaling (Guo et al. 2017, "On calibration of modern neural networks"): one scalar
 * T > 0 for the whole model, fitted by minimising the negative log-likelihood of softmax(z/T) on
 * held-out data. The NLL is convex in β = 1/T, so a golden-section search over log β finds the
 * optimum. Used here to tell a model that became robust from one that only shrank its logits.
 */
export const T_RANGE: [number, number] = [1e-3, 1e3];

/** Mean NLL of softmax(z/T) over rows of [n, K] logits. */
export function nllAtTemperature(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number, temperature: number): number {
  const n = labels.length;
  let total = 0;
  for (let s = 0; s < n; s++) {
    let max = -Infinity;
    for (let i = 0; i < k; i++) max = Math.max(max, logits[s * k + i]! / temperature);
    let sum = 0;
    for (let i = 0; i < k; i++) sum += Math.exp(logits[s * k + i]! / temperature - max);
    total += max + Math.log(sum) - logits[s * k + labels[s]!]! / temperature;
  }
  return total / n;
}

export function fitTemperature(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  k: number,
): { temperature: number; nll: number; nllAtOne: number } {
  if (labels.length === 0) throw new RangeError('temperature scaling needs at least one held-out sample');
  const f = (logBeta: number) => nllAtTemperature(logits, labels, k, Math.exp(-logBeta));
  let lo = -Math.log(T_RANGE[1]);
  let hi = -Math.log(T_RANGE[0]);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = hi - g * (hi - lo);
  let b = lo + g * (hi - lo);
  let fa = f(a);
  let fb = f(b);
  while (hi - lo > 1e-7) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = f(b);
    }
  }
  const temperature = Math.exp(-(lo + hi) / 2);
  return { temperature, nll: nllAtTemperature(logits, labels, k, temperature), nllAtOne: nllAtTemperature(logits, labels, k, 1) };
}
