// Adam's update as one pass over a variable (src/engine/train/adam.ts): the arithmetic of the op
// chain it replaces, each operation rounded to float32 as tfjs rounds it, so that training gives
// the same weights bit for bit with or without this kernel. Contraction into fused multiply-adds
// would round differently, hence off here.
#include <cmath>

#include "isa.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#define FIM_NO_CONTRACT
#else
#define FIM_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#endif

namespace fim {
namespace FIM_ISA {

FIM_NO_CONTRACT void adam_update(long n, const float* param, const float* grad, const float* m, const float* v,
                                 float beta1, float beta2, float one_minus_beta1, float one_minus_beta2, float eps,
                                 float step_size, float inv_sqrt_bc2, float* param_out, float* m_out, float* v_out) {
#pragma omp parallel for schedule(static) if (n > 262144)
  for (long i = 0; i < n; i++) {
    const float g = grad[i];
    // m ← m·β1 + g·(1−β1);  v ← v·β2 + g²·(1−β2)
    const float m1 = m[i] * beta1;
    const float m2 = g * one_minus_beta1;
    const float mn = m1 + m2;
    const float g2 = g * g;
    const float v1 = v[i] * beta2;
    const float v2 = g2 * one_minus_beta2;
    const float vn = v1 + v2;
    // θ ← θ − (m / (√v·(1/√(1−β2^t)) + ε))·(lr/(1−β1^t))
    const float s = std::sqrt(vn);
    const float s1 = s * inv_sqrt_bc2;
    const float denom = s1 + eps;
    const float q = mn / denom;
    const float upd = q * step_size;
    param_out[i] = param[i] - upd;
    m_out[i] = mn;
    v_out[i] = vn;
  }
}

}  // namespace FIM_ISA
}  // namespace fim
