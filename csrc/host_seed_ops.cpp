// host_seed_ops.cpp — the ops whose seeds are derived (or given) on the host: normal_nonces
// (whole or concat rows), unit_normal_seed and unit_vectors_by_value. The CPU kernels get the seeds
// as a tensor, the CUDA kernels inside their launch parameters, so a GPU call is one op with no
// host-to-device copy, which is most of what a small call costs. No tensor argument says where to
// dispatch, so these ops register one CompositeExplicitAutograd kernel that branches on the
// `device` argument.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cpu/seeds.h"
#include "op_checks.h"

#if POCRAND_WITH_CUDA
#include "cuda/ops_by_value.h"
#endif

namespace pocrand {
namespace {

void check_device(const at::Device& device) {
  TORCH_CHECK_VALUE(device.is_cpu() || device.is_cuda(),
                    "device must be a cpu or cuda device, got " + device.str());
#if !POCRAND_WITH_CUDA
  TORCH_CHECK_VALUE(device.is_cpu(), "device " + device.str() + ": this pocrand build has no CUDA kernels");
#endif
}

// The CPU implementation of a seeds-tensor op, called through the dispatcher.
template <typename Signature>
auto cpu_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

at::Tensor concat_normal_nonces(c10::string_view prefix, at::IntArrayRef nonces,
                                c10::string_view suffix, int64_t n, at::ScalarType dtype,
                                at::Device device);

at::Tensor normal_nonces(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                         int64_t n, at::ScalarType dtype, at::Device device, bool concat) {
  if (concat) return concat_normal_nonces(prefix, nonces, suffix, n, dtype, device);
  TORCH_CHECK_VALUE(!nonces.empty(), "nonces must not be empty");
  check_count(n, "n");
  check_float_dtype(dtype, "dtype");
  check_device(device);
  const at::Tensor seeds = derive_seeds(prefix, nonces, suffix, false);
#if POCRAND_WITH_CUDA
  if (device.is_cuda())
    return normal_by_value_cuda(seeds.data_ptr<int64_t>(), seeds.numel(), n, dtype, device);
#endif
  static const auto op =
      cpu_op<at::Tensor(const at::Tensor&, int64_t, at::ScalarType)>("pocrand::normal");
  return op.call(seeds, n, dtype);
}

at::Tensor concat_normal_nonces(c10::string_view prefix, at::IntArrayRef nonces,
                                c10::string_view suffix, int64_t n, at::ScalarType dtype,
                                at::Device device) {
  TORCH_CHECK_VALUE(!nonces.empty(), "nonces must not be empty");
  check_count(n, "n");
  check_float_dtype(dtype, "dtype");
  check_device(device);
  const at::Tensor words = derive_seed_words(prefix, nonces, suffix, false);  // [B, 8]
#if POCRAND_WITH_CUDA
  if (device.is_cuda())
    return concat_normal_by_value_cuda(words.data_ptr<int64_t>(), words.size(0), n, dtype, device);
#endif
  static const auto op =
      cpu_op<at::Tensor(const at::Tensor&, int64_t, int64_t, int64_t, at::ScalarType)>(
          "pocrand::concat_normal");
  return op.call(words, n, 0, n, dtype);
}

at::Tensor unit_normal_seed(int64_t seed, int64_t vocab_size, at::ScalarType dtype,
                            at::Device device) {
  check_seed(seed, "seed");
  check_count(vocab_size, "vocab_size");
  check_float_dtype(dtype, "dtype");
  check_device(device);
#if POCRAND_WITH_CUDA
  if (device.is_cuda())
    return unit_normal_by_value_cuda(static_cast<uint32_t>(seed), vocab_size, dtype, device);
#endif
  static const auto op =
      cpu_op<at::Tensor(const at::Tensor&, int64_t, at::ScalarType)>("pocrand::unit_normal");
  return op.call(at::full({1}, seed, at::kLong), vocab_size, dtype).reshape({vocab_size});
}

// Unit vectors of seeds held on the host (int64 u32 values).
at::Tensor unit_vectors_of(at::IntArrayRef seeds, int64_t dim, at::ScalarType dtype,
                           at::Device device) {
  check_count(dim, "dim");
  check_float_dtype(dtype, "dtype");
  check_device(device);
#if POCRAND_WITH_CUDA
  if (device.is_cuda())
    return unit_vectors_by_value_cuda(seeds.data(), static_cast<int64_t>(seeds.size()), dim,
                                      dtype, device);
#endif
  static const auto op =
      cpu_op<at::Tensor(const at::Tensor&, int64_t, at::ScalarType)>("pocrand::unit_vectors");
  return op.call(at::tensor(seeds, at::kLong), dim, dtype);
}

at::Tensor unit_vectors_by_value(at::IntArrayRef seeds, int64_t dim, at::ScalarType dtype,
                                 at::Device device) {
  TORCH_CHECK_VALUE(!seeds.empty(), "seeds must not be empty");
  for (size_t i = 0; i < seeds.size(); ++i) check_seed(seeds[i], "seed");
  return unit_vectors_of(seeds, dim, dtype, device);
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CompositeExplicitAutograd, m) {
  m.impl("normal_nonces", &normal_nonces);
  m.impl("unit_normal_seed", &unit_normal_seed);
  m.impl("unit_vectors_by_value", &unit_vectors_by_value);
}

}  // namespace pocrand
