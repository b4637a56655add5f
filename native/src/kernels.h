// The native kernels' entry points (declared once, in kernel_list.h) and the instruction-set
// levels they dispatch to. All tensors are float32, NHWC, contiguous; the caller checks shapes.
#pragma once

namespace fim {

struct ConvDims {
  int B, IH, IW, CI;  // input
  int OH, OW, CO;     // output
  int FH, FW;         // filter
  int sh, sw, dh, dw; // strides, dilations
  int pt, pl;         // padding top, left
};

struct PoolDims {
  int B, IH, IW, C;
  int OH, OW;
  int FH, FW;
  int sh, sw, dh, dw;
  int pt, pl;
};

}  // namespace fim

#include "kernel_list.h"

namespace fim {

#define FIM_DECLARE_KERNEL(ret, name, params, args) ret name params;
// Forwarded by dispatch.cc to the active level's implementation.
FIM_KERNEL_LIST(FIM_DECLARE_KERNEL)

// Instruction-set levels built into this addon, best first (e.g. avx512, avx2, generic).
int level_count();
const char* level_name(int i);
// Whether this CPU (and its operating system) can run level i.
bool level_supported(int i);
// The level in use: the best supported one, unless set_level chose another.
const char* active_level();
// Selects a level by name; false (and nothing changes) when it is unknown or unsupported here.
bool set_level(const char* name);

int num_threads();
void set_num_threads(int n);

}  // namespace fim
