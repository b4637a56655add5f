// Register-blocked GEMM micro-kernels for the convolution kernels.
//
//   nn:  C[m, n]  = act(bias[n] + Σ_p A[m, p] · B[p, n])     (forward conv, input gradient)
//   tn:  C[k, n] += Σ_m A[m, k] · D[m, n]                     (filter gradient)
//
// B and D are packed into column blocks of NB floats ("panels", zero-padded at the right edge) so
// the inner loop loads whole vectors; A is read in place (an im2col buffer or the tensor itself).
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "simd.h"

// Inside the level's namespace: the blocking constants differ per level, so one level's
// templates must never stand in for another's at link time.
namespace fim {
namespace FIM_ISA {

enum Activation { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2 };

static inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Packs B (K×N, element (p, n) = get(p, n)) into panels [nb][K][NB].
template <class Get>
void pack_panels(int K, int N, Get get, std::vector<float>& out) {
  const int nblk = ceil_div(N, NB);
  out.assign(static_cast<size_t>(nblk) * K * NB, 0.0f);
  for (int b = 0; b < nblk; b++) {
    float* panel = out.data() + static_cast<size_t>(b) * K * NB;
    const int n0 = b * NB, n1 = std::min(N, n0 + NB);
    for (int p = 0; p < K; p++)
      for (int n = n0; n < n1; n++) panel[p * NB + (n - n0)] = get(p, n);
  }
}

// A(i, p) = A[i·lda + p], or A[p·lda + i] when TA (A stored transposed).
template <int R, int V, bool TA>
static inline void mk_nn(int K, const float* A, long lda, const float* panel, const float* bias, float* C, long ldc,
                         int cols, int act) {
  vf acc[R][V];
  alignas(64) float b0[V * VL] = {};
  if (bias) std::memcpy(b0, bias, sizeof(float) * cols);
  for (int v = 0; v < V; v++) {
    const vf bv = loadu(b0 + v * VL);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) acc[r][v] = bv;
  }
  const float* a[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) a[r] = TA ? A + r : A + r * lda;
  for (int p = 0; p < K; p++) {
    vf b[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; v++) b[v] = loadu(panel + p * NB + v * VL);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const vf s = splat(TA ? a[r][p * lda] : a[r][p]);
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) acc[r][v] += s * b[v];
    }
  }
  if (act != ACT_LINEAR) {
    const vf zero{}, six = splat(6.0f);
    for (int r = 0; r < R; r++)
      for (int v = 0; v < V; v++) {
        vf t = acc[r][v];
        t = t > zero ? t : zero;
        if (act == ACT_RELU6) t = t < six ? t : six;
        acc[r][v] = t;
      }
  }
  for (int r = 0; r < R; r++) {
    float* c = C + r * ldc;
    if (cols == V * VL) {
      for (int v = 0; v < V; v++) storeu(c + v * VL, acc[r][v]);
    } else {
      alignas(64) float tmp[V * VL];
      for (int v = 0; v < V; v++) storeu(tmp + v * VL, acc[r][v]);
      std::memcpy(c, tmp, sizeof(float) * cols);
    }
  }
}

template <int R, bool TA>
static inline void mk_nn_v(int V, int K, const float* A, long lda, const float* panel, const float* bias, float* C,
                           long ldc, int cols, int act) {
  switch (V) {
    case 1: mk_nn<R, 1, TA>(K, A, lda, panel, bias, C, ldc, cols, act); break;
    case 2: mk_nn<R, 2, TA>(K, A, lda, panel, bias, C, ldc, cols, act); break;
#if defined(__AVX512F__)
    case 3: mk_nn<R, 3, TA>(K, A, lda, panel, bias, C, ldc, cols, act); break;
    case 4: mk_nn<R, 4, TA>(K, A, lda, panel, bias, C, ldc, cols, act); break;
#endif
  }
}

// C rows [0, M) = act(bias + A · B) with B packed by pack_panels (N columns). With TA, A is
// stored transposed (K × lda) and rows [0, M) are its columns.
// Rows per micro-tile for a column block of V vectors: twice MR when the block is one vector wide,
// so each B load feeds more FMAs. (12 rows × 2 vectors measured 2× slower than 6 × 2: the row
// pointers and accumulators no longer fit the registers.)
constexpr int MR_WIDE = 2 * MR;
static inline int rows_for(int V) {
  return V <= 1 ? MR_WIDE : MR;
}

template <int R, bool TA>
static inline void mk_nn_narrow_v(int V, int K, const float* A, long lda, const float* panel, const float* bias,
                                  float* C, long ldc, int cols, int act) {
  if (V == 1)
    mk_nn<R, 1, TA>(K, A, lda, panel, bias, C, ldc, cols, act);
#if defined(__AVX512F__)
  else
    mk_nn<R, 2, TA>(K, A, lda, panel, bias, C, ldc, cols, act);
#endif
}

// C rows [0, M) = act(bias + A · B) with B packed by pack_panels (N columns). With TA, A is
// stored transposed (K × lda) and rows [0, M) are its columns.
template <bool TA = false>
inline void gemm_nn(int M, int N, int K, const float* A, long lda, const std::vector<float>& panels,
                    const float* bias, float* C, long ldc, int act) {
  const int nblk = ceil_div(N, NB);
  for (int b = 0; b < nblk; b++) {
    const int n0 = b * NB, cols = std::min(NB, N - n0);
    const int V = ceil_div(cols, VL);
    const int mr = rows_for(V);
    const float* panel = panels.data() + static_cast<size_t>(b) * K * NB;
    const float* bb = bias ? bias + n0 : nullptr;
    for (int m = 0; m < M; m += mr) {
      const int rows = std::min(mr, M - m);
      const float* a = TA ? A + m : A + m * lda;
      float* c = C + m * ldc + n0;
      switch (rows) {
        case 1: mk_nn_v<1, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 2: mk_nn_v<2, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 3: mk_nn_v<3, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 4: mk_nn_v<4, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 5: mk_nn_v<5, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 6: mk_nn_v<6, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 7: mk_nn_narrow_v<7, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 8: mk_nn_narrow_v<8, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 9: mk_nn_narrow_v<9, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 10: mk_nn_narrow_v<10, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 11: mk_nn_narrow_v<11, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
        case 12: mk_nn_narrow_v<12, TA>(V, K, a, lda, panel, bb, c, ldc, cols, act); break;
      }
    }
  }
}

// Narrow outputs (N < VL/2, e.g. the input gradient of a 1-channel image): one dot product per
// output along K. Bt is B transposed, [N][K].
inline void gemm_nn_narrow(int M, int N, int K, const float* A, long lda, const std::vector<float>& Bt, float* C,
                           long ldc) {
  for (int m = 0; m < M; m++) {
    const float* a = A + m * lda;
    for (int n = 0; n < N; n++) {
      const float* b = Bt.data() + static_cast<size_t>(n) * K;
      vf s0{}, s1{};
      int p = 0;
      for (; p + 2 * VL <= K; p += 2 * VL) {
        s0 += loadu(a + p) * loadu(b + p);
        s1 += loadu(a + p + VL) * loadu(b + p + VL);
      }
      for (; p + VL <= K; p += VL) s0 += loadu(a + p) * loadu(b + p);
      s0 += s1;
      float s = 0;
      for (int j = 0; j < VL; j++) s += s0[j];
      for (; p < K; p++) s += a[p] * b[p];
      C[m * ldc + n] = s;
    }
  }
}

// C[k0 + r, :] += Σ_m A[m, k0 + r] · D[m, :] for one column panel (D packed [M][NB]).
template <int R, int V>
static inline void mk_tn(int M, const float* A, long lda, const float* dpanel, float* C, long ldc) {
  vf acc[R][V];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) acc[r][v] = loadu(C + r * ldc + v * VL);
  for (int m = 0; m < M; m++) {
    const float* a = A + m * lda;
    vf d[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; v++) d[v] = loadu(dpanel + m * NB + v * VL);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const vf s = splat(a[r]);
#pragma GCC unroll 4
      for (int v = 0; v < V; v++) acc[r][v] += s * d[v];
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) storeu(C + r * ldc + v * VL, acc[r][v]);
}

template <int R>
static inline void mk_tn_v(int V, int M, const float* A, long lda, const float* dpanel, float* C, long ldc) {
  switch (V) {
    case 1: mk_tn<R, 1>(M, A, lda, dpanel, C, ldc); break;
    case 2: mk_tn<R, 2>(M, A, lda, dpanel, C, ldc); break;
#if defined(__AVX512F__)
    case 3: mk_tn<R, 3>(M, A, lda, dpanel, C, ldc); break;
    case 4: mk_tn<R, 4>(M, A, lda, dpanel, C, ldc); break;
#endif
  }
}

// C (K × ldc, ldc = panels·NB) += Aᵀ · D, with D packed into `dpanels` as [nb][M][NB].
inline void gemm_tn(int M, int N, int K, const float* A, long lda, const float* dpanels, float* C, long ldc) {
  const int nblk = ceil_div(N, NB);
  for (int b = 0; b < nblk; b++) {
    const int cols = std::min(NB, N - b * NB);
    const int V = ceil_div(cols, VL);
    const float* dp = dpanels + static_cast<size_t>(b) * M * NB;
    for (int k = 0; k < K; k += MR) {
      const int rows = std::min(MR, K - k);
      float* c = C + k * ldc + b * NB;
      switch (rows) {
        case 1: mk_tn_v<1>(V, M, A + k, lda, dp, c, ldc); break;
        case 2: mk_tn_v<2>(V, M, A + k, lda, dp, c, ldc); break;
        case 3: mk_tn_v<3>(V, M, A + k, lda, dp, c, ldc); break;
        case 4: mk_tn_v<4>(V, M, A + k, lda, dp, c, ldc); break;
#if defined(__AVX__)
        case 5: mk_tn_v<5>(V, M, A + k, lda, dp, c, ldc); break;
        case 6: mk_tn_v<6>(V, M, A + k, lda, dp, c, ldc); break;
#endif
      }
    }
  }
}

}  // namespace FIM_ISA
}  // namespace fim
