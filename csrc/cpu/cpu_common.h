// cpu_common.h — what every CPU kernel file shares: the float32 -> output-type stores, exact
// widening of stored inputs, the fixed-order sum (core section 7) and the vectorised Box-Muller
// block. Thin plumbing over csrc/core/pocrand_core.h; no arithmetic of its own. Everything is in
// an anonymous namespace: each kernel file gets its own copy (the target_clones functions must
// not be merged across files).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "../core/pocrand_core.h"
#include "../op_checks.h"
#include "fp_mode.h"
#include "box_muller.h"
#include "storage.h"
#include "sums.h"

namespace pocrand {
namespace {

using cpu::kGrain;
using cpu::kPairBlock;

std::vector<uint32_t> seeds_to_u32(const at::Tensor& seeds) {
  const int64_t* s = seeds.data_ptr<int64_t>();
  std::vector<uint32_t> out(seeds.numel());
  for (size_t b = 0; b < out.size(); ++b) out[b] = static_cast<uint32_t>(s[b]);  // low 32 bits
  return out;
}

// Writes float32 results into an output of dtype float32 / float16 / bfloat16 (core section 6).
template <typename Fn>
void with_store(const at::Tensor& out, Fn&& fn) {
  switch (out.scalar_type()) {
    case at::kFloat: {
      float* p = out.data_ptr<float>();
      fn([p](int64_t i, float v) { p[i] = v; });
      break;
    }
    case at::kHalf: {
      auto* p = reinterpret_cast<uint16_t*>(out.data_ptr());
      fn([p](int64_t i, float v) { p[i] = float_to_half_bits(v); });
      break;
    }
    case at::kBFloat16: {
      auto* p = reinterpret_cast<uint16_t*>(out.data_ptr());
      fn([p](int64_t i, float v) { p[i] = float_to_bf16_bits(v); });
      break;
    }
    default:
      TORCH_CHECK(false, "unsupported output dtype " + dtype_name(out.scalar_type()));
  }
}

using cpu::BF16Storage;
using cpu::F16Storage;
using cpu::F32Storage;

template <typename Fn>
void with_storage(at::ScalarType type, Fn&& fn) {
  switch (type) {
    case at::kFloat: fn(F32Storage{}); break;
    case at::kHalf: fn(F16Storage{}); break;
    case at::kBFloat16: fn(BF16Storage{}); break;
    default: TORCH_CHECK_VALUE(false, "unsupported dtype " + dtype_name(type));
  }
}

// Float32 view of a float32/float16/bfloat16 tensor's elements [begin, end), widened exactly.
void widen_to_float(const at::Tensor& t, int64_t begin, int64_t end, float* dst) {
  switch (t.scalar_type()) {
    case at::kFloat:
      std::copy(t.data_ptr<float>() + begin, t.data_ptr<float>() + end, dst);
      break;
    case at::kHalf: {
      auto* p = reinterpret_cast<const uint16_t*>(t.data_ptr());
      for (int64_t i = begin; i < end; ++i) dst[i - begin] = half_bits_to_float(p[i]);
      break;
    }
    case at::kBFloat16: {
      auto* p = reinterpret_cast<const uint16_t*>(t.data_ptr());
      for (int64_t i = begin; i < end; ++i) dst[i - begin] = bf16_bits_to_float(p[i]);
      break;
    }
    default:
      TORCH_CHECK(false, "unsupported dtype " + dtype_name(t.scalar_type()));
  }
}

using cpu::fixed_order_norm;
using cpu::fixed_order_sum;
using cpu::tree_sum_serial;

// A float32 value delivered in a stored type and widened back (core section 6, NaN made canonical
// first): what a value becomes when a result is kept in that type between steps.
inline float through_storage(float v, at::ScalarType type) {
  v = canonicalize_nan(v);
  if (type == at::kHalf) return half_bits_to_float(float_to_half_bits(v));
  if (type == at::kBFloat16) return bf16_bits_to_float(float_to_bf16_bits(v));
  return v;
}

using cpu::normal_pair_block;
using cpu::normal_pairs;

}  // namespace
}  // namespace pocrand
