// ops_cuda.cpp — registers the CUDA implementations of the pocrand ops.
//
// Each op checks its arguments (op_checks.h), takes the device of its input under a device guard,
// allocates its output (and scratch, through PyTorch's caching allocator), and calls one launcher
// of the torch-free kernel layer (kernels.h) on the current stream. Only compute_distances
// synchronises: it must read back whether a permutation entry was out of range, to raise.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <limits>
#include <tuple>

#include "../core/pocrand_core.h"
#include "../cpu/seeds.h"
#include "../op_checks.h"
#include "../protocols/pocv2_seeds.h"
#include "../write_into.h"
#include "kernels.h"
#include "ops_by_value.h"

namespace pocrand {
namespace {

using cuda::FloatType;

FloatType float_type(at::ScalarType t) {
  switch (t) {
    case at::kHalf: return FloatType::kFloat16;
    case at::kBFloat16: return FloatType::kBFloat16;
    default: return FloatType::kFloat32;
  }
}

cudaStream_t stream() { return at::cuda::getCurrentCUDAStream(); }

// Scratch for a launcher, from PyTorch's caching allocator; none (a null pointer) when n is 0.
at::Tensor float_scratch(const at::Tensor& like, int64_t n) {
  return n > 0 ? at::empty({n}, like.options().dtype(at::kFloat)) : at::Tensor();
}

float* scratch_ptr(const at::Tensor& scratch) {
  return scratch.defined() ? scratch.data_ptr<float>() : nullptr;
}

at::Tensor murmur3_rows_cuda(const at::Tensor& keys, const at::Tensor& seeds) {
  check_murmur3_rows_args(keys, seeds);
  const c10::cuda::CUDAGuard guard(keys.device());
  auto out = at::empty_like(keys);
  if (keys.numel() == 0) return out;
  C10_CUDA_CHECK(cuda::launch_murmur3_rows(keys.data_ptr<int64_t>(), seeds.data_ptr<int64_t>(),
                                           keys.size(0), keys.size(1), out.data_ptr<int64_t>(),
                                           stream()));
  return out;
}

at::Tensor murmur3_cuda(const at::Tensor& keys, int64_t seed, const c10::optional<at::Tensor>& seeds) {
  if (seeds.has_value()) {
    TORCH_CHECK_VALUE(seed == 0, "give seed or seeds, not both");
    return murmur3_rows_cuda(keys, *seeds);
  }
  check_keys(keys, "keys");
  check_seed(seed, "seed");
  const c10::cuda::CUDAGuard guard(keys.device());
  auto out = at::empty_like(keys);
  if (keys.numel() == 0) return out;
  C10_CUDA_CHECK(cuda::launch_murmur3(keys.data_ptr<int64_t>(), keys.numel(),
                                      static_cast<uint32_t>(seed), out.data_ptr<int64_t>(), stream()));
  return out;
}

at::Tensor uniform_cuda(const at::Tensor& seeds, int64_t n) {
  check_seeds(seeds);
  check_count(n, "n");
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = at::empty({seeds.numel(), n}, seeds.options().dtype(at::kFloat));
  C10_CUDA_CHECK(cuda::launch_uniform(seeds.data_ptr<int64_t>(), seeds.numel(), n,
                                      out.data_ptr<float>(), stream()));
  return out;
}

at::Tensor normal_cuda(const at::Tensor& seeds, int64_t n, at::ScalarType dtype) {
  check_seed_rows_args(seeds, n, "n", dtype);
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = at::empty({seeds.numel(), n}, seeds.options().dtype(dtype));
  C10_CUDA_CHECK(cuda::launch_normal(seeds.data_ptr<int64_t>(), seeds.numel(), n,
                                     float_type(dtype), out.data_ptr(), stream()));
  return out;
}

at::Tensor normal_range_cuda(const at::Tensor& seeds, int64_t n, int64_t start, int64_t end,
                             at::ScalarType dtype) {
  check_seeds(seeds);
  check_slice_args(n, start, end, dtype);
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = at::empty({seeds.numel(), end - start}, seeds.options().dtype(dtype));
  C10_CUDA_CHECK(cuda::launch_normal_range(seeds.data_ptr<int64_t>(), seeds.numel(), n, start, end,
                                           float_type(dtype), out.data_ptr(), stream()));
  return out;
}

// Rows normal(seed, V) / (norm + norm_offset): the Phase-2 target (offset 0) and PoC v2's unit
// vectors (kTiny, core 9.2).
at::Tensor unit_rows_cuda(const at::Tensor& seeds, int64_t V, at::ScalarType dtype,
                          float norm_offset) {
  const c10::cuda::CUDAGuard guard(seeds.device());
  const int64_t rows = seeds.numel();
  auto out = at::empty({rows, V}, seeds.options().dtype(dtype));
  auto scratch = float_scratch(seeds, static_cast<int64_t>(cuda::unit_normal_scratch_floats(rows, V)));
  C10_CUDA_CHECK(cuda::launch_unit_normal(seeds.data_ptr<int64_t>(), rows, V, norm_offset,
                                          float_type(dtype), out.data_ptr(),
                                          scratch_ptr(scratch), stream()));
  return out;
}

at::Tensor unit_normal_cuda(const at::Tensor& seeds, int64_t vocab_size, at::ScalarType dtype) {
  check_seed_rows_args(seeds, vocab_size, "vocab_size", dtype);
  return unit_rows_cuda(seeds, vocab_size, dtype, 0.0f);
}

at::Tensor unit_vectors_cuda(const at::Tensor& seeds, int64_t dim, at::ScalarType dtype) {
  check_seed_rows_args(seeds, dim, "dim", dtype);
  return unit_rows_cuda(seeds, dim, dtype, kTiny);
}

at::Tensor concat_normal_cuda(const at::Tensor& words, int64_t n, int64_t start, int64_t end,
                              at::ScalarType dtype) {
  check_words(words);
  check_slice_args(n, start, end, dtype);
  const c10::cuda::CUDAGuard guard(words.device());
  auto out = at::empty({words.size(0), end - start}, words.options().dtype(dtype));
  C10_CUDA_CHECK(cuda::launch_concat_normal(words.data_ptr<int64_t>(), words.size(0), n, start,
                                            end, float_type(dtype), out.data_ptr(), stream()));
  return out;
}

at::Tensor haar_rotate_cuda(const at::Tensor& x, const at::Tensor& seeds) {
  check_haar_args(x, seeds);
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t rows = x.size(0), k = x.size(1);
  auto out = at::empty_like(x);
  if (rows == 0) return out;
  auto scratch = float_scratch(x, static_cast<int64_t>(cuda::haar_scratch_floats(rows, k)));
  C10_CUDA_CHECK(cuda::launch_haar_rotate(x.data_ptr(), float_type(x.scalar_type()),
                                          seeds.data_ptr<int64_t>(), rows, k, out.data_ptr(),
                                          scratch_ptr(scratch), stream()));
  return out;
}

std::tuple<at::Tensor, at::Tensor> artifacts_cuda(const at::Tensor& hidden, const at::Tensor& seeds,
                                                  int64_t k) {
  check_artifact_args(hidden, seeds, k);
  const c10::cuda::CUDAGuard guard(hidden.device());
  const int64_t rows = hidden.size(0), H = hidden.size(1);
  auto out = at::empty({rows, k}, hidden.options().dtype(at::kHalf));
  auto flags = at::empty({rows}, hidden.options().dtype(at::kBool));
  auto scratch =
      float_scratch(hidden, static_cast<int64_t>(cuda::artifact_scratch_floats(rows, H, k)));
  C10_CUDA_CHECK(cuda::launch_artifacts(hidden.data_ptr(), float_type(hidden.scalar_type()),
                                        seeds.data_ptr<int64_t>(), rows, H, k,
                                        reinterpret_cast<uint16_t*>(out.data_ptr()),
                                        flags.data_ptr<bool>(), scratch_ptr(scratch), stream()));
  return {out, flags};
}

std::tuple<at::Tensor, at::Tensor> artifacts_nonces_cuda(const at::Tensor& hidden,
                                                         c10::string_view prefix,
                                                         at::IntArrayRef nonces, int64_t k) {
  check_artifact_nonces(hidden, nonces, k);
  const auto B = static_cast<int64_t>(nonces.size());
  const c10::cuda::CUDAGuard guard(hidden.device());
  // the seeds, derived on the device from the patterns and the nonces in the launch parameters
  auto seeds = at::empty({B, k}, hidden.options().dtype(at::kLong));
  const ArtifactPatterns patterns = artifact_patterns(prefix, k);
  cuda::ArtifactSeedSpec spec{patterns.pick, patterns.haar, {}};
  for (int64_t r0 = 0; r0 < B; r0 += cuda::kInlineNonces) {
    const int64_t count = std::min<int64_t>(cuda::kInlineNonces, B - r0);
    for (int64_t r = 0; r < count; ++r) spec.nonces[r] = nonces[r0 + r];
    C10_CUDA_CHECK(cuda::launch_artifact_seeds(spec, count, k, seeds.data_ptr<int64_t>() + r0 * k,
                                               stream()));
  }
  return artifacts_cuda(hidden, seeds, k);
}

at::Tensor distances_cuda(const at::Tensor& logits, const at::Tensor& permutations,
                          const at::Tensor& target, bool check) {
  check_distance_args(logits, permutations, target);
  const c10::cuda::CUDAGuard guard(logits.device());
  const int64_t rows = logits.size(0), V = logits.size(1);
  auto out = at::empty({rows}, logits.options().dtype(at::kFloat));
  auto scratch =
      float_scratch(logits, static_cast<int64_t>(cuda::distance_scratch_floats(rows, V)));
  // Per row, the smallest out-of-range flat index; UINT64_MAX (int64 -1) = none. Set by the launch.
  auto first_bad = at::empty({rows}, logits.options().dtype(at::kLong));
  C10_CUDA_CHECK(cuda::launch_distances(
      logits.data_ptr(), float_type(logits.scalar_type()), permutations.data_ptr<int64_t>(),
      target.data_ptr(), float_type(target.scalar_type()), rows, V, out.data_ptr<float>(),
      scratch_ptr(scratch),
      reinterpret_cast<unsigned long long*>(first_bad.data_ptr<int64_t>()), stream()));
  if (check) {  // reading the flags back synchronises; check=false never does
    const auto bad = first_bad.cpu();
    const int64_t* b = bad.data_ptr<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
      if (b[r] != -1) {
        const int64_t value = permutations.view(-1)[b[r]].item<int64_t>();
        TORCH_CHECK_VALUE(false, out_of_range_message(b[r], value, V));
      }
    }
  }
  return out;
}

}  // namespace

// ---- seeds by value (csrc/host_seed_ops.cpp) ----

namespace {
at::Device with_index(at::Device device) {
  return device.has_index() ? device : at::Device(at::kCUDA, c10::cuda::current_device());
}
}  // namespace

at::Tensor normal_by_value_cuda(const int64_t* seeds, int64_t rows, int64_t n,
                                at::ScalarType dtype, at::Device device) {
  device = with_index(device);
  const c10::cuda::CUDAGuard guard(device);
  auto out = at::empty({rows, n}, at::TensorOptions().device(device).dtype(dtype));
  auto* base = static_cast<char*>(out.data_ptr());
  const int64_t row_bytes = n * static_cast<int64_t>(c10::elementSize(dtype));
  for (int64_t r0 = 0; r0 < rows; r0 += cuda::kInlineSeeds) {  // one launch per kInlineSeeds rows
    const int64_t count = std::min<int64_t>(cuda::kInlineSeeds, rows - r0);
    cuda::InlineSeeds s{};
    for (int64_t r = 0; r < count; ++r) s.v[r] = static_cast<uint32_t>(seeds[r0 + r]);
    C10_CUDA_CHECK(cuda::launch_normal(s, count, n, float_type(dtype), base + r0 * row_bytes,
                                       stream()));
  }
  return out;
}

at::Tensor unit_normal_by_value_cuda(uint32_t seed, int64_t vocab_size, at::ScalarType dtype,
                                     at::Device device) {
  device = with_index(device);
  const c10::cuda::CUDAGuard guard(device);
  auto out = at::empty({vocab_size}, at::TensorOptions().device(device).dtype(dtype));
  auto scratch =
      float_scratch(out, static_cast<int64_t>(cuda::unit_normal_scratch_floats(1, vocab_size)));
  cuda::InlineSeeds s{};
  s.v[0] = seed;
  C10_CUDA_CHECK(cuda::launch_unit_normal(s, 1, vocab_size, 0.0f, float_type(dtype),
                                          out.data_ptr(), scratch_ptr(scratch), stream()));
  return out;
}

at::Tensor unit_vectors_by_value_cuda(const int64_t* seeds, int64_t rows, int64_t dim,
                                      at::ScalarType dtype, at::Device device) {
  device = with_index(device);
  const c10::cuda::CUDAGuard guard(device);
  auto out = at::empty({rows, dim}, at::TensorOptions().device(device).dtype(dtype));
  const int64_t group = std::min<int64_t>(rows, cuda::kInlineSeeds);
  auto scratch = float_scratch(out, static_cast<int64_t>(cuda::unit_normal_scratch_floats(group, dim)));
  auto* base = static_cast<char*>(out.data_ptr());
  const int64_t row_bytes = dim * static_cast<int64_t>(c10::elementSize(dtype));
  for (int64_t r0 = 0; r0 < rows; r0 += cuda::kInlineSeeds) {  // kInlineSeeds rows a launch
    const int64_t count = std::min<int64_t>(cuda::kInlineSeeds, rows - r0);
    cuda::InlineSeeds s{};
    for (int64_t r = 0; r < count; ++r) s.v[r] = static_cast<uint32_t>(seeds[r0 + r]);
    C10_CUDA_CHECK(cuda::launch_unit_normal(s, count, dim, kTiny, float_type(dtype),
                                            base + r0 * row_bytes, scratch_ptr(scratch),
                                            stream()));
  }
  return out;
}

// words: [rows, 8] on the host -> dtype [rows, n] on `device`, kInlineSeeds / 8 rows a launch.
void concat_normal_by_value_into(const int64_t* words, int64_t rows, int64_t n, const at::Tensor& out) {
  constexpr int64_t kRows = cuda::kInlineSeeds / 8;
  auto* base = static_cast<char*>(out.data_ptr());
  const int64_t row_bytes = n * static_cast<int64_t>(out.element_size());
  for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
    const int64_t count = std::min<int64_t>(kRows, rows - r0);
    cuda::InlineSeeds s{};
    for (int64_t i = 0; i < count * 8; ++i) s.v[i] = static_cast<uint32_t>(words[r0 * 8 + i]);
    C10_CUDA_CHECK(cuda::launch_concat_normal(s, count, n, float_type(out.scalar_type()),
                                              base + r0 * row_bytes, stream()));
  }
}

at::Tensor concat_normal_by_value_cuda(const int64_t* words, int64_t rows, int64_t n,
                                       at::ScalarType dtype, at::Device device) {
  device = with_index(device);
  const c10::cuda::CUDAGuard guard(device);
  auto out = at::empty({rows, n}, at::TensorOptions().device(device).dtype(dtype));
  concat_normal_by_value_into(words, rows, n, out);
  return out;
}

// ---- the *_into ops: written into `out` (write_into.h) ----
namespace {
void concat_normal_nonces_into_cuda(c10::string_view prefix, at::IntArrayRef nonces,
                                    c10::string_view suffix, const at::Tensor& out);

void normal_nonces_into_cuda(c10::string_view prefix, at::IntArrayRef nonces,
                             c10::string_view suffix, const at::Tensor& out, bool concat) {
  if (concat) return concat_normal_nonces_into_cuda(prefix, nonces, suffix, out);
  const int64_t n = into_row_length(nonces, out);
  const at::Tensor seeds = derive_seeds(prefix, nonces, suffix, false);
  const int64_t* s = seeds.data_ptr<int64_t>();
  const c10::cuda::CUDAGuard guard(out.device());
  write_into(out, [&](const at::Tensor& o) {
    auto* base = static_cast<char*>(o.data_ptr());
    const int64_t row_bytes = n * static_cast<int64_t>(o.element_size());
    for (int64_t r0 = 0; r0 < seeds.numel(); r0 += cuda::kInlineSeeds) {
      const int64_t count = std::min<int64_t>(cuda::kInlineSeeds, seeds.numel() - r0);
      cuda::InlineSeeds v{};
      for (int64_t r = 0; r < count; ++r) v.v[r] = static_cast<uint32_t>(s[r0 + r]);
      C10_CUDA_CHECK(cuda::launch_normal(v, count, n, float_type(o.scalar_type()),
                                         base + r0 * row_bytes, stream()));
    }
  });
}

void concat_normal_nonces_into_cuda(c10::string_view prefix, at::IntArrayRef nonces,
                                    c10::string_view suffix, const at::Tensor& out) {
  const int64_t n = into_row_length(nonces, out);
  const at::Tensor words = derive_seed_words(prefix, nonces, suffix, false);
  const c10::cuda::CUDAGuard guard(out.device());
  write_into(out, [&](const at::Tensor& o) {
    concat_normal_by_value_into(words.data_ptr<int64_t>(), words.size(0), n, o);
  });
}
}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("murmur3", &murmur3_cuda);
  m.impl("uniform", &uniform_cuda);
  m.impl("normal", &normal_cuda);
  m.impl("normal_range", &normal_range_cuda);
  m.impl("unit_normal", &unit_normal_cuda);
  m.impl("unit_vectors", &unit_vectors_cuda);
  m.impl("concat_normal", &concat_normal_cuda);
  m.impl("normal_nonces_into", &normal_nonces_into_cuda);
  m.impl("haar_rotate", &haar_rotate_cuda);
  m.impl("artifacts", &artifacts_cuda);
  m.impl("artifacts_nonces", &artifacts_nonces_cuda);
  m.impl("distances", &distances_cuda);
}

}  // namespace pocrand
