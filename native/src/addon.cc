// N-API entry points. Every kernel works in place on one ArrayBuffer (the wasm backend's heap):
// tensors are given as byte offsets into it, so no data is copied between wasm and native code.
// Each call is (heap: ArrayBuffer, args: Float64Array) with the layout documented per function
// and mirrored in src/engine/backend/native/addon.ts.
#include <node_api.h>

#include <climits>
#include <cmath>
#include <string>

#include "kernels.h"

namespace {

using namespace fim;

struct Call {
  napi_env env;
  char* heap = nullptr;
  size_t heapBytes = 0;
  double* a = nullptr;
  size_t n = 0;
  bool ok = true;
  // Byte ranges of the tensors seen so far, and whether each is written: an output that overlaps
  // another tensor (aliasing) would give garbage, so ready() refuses it.
  struct Range {
    double begin, end;
    bool out;
  };
  Range ranges[16];
  int nRanges = 0;

  void fail(const std::string& msg) {
    if (ok) napi_throw_error(env, "FIM_NATIVE", msg.c_str());
    ok = false;
  }
  // An integer argument. NaN, infinities, fractions and values outside int are errors: a cast
  // of them to int is undefined behaviour.
  int i(size_t k) {
    if (k >= n) {
      fail("native kernel: too few arguments");
      return 0;
    }
    const double v = a[k];
    if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(INT_MIN) || v > static_cast<double>(INT_MAX)) {
      fail("native kernel: argument " + std::to_string(k) + " is not an integer in range");
      return 0;
    }
    return static_cast<int>(v);
  }
  // A non-negative integer that may exceed int (element counts), up to 2^52.
  long count(size_t k) {
    if (k >= n) {
      fail("native kernel: too few arguments");
      return 0;
    }
    const double v = a[k];
    if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v > 4503599627370496.0) {
      fail("native kernel: argument " + std::to_string(k) + " is not a count");
      return 0;
    }
    return static_cast<long>(v);
  }
  // A finite number (epsilon).
  double num(size_t k) {
    if (k >= n || !std::isfinite(a[k])) {
      fail("native kernel: argument " + std::to_string(k) + " is not a finite number");
      return 0;
    }
    return a[k];
  }
  // A float32 tensor of `count` elements at byte offset a[k]; null when the offset is −1 and
  // `optional`. Offsets outside the heap are an error, never a crash.
  float* f32(size_t k, double count, bool optional = false, bool out = false) {
    if (k >= n) {
      fail("native kernel: too few arguments");
      return nullptr;
    }
    const double off = a[k];
    if (optional && off < 0) return nullptr;
    if (!(off >= 0) || std::fmod(off, 4.0) != 0 || !(count >= 0) || off + 4.0 * count > static_cast<double>(heapBytes)) {
      fail("native kernel: tensor outside the heap");
      return nullptr;
    }
    if (nRanges < 16 && count > 0) ranges[nRanges++] = {off, off + 4.0 * count, out};
    return reinterpret_cast<float*>(heap + static_cast<size_t>(off));
  }
  // An output tensor (see ready()).
  float* out32(size_t k, double count, bool optional = false) { return f32(k, count, optional, true); }
  // True when every argument was valid and no output overlaps another tensor.
  bool ready() {
    for (int p = 0; ok && p < nRanges; p++)
      for (int q = 0; q < nRanges; q++)
        if (p != q && (ranges[p].out || ranges[q].out) && ranges[p].begin < ranges[q].end && ranges[q].begin < ranges[p].end) {
          fail("native kernel: an output tensor overlaps another tensor");
          break;
        }
    return ok;
  }
};

// Geometry limits: every index a kernel computes stays far inside int.
constexpr int MAX_DIM = 1 << 24;
constexpr int MAX_STEP = 1 << 16;

// The output size must follow from the input, filter, stride, dilation and padding: every output
// window overlaps the input. With the window extent e = (F − 1)·d + 1, that is pt ≤ e − 1 and an
// implied bottom (right) padding pb = (O − 1)·s + e − I − pt in (−s, e − 1] ('valid' and 'same'
// padding always are; the engine's kernels send other cases to the stock kernels).
bool geometry_ok(int I, int O, int F, int s, int dl, int pt) {
  const double e = static_cast<double>(F - 1) * dl + 1;
  const double pb = static_cast<double>(O - 1) * s + e - I - pt;
  return pt <= e - 1 && pb > -s && pb <= e - 1;
}

bool begin(napi_env env, napi_callback_info info, Call& c, size_t wantArgs) {
  c.env = env;
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool isAb = false;
  if (argc < 2 || napi_is_arraybuffer(env, argv[0], &isAb) != napi_ok || !isAb) {
    c.fail("native kernel: expected (heap: ArrayBuffer, args: Float64Array)");
    return false;
  }
  void* data = nullptr;
  napi_get_arraybuffer_info(env, argv[0], &data, &c.heapBytes);
  c.heap = static_cast<char*>(data);
  napi_typedarray_type type;
  void* adata = nullptr;
  napi_value abuf;
  size_t off = 0;
  if (napi_get_typedarray_info(env, argv[1], &type, &c.n, &adata, &abuf, &off) != napi_ok || type != napi_float64_array) {
    c.fail("native kernel: args must be a Float64Array");
    return false;
  }
  c.a = static_cast<double*>(adata);
  if (c.n < wantArgs) {
    c.fail("native kernel: too few arguments");
    return false;
  }
  if (!c.heap && c.heapBytes > 0) {
    c.fail("native kernel: heap is detached");
    return false;
  }
  return true;
}

ConvDims conv_dims(Call& c, size_t k) {
  ConvDims d;
  int* f[] = {&d.B, &d.IH, &d.IW, &d.CI, &d.OH, &d.OW, &d.CO, &d.FH, &d.FW, &d.sh, &d.sw, &d.dh, &d.dw, &d.pt, &d.pl};
  for (size_t j = 0; j < 15; j++) *f[j] = c.i(k + j);
  bool pos = d.B > 0 && d.IH > 0 && d.IW > 0 && d.CI > 0 && d.OH > 0 && d.OW > 0 && d.CO > 0 && d.FH > 0 && d.FW > 0 &&
             d.sh > 0 && d.sw > 0 && d.dh > 0 && d.dw > 0 && d.pt >= 0 && d.pl >= 0;
  const bool small = d.B <= MAX_DIM && d.IH <= MAX_DIM && d.IW <= MAX_DIM && d.CI <= MAX_DIM && d.OH <= MAX_DIM &&
                d.OW <= MAX_DIM && d.CO <= MAX_DIM && d.FH <= MAX_STEP && d.FW <= MAX_STEP && d.sh <= MAX_STEP &&
                d.sw <= MAX_STEP && d.dh <= MAX_STEP && d.dw <= MAX_STEP && d.pt <= MAX_STEP && d.pl <= MAX_STEP;
  if (c.ok && !(pos && small)) c.fail("native conv: invalid dimensions");
  if (c.ok && !(geometry_ok(d.IH, d.OH, d.FH, d.sh, d.dh, d.pt) && geometry_ok(d.IW, d.OW, d.FW, d.sw, d.dw, d.pl)))
    c.fail("native conv: the output size does not follow from the input size, filter, stride and padding");
  return d;
}

double vol(double a, double b, double c_, double d) { return a * b * c_ * d; }

// conv2d: [x, w, bias|-1, out, B, IH, IW, CI, OH, OW, CO, FH, FW, sh, sw, dh, dw, pt, pl, act]
napi_value Conv2D(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 20)) return nullptr;
  ConvDims d = conv_dims(c, 4);
  if (!c.ok) return nullptr;
  const float* x = c.f32(0, vol(d.B, d.IH, d.IW, d.CI));
  const float* w = c.f32(1, vol(d.FH, d.FW, d.CI, d.CO));
  const float* bias = c.f32(2, d.CO, true);
  float* out = c.out32(3, vol(d.B, d.OH, d.OW, d.CO));
  const int act = c.i(19);
  if (c.ok && (act < 0 || act > 2)) c.fail("native conv: unknown activation");
  if (!c.ready()) return nullptr;
  conv2d_forward(d, x, w, bias, out, act);
  return nullptr;
}

// conv2dBackpropInput: [dy, w, dx, dims(15)]
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 18)) return nullptr;
  ConvDims d = conv_dims(c, 3);
  if (!c.ok) return nullptr;
  const float* dy = c.f32(0, vol(d.B, d.OH, d.OW, d.CO));
  const float* w = c.f32(1, vol(d.FH, d.FW, d.CI, d.CO));
  float* dx = c.out32(2, vol(d.B, d.IH, d.IW, d.CI));
  if (!c.ready()) return nullptr;
  conv2d_backprop_input(d, dy, w, dx);
  return nullptr;
}

// conv2dBackpropFilter: [x, dy, dw, dims(15)]
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 18)) return nullptr;
  ConvDims d = conv_dims(c, 3);
  if (!c.ok) return nullptr;
  const float* x = c.f32(0, vol(d.B, d.IH, d.IW, d.CI));
  const float* dy = c.f32(1, vol(d.B, d.OH, d.OW, d.CO));
  float* dw = c.out32(2, vol(d.FH, d.FW, d.CI, d.CO));
  if (!c.ready()) return nullptr;
  conv2d_backprop_filter(d, x, dy, dw);
  return nullptr;
}

PoolDims pool_dims(Call& c, size_t k) {
  PoolDims d;
  int* f[] = {&d.B, &d.IH, &d.IW, &d.C, &d.OH, &d.OW, &d.FH, &d.FW, &d.sh, &d.sw, &d.dh, &d.dw, &d.pt, &d.pl};
  for (size_t j = 0; j < 14; j++) *f[j] = c.i(k + j);
  bool pos = d.B > 0 && d.IH > 0 && d.IW > 0 && d.C > 0 && d.OH > 0 && d.OW > 0 && d.FH > 0 && d.FW > 0 && d.sh > 0 &&
             d.sw > 0 && d.dh > 0 && d.dw > 0 && d.pt >= 0 && d.pl >= 0;
  const bool small = d.B <= MAX_DIM && d.IH <= MAX_DIM && d.IW <= MAX_DIM && d.C <= MAX_DIM && d.OH <= MAX_DIM && d.OW <= MAX_DIM &&
                d.FH <= MAX_STEP && d.FW <= MAX_STEP && d.sh <= MAX_STEP && d.sw <= MAX_STEP && d.dh <= MAX_STEP &&
                d.dw <= MAX_STEP && d.pt <= MAX_STEP && d.pl <= MAX_STEP;
  if (c.ok && !(pos && small)) c.fail("native pool: invalid dimensions");
  if (c.ok && !(geometry_ok(d.IH, d.OH, d.FH, d.sh, d.dh, d.pt) && geometry_ok(d.IW, d.OW, d.FW, d.sw, d.dw, d.pl)))
    c.fail("native pool: the output size does not follow from the input size, window, stride and padding");
  return d;
}

// maxPool: [x, y, B, IH, IW, C, OH, OW, FH, FW, sh, sw, dh, dw, pt, pl]
napi_value MaxPool(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 16)) return nullptr;
  PoolDims d = pool_dims(c, 2);
  if (!c.ok) return nullptr;
  const float* x = c.f32(0, vol(d.B, d.IH, d.IW, d.C));
  float* y = c.out32(1, vol(d.B, d.OH, d.OW, d.C));
  if (!c.ready()) return nullptr;
  max_pool(d, x, y);
  return nullptr;
}

// maxPoolGrad: [x, dy, dx, dims(14)]
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 17)) return nullptr;
  PoolDims d = pool_dims(c, 3);
  if (!c.ok) return nullptr;
  const float* x = c.f32(0, vol(d.B, d.IH, d.IW, d.C));
  const float* dy = c.f32(1, vol(d.B, d.OH, d.OW, d.C));
  float* dx = c.out32(2, vol(d.B, d.IH, d.IW, d.C));
  if (!c.ready()) return nullptr;
  max_pool_grad(d, x, dy, dx);
  return nullptr;
}

// bnReluPoolTrain: [x, gamma|-1, beta|-1, y, mean, var, route (int32), xa, eps, pool dims(14)]
napi_value BnReluPoolTrain(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 23)) return nullptr;
  PoolDims d = pool_dims(c, 9);
  if (!c.ok) return nullptr;
  const float eps = static_cast<float>(c.num(8));
  const double out = vol(d.B, d.OH, d.OW, d.C);
  const float* x = c.f32(0, vol(d.B, d.IH, d.IW, d.C));
  const float* g = c.f32(1, d.C, true);
  const float* b = c.f32(2, d.C, true);
  float* y = c.out32(3, out);
  float* mean = c.out32(4, d.C);
  float* var = c.out32(5, d.C);
  int* route = reinterpret_cast<int*>(c.out32(6, out));
  float* xa = c.out32(7, out);
  if (!c.ready()) return nullptr;
  bn_relu_pool_train(d, x, g, b, eps, y, mean, var, route, xa);
  return nullptr;
}

// bnReluPoolTrainGrad: [x, dy, route (int32), xa, gamma|-1, mean, var, dmean|-1, dvar|-1, dx, dgamma|-1, dbeta|-1,
//   dxSum|-1, eps, pool dims(14)]
napi_value BnReluPoolTrainGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 28)) return nullptr;
  PoolDims d = pool_dims(c, 14);
  if (!c.ok) return nullptr;
  const float eps = static_cast<float>(c.num(13));
  const double in = vol(d.B, d.IH, d.IW, d.C), out = vol(d.B, d.OH, d.OW, d.C);
  const float* x = c.f32(0, in);
  const float* dy = c.f32(1, out);
  const int* route = reinterpret_cast<const int*>(c.f32(2, out));
  const float* xa = c.f32(3, out);
  const float* g = c.f32(4, d.C, true);
  const float* mean = c.f32(5, d.C);
  const float* var = c.f32(6, d.C);
  const float* dmean = c.f32(7, d.C, true);
  const float* dvar = c.f32(8, d.C, true);
  float* dx = c.out32(9, in);
  float* dg = c.out32(10, d.C, true);
  float* db = c.out32(11, d.C, true);
  float* dsum = c.out32(12, d.C, true);
  if (!c.ready()) return nullptr;
  bn_relu_pool_train_grad(d, x, dy, route, xa, g, mean, var, dmean, dvar, eps, dx, dg, db, dsum);
  return nullptr;
}

// bnReluPoolInference: [x, mean, var, offset|-1, scale|-1, y, route|-1 (int32), eps, pool dims(14)]
napi_value BnReluPoolInference(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 22)) return nullptr;
  PoolDims d = pool_dims(c, 8);
  if (!c.ok) return nullptr;
  const float eps = static_cast<float>(c.num(7));
  const float* x = c.f32(0, vol(d.B, d.IH, d.IW, d.C));
  const float* mean = c.f32(1, d.C);
  const float* var = c.f32(2, d.C);
  const float* off = c.f32(3, d.C, true);
  const float* scale = c.f32(4, d.C, true);
  float* y = c.out32(5, vol(d.B, d.OH, d.OW, d.C));
  // int32 and float32 have the same size, so the bounds check of f32 holds for the routes.
  int* route = reinterpret_cast<int*>(c.out32(6, vol(d.B, d.OH, d.OW, d.C), true));
  if (!c.ready()) return nullptr;
  bn_relu_pool_inference(d, x, mean, var, off, scale, eps, y, route);
  return nullptr;
}

// convBnReluPoolInference: [x, w, bias|-1, mean, var, offset|-1, scale|-1, y, route|-1 (int32), eps,
//   conv dims(15), pool dims(14) of the convolution's output]
napi_value ConvBnReluPoolInference(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 39)) return nullptr;
  ConvDims d = conv_dims(c, 10);
  PoolDims p = pool_dims(c, 25);
  if (!c.ok) return nullptr;
  if (p.B != d.B || p.IH != d.OH || p.IW != d.OW || p.C != d.CO || p.sh != p.FH || p.sw != p.FW || p.dh != 1 ||
      p.dw != 1 || p.pt != 0 || p.pl != 0 || p.OH * p.FH > d.OH || p.OW * p.FW > d.OW)
    c.fail("native conv block: the pooling must tile the convolution's output");
  if (!c.ok) return nullptr;
  const float eps = static_cast<float>(c.num(9));
  const float* x = c.f32(0, vol(d.B, d.IH, d.IW, d.CI));
  const float* w = c.f32(1, vol(d.FH, d.FW, d.CI, d.CO));
  const float* bias = c.f32(2, d.CO, true);
  const float* mean = c.f32(3, d.CO);
  const float* var = c.f32(4, d.CO);
  const float* off = c.f32(5, d.CO, true);
  const float* scale = c.f32(6, d.CO, true);
  float* y = c.out32(7, vol(p.B, p.OH, p.OW, p.C));
  int* route = reinterpret_cast<int*>(c.out32(8, vol(p.B, p.OH, p.OW, p.C), true));
  if (!c.ready()) return nullptr;
  conv_bn_relu_pool_inference(d, p, x, w, bias, mean, var, off, scale, eps, y, route);
  return nullptr;
}

// convRouteInputGrad: [route (int32), var, scale|-1, dy (pooled), w, dx, routeBatch, eps,
//   conv dims(15) (unit stride and dilation), pool dims(14) of the convolution's output]
napi_value ConvRouteInputGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 37)) return nullptr;
  ConvDims d = conv_dims(c, 8);
  PoolDims p = pool_dims(c, 23);
  if (!c.ok) return nullptr;
  const int routeBatch = c.i(6);
  if (d.sh != 1 || d.sw != 1 || d.dh != 1 || d.dw != 1 || p.IH != d.OH || p.IW != d.OW || p.C != d.CO || p.sh != p.FH ||
      p.sw != p.FW || p.pt != 0 || p.pl != 0 || p.B != d.B || routeBatch <= 0 || d.B % routeBatch != 0)
    c.fail("native conv route grad: unsupported geometry");
  if (!c.ok) return nullptr;
  const float eps = static_cast<float>(c.num(7));
  const int* route = reinterpret_cast<const int*>(c.f32(0, vol(routeBatch, p.OH, p.OW, p.C)));
  const float* var = c.f32(1, d.CO);
  const float* scale = c.f32(2, d.CO, true);
  const float* dy = c.f32(3, vol(d.B, p.OH, p.OW, p.C));
  const float* w = c.f32(4, vol(d.FH, d.FW, d.CI, d.CO));
  float* dx = c.out32(5, vol(d.B, d.IH, d.IW, d.CI));
  if (!c.ready()) return nullptr;
  conv_route_input_grad(d, p, routeBatch, route, var, scale, eps, dy, w, dx);
  return nullptr;
}

// bnReluPoolRouteGrad: [route (int32), var, scale|-1, dy, dx, routeBatch, eps, scaled, pool dims(14) of dy/dx]
napi_value BnReluPoolRouteGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 22)) return nullptr;
  PoolDims d = pool_dims(c, 8);
  if (!c.ok) return nullptr;
  const int routeBatch = c.i(5);
  if (routeBatch <= 0 || d.B % routeBatch != 0) c.fail("native route grad: the batch must be a multiple of the routes' batch");
  const float eps = static_cast<float>(c.num(6));
  const int scaled = c.i(7);
  const int* route = reinterpret_cast<const int*>(c.f32(0, vol(routeBatch, d.OH, d.OW, d.C)));
  const float* var = c.f32(1, d.C);
  const float* scale = c.f32(2, d.C, true);
  const float* dy = c.f32(3, vol(d.B, d.OH, d.OW, d.C));
  float* dx = c.out32(4, vol(d.B, d.IH, d.IW, d.C));
  if (!c.ready()) return nullptr;
  bn_relu_pool_route_grad(d, routeBatch, route, var, scale, eps, scaled, dy, dx);
  return nullptr;
}

// batchNormTrain: [x, gamma|-1, beta|-1, y, mean, var, N, C, eps]
napi_value BatchNormTrain(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 9)) return nullptr;
  const int N = c.i(6), C = c.i(7);
  const float eps = static_cast<float>(c.num(8));
  if (c.ok && (N <= 0 || C <= 0)) c.fail("native batch norm: invalid dimensions");
  if (!c.ok) return nullptr;
  const double nc = static_cast<double>(N) * C;
  const float* x = c.f32(0, nc);
  const float* g = c.f32(1, C, true);
  const float* b = c.f32(2, C, true);
  float* y = c.out32(3, nc);
  float* mean = c.out32(4, C);
  float* var = c.out32(5, C);
  if (!c.ready()) return nullptr;
  batch_norm_train(N, C, x, g, b, eps, y, mean, var);
  return nullptr;
}

// batchNormTrainGrad: [x, dy, gamma|-1, mean, var, dmean|-1, dvar|-1, dx, dgamma|-1, dbeta|-1, N, C, eps]
napi_value BatchNormTrainGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 13)) return nullptr;
  const int N = c.i(10), C = c.i(11);
  const float eps = static_cast<float>(c.num(12));
  if (c.ok && (N <= 0 || C <= 0)) c.fail("native batch norm: invalid dimensions");
  if (!c.ok) return nullptr;
  const double nc = static_cast<double>(N) * C;
  const float* x = c.f32(0, nc);
  const float* dy = c.f32(1, nc);
  const float* g = c.f32(2, C, true);
  const float* mean = c.f32(3, C);
  const float* var = c.f32(4, C);
  const float* dmean = c.f32(5, C, true);
  const float* dvar = c.f32(6, C, true);
  float* dx = c.out32(7, nc);
  float* dg = c.out32(8, C, true);
  float* db = c.out32(9, C, true);
  if (!c.ready()) return nullptr;
  batch_norm_train_grad(N, C, x, dy, g, mean, var, dmean, dvar, eps, dx, dg, db);
  return nullptr;
}

// matMul: [a, b, bias|-1, out, batch, M, N, K, transA, transB, aBatched, bBatched, act]
napi_value MatMul(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 13)) return nullptr;
  const int batch = c.i(4), M = c.i(5), N = c.i(6), K = c.i(7);
  const bool ta = c.i(8) != 0, tb = c.i(9) != 0, aB = c.i(10) != 0, bB = c.i(11) != 0;
  const int act = c.i(12);
  if (c.ok && (batch <= 0 || M <= 0 || N <= 0 || K <= 0 || act < 0 || act > 2)) c.fail("native matmul: invalid arguments");
  if (!c.ok) return nullptr;
  const double mk = static_cast<double>(M) * K, kn = static_cast<double>(K) * N;
  const float* a = c.f32(0, aB ? batch * mk : mk);
  const float* b = c.f32(1, bB ? batch * kn : kn);
  const float* bias = c.f32(2, N, true);
  float* out = c.out32(3, static_cast<double>(batch) * M * N);
  if (!c.ready()) return nullptr;
  matmul(batch, M, N, K, a, ta, aB ? static_cast<long>(mk) : 0, b, tb, bB ? static_cast<long>(kn) : 0, bias, act, out);
  return nullptr;
}

// batchNormInference: [x, mean, var, offset|-1, scale|-1, y, N, C, eps]
napi_value BatchNormInference(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 9)) return nullptr;
  const long N = c.count(6);
  const int C = c.i(7);
  const float eps = static_cast<float>(c.num(8));
  if (c.ok && (N <= 0 || C <= 0)) c.fail("native batch norm: invalid dimensions");
  if (!c.ok) return nullptr;
  const float* x = c.f32(0, static_cast<double>(N) * C);
  const float* mean = c.f32(1, C);
  const float* var = c.f32(2, C);
  const float* off = c.f32(3, C, true);
  const float* scale = c.f32(4, C, true);
  float* y = c.out32(5, static_cast<double>(N) * C);
  if (!c.ready()) return nullptr;
  batch_norm_inference(N, C, x, mean, var, off, scale, eps, y);
  return nullptr;
}

// adamUpdate: [param, grad, m, v, paramOut, mOut, vOut, n, beta1, beta2, 1−beta1, 1−beta2, eps, stepSize, invSqrtBc2]
// (the scalars as float32 values, as tfjs's scalar tensors hold them)
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 15)) return nullptr;
  const double n = static_cast<double>(c.count(7));
  if (!c.ok) return nullptr;
  const float* p = c.f32(0, n);
  const float* g = c.f32(1, n);
  const float* m = c.f32(2, n);
  const float* v = c.f32(3, n);
  float* po = c.out32(4, n);
  float* mo = c.out32(5, n);
  float* vo = c.out32(6, n);
  if (!c.ready()) return nullptr;
  const auto f = [&](size_t k) { return static_cast<float>(c.a[k]); };
  adam_update(static_cast<long>(n), p, g, m, v, f(8), f(9), f(10), f(11), f(12), f(13), f(14), po, mo, vo);
  return nullptr;
}

// reluGrad: [dy, x, dx, n]
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 4)) return nullptr;
  const long n = c.count(3);
  if (!c.ok) return nullptr;
  const float* dy = c.f32(0, static_cast<double>(n));
  const float* x = c.f32(1, static_cast<double>(n));
  float* dx = c.out32(2, static_cast<double>(n));
  if (!c.ready()) return nullptr;
  relu_grad(n, dy, x, dx);
  return nullptr;
}

// minMax: [a, b, out, op (0 max, 1 min), rank, shape(rank), stridesA(rank), stridesB(rank)]
napi_value MinMax(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 5)) return nullptr;
  const int op = c.i(3), rank = c.i(4);
  if (c.ok && (op < 0 || op > 1 || rank < 1 || rank > 8 || c.n < static_cast<size_t>(5 + 3 * rank))) c.fail("native min/max: invalid arguments");
  if (!c.ok) return nullptr;
  long shape[8], sa[8], sb[8];
  double total = 1, extentA = 1, extentB = 1;
  for (int d = 0; d < rank; d++) {
    shape[d] = c.count(5 + d);
    sa[d] = c.count(5 + rank + d);
    sb[d] = c.count(5 + 2 * rank + d);
    if (c.ok && shape[d] < 1) c.fail("native min/max: invalid shape");
    total *= shape[d];
    extentA += (shape[d] - 1) * static_cast<double>(sa[d]);
    extentB += (shape[d] - 1) * static_cast<double>(sb[d]);
  }
  if (!c.ok) return nullptr;
  const float* a = c.f32(0, extentA);
  const float* b = c.f32(1, extentB);
  float* out = c.out32(2, total);
  if (!c.ready()) return nullptr;
  broadcast_minmax(op, rank, shape, sa, sb, a, b, out);
  return nullptr;
}

// sumRows: [x, out, R, C]
napi_value SumRows(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(env, info, c, 4)) return nullptr;
  const int R = c.i(2), C = c.i(3);
  if (c.ok && (R <= 0 || C <= 0)) c.fail("native sum: invalid dimensions");
  if (!c.ok) return nullptr;
  const float* x = c.f32(0, static_cast<double>(R) * C);
  float* out = c.out32(1, C);
  if (!c.ready()) return nullptr;
  sum_rows(R, C, x, out);
  return nullptr;
}

// fmaPeak(iterations): floating-point operations done by fma_peak (time it on the JS side).
napi_value FmaPeak(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double iterations = 0;
  if (argc < 1 || napi_get_value_double(env, argv[0], &iterations) != napi_ok || !(iterations >= 1) || iterations > 1e12) {
    napi_throw_error(env, "FIM_NATIVE", "fmaPeak: expected a number of iterations in [1, 1e12]");
    return nullptr;
  }
  napi_value r;
  napi_create_double(env, fma_peak(static_cast<long>(iterations)), &r);
  return r;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_error(env, "FIM_NATIVE", "setThreads: expected a positive integer");
    return nullptr;
  }
  set_num_threads(n);
  return nullptr;
}

// info(): { simd, level, threads, vectorFloats, levels: [{ name, supported }] } — the active
// level (dispatch.cc), what it vectorises for, and every level built in, best first.
napi_value Info(napi_env env, napi_callback_info) {
  napi_value o, simd, level, threads, vl, levels;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, simd_name(), NAPI_AUTO_LENGTH, &simd);
  napi_create_string_utf8(env, active_level(), NAPI_AUTO_LENGTH, &level);
  napi_create_int32(env, num_threads(), &threads);
  napi_create_int32(env, vector_floats(), &vl);
  napi_create_array_with_length(env, level_count(), &levels);
  for (int i = 0; i < level_count(); i++) {
    napi_value entry, name, ok;
    napi_create_object(env, &entry);
    napi_create_string_utf8(env, level_name(i), NAPI_AUTO_LENGTH, &name);
    napi_get_boolean(env, level_supported(i), &ok);
    napi_set_named_property(env, entry, "name", name);
    napi_set_named_property(env, entry, "supported", ok);
    napi_set_element(env, levels, i, entry);
  }
  napi_set_named_property(env, o, "simd", simd);
  napi_set_named_property(env, o, "level", level);
  napi_set_named_property(env, o, "threads", threads);
  napi_set_named_property(env, o, "vectorFloats", vl);
  napi_set_named_property(env, o, "levels", levels);
  return o;
}

// setLevel(name): selects an instruction-set level; false when it is not built in or this CPU
// cannot run it (nothing changes then).
napi_value SetLevel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char name[32];
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &len) != napi_ok) {
    napi_throw_error(env, "FIM_NATIVE", "setLevel: expected a level name");
    return nullptr;
  }
  napi_value r;
  napi_get_boolean(env, set_level(name), &r);
  return r;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormTrain", nullptr, BatchNormTrain, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormTrainGrad", nullptr, BatchNormTrainGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnReluPoolTrain", nullptr, BnReluPoolTrain, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnReluPoolTrainGrad", nullptr, BnReluPoolTrainGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnReluPoolInference", nullptr, BnReluPoolInference, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBnReluPoolInference", nullptr, ConvBnReluPoolInference, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convRouteInputGrad", nullptr, ConvRouteInputGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bnReluPoolRouteGrad", nullptr, BnReluPoolRouteGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormInference", nullptr, BatchNormInference, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"minMax", nullptr, MinMax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setLevel", nullptr, SetLevel, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fmaPeak", nullptr, FmaPeak, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
