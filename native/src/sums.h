// Deterministic parallel column sums over row-major [N, C] data, and batch statistics built on them.
#pragma once
#include <algorithm>
#include <vector>

#include "isa.h"

namespace fim {
namespace FIM_ISA {

constexpr int SUM_BLOCK = 64;
// Sums of f over all rows, in parallel but deterministic whatever the thread count: rows form
// a fixed number of groups, each summed in order (float per block of rows, then double), and the
// groups are added in order.
constexpr int SUM_GROUPS = 16;

// out[k·C + c] = Σ_r f_k(r, c) for k < NOUT; f(r, acc) adds row r's terms to acc[NOUT·C].
template <int NOUT, class F>
void column_sums(int N, int C, F f, double* out) {
  const int blocks = (N + SUM_BLOCK - 1) / SUM_BLOCK;
  const int groups = std::max(1, std::min(blocks, SUM_GROUPS));
  std::vector<double> partial(static_cast<size_t>(groups) * NOUT * C, 0.0);
#pragma omp parallel if (static_cast<long>(N) * C > 65536)
  {
    std::vector<float> acc(static_cast<size_t>(NOUT) * C);
#pragma omp for schedule(dynamic, 1)
    for (int g = 0; g < groups; g++) {
      double* mine = partial.data() + static_cast<size_t>(g) * NOUT * C;
      for (int blk = static_cast<int>(static_cast<long>(g) * blocks / groups);
           blk < static_cast<int>(static_cast<long>(g + 1) * blocks / groups); blk++) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        const int r1 = std::min(N, (blk + 1) * SUM_BLOCK);
        for (int r = blk * SUM_BLOCK; r < r1; r++) f(r, acc.data());
        for (int i = 0; i < NOUT * C; i++) mine[i] += acc[i];
      }
    }
  }
  for (int i = 0; i < NOUT * C; i++) {
    double s = 0;
    for (int g = 0; g < groups; g++) s += partial[static_cast<size_t>(g) * NOUT * C + i];
    out[i] = s;
  }
}

// Batch mean and biased variance per channel of x [N, C], two passes (the centred second pass
// keeps the variance accurate when the mean is large).
inline void batch_stats(int N, int C, const float* x, float* mean, float* var) {
  std::vector<double> s(C), q(C);
  column_sums<1>(
      N, C,
      [&](int r, float* acc) {
        const float* row = x + static_cast<long>(r) * C;
        for (int c = 0; c < C; c++) acc[c] += row[c];
      },
      s.data());
  for (int c = 0; c < C; c++) mean[c] = static_cast<float>(s[c] / N);
  column_sums<1>(
      N, C,
      [&](int r, float* acc) {
        const float* row = x + static_cast<long>(r) * C;
        for (int c = 0; c < C; c++) {
          const float t = row[c] - mean[c];
          acc[c] += t * t;
        }
      },
      q.data());
  for (int c = 0; c < C; c++) var[c] = static_cast<float>(q[c] / N);
}

}  // namespace FIM_ISA
}  // namespace fim
