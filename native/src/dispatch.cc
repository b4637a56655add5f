// Run-time choice of the kernels' instruction-set level. The kernel files are compiled once per
// level (scripts/build-native.mjs: generic = the architecture's baseline, e.g. x86-64 with SSE2;
// avx2 = x86-64-v3; avx512 = x86-64-v4), each into its own namespace; this file (compiled for the
// baseline) asks the CPU once which levels it can run and forwards every fim:: kernel to the best
// one. So one build runs at full speed on every x86-64, and the same sources build for any other
// architecture as `generic` alone.
//
// The build says which levels it compiled with -DFIM_LEVEL_<NAME>; without any (a plain compile of
// all files) there is the one level `generic`.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels.h"

#if !defined(FIM_LEVEL_AVX512) && !defined(FIM_LEVEL_AVX2) && !defined(FIM_LEVEL_GENERIC) && !defined(FIM_LEVEL_NATIVE)
#define FIM_LEVEL_GENERIC 1
#endif

#define FIM_DECLARE_LEVEL(isa) \
  namespace fim {              \
  namespace isa {              \
  FIM_KERNEL_LIST(FIM_DECLARE_KERNEL)  \
  }                            \
  }

#ifdef FIM_LEVEL_AVX512
FIM_DECLARE_LEVEL(avx512)
#endif
#ifdef FIM_LEVEL_AVX2
FIM_DECLARE_LEVEL(avx2)
#endif
#ifdef FIM_LEVEL_GENERIC
FIM_DECLARE_LEVEL(generic)
#endif
#ifdef FIM_LEVEL_NATIVE
FIM_DECLARE_LEVEL(native)
#endif

namespace fim {

namespace {

struct Table {
#define FIM_TABLE_FIELD(ret, name, params, args) ret(*name) params;
  FIM_KERNEL_LIST(FIM_TABLE_FIELD)
};

#define FIM_TABLE_ENTRY(ret, name, params, args) &LEVEL_NS::name,

#if defined(__x86_64__) || defined(__i386__)
// What the compiler may emit for x86-64-v3 (Haswell, Zen 1 and later): AVX2, FMA, BMI1/2, F16C,
// LZCNT, MOVBE on top of SSE4.2 and POPCNT. __builtin_cpu_supports also checks that the operating
// system saves the wide registers (XGETBV).
bool cpu_v3() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt") &&
         __builtin_cpu_supports("sse4.2");
}
// x86-64-v4 (Skylake-X, Zen 4 and later): v3 plus AVX-512 F, BW, CD, DQ and VL.
bool cpu_v4() {
  return cpu_v3() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}
#endif

[[maybe_unused]] bool always() { return true; }

struct Level {
  const char* name;
  bool (*supported)();
  Table table;
};

const Level LEVELS[] = {
#ifdef FIM_LEVEL_AVX512
#define LEVEL_NS avx512
    {"avx512", cpu_v4, {FIM_KERNEL_LIST(FIM_TABLE_ENTRY)}},
#undef LEVEL_NS
#endif
#ifdef FIM_LEVEL_AVX2
#define LEVEL_NS avx2
    {"avx2", cpu_v3, {FIM_KERNEL_LIST(FIM_TABLE_ENTRY)}},
#undef LEVEL_NS
#endif
#ifdef FIM_LEVEL_NATIVE
// One level for the build machine's own CPU (FIM_NATIVE_MARCH); the engine checks the CPU's
// features against the build's before it loads the addon.
#define LEVEL_NS native
    {"native", always, {FIM_KERNEL_LIST(FIM_TABLE_ENTRY)}},
#undef LEVEL_NS
#endif
#ifdef FIM_LEVEL_GENERIC
#define LEVEL_NS generic
    {"generic", always, {FIM_KERNEL_LIST(FIM_TABLE_ENTRY)}},
#undef LEVEL_NS
#endif
};
constexpr int LEVEL_COUNT = sizeof(LEVELS) / sizeof(LEVELS[0]);

bool supported[LEVEL_COUNT];

int best_level() {
  for (int i = 0; i < LEVEL_COUNT; i++) {
    supported[i] = LEVELS[i].supported();
  }
  for (int i = 0; i < LEVEL_COUNT; i++)
    if (supported[i]) return i;
  return LEVEL_COUNT - 1;  // the last level is the build's baseline
}

// Chosen when the addon loads (a static initialiser, before any kernel can be called).
int active = best_level();

const Table& T() { return LEVELS[active].table; }

}  // namespace

#define FIM_FORWARD(ret, name, params, args) \
  ret name params { return T().name args; }
FIM_KERNEL_LIST(FIM_FORWARD)

int level_count() { return LEVEL_COUNT; }
const char* level_name(int i) { return i >= 0 && i < LEVEL_COUNT ? LEVELS[i].name : ""; }
bool level_supported(int i) { return i >= 0 && i < LEVEL_COUNT && supported[i]; }
const char* active_level() { return LEVELS[active].name; }

bool set_level(const char* name) {
  for (int i = 0; i < LEVEL_COUNT; i++)
    if (std::strcmp(LEVELS[i].name, name) == 0 && supported[i]) {
      active = i;
      return true;
    }
  return false;
}

int num_threads() { return omp_get_max_threads(); }
void set_num_threads(int n) { omp_set_num_threads(std::max(1, n)); }

}  // namespace fim
