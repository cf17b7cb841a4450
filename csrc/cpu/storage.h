// storage.h — the element types a CPU kernel reads and writes, torch-free: float32, float16 and
// bfloat16 as compile-time policies (widen a stored value to float32 exactly; encode a float32
// value by core section 6), and the runtime tag that picks one. Plumbing over
// csrc/core/pocrand_core.h; no arithmetic of its own.
#pragma once

#include <stdint.h>

#include <stdexcept>

#include "../core/pocrand_core.h"

// The hot loops are compiled twice, for AVX2 and for the baseline ISA, and the loader picks one.
// Vectorising changes nothing in the results: each lane does the same IEEE binary32 operations
// (no FMA: -ffp-contract=off; AVX2 does not imply FMA).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define POCRAND_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define POCRAND_CPU_CLONES
#endif

namespace pocrand {
namespace cpu {

// A stored element type; the values are the core's kStorage* constants (section 10.10's rounding
// steps take them).
enum class Dtype : int { kFloat32 = kStorageFloat32, kFloat16 = kStorageFloat16, kBFloat16 = kStorageBFloat16 };

struct F32Storage {
  using Bits = float;
  static constexpr int kStorage = kStorageFloat32;
  static float widen(float v) { return v; }
  static float encode(float v) { return v; }
};
struct F16Storage {
  using Bits = uint16_t;
  static constexpr int kStorage = kStorageFloat16;
  static float widen(uint16_t v) { return half_bits_to_float(v); }
  static uint16_t encode(float v) { return float_to_half_bits(v); }
};
struct BF16Storage {
  using Bits = uint16_t;
  static constexpr int kStorage = kStorageBFloat16;
  static float widen(uint16_t v) { return bf16_bits_to_float(v); }
  static uint16_t encode(float v) { return float_to_bf16_bits(v); }
};

// fn(S{}) with the policy S of `type`.
template <typename Fn>
void with_storage(Dtype type, Fn&& fn) {
  switch (type) {
    case Dtype::kFloat32: fn(F32Storage{}); return;
    case Dtype::kFloat16: fn(F16Storage{}); return;
    case Dtype::kBFloat16: fn(BF16Storage{}); return;
  }
  throw std::invalid_argument("unknown pocrand::cpu::Dtype");
}

// Bytes of one element of `type`.
inline int64_t element_size(Dtype type) { return type == Dtype::kFloat32 ? 4 : 2; }

// Elements [begin, end) of a stored array `x` of `type`, widened exactly to float32 into dst.
inline void widen(Dtype type, const void* x, int64_t begin, int64_t end, float* dst) {
  with_storage(type, [&](auto s) {
    using S = decltype(s);
    const auto* p = static_cast<const typename S::Bits*>(x);
    for (int64_t i = begin; i < end; ++i) dst[i - begin] = S::widen(p[i]);
  });
}

// A float32 value delivered in a stored type and widened back (core section 6, NaN made canonical
// first): what a value becomes when a result is kept in that type between steps.
inline float through_storage(float v, Dtype type) {
  v = canonicalize_nan(v);
  if (type == Dtype::kFloat16) return half_bits_to_float(float_to_half_bits(v));
  if (type == Dtype::kBFloat16) return bf16_bits_to_float(float_to_bf16_bits(v));
  return v;
}

}  // namespace cpu
}  // namespace pocrand
