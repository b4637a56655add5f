// Channel-vector helpers of the pooling kernels (block.cc, conv.cc): the same code for a vector
// of VL channels and for one channel (the tail of C % VL).
#pragma once
#include "simd.h"

namespace fim {
namespace FIM_ISA {

typedef int vi __attribute__((vector_size(VL * 4)));
typedef int viu __attribute__((vector_size(VL * 4), aligned(4)));

// The same code for a vector of VL channels and for one channel (the tail of C % VL): loads,
// stores and broadcasts per lane type.
template <class T>
struct Lane;
template <>
struct Lane<float> {
  using I = int;
  static constexpr int W = 1;
  static float load(const float* p) { return *p; }
  static void store(float* p, float v) { *p = v; }
  static float all(float v) { return v; }
  static int all_i(int v) { return v; }
  static int load_i(const int* p) { return *p; }
  static void store_i(int* p, int v) { *p = v; }
};
template <>
struct Lane<vf> {
  using I = vi;
  static constexpr int W = VL;
  static vf load(const float* p) { return loadu(p); }
  static void store(float* p, vf v) { storeu(p, v); }
  static vf all(float v) { return splat(v); }
  static vi all_i(int v) { return vi{} + v; }
  static vi load_i(const int* p) { return *reinterpret_cast<const viu*>(p); }
  static void store_i(int* p, vi v) { *reinterpret_cast<viu*>(p) = v; }
};

// relu(v) that keeps NaN (v > 0 is false for NaN; v != v is true only for NaN).
template <class T>
inline T relu_keep_nan(T v) {
  const T zero = Lane<T>::all(0.0f);
  return v > zero ? v : (v != v ? v : zero);
}

// Calls f(c, Lane type tag) for every vector block of channels, then for each remaining channel.
template <class F>
inline void channel_blocks(int C, F f) {
  int c = 0;
  for (; c + VL <= C; c += VL) f(c, vf{});
  for (; c < C; c++) f(c, 0.0f);
}

}  // namespace FIM_ISA
}  // namespace fim
