// Included by every kernel file (after kernels.h): the kernels of this translation unit belong to
// the namespace of the instruction-set level it is compiled for. scripts/build-native.mjs compiles
// each kernel file once per level with that level's -march and -DFIM_ISA=<level>; a plain
// compile of all files (no FIM_ISA) gives the one level `generic`, for the compiler's own target.
#pragma once
#include "kernels.h"

#ifndef FIM_ISA
#define FIM_ISA generic
#endif

namespace fim {
namespace FIM_ISA {
FIM_KERNEL_LIST(FIM_DECLARE_KERNEL)
}  // namespace FIM_ISA
}  // namespace fim
