// bind/streams.cpp — the generators from a tensor of seeds (SPEC.md sections 1-5, 8, 9.1, 9.2):
// murmur3, uniform, normal (whole rows or a slice), the unit rows and PoC v2's concat rows. The
// ops' schemas, their argument checks, and their CPU (cpu/streams.cpp) and CUDA
// (cuda/generators.cu, unit_normal.cu, murmur3_rows.cu) implementations. The forms whose seeds
// are given on the host are bind/streams_by_value.cpp's.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../cpu/fp_env.h"
#include "../cpu/streams.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // keys: int64, any shape -> int64 hash values in [0, 2^32), same shape, by `seed`; or, given
  // seeds int64 [B] (u32 values), keys [B, n] with row b hashed by seeds[b] (the deployed
  // module's _batched_murmur3_32, in one launch).
  m.def("murmur3(Tensor keys, int seed=0, Tensor? seeds=None) -> Tensor");
  // seeds: int64 [B] -> float32 [B, n]: u(i, seed_b).
  m.def("uniform(Tensor seeds, int n) -> Tensor");
  // seeds: int64 [B] -> dtype [B, n]: normal(seed_b, n), rounded to dtype.
  m.def("normal(Tensor seeds, int n, ScalarType dtype) -> Tensor");
  // seeds: int64 [B] -> dtype [B, end - start]: elements [start, end) of normal(seed_b, n), for
  // tensor-parallel shards (bit-identical to the same slice of the whole row).
  m.def("normal_range(Tensor seeds, int n, int start, int end, ScalarType dtype) -> Tensor");
  // seeds: int64 [B] -> dtype [B, vocab_size]: normal(seed_b, V) / norm, rounded to dtype.
  m.def("unit_normal(Tensor seeds, int vocab_size, ScalarType dtype) -> Tensor");
  // seeds: int64 [B] -> dtype [B, dim]: unit_vector(seed_b, dim) (9.2), rounded to dtype.
  m.def("unit_vectors(Tensor seeds, int dim, ScalarType dtype) -> Tensor");
  // words: int64 [B, 8] -> dtype [B, end - start]: elements [start, end) of concat_normal(words_b, n).
  m.def("concat_normal(Tensor words, int n, int start, int end, ScalarType dtype) -> Tensor");
}

namespace {

// The checks of each op, shared by its CPU and CUDA implementations.
void check_murmur3(const at::Tensor& keys, int64_t seed, const c10::optional<at::Tensor>& seeds) {
  check_no_grad(keys, "keys");
  if (seeds.has_value()) {
    TORCH_CHECK_VALUE(seed == 0, "give seed or seeds, not both");
    check_murmur3_rows_args(keys, *seeds);
    return;
  }
  check_keys(keys, "keys");
  check_seed(seed, "seed");
}

at::Tensor rows_of(const at::Tensor& seeds, int64_t n, at::ScalarType dtype) {
  return at::empty({seeds.size(0), n}, seeds.options().dtype(dtype));
}

at::Tensor murmur3_cpu(const at::Tensor& keys, int64_t seed, const c10::optional<at::Tensor>& seeds) {
  const IeeeFpMode ieee;  // fp_env.h
  check_murmur3(keys, seed, seeds);
  auto out = at::empty_like(keys);
  if (seeds.has_value())
    cpu::hash_rows(keys.data_ptr<int64_t>(), seeds->data_ptr<int64_t>(), keys.size(0),
                      keys.size(1), out.data_ptr<int64_t>());
  else
    cpu::hash_keys(keys.data_ptr<int64_t>(), keys.numel(), static_cast<uint32_t>(seed),
                 out.data_ptr<int64_t>());
  return out;
}

at::Tensor uniform_cpu(const at::Tensor& seeds, int64_t n) {
  const IeeeFpMode ieee;
  check_seeds(seeds);
  check_count(n, "n");
  auto out = rows_of(seeds, n, at::kFloat);
  cpu::uniform_rows(seeds.data_ptr<int64_t>(), seeds.numel(), n, out.data_ptr<float>());
  return out;
}

at::Tensor normal_cpu(const at::Tensor& seeds, int64_t n, at::ScalarType dtype) {
  const IeeeFpMode ieee;
  check_seed_rows_args(seeds, n, "n", dtype);
  auto out = rows_of(seeds, n, dtype);
  cpu::normal_rows(seeds.data_ptr<int64_t>(), seeds.numel(), n, 0, n, cpu_dtype(dtype), out.data_ptr());
  return out;
}

at::Tensor normal_range_cpu(const at::Tensor& seeds, int64_t n, int64_t start, int64_t end,
                            at::ScalarType dtype) {
  const IeeeFpMode ieee;
  check_seeds(seeds);
  check_slice_args(n, start, end, dtype);
  auto out = rows_of(seeds, end - start, dtype);
  cpu::normal_rows(seeds.data_ptr<int64_t>(), seeds.numel(), n, start, end, cpu_dtype(dtype), out.data_ptr());
  return out;
}

at::Tensor unit_normal_cpu(const at::Tensor& seeds, int64_t vocab_size, at::ScalarType dtype) {
  const IeeeFpMode ieee;
  check_seed_rows_args(seeds, vocab_size, "vocab_size", dtype);
  auto out = rows_of(seeds, vocab_size, dtype);
  cpu::unit_rows(seeds.data_ptr<int64_t>(), seeds.numel(), vocab_size, false, cpu_dtype(dtype),
                 out.data_ptr());
  return out;
}

at::Tensor unit_vectors_cpu(const at::Tensor& seeds, int64_t dim, at::ScalarType dtype) {
  const IeeeFpMode ieee;
  check_seed_rows_args(seeds, dim, "dim", dtype);
  auto out = rows_of(seeds, dim, dtype);
  cpu::unit_rows(seeds.data_ptr<int64_t>(), seeds.numel(), dim, true, cpu_dtype(dtype), out.data_ptr());
  return out;
}

at::Tensor concat_normal_cpu(const at::Tensor& words, int64_t n, int64_t start, int64_t end,
                             at::ScalarType dtype) {
  const IeeeFpMode ieee;
  check_words(words);
  check_slice_args(n, start, end, dtype);
  auto out = rows_of(words, end - start, dtype);
  cpu::concat_normal_rows(words.data_ptr<int64_t>(), words.size(0), n, start, end, cpu_dtype(dtype),
                     out.data_ptr());
  return out;
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
cudaStream_t stream() { return at::cuda::getCurrentCUDAStream(); }

at::Tensor murmur3_cuda(const at::Tensor& keys, int64_t seed, const c10::optional<at::Tensor>& seeds) {
  check_murmur3(keys, seed, seeds);
  const c10::cuda::CUDAGuard guard(keys.device());
  auto out = at::empty_like(keys);
  if (keys.numel() == 0) return out;
  if (seeds.has_value())
    C10_CUDA_CHECK(cuda::launch_murmur3_rows(keys.data_ptr<int64_t>(), seeds->data_ptr<int64_t>(),
                                             keys.size(0), keys.size(1), out.data_ptr<int64_t>(),
                                             stream()));
  else
    C10_CUDA_CHECK(cuda::launch_murmur3(keys.data_ptr<int64_t>(), keys.numel(),
                                        static_cast<uint32_t>(seed), out.data_ptr<int64_t>(), stream()));
  return out;
}

at::Tensor uniform_cuda(const at::Tensor& seeds, int64_t n) {
  check_seeds(seeds);
  check_count(n, "n");
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = rows_of(seeds, n, at::kFloat);
  C10_CUDA_CHECK(cuda::launch_uniform(seeds.data_ptr<int64_t>(), seeds.numel(), n,
                                      out.data_ptr<float>(), stream()));
  return out;
}

at::Tensor normal_cuda(const at::Tensor& seeds, int64_t n, at::ScalarType dtype) {
  check_seed_rows_args(seeds, n, "n", dtype);
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = rows_of(seeds, n, dtype);
  C10_CUDA_CHECK(cuda::launch_normal(seeds.data_ptr<int64_t>(), seeds.numel(), n, cuda_dtype(dtype),
                                     out.data_ptr(), stream()));
  return out;
}

at::Tensor normal_range_cuda(const at::Tensor& seeds, int64_t n, int64_t start, int64_t end,
                             at::ScalarType dtype) {
  check_seeds(seeds);
  check_slice_args(n, start, end, dtype);
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = rows_of(seeds, end - start, dtype);
  C10_CUDA_CHECK(cuda::launch_normal_range(seeds.data_ptr<int64_t>(), seeds.numel(), n, start, end,
                                           cuda_dtype(dtype), out.data_ptr(), stream()));
  return out;
}

// Rows normal(seed, V) / (norm + norm_offset): the Phase-2 target (offset 0) and PoC v2's unit
// vectors (kTiny, core 9.2).
at::Tensor unit_rows_cuda(const at::Tensor& seeds, int64_t V, at::ScalarType dtype, float norm_offset) {
  const c10::cuda::CUDAGuard guard(seeds.device());
  const int64_t rows = seeds.numel();
  auto out = rows_of(seeds, V, dtype);
  auto scratch = at::empty({static_cast<int64_t>(cuda::unit_normal_scratch_floats(rows, V))},
                           seeds.options().dtype(at::kFloat));
  C10_CUDA_CHECK(cuda::launch_unit_normal(seeds.data_ptr<int64_t>(), rows, V, norm_offset,
                                          cuda_dtype(dtype), out.data_ptr(),
                                          scratch.numel() ? scratch.data_ptr<float>() : nullptr, stream()));
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
  auto out = rows_of(words, end - start, dtype);
  C10_CUDA_CHECK(cuda::launch_concat_normal(words.data_ptr<int64_t>(), words.size(0), n, start,
                                            end, cuda_dtype(dtype), out.data_ptr(), stream()));
  return out;
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "murmur3", murmur3_cpu);
  POCRAND_TENSOR_GUARD(m, "uniform", uniform_cpu);
  POCRAND_TENSOR_GUARD(m, "normal", normal_cpu);
  POCRAND_TENSOR_GUARD(m, "normal_range", normal_range_cpu);
  POCRAND_TENSOR_GUARD(m, "unit_normal", unit_normal_cpu);
  POCRAND_TENSOR_GUARD(m, "unit_vectors", unit_vectors_cpu);
  POCRAND_TENSOR_GUARD(m, "concat_normal", concat_normal_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("murmur3", &murmur3_cpu);
  m.impl("uniform", &uniform_cpu);
  m.impl("normal", &normal_cpu);
  m.impl("normal_range", &normal_range_cpu);
  m.impl("unit_normal", &unit_normal_cpu);
  m.impl("unit_vectors", &unit_vectors_cpu);
  m.impl("concat_normal", &concat_normal_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("murmur3", &murmur3_cuda);
  m.impl("uniform", &uniform_cuda);
  m.impl("normal", &normal_cuda);
  m.impl("normal_range", &normal_range_cuda);
  m.impl("unit_normal", &unit_normal_cuda);
  m.impl("unit_vectors", &unit_vectors_cuda);
  m.impl("concat_normal", &concat_normal_cuda);
}
#endif

}  // namespace pocrand
