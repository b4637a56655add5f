// The machine's peak fp32 multiply-add throughput at this level, for the benchmark's "physical
// limit" (bench/README.md): independent chains of vector FMAs, enough of them to cover the FMA
// units' latency, on every OpenMP thread, with nothing loaded from memory.
#include <omp.h>

#include "isa.h"
#include "simd.h"

namespace fim {
namespace FIM_ISA {

namespace {
// Volatile, so that the compiler can neither fold the loop (constants it cannot see) nor drop it
// (a result it must store).
volatile float peak_sink = 0;
volatile float peak_mul = 0.999f, peak_add = 1e-4f;
// Chains per thread: 2 FMA pipes × 4 cycles' latency need 8 in flight; 12 accumulators plus the
// two constants still fit in 16 registers (AVX2) and leave room at AVX-512.
constexpr int CHAINS = 12;
}  // namespace

double fma_peak(long iterations) {
  double flops = 0;
  float sink = 0;
#pragma omp parallel reduction(+ : flops, sink)
  {
    vf acc[CHAINS];
    for (int k = 0; k < CHAINS; k++) acc[k] = splat(1.0f + 1e-3f * k);
    const vf m = splat(peak_mul), c = splat(peak_add);
    for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 12
      for (int k = 0; k < CHAINS; k++) acc[k] = acc[k] * m + c;
    }
    vf s = acc[0];
    for (int k = 1; k < CHAINS; k++) s += acc[k];
    for (int j = 0; j < VL; j++) sink += s[j];
    flops += 2.0 * VL * CHAINS * static_cast<double>(iterations);
  }
  peak_sink = sink;
  return flops;
}

}  // namespace FIM_ISA
}  // namespace fim
