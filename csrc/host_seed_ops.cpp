// host_seed_ops.cpp — normal_nonces and unit_normal_seed: the seeds are derived (or given) on the
// host, then the CPU kernels get them as a tensor and the CUDA kernels inside their launch
// parameters. A GPU call is thus one op with no host-to-device copy, which is most of what a
// small call costs. No tensor argument says where to dispatch, so these ops register one
// CompositeExplicitAutograd kernel that branches on the `device` argument.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "op_checks.h"

#if POCRAND_WITH_CUDA
#include "cuda/ops_by_value.h"
#endif

namespace pocrand {
namespace {

at::Tensor derive_seeds(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("pocrand::derive_seeds", "")
                             .typed<at::Tensor(c10::string_view, at::IntArrayRef, c10::string_view, bool)>();
  return op.call(prefix, nonces, suffix, false);
}

void check_device(const at::Device& device) {
  TORCH_CHECK_VALUE(device.is_cpu() || device.is_cuda(),
                    "device must be a cpu or cuda device, got " + device.str());
#if !POCRAND_WITH_CUDA
  TORCH_CHECK_VALUE(device.is_cpu(), "device " + device.str() + ": this pocrand build has no CUDA kernels");
#endif
}

at::Tensor normal_nonces(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                         int64_t n, at::ScalarType dtype, at::Device device) {
  TORCH_CHECK_VALUE(!nonces.empty(), "nonces must not be empty");
  check_count(n, "n");
  check_float_dtype(dtype, "dtype");
  check_device(device);
  const at::Tensor seeds = derive_seeds(prefix, nonces, suffix);
#if POCRAND_WITH_CUDA
  if (device.is_cuda())
    return normal_by_value_cuda(seeds.data_ptr<int64_t>(), seeds.numel(), n, dtype, device);
#endif
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("pocrand::normal", "")
                             .typed<at::Tensor(const at::Tensor&, int64_t, at::ScalarType)>();
  return op.call(seeds, n, dtype);
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
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("pocrand::unit_normal", "")
                             .typed<at::Tensor(const at::Tensor&, int64_t, at::ScalarType)>();
  return op.call(at::full({1}, seed, at::kLong), vocab_size, dtype).reshape({vocab_size});
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CompositeExplicitAutograd, m) {
  m.impl("normal_nonces", &normal_nonces);
  m.impl("unit_normal_seed", &unit_normal_seed);
}

}  // namespace pocrand
