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
                       typename Lane<T>::I& where) {
  using L = Lane<T>;
  best = L::all(-std::numeric_limits<float>::infinity());
  where = L::all_i(-1);
  for (int fh = 0; fh < d.FH; fh++) {
    const int iy = oy * d.sh + fh * d.dh - d.pt;
    if (iy < 0 || iy >= d.IH) continue;
    for (int fw = 0; fw < d.FW; fw++) {
      const int ix = ox * d.sw + fw * d.dw - d.pl;
      if (ix < 0 || ix >= d.IW) continue;
      const T r = relu_keep_nan((L::load(xb + (static_cast<long>(iy) * d.IW + ix) * d.C + c) - m) * a + b);
      const auto gt = (r > best) | ((r != r) & (best == best));
      best = gt ? r : best;
      where = gt ? L::all_i(fh * d.FW + fw) : where;
    }
  }
}

// y = the window maxima; with `route`, also each window's routed element per channel: the
// window-local index of its first maximum where that maximum is positive, −1 where no gradient
// passes (a maximum ≤ 0: ReLU's gradient is 0 there).
void affine_relu_pool(const PoolDims& d, const float* x, const float* m, const float* a, const float* b, float* y,
                      int* route) {
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
        T best;
        typename L::I where;
        window_max<T>(d, xb, oy, ox, c, L::load(m + c), L::load(a + c), L::load(b + c), best, where);
        L::store(y + o + c, best);
        if (route) {
          const typename L::I none = L::all_i(-1);
          L::store_i(route + o + c, best > L::all(0.0f) ? where : none);
        }
      });
    }
  }
}

// Windows that tile the image without overlapping (stride = window, no dilation): each input
// pixel belongs to at most one window, so the routed gradient can be written densely window by
// window, with no scatter.
bool tiles(const PoolDims& d) { return d.sh == d.FH && d.sw == d.FW && d.dh == 1 && d.dw == 1; }

// For every routed element (the window's first maximum, where positive): visit(pixel, c, dy).
// The general case (overlapping windows): scalar, scattered.
template <class Visit>
inline void route_image_scatter(const PoolDims& d, const float* xb, const float* dyb, const float* m, const float* a,
                                const float* b, Visit visit) {
  for (int oy = 0; oy < d.OH; oy++)
    for (int ox = 0; ox < d.OW; ox++) {
      const float* g = dyb + (static_cast<long>(oy) * d.OW + ox) * d.C;
      for (int c = 0; c < d.C; c++) {
        float best;
        int where;
        window_max<float>(d, xb, oy, ox, c, m[c], a[c], b[c], best, where);
        if (best > 0.0f) {
          const int iy = oy * d.sh + (where / d.FW) * d.dh - d.pt, ix = ox * d.sw + (where % d.FW) * d.dw - d.pl;
          visit(iy * d.IW + ix, c, g[c]);
        }
      }
    }
}

// Tiling windows: for every window and channel block, f(k, pixel, c, routed) for each pixel of
// the window (k its window-local index), routed = the gradient that reaches it (0 if none).
template <class F>
inline void route_image_tiled(const PoolDims& d, const float* xb, const float* dyb, const float* m, const float* a,
                              const float* b, F f) {
  for (int oy = 0; oy < d.OH; oy++)
    for (int ox = 0; ox < d.OW; ox++) {
      const float* g = dyb + (static_cast<long>(oy) * d.OW + ox) * d.C;
      channel_blocks(d.C, [&](int c, auto tag) {
        using T = decltype(tag);
        using L = Lane<T>;
        T best;
        typename L::I where;
        window_max<T>(d, xb, oy, ox, c, L::load(m + c), L::load(a + c), L::load(b + c), best, where);
        const T zero = L::all(0.0f);
        const T gv = L::load(g + c);
        const auto live = best > zero;
        for (int fh = 0; fh < d.FH; fh++) {
          const int iy = oy * d.sh + fh - d.pt;
          if (iy < 0 || iy >= d.IH) continue;
          for (int fw = 0; fw < d.FW; fw++) {
            const int ix = ox * d.sw + fw - d.pl;
            if (ix < 0 || ix >= d.IW) continue;
            const T routed = (live & (where == L::all_i(fh * d.FW + fw))) ? gv : zero;
            f(iy * d.IW + ix, c, routed);
          }
        }
      });
    }
}

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

// Per channel Σg and Σg·(x − m) of the routed gradient g, deterministic whatever the thread
// count (fixed groups of images, float per image, double across).
void route_sums(const PoolDims& d, const float* x, const float* dy, const float* m, const float* a, const float* b,
                double* sum_g, double* sum_gxm) {
  const int C = d.C;
  const long imageSize = static_cast<long>(d.IH) * d.IW * C;
  const long outSize = static_cast<long>(d.OH) * d.OW * C;
  const int groups = std::max(1, std::min(d.B, IMAGE_GROUPS));
  std::vector<double> partial(static_cast<size_t>(groups) * 2 * C, 0.0);
  const bool tiled = tiles(d);
#pragma omp parallel if (static_cast<long>(d.B) * imageSize > 65536)
  {
    std::vector<float> acc(2 * static_cast<size_t>(C));
#pragma omp for schedule(dynamic, 1)
    for (int g = 0; g < groups; g++) {
      double* mine = partial.data() + static_cast<size_t>(g) * 2 * C;
      for (int bi = g * d.B / groups; bi < (g + 1) * d.B / groups; bi++) {
        const float* xb = x + bi * imageSize;
        const float* dyb = dy + bi * outSize;
        std::fill(acc.begin(), acc.end(), 0.0f);
        float* sg = acc.data();
        float* sgx = acc.data() + C;
        if (tiled) {
          route_image_tiled(d, xb, dyb, m, a, b, [&](int pix, int c, auto routed) {
            using L = Lane<decltype(routed)>;
            L::store(sg + c, L::load(sg + c) + routed);
            L::store(sgx + c, L::load(sgx + c) + routed * (L::load(xb + static_cast<long>(pix) * C + c) - L::load(m + c)));
          });
        } else {
          route_image_scatter(d, xb, dyb, m, a, b, [&](int pix, int c, float gv) {
            sg[c] += gv;
            sgx[c] += gv * (xb[static_cast<long>(pix) * C + c] - m[c]);
          });
        }
        for (int i = 0; i < 2 * C; i++) mine[i] += acc[i];
      }
    }
  }
  for (int c = 0; c < C; c++) {
    double s = 0, t = 0;
    for (int g = 0; g < groups; g++) {
      s += partial[static_cast<size_t>(g) * 2 * C + c];
      t += partial[static_cast<size_t>(g) * 2 * C + C + c];
    }
    sum_g[c] = s;
    sum_gxm[c] = t;
  }
}

// dx = alpha·g + kappa·(x − m) + gam per channel, g the routed gradient (zero off the routes).
// kappa and gam null: dx = alpha·g (inference); alpha null: 1.
void route_dx(const PoolDims& d, const float* x, const float* dy, const float* m, const float* a, const float* b,
              const float* alpha, const float* kappa, const float* gam, float* dx) {
  const int C = d.C;
  const long imageSize = static_cast<long>(d.IH) * d.IW * C;
  const long outSize = static_cast<long>(d.OH) * d.OW * C;
  const bool tiled = tiles(d);
  std::vector<float> ones;
  if (!alpha) {
    ones.assign(C, 1.0f);
    alpha = ones.data();
  }
  // The part of dx that does not depend on the routing, at pixel p.
  auto base = [&](const float* xb, float* dxb, long p) {
    if (kappa && gam)
      for (int c = 0; c < C; c++) dxb[p + c] = kappa[c] * (xb[p + c] - m[c]) + gam[c];
    else
      std::fill(dxb + p, dxb + p + C, 0.0f);
  };
#pragma omp parallel for schedule(dynamic, 1) if (static_cast<long>(d.B) * imageSize > 65536)
  for (int bi = 0; bi < d.B; bi++) {
    const float* xb = x + bi * imageSize;
    const float* dyb = dy + bi * outSize;
    float* dxb = dx + bi * imageSize;
    if (tiled) {
      // Every covered pixel is written once, by its window; the others get the base only.
      uncovered_pixels(d, [&](int pix) { base(xb, dxb, static_cast<long>(pix) * C); });
      route_image_tiled(d, xb, dyb, m, a, b, [&](int pix, int c, auto routed) {
        using L = Lane<decltype(routed)>;
        const long p = static_cast<long>(pix) * C + c;
        auto v = L::load(alpha + c) * routed;
        if (kappa && gam) v = v + (L::load(kappa + c) * (L::load(xb + p) - L::load(m + c)) + L::load(gam + c));
        L::store(dxb + p, v);
      });
    } else {
      for (long p = 0; p < imageSize; p += C) base(xb, dxb, p);
      route_image_scatter(d, xb, dyb, m, a, b, [&](int pix, int c, float gv) { dxb[static_cast<long>(pix) * C + c] += alpha[c] * gv; });
    }
  }
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
                        float* mean, float* var) {
  batch_stats(d.B * d.IH * d.IW, d.C, x, mean, var);
  std::vector<float> a(d.C), b(d.C);
  train_affine(d.C, gamma, beta, var, eps, a.data(), b.data());
  affine_relu_pool(d, x, mean, a.data(), b.data(), y, nullptr);
}

void bn_relu_pool_train_grad(const PoolDims& d, const float* x, const float* dy, const float* gamma, const float* beta,
                             const float* mean, const float* var, const float* dmean, const float* dvar, float eps,
                             float* dx, float* dgamma, float* dbeta) {
  const int C = d.C;
  const double N = static_cast<double>(d.B) * d.IH * d.IW;
  std::vector<float> a(C), b(C);
  train_affine(C, gamma, beta, var, eps, a.data(), b.data());
  std::vector<double> sdy(C), sdyxm(C);
  route_sums(d, x, dy, mean, a.data(), b.data(), sdy.data(), sdyxm.data());
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
  route_dx(d, x, dy, mean, a.data(), b.data(), alpha.data(), kappa.data(), gam.data(), dx);
}

void bn_relu_pool_inference(const PoolDims& d, const float* x, const float* mean, const float* var, const float* offset,
                            const float* scale, float eps, float* y, int* route) {
  std::vector<float> a(d.C), b(d.C);
  inference_affine(d.C, var, offset, scale, eps, a.data(), b.data());
  affine_relu_pool(d, x, mean, a.data(), b.data(), y, route);
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
