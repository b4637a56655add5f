// Batch normalisation with batch statistics (forward and closed-form backward) and column sums,
// over row-major [N, C] data. Sums are accumulated per block of rows in float, then in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "isa.h"
#include "sums.h"

namespace fim {
namespace FIM_ISA {

void batch_norm_train(int N, int C, const float* x, const float* gamma, const float* beta, float eps, float* y,
                      float* mean, float* var) {
  batch_stats(N, C, x, mean, var);
  const float* m = mean;
  std::vector<float> scale(C), shift(C);
  for (int c = 0; c < C; c++) {
    const float inv = 1.0f / std::sqrt(var[c] + eps);
    scale[c] = (gamma ? gamma[c] : 1.0f) * inv;
    shift[c] = beta ? beta[c] : 0.0f;
  }
#pragma omp parallel for schedule(dynamic, 256) if (static_cast<long>(N) * C > 65536)
  for (int r = 0; r < N; r++) {
    const float* in = x + static_cast<long>(r) * C;
    float* out = y + static_cast<long>(r) * C;
    for (int c = 0; c < C; c++) out[c] = (in[c] - m[c]) * scale[c] + shift[c];
  }
}

void batch_norm_train_grad(int N, int C, const float* x, const float* dy, const float* gamma, const float* mean,
                           const float* var, const float* dmean, const float* dvar, float eps, float* dx, float* dgamma,
                           float* dbeta) {
  std::vector<double> sums(2 * static_cast<size_t>(C));
  column_sums<2>(N, C, [&](int r, float* acc) {
    const float* xr = x + static_cast<long>(r) * C;
    const float* g = dy + static_cast<long>(r) * C;
    for (int c = 0; c < C; c++) {
      acc[c] += g[c];
      acc[C + c] += g[c] * (xr[c] - mean[c]);
    }
  }, sums.data());
  // dx = γ·inv·(dy − Σdy/N − x̂·Σ(dy·x̂)/N) + dmean/N + dvar·2(x − mean)/N, x̂ = (x − mean)·inv
  std::vector<float> a(C), b(C), k(C);
  for (int c = 0; c < C; c++) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
    const double g = gamma ? gamma[c] : 1.0;
    const double sdy = sums[c], sdyx = sums[C + c] * inv;  // Σdy, Σdy·x̂
    if (dbeta) dbeta[c] = static_cast<float>(sdy);
    if (dgamma) dgamma[c] = static_cast<float>(sdyx);
    a[c] = static_cast<float>(g * inv);                     // multiplies dy
    const double dm = dmean ? dmean[c] : 0.0, dv = dvar ? dvar[c] : 0.0;
    k[c] = static_cast<float>((g * inv * sdyx * inv - 2.0 * dv) / N);  // multiplies (x − mean), subtracted
    b[c] = static_cast<float>((g * inv * sdy - dm) / N);               // subtracted
  }
#pragma omp parallel for schedule(dynamic, 256) if (static_cast<long>(N) * C > 65536)
  for (int r = 0; r < N; r++) {
    const float* xr = x + static_cast<long>(r) * C;
    const float* g = dy + static_cast<long>(r) * C;
    float* out = dx + static_cast<long>(r) * C;
    for (int c = 0; c < C; c++) out[c] = a[c] * g[c] - b[c] - k[c] * (xr[c] - mean[c]);
  }
}

void batch_norm_inference(long N, int C, const float* x, const float* mean, const float* var, const float* offset,
                          const float* scale, float eps, float* y) {
  std::vector<float> a(C);
  for (int c = 0; c < C; c++) a[c] = (scale ? scale[c] : 1.0f) / std::sqrt(var[c] + eps);
  const float* off = offset;
  std::vector<float> zero;
  if (!off) {
    zero.assign(C, 0.0f);
    off = zero.data();
  }
#pragma omp parallel for schedule(dynamic, 256) if (N * C > 65536)
  for (long r = 0; r < N; r++) {
    const float* in = x + r * C;
    float* out = y + r * C;
    for (int c = 0; c < C; c++) out[c] = (in[c] - mean[c]) * a[c] + off[c];
  }
}

void relu_grad(long n, const float* dy, const float* x, float* dx) {
#pragma omp parallel for schedule(dynamic, 16384) if (n > 65536)
  for (long i = 0; i < n; i++) {
    const float s = x[i] > 0.0f ? 1.0f : (x[i] != x[i] ? x[i] : 0.0f);
    dx[i] = dy[i] * s;
  }
}

template <bool MAX>
static void minmax_rows(long rows, int rank, const long* shape, const long* sa, const long* sb, const float* a,
                        const float* b, float* out) {
  const long inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
#pragma omp parallel for schedule(dynamic, 64) if (rows * inner > 65536)
  for (long r = 0; r < rows; r++) {
    // Offsets of row r (all axes but the last) in a and b.
    long oa = 0, ob = 0, rem = r;
    for (int d = rank - 2; d >= 0; d--) {
      const long i = rem % shape[d];
      rem /= shape[d];
      oa += i * sa[d];
      ob += i * sb[d];
    }
    float* o = out + r * inner;
    for (long j = 0; j < inner; j++) {
      const float x = a[oa + j * ia], y = b[ob + j * ib];
      const float m = MAX ? (x > y ? x : y) : (x < y ? x : y);
      o[j] = (x != x || y != y) ? x + y : m;
    }
  }
}

void broadcast_minmax(int op, int rank, const long* shape, const long* sa, const long* sb, const float* a,
                      const float* b, float* out) {
  long rows = 1;
  for (int d = 0; d < rank - 1; d++) rows *= shape[d];
  if (op == 0)
    minmax_rows<true>(rows, rank, shape, sa, sb, a, b, out);
  else
    minmax_rows<false>(rows, rank, shape, sa, sb, a, b, out);
}

void sum_rows(int R, int C, const float* x, float* out) {
  std::vector<double> s(C);
  column_sums<1>(R, C, [&](int r, float* acc) {
    const float* row = x + static_cast<long>(r) * C;
    for (int c = 0; c < C; c++) acc[c] += row[c];
  }, s.data());
  for (int c = 0; c < C; c++) out[c] = static_cast<float>(s[c]);
}

}  // namespace FIM_ISA
}  // namespace fim
