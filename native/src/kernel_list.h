// The native kernels, listed once: X(return type, name, (parameters), (arguments)).
//
// The kernel files (every .cc here but addon.cc and dispatch.cc) are compiled once per
// instruction-set level, each into its own namespace (fim::generic, fim::avx2, fim::avx512: see
// isa.h); dispatch.cc declares the fim:: entry points below and forwards each call to the level
// chosen at load time. All tensors are float32, NHWC, contiguous; the caller checks shapes.
#pragma once

#define FIM_KERNEL_LIST(X)                                                                                              \
  /* out = act(conv(x, w) + bias); w is [FH, FW, CI, CO]; bias may be null. */                                          \
  X(void, conv2d_forward, (const ConvDims& d, const float* x, const float* w, const float* bias, float* out, int act), \
    (d, x, w, bias, out, act))                                                                                          \
  /* dx = ∂/∂x of Σ dy · conv(x, w) */                                                                                  \
  X(void, conv2d_backprop_input, (const ConvDims& d, const float* dy, const float* w, float* dx), (d, dy, w, dx))      \
  /* dw = ∂/∂w of Σ dy · conv(x, w) */                                                                                  \
  X(void, conv2d_backprop_filter, (const ConvDims& d, const float* x, const float* dy, float* dw), (d, x, dy, dw))     \
  /* C[b] = act(op(A[b]) · op(B[b]) + bias) for b < batch; op transposes when trans*; A[b] starts at A + b·strideA  */ \
  /* (0 broadcasts one matrix over the batch), likewise B. bias ([N]) may be null. */                                   \
  X(void, matmul,                                                                                                       \
    (int batch, int M, int N, int K, const float* A, bool transA, long strideA, const float* B, bool transB,            \
     long strideB, const float* bias, int act, float* C),                                                               \
    (batch, M, N, K, A, transA, strideA, B, transB, strideB, bias, act, C))                                             \
  X(void, max_pool, (const PoolDims& d, const float* x, float* y), (d, x, y))                                           \
  /* Routes dy to the first maximal element of each window in row-major order (TensorFlow's and PyTorch's tie  */      \
  /* rule). */                                                                                                          \
  X(void, max_pool_grad, (const PoolDims& d, const float* x, const float* dy, float* dx), (d, x, dy, dx))              \
  /* Batch normalisation over the rows of x [N, C] with batch statistics (training mode): mean, var (biased) and */     \
  /* y = (x − mean)·γ/√(var+ε) + β. gamma/beta may be null (1 and 0). */                                                \
  X(void, batch_norm_train,                                                                                             \
    (int N, int C, const float* x, const float* gamma, const float* beta, float eps, float* y, float* mean,            \
     float* var),                                                                                                       \
    (N, C, x, gamma, beta, eps, y, mean, var))                                                                          \
  /* Gradients of batch_norm_train: dx, dgamma = Σ dy·x̂, dbeta = Σ dy (dgamma/dbeta may be null). dmean/dvar (may */  \
  /* be null) are upstream gradients of the mean and variance outputs. */                                               \
  X(void, batch_norm_train_grad,                                                                                        \
    (int N, int C, const float* x, const float* dy, const float* gamma, const float* mean, const float* var,           \
     const float* dmean, const float* dvar, float eps, float* dx, float* dgamma, float* dbeta),                         \
    (N, C, x, dy, gamma, mean, var, dmean, dvar, eps, dx, dgamma, dbeta))                                               \
  /* Inference batch norm over rows of x [N, C]: y = (x − mean)·scale/√(var + ε) + offset; scale and offset may be */  \
  /* null (1 and 0). */                                                                                                 \
  X(void, batch_norm_inference,                                                                                         \
    (long N, int C, const float* x, const float* mean, const float* var, const float* offset, const float* scale,      \
     float eps, float* y),                                                                                              \
    (N, C, x, mean, var, offset, scale, eps, y))                                                                        \
  /* Batch norm (batch statistics) + ReLU + max pooling of x [B, IH, IW, C] in one pass (block.cc): y [B, OH, */      \
  /* OW, C] = maxpool(relu((x − mean)·γ/√(var+ε) + β)); mean and var (biased) are written; gamma/beta may be null; */  \
  /* route (int32) and xa, shaped like y: each window's routed element (as bn_relu_pool_inference) and x there. */       \
  X(void, bn_relu_pool_train,                                                                                           \
    (const PoolDims& d, const float* x, const float* gamma, const float* beta, float eps, float* y, float* mean,       \
     float* var, int* route, float* xa),                                                                                \
    (d, x, gamma, beta, eps, y, mean, var, route, xa))                                                                  \
  /* Its gradients from the routes: dx, dgamma, dbeta (may be null) from dy [B, OH, OW, C]; dmean/dvar (may be    */   \
  /* null) are upstream gradients of the mean and variance outputs; dx_sum (may be null): Σ dx per channel. */          \
  X(void, bn_relu_pool_train_grad,                                                                                      \
    (const PoolDims& d, const float* x, const float* dy, const int* route, const float* xa, const float* gamma,        \
     const float* mean, const float* var, const float* dmean, const float* dvar, float eps, float* dx, float* dgamma,  \
     float* dbeta, float* dx_sum),                                                                                      \
    (d, x, dy, route, xa, gamma, mean, var, dmean, dvar, eps, dx, dgamma, dbeta, dx_sum))                               \
  /* Inference batch norm (fixed mean, var) + ReLU + max pooling: y = maxpool(relu((x − mean)·scale/√(var+ε) +   */     \
  /* offset)); offset and scale may be null. route (may be null), shaped like y: each window's routed element, the */   \
  /* window-local index (fh·FW + fw) of its first maximum where that is positive, −1 where no gradient passes. */        \
  X(void, bn_relu_pool_inference,                                                                                       \
    (const PoolDims& d, const float* x, const float* mean, const float* var, const float* offset, const float* scale,  \
     float eps, float* y, int* route),                                                                                  \
    (d, x, mean, var, offset, scale, eps, y, route))                                                                    \
  /* Convolution (x, w [FH, FW, CI, CO], bias may be null) + inference batch norm + ReLU + max pooling with     */     \
  /* windows that tile the convolution's output (stride = window, no padding: p describes the pooling of the    */     \
  /* [B, OH, OW, CO] output), without writing that output: y and route as bn_relu_pool_inference. */                    \
  X(void, conv_bn_relu_pool_inference,                                                                                  \
    (const ConvDims& d, const PoolDims& p, const float* x, const float* w, const float* bias, const float* mean,       \
     const float* var, const float* offset, const float* scale, float eps, float* y, int* route),                       \
    (d, p, x, w, bias, mean, var, offset, scale, eps, y, route))                                                        \
  /* The input gradient of conv_bn_relu_pool_inference for a unit-stride convolution from the routes and the    */     \
  /* pooled gradient dy, without the convolution-output gradient in memory (few input channels: the first layer). */    \
  /* dy and dx have d.B images; image b uses the routes of image b % route_batch. */                                     \
  X(void, conv_route_input_grad,                                                                                        \
    (const ConvDims& d, const PoolDims& p, int route_batch, const int* route, const float* var, const float* scale,    \
     float eps, const float* dy, const float* w, float* dx),                                                            \
    (d, p, route_batch, route, var, scale, eps, dy, w, dx))                                                             \
  /* Its input gradient from the routes alone: dx = scale/√(var+ε)·dy at each routed element, 0 elsewhere (scaled  */   \
  /* = 0: without the factor, the gradient at the batch norm's output). dy and dx have d.B images, route has       */   \
  /* route_batch; image b uses the routes of image b % route_batch (a batch tiled for several backward passes). */      \
  X(void, bn_relu_pool_route_grad,                                                                                      \
    (const PoolDims& d, int route_batch, const int* route, const float* var, const float* scale, float eps, int scaled, \
     const float* dy, float* dx),                                                                                       \
    (d, route_batch, route, var, scale, eps, scaled, dy, dx))                                                           \
  /* Adam's update of one variable of n floats (optim.cc): new m, v and parameter, each operation rounded to  */       \
  /* float32 as the tfjs op chain rounds it; step_size = lr/(1−β1^t), inv_sqrt_bc2 = 1/√(1−β2^t). */                    \
  X(void, adam_update,                                                                                                  \
    (long n, const float* param, const float* grad, const float* m, const float* v, float beta1, float beta2,          \
     float one_minus_beta1, float one_minus_beta2, float eps, float step_size, float inv_sqrt_bc2, float* param_out,   \
     float* m_out, float* v_out),                                                                                       \
    (n, param, grad, m, v, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, step_size, inv_sqrt_bc2, param_out,    \
     m_out, v_out))                                                                                                     \
  /* dx = dy · step(x) (ReLU's gradient; NaN where x is NaN, like tfjs's step). */                                      \
  X(void, relu_grad, (long n, const float* dy, const float* x, float* dx), (n, dy, x, dx))                             \
  /* out = max(a, b) (op 0) or min(a, b) (op 1) elementwise with broadcasting: out has `shape` (rank ≤ 8,      */      \
  /* row-major), a and b are read with element strides sa, sb (0 on broadcast axes). NaN in either operand     */      \
  /* gives NaN, like JavaScript's Math.max. */                                                                          \
  X(void, broadcast_minmax,                                                                                             \
    (int op, int rank, const long* shape, const long* sa, const long* sb, const float* a, const float* b, float* out),  \
    (op, rank, shape, sa, sb, a, b, out))                                                                               \
  /* out[c] = Σ_r x[r, c] (x is [R, C]). */                                                                             \
  X(void, sum_rows, (int R, int C, const float* x, float* out), (R, C, x, out))                                        \
  /* Runs `iterations` rounds of independent vector multiply-adds on every thread; returns the floating-point */        \
  /* operations done (a multiply-add counts 2), for the benchmark's peak throughput (peak.cc). */                        \
  X(double, fma_peak, (long iterations), (iterations))                                                                  \
  /* Floats per vector register of this level's code, and the instruction set it vectorises for. */                   \
  X(int, vector_floats, (), ())                                                                                         \
  X(const char*, simd_name, (), ())
