// Vector types and the register-blocking constants shared by the kernels.
//
// GCC/Clang vector extensions instead of intrinsics: the same source compiles to AVX-512, AVX2,
// SSE or NEON code depending on the level's -march (isa.h), and `acc += a * b` becomes a fused
// multiply-add where the level has FMA.
#pragma once
#include <cstddef>
#include <cstdint>

#include "isa.h"

namespace fim {
namespace FIM_ISA {

#if defined(__AVX512F__)
constexpr int VL = 16;  // floats per vector register
constexpr int NV = 4;   // vectors per column block in the GEMM micro-kernels
constexpr int MR = 6;   // rows per micro-kernel: MR*NV accumulators + NV loads fit 32 registers
constexpr const char* SIMD_NAME = "avx512";
#elif defined(__AVX__)
constexpr int VL = 8;
constexpr int NV = 2;   // 16 registers: 12 accumulators + 2 loads + 1 broadcast
constexpr int MR = 6;
constexpr const char* SIMD_NAME = "avx2";
#else
constexpr int VL = 4;
constexpr int NV = 2;
constexpr int MR = 4;
#if defined(__SSE2__)
constexpr const char* SIMD_NAME = "sse2";
#elif defined(__ARM_NEON)
constexpr const char* SIMD_NAME = "neon";
#else
constexpr const char* SIMD_NAME = "vector-extensions";
#endif
#endif

constexpr int NB = VL * NV;  // columns per GEMM column block

typedef float vf __attribute__((vector_size(VL * 4)));
// Unaligned access to a vector's worth of floats.
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4)));

static inline vf loadu(const float* p) { return *reinterpret_cast<const vfu*>(p); }
static inline void storeu(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
static inline vf splat(float a) { return vf{} + a; }

}  // namespace FIM_ISA
}  // namespace fim
