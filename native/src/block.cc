// Batch norm + ReLU + max pooling, the tail of a conv block, as one kernel each way.
//
// Forward: y = maxpool(relu((x − m)·a + b)) per channel (the last axis), where m, a, b fold the
// batch statistics (training) or the moving ones (inference) with γ and β: one read of x, where
// batch norm, ReLU and pooling as separate kernels read and wrote the full-size tensor five times.
// Backward: each pooled gradient goes to the first maximal element of its window in row-major
// order (TensorFlow's and PyTorch's tie rule), and only where that maximum is positive (ReLU's
// gradient, step(0) = 0). The window maxima are recomputed from x rather than stored. Training's
// batch-norm gradient then needs two sums over the routed gradient and one dense pass.
//
// The formulas are those of batch_norm_train / batch_norm_inference and their gradients
// (norm.cc), with the same float expressions. NaN propagates: a NaN in a window makes its output
// NaN (the loss then shows it), where ReLU and pooling as separate kernels could lose it.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "isa.h"
#include "lanes.h"
#include "simd.h"
#include "sums.h"

namespace fim {
namespace FIM_ISA {

namespace {

constexpr int IMAGE_GROUPS = 16;

// One output pixel's window, for channels [c, c + W): the maximum of relu((x − m)·a + b) and the
// window-local index (fh·FW + fw) of its first occurrence in row-major order (−1: empty window).
// Strictly greater, so the first maximal element wins ties; a NaN replaces a number and stays.
template <class T>
inline void window_max(const PoolDims& d, const float* xb, int oy, int ox, int c, T m, T a, T b, T& best,
                       typename Lane<T>::I& where, T* xbest = nullptr) {
  using L = Lane<T>;
  best = L::all(-std::numeric_limits<float>::infinity());
  where = L::all_i(-1);
  T xb_ = L::all(0.0f);
  for (int fh = 0; fh < d.FH; fh++) {
    const int iy = oy * d.sh + fh * d.dh - d.pt;
    if (iy < 0 || iy >= d.IH) continue;
    for (int fw = 0; fw < d.FW; fw++) {
      const int ix = ox * d.sw + fw * d.dw - d.pl;
      if (ix < 0 || ix >= d.IW) continue;
      const T xv = L::load(xb + (static_cast<long>(iy) * d.IW + ix) * d.C + c);
      const T r = relu_keep_nan((xv - m) * a + b);
      const auto gt = (r > best) | ((r != r) & (best == best));
      best = gt ? r : best;
      where = gt ? L::all_i(fh * d.FW + fw) : where;
      if (xbest) xb_ = gt ? xv : xb_;
    }
  }
  if (xbest) *xbest = xb_;
}

// y = the window maxima; with `route`, also each window's routed element per channel: the
// window-local index of its first maximum where that maximum is positive, −1 where no gradient
// passes (a maximum ≤ 0: ReLU's gradient is 0 there); with `xa`, the input x at that element
// (what the training gradient's sums need, so that they need not read x again).
void affine_relu_pool(const PoolDims& d, const float* x, const float* m, const float* a, const float* b, float* y,
                      int* route, float* xa) {
  const long imageSize = static_cast<long>(d.IH) * d.IW * d.C;
  const long rows = static_cast<long>(d.B) * d.OH;
#pragma omp parallel for schedule(dynamic, 8) if (rows * d.OW * d.C > 16384)
  for (long r = 0; r < rows; r++) {
    const int bi = static_cast<int>(r / d.OH), oy = static_cast<int>(r % d.OH);
    const float* xb = x + bi * imageSize;
    for (int ox = 0; ox < d.OW; ox++) {
      const long o = (r * d.OW + ox) * d.C;
      channel_blocks(d.C, [&](int c, auto tag) {
        using T = decltype(tag);
        using L = Lane<T>;
        T best, xbest;
        typename L::I where;
        window_max<T>(d, xb, oy, ox, c, L::load(m + c), L::load(a + c), L::load(b + c), best, where, &xbest);
        L::store(y + o + c, best);
        const auto live = best > L::all(0.0f);
        if (route) L::store_i(route + o + c, live ? where : L::all_i(-1));
        if (xa) L::store(xa + o + c, live ? xbest : L::all(0.0f));
      });
    }
  }
}

// Windows that tile the image without overlapping (stride = window, no dilation): each input
// pixel belongs to at most one window, so the routed gradient can be written densely window by
// window, with no scatter.
bool tiles(const PoolDims& d) { return d.sh == d.FH && d.sw == d.FW && d.dh == 1 && d.dw == 1; }

// Pixels of an image that no window covers (the right and bottom edges a 'valid' pooling drops).
template <class F>
inline void uncovered_pixels(const PoolDims& d, F f) {
  // Covered rows and columns form a band each (windows tile without gaps): [lo, hi).
  const int yLo = std::max(0, -d.pt), yHi = std::min(d.IH, d.OH * d.sh - d.pt);
  const int xLo = std::max(0, -d.pl), xHi = std::min(d.IW, d.OW * d.sw - d.pl);
  for (int iy = 0; iy < d.IH; iy++) {
    const bool rowCovered = iy >= yLo && iy < yHi;
    for (int ix = 0; ix < d.IW; ix++)
      if (!rowCovered || ix < xLo || ix >= xHi) f(iy * d.IW + ix);
  }
}

// The pixel (iy·IW + ix) that window-local index k of output pixel (oy, ox) stands for.
inline int routed_pixel(const PoolDims& d, int oy, int ox, int k) {
  return (oy * d.sh + (k / d.FW) * d.dh - d.pt) * d.IW + ox * d.sw + (k % d.FW) * d.dw - d.pl;
}

// The forward pass's per-channel scale and shift, with its float arithmetic.
void train_affine(int C, const float* gamma, const float* beta, const float* var, float eps, float* a, float* b) {
  for (int c = 0; c < C; c++) {
    const float inv = 1.0f / std::sqrt(var[c] + eps);
    a[c] = (gamma ? gamma[c] : 1.0f) * inv;
    b[c] = beta ? beta[c] : 0.0f;
  }
}

void inference_affine(int C, const float* var, const float* offset, const float* scale, float eps, float* a, float* b) {
  for (int c = 0; c < C; c++) {
    a[c] = (scale ? scale[c] : 1.0f) / std::sqrt(var[c] + eps);
    b[c] = offset ? offset[c] : 0.0f;
  }
}

}  // namespace

void bn_relu_pool_train(const PoolDims& d, const float* x, const float* gamma, const float* beta, float eps, float* y,
                        float* mean, float* var, int* route, float* xa) {
  batch_stats(d.B * d.IH * d.IW, d.C, x, mean, var);
  std::vector<float> a(d.C), b(d.C);
  train_affine(d.C, gamma, beta, var, eps, a.data(), b.data());
  affine_relu_pool(d, x, mean, a.data(), b.data(), y, route, xa);
}

void bn_relu_pool_train_grad(const PoolDims& d, const float* x, const float* dy, const int* route, const float* xa,
                             const float* gamma, const float* mean, const float* var, const float* dmean,
                             const float* dvar, float eps, float* dx, float* dgamma, float* dbeta, float* dx_sum) {
  const int C = d.C;
  const double N = static_cast<double>(d.B) * d.IH * d.IW;
  const long imageSize = static_cast<long>(d.IH) * d.IW * C;
  const long outSize = static_cast<long>(d.OH) * d.OW * C;
  const int groups = std::max(1, std::min(d.B, IMAGE_GROUPS));
  // Σg and Σg·(x − m) over the routed elements, from the pooled tensors alone (the routes and x at
  // them were recorded by the forward pass): deterministic, per image in float, groups in double.
  std::vector<double> sdy(C, 0.0), sdyxm(C, 0.0);
  {
    std::vector<double> partial(static_cast<size_t>(groups) * 2 * C, 0.0);
#pragma omp parallel if (static_cast<long>(d.B) * outSize > 65536)
    {
      std::vector<float> acc(2 * static_cast<size_t>(C));
#pragma omp for schedule(dynamic, 1)
      for (int g = 0; g < groups; g++) {
        double* mine = partial.data() + static_cast<size_t>(g) * 2 * C;
        for (int bi = g * d.B / groups; bi < (g + 1) * d.B / groups; bi++) {
          std::fill(acc.begin(), acc.end(), 0.0f);
          const long o0 = bi * outSize;
          for (long o = 0; o < outSize; o += C)
            channel_blocks(C, [&](int c, auto tag) {
              using T = decltype(tag);
              using L = Lane<T>;
              const T zero = L::all(0.0f);
              const auto live = L::load_i(route + o0 + o + c) >= L::all_i(0);
              const T gv = live ? L::load(dy + o0 + o + c) : zero;
              L::store(acc.data() + c, L::load(acc.data() + c) + gv);
              L::store(acc.data() + C + c, L::load(acc.data() + C + c) + gv * (live ? L::load(xa + o0 + o + c) - L::load(mean + c) : zero));
            });
          for (int i = 0; i < 2 * C; i++) mine[i] += acc[i];
        }
      }
    }
    for (int c = 0; c < C; c++)
      for (int g = 0; g < groups; g++) {
        sdy[c] += partial[static_cast<size_t>(g) * 2 * C + c];
        sdyxm[c] += partial[static_cast<size_t>(g) * 2 * C + C + c];
      }
  }
  // As batch_norm_train_grad: dx = γ·inv·(g − Σg/N − x̂·Σ(g·x̂)/N) + dmean/N + dvar·2(x − mean)/N.
  std::vector<float> alpha(C), kappa(C), gam(C);
  for (int c = 0; c < C; c++) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
    const double g = gamma ? gamma[c] : 1.0;
    const double sdyx = sdyxm[c] * inv;
    if (dbeta) dbeta[c] = static_cast<float>(sdy[c]);
    if (dgamma) dgamma[c] = static_cast<float>(sdyx);
    const double dm = dmean ? dmean[c] : 0.0, dv = dvar ? dvar[c] : 0.0;
    alpha[c] = static_cast<float>(g * inv);
    kappa[c] = -static_cast<float>((g * inv * sdyx * inv - 2.0 * dv) / N);
    gam[c] = -static_cast<float>((g * inv * sdy[c] - dm) / N);
  }
  // dx = κ·(x − m) + γ' everywhere, + α·dy at each routed element; with dx_sum, also Σ dx per
  // channel (the convolution bias's gradient), per image in float, in image order in double.
  const bool tiled = tiles(d);
  std::vector<double> imageSums(dx_sum ? static_cast<size_t>(d.B) * C : 0, 0.0);
#pragma omp parallel if (static_cast<long>(d.B) * imageSize > 65536)
  {
    std::vector<float> colsum(C);
#pragma omp for schedule(dynamic, 1)
    for (int bi = 0; bi < d.B; bi++) {
      const float* xb = x + bi * imageSize;
      const int* rb = route + bi * outSize;
      const float* dyb = dy + bi * outSize;
      float* dxb = dx + bi * imageSize;
      for (long q = 0; q < imageSize; q += C)
        channel_blocks(C, [&](int c, auto tag) {
          using T = decltype(tag);
          using L = Lane<T>;
          L::store(dxb + q + c, L::load(kappa.data() + c) * (L::load(xb + q + c) - L::load(mean + c)) + L::load(gam.data() + c));
        });
      if (tiled) {
        // Each pixel belongs to one window: add the routed gradient in place, densely.
        for (int oy = 0; oy < d.OH; oy++)
          for (int ox = 0; ox < d.OW; ox++) {
            const long o = (static_cast<long>(oy) * d.OW + ox) * C;
            channel_blocks(C, [&](int c, auto tag) {
              using T = decltype(tag);
              using L = Lane<T>;
              const typename L::I k = L::load_i(rb + o + c);
              const T g = L::load(alpha.data() + c) * L::load(dyb + o + c);
              const T zero = L::all(0.0f);
              for (int fh = 0; fh < d.FH; fh++) {
                const int iy = oy * d.sh + fh - d.pt;
                if (iy < 0 || iy >= d.IH) continue;
                for (int fw = 0; fw < d.FW; fw++) {
                  const int ix = ox * d.sw + fw - d.pl;
                  if (ix < 0 || ix >= d.IW) continue;
                  float* p = dxb + (static_cast<long>(iy) * d.IW + ix) * C + c;
                  L::store(p, L::load(p) + (k == L::all_i(fh * d.FW + fw) ? g : zero));
                }
              }
            });
          }
      } else {
        for (int oy = 0; oy < d.OH; oy++)
          for (int ox = 0; ox < d.OW; ox++) {
            const long o = (static_cast<long>(oy) * d.OW + ox) * C;
            for (int c = 0; c < C; c++) {
              const int k = rb[o + c];
              if (k >= 0) dxb[static_cast<long>(routed_pixel(d, oy, ox, k)) * C + c] += alpha[c] * dyb[o + c];
            }
          }
      }
      if (dx_sum) {
        std::fill(colsum.begin(), colsum.end(), 0.0f);
        for (long q = 0; q < imageSize; q += C)
          channel_blocks(C, [&](int c, auto tag) {
            using L = Lane<decltype(tag)>;
            L::store(colsum.data() + c, L::load(colsum.data() + c) + L::load(dxb + q + c));
          });
        for (int c = 0; c < C; c++) imageSums[static_cast<size_t>(bi) * C + c] = colsum[c];
      }
    }
  }
  if (dx_sum)
    for (int c = 0; c < C; c++) {
      double t = 0;
      for (int bi = 0; bi < d.B; bi++) t += imageSums[static_cast<size_t>(bi) * C + c];
      dx_sum[c] = static_cast<float>(t);
    }
}

void bn_relu_pool_inference(const PoolDims& d, const float* x, const float* mean, const float* var, const float* offset,
                            const float* scale, float eps, float* y, int* route) {
  std::vector<float> a(d.C), b(d.C);
  inference_affine(d.C, var, offset, scale, eps, a.data(), b.data());
  affine_relu_pool(d, x, mean, a.data(), b.data(), y, route, nullptr);
}

void bn_relu_pool_route_grad(const PoolDims& d, int route_batch, const int* route, const float* var,
                             const float* scale, float eps, int scaled, const float* dy, float* dx) {
  const int C = d.C;
  std::vector<float> a(C, 1.0f), unused(C);
  if (scaled) inference_affine(C, var, nullptr, scale, eps, a.data(), unused.data());
  const long imageSize = static_cast<long>(d.IH) * d.IW * C;
  const long outSize = static_cast<long>(d.OH) * d.OW * C;
  const bool tiled = tiles(d);
#pragma omp parallel for schedule(dynamic, 1) if (static_cast<long>(d.B) * imageSize > 65536)
  for (int bi = 0; bi < d.B; bi++) {
    const int* rb = route + (bi % route_batch) * outSize;
    const float* dyb = dy + bi * outSize;
    float* dxb = dx + bi * imageSize;
    if (!tiled) {
      std::fill(dxb, dxb + imageSize, 0.0f);
      for (int oy = 0; oy < d.OH; oy++)
        for (int ox = 0; ox < d.OW; ox++) {
          const long o = (static_cast<long>(oy) * d.OW + ox) * C;
          for (int c = 0; c < C; c++) {
            const int k = rb[o + c];
            if (k < 0) continue;
            const int iy = oy * d.sh + (k / d.FW) * d.dh - d.pt, ix = ox * d.sw + (k % d.FW) * d.dw - d.pl;
            dxb[(static_cast<long>(iy) * d.IW + ix) * C + c] += a[c] * dyb[o + c];
          }
        }
      continue;
    }
    // Tiling windows: every covered pixel is written once, by its window, densely.
    uncovered_pixels(d, [&](int pix) { std::fill(dxb + static_cast<long>(pix) * C, dxb + static_cast<long>(pix + 1) * C, 0.0f); });
    for (int oy = 0; oy < d.OH; oy++)
      for (int ox = 0; ox < d.OW; ox++) {
        const long o = (static_cast<long>(oy) * d.OW + ox) * C;
        channel_blocks(C, [&](int c, auto tag) {
          using T = decltype(tag);
          using L = Lane<T>;
          const typename L::I k = L::load_i(rb + o + c);
          const T g = L::load(a.data() + c) * L::load(dyb + o + c);
          const T zero = L::all(0.0f);
          for (int fh = 0; fh < d.FH; fh++) {
            const int iy = oy * d.sh + fh - d.pt;
            if (iy < 0 || iy >= d.IH) continue;
            for (int fw = 0; fw < d.FW; fw++) {
              const int ix = ox * d.sw + fw - d.pl;
              if (ix < 0 || ix >= d.IW) continue;
              L::store(dxb + (static_cast<long>(iy) * d.IW + ix) * C + c, k == L::all_i(fh * d.FW + fw) ? g : zero);
            }
          }
        });
      }
  }
}

}  // namespace FIM_ISA
}  // namespace fim
