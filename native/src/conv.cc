// Convolution kernels as im2col + register-blocked GEMM, parallel over row chunks (OpenMP).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gemm.h"
#include "isa.h"
#include "lanes.h"

namespace fim {
namespace FIM_ISA {

namespace {

// Partial sums of a parallel reduction: fixed, so results do not depend on the thread count.
constexpr long REDUCTION_GROUPS = 16;

// Bytes of A (im2col rows) per chunk: keeps a chunk and its panels in L2.
constexpr long CHUNK_BYTES = 192 * 1024;

int chunk_rows(int K, int extra_per_row = 0) {
  long rows = CHUNK_BYTES / (4L * (K + extra_per_row));
  rows = std::max<long>(MR, std::min<long>(rows, 2048));
  return static_cast<int>(std::max<long>(MR_WIDE, rows / MR_WIDE * MR_WIDE));
}

std::vector<float>& thread_buffer(int which) {
  thread_local std::vector<float> bufs[3];
  return bufs[which];
}

inline void copy_or_zero(float* dst, const float* src, int n) {
  if (src)
    for (int i = 0; i < n; i++) dst[i] = src[i];
  else
    for (int i = 0; i < n; i++) dst[i] = 0.0f;
}

// Rows [m0, m0+mc) of the im2col matrix of x: row (b, oy, ox) = the receptive field [FH][FW][CI].
// With unit dilation a filter row whose taps all fall inside the image is one contiguous run of
// FW·CI floats, copied at once (most rows of a padded convolution).
void im2col(const ConvDims& d, const float* x, long m0, int mc, float* A) {
  const int K = d.FH * d.FW * d.CI;
  const int run = d.FW * d.CI;
  const long ohw = static_cast<long>(d.OH) * d.OW;
  // Row m0's (b, oy, ox), then stepped row by row: a division per row cost as much as the copy.
  int b = static_cast<int>(m0 / ohw);
  int oy = static_cast<int>(m0 % ohw) / d.OW, ox = static_cast<int>(m0 % ohw) % d.OW;
  for (int i = 0; i < mc; i++, ox == d.OW - 1 ? (ox = 0, oy == d.OH - 1 ? (oy = 0, b++) : oy++) : ox++) {
    float* dst = A + static_cast<long>(i) * K;
    const int ix0 = ox * d.sw - d.pl;
    const bool rowInside = d.dw == 1 && ix0 >= 0 && ix0 + d.FW <= d.IW;
    for (int fh = 0; fh < d.FH; fh++) {
      const int iy = oy * d.sh + fh * d.dh - d.pt;
      float* seg = dst + fh * run;
      if (iy < 0 || iy >= d.IH) {
        std::memset(seg, 0, sizeof(float) * run);
        continue;
      }
      const float* src = x + ((static_cast<long>(b) * d.IH + iy) * d.IW) * d.CI;
      if (rowInside) {
        std::memcpy(seg, src + static_cast<long>(ix0) * d.CI, sizeof(float) * run);
        continue;
      }
      for (int fw = 0; fw < d.FW; fw++) {
        const int ix = ix0 + fw * d.dw;
        copy_or_zero(seg + fw * d.CI, ix >= 0 && ix < d.IW ? src + static_cast<long>(ix) * d.CI : nullptr, d.CI);
      }
    }
  }
}

// Rows [m0, m0+mc) of the transposed-convolution gather: row (b, iy, ix) holds, per tap, the dy row
// of the output pixel that tap connects to (zeros where none does). Taps are ordered (fh, j) with
// fw = FW−1−j, so that for stride 1 a filter row is one contiguous run of dy (ox increases with j);
// the packed filter uses the same order.
void gather_dy(const ConvDims& d, const float* dy, long m0, int mc, float* A) {
  const int K = d.FH * d.FW * d.CO;
  const int run = d.FW * d.CO;
  const long ihw = static_cast<long>(d.IH) * d.IW;
  int b = static_cast<int>(m0 / ihw);
  int iy = static_cast<int>(m0 % ihw) / d.IW, ix = static_cast<int>(m0 % ihw) % d.IW;
  for (int i = 0; i < mc; i++, ix == d.IW - 1 ? (ix = 0, iy == d.IH - 1 ? (iy = 0, b++) : iy++) : ix++) {
    float* dst = A + static_cast<long>(i) * K;
    // ox for j = 0 (fw = FW−1) when stride and dilation are 1.
    const int ox0 = ix + d.pl - (d.FW - 1);
    const bool rowInside = d.sw == 1 && d.dw == 1 && ox0 >= 0 && ox0 + d.FW <= d.OW;
    for (int fh = 0; fh < d.FH; fh++) {
      const int ny = iy + d.pt - fh * d.dh;
      const int oy = ny >= 0 && ny % d.sh == 0 ? ny / d.sh : -1;
      float* seg = dst + fh * run;
      if (oy < 0 || oy >= d.OH) {
        std::memset(seg, 0, sizeof(float) * run);
        continue;
      }
      const float* src = dy + ((static_cast<long>(b) * d.OH + oy) * d.OW) * d.CO;
      if (rowInside) {
        std::memcpy(seg, src + static_cast<long>(ox0) * d.CO, sizeof(float) * run);
        continue;
      }
      for (int j = 0; j < d.FW; j++) {
        const int nx = ix + d.pl - (d.FW - 1 - j) * d.dw;
        const int ox = nx >= 0 && nx % d.sw == 0 ? nx / d.sw : -1;
        copy_or_zero(seg + j * d.CO, ox >= 0 && ox < d.OW ? src + static_cast<long>(ox) * d.CO : nullptr, d.CO);
      }
    }
  }
}

bool is_pointwise(const ConvDims& d) {
  return d.FH == 1 && d.FW == 1 && d.sh == 1 && d.sw == 1 && d.pt == 0 && d.pl == 0 && d.OH == d.IH && d.OW == d.IW;
}

// C[M × N] = act(bias + A · B) where rows of A come from `fill` (or `direct` when non-null).
template <class Fill>
void gemm_rows(long M, int N, int K, const float* direct, Fill fill, const std::vector<float>& panels,
               const std::vector<float>* narrowBt, const float* bias, float* C, int act) {
  const int mc = chunk_rows(K);
  const long chunks = (M + mc - 1) / mc;
#pragma omp parallel for schedule(dynamic, 1)
  for (long ch = 0; ch < chunks; ch++) {
    const long m0 = ch * mc;
    const int rows = static_cast<int>(std::min<long>(mc, M - m0));
    const float* A;
    if (direct) {
      A = direct + m0 * K;
    } else {
      std::vector<float>& buf = thread_buffer(0);
      if (buf.size() < static_cast<size_t>(mc) * K) buf.resize(static_cast<size_t>(mc) * K);
      fill(m0, rows, buf.data());
      A = buf.data();
    }
    if (narrowBt)
      gemm_nn_narrow(rows, N, K, A, K, *narrowBt, C + m0 * N, N);
    else
      gemm_nn(rows, N, K, A, K, panels, bias, C + m0 * N, N, act);
  }
}

bool use_narrow(int N, int act, const float* bias) { return N * 2 < VL && act == ACT_LINEAR && !bias; }

}  // namespace

void conv2d_forward(const ConvDims& d, const float* x, const float* w, const float* bias, float* out, int act) {
  const int K = d.FH * d.FW * d.CI, N = d.CO;
  const long M = static_cast<long>(d.B) * d.OH * d.OW;
  std::vector<float> panels, bt;
  const bool narrow = use_narrow(N, act, bias);
  if (narrow) {
    bt.resize(static_cast<size_t>(N) * K);
    for (int n = 0; n < N; n++)
      for (int p = 0; p < K; p++) bt[static_cast<size_t>(n) * K + p] = w[static_cast<long>(p) * N + n];
  } else {
    pack_panels(K, N, [&](int p, int n) { return w[static_cast<long>(p) * N + n]; }, panels);
  }
  gemm_rows(
      M, N, K, is_pointwise(d) ? x : nullptr, [&](long m0, int mc, float* A) { im2col(d, x, m0, mc, A); }, panels,
      narrow ? &bt : nullptr, bias, out, act);
}

void conv2d_backprop_input(const ConvDims& d, const float* dy, const float* w, float* dx) {
  const int T = d.FH * d.FW, K = T * d.CO, N = d.CI;
  const long M = static_cast<long>(d.B) * d.IH * d.IW;
  // B[((fh, j), co), ci] = w[fh, FW−1−j, ci, co] (gather_dy's tap order; the identity for 1×1)
  auto get = [&](int p, int n) {
    const int t = p / d.CO, co = p % d.CO;
    const int fh = t / d.FW, fw = d.FW - 1 - t % d.FW;
    return w[((static_cast<long>(fh) * d.FW + fw) * d.CI + n) * d.CO + co];
  };
  std::vector<float> panels, bt;
  const bool narrow = use_narrow(N, ACT_LINEAR, nullptr);
  if (narrow) {
    bt.resize(static_cast<size_t>(N) * K);
    for (int n = 0; n < N; n++)
      for (int p = 0; p < K; p++) bt[static_cast<size_t>(n) * K + p] = get(p, n);
  } else {
    pack_panels(K, N, get, panels);
  }
  if (narrow && !is_pointwise(d)) {
    // Few input channels (an image's): each output is a handful of dot products of CO floats, so a
    // gathered copy of dy (FH·FW times its size) would cost more than the arithmetic. Read the
    // dy rows in place, with the tap ↔ output-pixel pairs of every row and column precomputed
    // (integer division per tap cost more than the dot products).
    struct Tap {
      int k, o;  // filter index (fh or j), output coordinate (oy or ox)
    };
    std::vector<std::vector<Tap>> ytab(d.IH), xtab(d.IW);
    for (int iy = 0; iy < d.IH; iy++)
      for (int fh = 0; fh < d.FH; fh++) {
        const int ny = iy + d.pt - fh * d.dh;
        if (ny >= 0 && ny % d.sh == 0 && ny / d.sh < d.OH) ytab[iy].push_back({fh, ny / d.sh});
      }
    for (int ix = 0; ix < d.IW; ix++)
      for (int j = 0; j < d.FW; j++) {
        const int nx = ix + d.pl - (d.FW - 1 - j) * d.dw;
        if (nx >= 0 && nx % d.sw == 0 && nx / d.sw < d.OW) xtab[ix].push_back({j, nx / d.sw});
      }
    const long rows = static_cast<long>(d.B) * d.IH;
    const int cv = d.CO / VL * VL;
#pragma omp parallel for schedule(dynamic, 16) if (M * K > 1000000)
    for (long r = 0; r < rows; r++) {
      const int b = static_cast<int>(r / d.IH), iy = static_cast<int>(r % d.IH);
      for (int ix = 0; ix < d.IW; ix++) {
        vf acc[VL / 2];
        float tail[VL / 2] = {};
        for (int n = 0; n < N; n++) acc[n] = vf{};
        // With unit stride and dilation, a full set of column taps reads FW consecutive dy pixels
        // against FW consecutive filter taps: one dot product of FW·CO floats.
        const bool run = d.sw == 1 && d.dw == 1 && static_cast<int>(xtab[ix].size()) == d.FW;
        const int runLen = d.FW * d.CO, runV = runLen / VL * VL;
        for (const Tap& ty : ytab[iy]) {
          const float* dyRow = dy + (static_cast<long>(b) * d.OH + ty.o) * d.OW * d.CO;
          if (run) {
            const float* g = dyRow + static_cast<long>(xtab[ix][0].o) * d.CO;
            const long t = static_cast<long>(ty.k) * d.FW * d.CO;
            for (int n = 0; n < N; n++) {
              const float* wv = bt.data() + static_cast<size_t>(n) * K + t;
              for (int co = 0; co < runV; co += VL) acc[n] += loadu(g + co) * loadu(wv + co);
              for (int co = runV; co < runLen; co++) tail[n] += g[co] * wv[co];
            }
            continue;
          }
          for (const Tap& tx : xtab[ix]) {
            const float* g = dyRow + static_cast<long>(tx.o) * d.CO;
            const long t = (static_cast<long>(ty.k) * d.FW + tx.k) * d.CO;
            for (int n = 0; n < N; n++) {
              const float* wv = bt.data() + static_cast<size_t>(n) * K + t;
              for (int co = 0; co < cv; co += VL) acc[n] += loadu(g + co) * loadu(wv + co);
              for (int co = cv; co < d.CO; co++) tail[n] += g[co] * wv[co];
            }
          }
        }
        float* out = dx + (r * d.IW + ix) * N;
        for (int n = 0; n < N; n++) {
          float sum = tail[n];
          for (int l = 0; l < VL; l++) sum += acc[n][l];
          out[n] = sum;
        }
      }
    }
    return;
  }
  // A pointwise convolution's input gradient is dy · wᵀ with dy used in place.
  gemm_rows(
      M, N, K, is_pointwise(d) ? dy : nullptr, [&](long m0, int mc, float* A) { gather_dy(d, dy, m0, mc, A); }, panels,
      narrow ? &bt : nullptr, nullptr, dx, ACT_LINEAR);
}

void conv2d_backprop_filter(const ConvDims& d, const float* x, const float* dy, float* dw) {
  const int K = d.FH * d.FW * d.CI, N = d.CO;
  const int nblk = ceil_div(N, NB);
  const int ldc = nblk * NB;
  const long M = static_cast<long>(d.B) * d.OH * d.OW;
  const int mc = chunk_rows(K, ldc);
  const long chunks = (M + mc - 1) / mc;
  const bool pointwise = is_pointwise(d);
  // Deterministic whatever the thread count: the chunks form a fixed number of groups, each
  // summed in order into its own partial, and the partials are added in group order. (Training
  // resumed after a crash must replay bit for bit.)
  const long groups = std::min<long>(chunks, REDUCTION_GROUPS);
  std::vector<float> partial(static_cast<size_t>(groups) * K * ldc, 0.0f);
#pragma omp parallel
  {
    std::vector<float>& abuf = thread_buffer(0);
    std::vector<float>& dbuf = thread_buffer(1);
    if (!pointwise && abuf.size() < static_cast<size_t>(mc) * K) abuf.resize(static_cast<size_t>(mc) * K);
    if (dbuf.size() < static_cast<size_t>(mc) * ldc) dbuf.resize(static_cast<size_t>(mc) * ldc);
#pragma omp for schedule(dynamic, 1)
    for (long g = 0; g < groups; g++)
    for (long ch = g * chunks / groups; ch < (g + 1) * chunks / groups; ch++) {
      float* C = partial.data() + static_cast<size_t>(g) * K * ldc;
      const long m0 = ch * mc;
      const int rows = static_cast<int>(std::min<long>(mc, M - m0));
      const float* A;
      if (pointwise) {
        A = x + m0 * K;
      } else {
        im2col(d, x, m0, rows, abuf.data());
        A = abuf.data();
      }
      // Pack dy rows into panels [nb][rows][NB], zero-padded.
      float* dp = dbuf.data();
      for (int b = 0; b < nblk; b++) {
        const int n0 = b * NB, cols = std::min(NB, N - n0);
        float* panel = dp + static_cast<size_t>(b) * rows * NB;
        for (int i = 0; i < rows; i++) {
          const float* src = dy + (m0 + i) * N + n0;
          float* dst = panel + static_cast<size_t>(i) * NB;
          if (cols == NB) {
            std::memcpy(dst, src, sizeof(float) * NB);
          } else {
            std::memcpy(dst, src, sizeof(float) * cols);
            std::memset(dst + cols, 0, sizeof(float) * (NB - cols));
          }
        }
      }
      gemm_tn(rows, N, K, A, K, dp, C, ldc);
    }
  }
  for (int k = 0; k < K; k++)
    for (int n = 0; n < N; n++) {
      float s = 0;
      for (long g = 0; g < groups; g++) s += partial[(static_cast<size_t>(g) * K + k) * ldc + n];
      dw[static_cast<long>(k) * N + n] = s;
    }
}

void conv_bn_relu_pool_inference(const ConvDims& d, const PoolDims& p, const float* x, const float* w,
                                 const float* bias, const float* mean, const float* var, const float* offset,
                                 const float* scale, float eps, float* y, int* route) {
  const int K = d.FH * d.FW * d.CI, N = d.CO;
  std::vector<float> panels, bt;
  const bool narrow = use_narrow(N, ACT_LINEAR, bias);
  if (narrow) {
    bt.resize(static_cast<size_t>(N) * K);
    for (int n = 0; n < N; n++)
      for (int q = 0; q < K; q++) bt[static_cast<size_t>(n) * K + q] = w[static_cast<long>(q) * N + n];
  } else {
    pack_panels(K, N, [&](int q, int n) { return w[static_cast<long>(q) * N + n]; }, panels);
  }
  // The batch norm's scale and shift, with batch_norm_inference's float arithmetic.
  std::vector<float> a(N), b(N);
  for (int c = 0; c < N; c++) {
    a[c] = (scale ? scale[c] : 1.0f) / std::sqrt(var[c] + eps);
    b[c] = offset ? offset[c] : 0.0f;
  }
  // One work item: the FH pooling rows of convolution output under pooled row py of image bi,
  // computed into a thread buffer (L1/L2-sized) and pooled from there.
  const int rowsPerItem = p.FH * d.OW;
  const long items = static_cast<long>(d.B) * p.OH;
#pragma omp parallel
  {
    std::vector<float>& abuf = thread_buffer(0);
    std::vector<float>& cbuf = thread_buffer(1);
    if (abuf.size() < static_cast<size_t>(rowsPerItem) * K) abuf.resize(static_cast<size_t>(rowsPerItem) * K);
    if (cbuf.size() < static_cast<size_t>(rowsPerItem) * N) cbuf.resize(static_cast<size_t>(rowsPerItem) * N);
#pragma omp for schedule(dynamic, 4)
    for (long it = 0; it < items; it++) {
      const int bi = static_cast<int>(it / p.OH), py = static_cast<int>(it % p.OH);
      const long m0 = (static_cast<long>(bi) * d.OH + static_cast<long>(py) * p.FH) * d.OW;
      im2col(d, x, m0, rowsPerItem, abuf.data());
      float* cv = cbuf.data();
      if (narrow) {
        gemm_nn_narrow(rowsPerItem, N, K, abuf.data(), K, bt, cv, N);
        if (bias)
          for (int r = 0; r < rowsPerItem; r++)
            for (int c = 0; c < N; c++) cv[static_cast<long>(r) * N + c] += bias[c];
      } else {
        gemm_nn(rowsPerItem, N, K, abuf.data(), K, panels, bias, cv, N, ACT_LINEAR);
      }
      for (int px = 0; px < p.OW; px++) {
        const long o = ((static_cast<long>(bi) * p.OH + py) * p.OW + px) * N;
        channel_blocks(N, [&](int c, auto tag) {
          using T = decltype(tag);
          using L = Lane<T>;
          const T m = L::load(mean + c), av = L::load(a.data() + c), bv = L::load(b.data() + c);
          T best = L::all(-std::numeric_limits<float>::infinity());
          typename L::I where = L::all_i(-1);
          for (int fh = 0; fh < p.FH; fh++)
            for (int fw = 0; fw < p.FW; fw++) {
              const T r = relu_keep_nan((L::load(cv + (static_cast<long>(fh) * d.OW + px * p.FW + fw) * N + c) - m) * av + bv);
              const auto gt = (r > best) | ((r != r) & (best == best));
              best = gt ? r : best;
              where = gt ? L::all_i(fh * p.FW + fw) : where;
            }
          L::store(y + o + c, best);
          if (route) L::store_i(route + o + c, best > L::all(0.0f) ? where : L::all_i(-1));
        });
      }
    }
  }
}

void conv_route_input_grad(const ConvDims& d, const PoolDims& p, int route_batch, const int* route, const float* var,
                           const float* scale, float eps, const float* dy, const float* w, float* dx) {
  const int CO = d.CO, CI = d.CI;
  std::vector<float> a(CO);
  for (int c = 0; c < CO; c++) a[c] = (scale ? scale[c] : 1.0f) / std::sqrt(var[c] + eps);
  // wt[ci][fh][fw][co]: the filter with the output channels contiguous, for the dot products.
  std::vector<float> wt(static_cast<size_t>(CI) * d.FH * d.FW * CO);
  for (int fh = 0; fh < d.FH; fh++)
    for (int fw = 0; fw < d.FW; fw++)
      for (int ci = 0; ci < CI; ci++)
        for (int co = 0; co < CO; co++)
          wt[((static_cast<size_t>(ci) * d.FH + fh) * d.FW + fw) * CO + co] = w[((static_cast<long>(fh) * d.FW + fw) * CI + ci) * CO + co];
  const int cv = CO / VL * VL;
  const long outSize = static_cast<long>(p.OH) * p.OW * CO;
  // Per output column: its pooling window (−1 past the last one) and its column in it; integer
  // division in the loop cost more than the arithmetic.
  std::vector<int> winX(d.OW), inX(d.OW);
  for (int ox = 0; ox < d.OW; ox++) {
    winX[ox] = ox / p.FW < p.OW ? ox / p.FW : -1;
    inX[ox] = ox % p.FW;
  }
  const long convPixels = static_cast<long>(d.OH) * d.OW;
#pragma omp parallel
  {
    // One image's convolution-output gradient, rebuilt from the routes in a thread buffer (the
    // ConvNet's: 100 KB, in L2) and read from there by the dot products.
    std::vector<float>& g = thread_buffer(2);
    if (g.size() < static_cast<size_t>(convPixels * CO)) g.resize(static_cast<size_t>(convPixels * CO));
#pragma omp for schedule(dynamic, 1)
    for (int b = 0; b < d.B; b++) {
      const int* rb = route + static_cast<long>(b % route_batch) * outSize;
      const float* dyb = dy + static_cast<long>(b) * outSize;
      for (int oy = 0; oy < d.OH; oy++) {
        float* row = g.data() + static_cast<long>(oy) * d.OW * CO;
        const int py = oy / p.FH, ky = oy % p.FH;
        if (py >= p.OH) {
          std::fill(row, row + static_cast<long>(d.OW) * CO, 0.0f);
          continue;
        }
        for (int ox = 0; ox < d.OW; ox++) {
          const int px = winX[ox];
          float* dst = row + static_cast<long>(ox) * CO;
          if (px < 0) {
            std::fill(dst, dst + CO, 0.0f);
            continue;
          }
          const int k = ky * p.FW + inX[ox];
          const long o = (static_cast<long>(py) * p.OW + px) * CO;
          channel_blocks(CO, [&](int c, auto tag) {
            using Ty = decltype(tag);
            using L = Lane<Ty>;
            const Ty gv = L::load(a.data() + c) * L::load(dyb + o + c);
            L::store(dst + c, L::load_i(rb + o + c) == L::all_i(k) ? gv : L::all(0.0f));
          });
        }
      }
      float* out = dx + static_cast<long>(b) * d.IH * d.IW * CI;
      for (int iy = 0; iy < d.IH; iy++)
        for (int ix = 0; ix < d.IW; ix++)
          for (int ci = 0; ci < CI; ci++) {
            vf acc{};
            float tail = 0;
            for (int fh = 0; fh < d.FH; fh++) {
              const int oy = iy + d.pt - fh;
              if (oy < 0 || oy >= d.OH) continue;
              const float* row = g.data() + static_cast<long>(oy) * d.OW * CO;
              for (int fw = 0; fw < d.FW; fw++) {
                const int ox = ix + d.pl - fw;
                if (ox < 0 || ox >= d.OW) continue;
                const float* gp = row + static_cast<long>(ox) * CO;
                const float* wv = wt.data() + ((static_cast<size_t>(ci) * d.FH + fh) * d.FW + fw) * CO;
                for (int co = 0; co < cv; co += VL) acc += loadu(gp + co) * loadu(wv + co);
                for (int co = cv; co < CO; co++) tail += gp[co] * wv[co];
              }
            }
            for (int l = 0; l < VL; l++) tail += acc[l];
            out[(static_cast<long>(iy) * d.IW + ix) * CI + ci] = tail;
          }
    }
  }
}

void matmul(int batch, int M, int N, int K, const float* A, bool transA, long strideA, const float* B, bool transB,
            long strideB, const float* bias, int act, float* C) {
  // Rows of C per parallel task: enough work to amortise a task, several tasks per thread.
  const long work = static_cast<long>(M) * N * K;
  int rows = M;
  const int nt = omp_get_max_threads();
  if (work > 200000 && nt > 1) rows = std::max(MR_WIDE, (M + 4 * nt - 1) / (4 * nt) / MR_WIDE * MR_WIDE);
  const int chunks = (M + rows - 1) / rows;
  for (int bi = 0; bi < batch; bi++) {
    const float* a = A + bi * strideA;
    const float* b = B + bi * strideB;
    float* c = C + static_cast<long>(bi) * M * N;
    std::vector<float> panels;
    // B(p, n) = b[p·N + n], or b[n·K + p] when stored transposed.
    if (transB)
      pack_panels(K, N, [&](int p, int n) { return b[static_cast<long>(n) * K + p]; }, panels);
    else
      pack_panels(K, N, [&](int p, int n) { return b[static_cast<long>(p) * N + n]; }, panels);
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
    for (int ch = 0; ch < chunks; ch++) {
      const int m0 = ch * rows, mr = std::min(rows, M - m0);
      if (transA)
        gemm_nn<true>(mr, N, K, a + m0, M, panels, bias, c + static_cast<long>(m0) * N, N, act);
      else
        gemm_nn<false>(mr, N, K, a + static_cast<long>(m0) * K, K, panels, bias, c + static_cast<long>(m0) * N, N, act);
    }
  }
}

int vector_floats() { return VL; }
const char* simd_name() { return SIMD_NAME; }

}  // namespace FIM_ISA
}  // namespace fim
