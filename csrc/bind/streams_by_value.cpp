// bind/streams_by_value.cpp — the generators whose seeds are derived (or given) on the host:
// normal_nonces (whole or concat rows, returned or written into a caller's buffer),
// unit_normal_seed and unit_vectors_by_value. The CPU implementations hand the seeds to
// cpu/streams.cpp; the CUDA ones pass them inside the launch parameters, so a GPU call is one op
// with no host-to-device copy, which is most of what a small call costs.
//
// Three of these ops take no tensor, so their `device` argument picks the backend: a
// BackendSelect kernel (the dispatcher's own mechanism for factory functions such as torch.empty)
// checks the device and redispatches to the CPU or CUDA implementation.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../cpu/fp_env.h"
#include "../cpu/seeds.h"
#include "../cpu/streams.h"
#include "bind_common.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // -> dtype [len(nonces), n] on device: normal(seed_from_string(prefix + str(nonce) + suffix), n),
  // or with concat, concat_normal(seed_words(prefix + str(nonce) + suffix), n) (9.1).
  m.def("normal_nonces(str prefix, int[] nonces, str suffix, int n, ScalarType dtype, Device device, "
        "bool concat=False) -> Tensor");
  // normal_nonces written into `out` (any shape whose rows hold out.numel() / len(nonces)
  // elements; its dtype and device decide the output's).
  m.def("normal_nonces_into(str prefix, int[] nonces, str suffix, Tensor(a!) out, bool concat=False) -> ()");
  // seed: a u32 -> dtype [vocab_size] on device: normal(seed, V) / norm.
  m.def("unit_normal_seed(int seed, int vocab_size, ScalarType dtype, Device device) -> Tensor");
  // seeds: u32 values -> dtype [len(seeds), dim] on device: unit_vector(seed, dim) (9.2). With
  // prefix, seeds holds int64 ids and row i's seed is seed_from_string(prefix + str(seeds[i]) +
  // suffix) (the strings themselves are the Python protocol layer's): one call for the seeds and
  // the rows (the per-layer Householder vectors), with no seeds tensor in between.
  m.def("unit_vectors_by_value(int[] seeds, int dim, ScalarType dtype, Device device, "
        "str? prefix=None, str suffix=\"\") -> Tensor");
}

namespace {

// ---- checks, shared by both implementations ----

void check_nonces_args(at::IntArrayRef nonces, int64_t n, at::ScalarType dtype) {
  TORCH_CHECK_VALUE(!nonces.empty(), "nonces must not be empty");
  check_count(n, "n");
  check_float_dtype(dtype, "dtype");
}

void check_unit_normal_seed(int64_t seed, int64_t vocab_size, at::ScalarType dtype) {
  check_seed(seed, "seed");
  check_count(vocab_size, "vocab_size");
  check_float_dtype(dtype, "dtype");
}

void check_seed_values(at::IntArrayRef seeds, int64_t dim, at::ScalarType dtype) {
  TORCH_CHECK_VALUE(!seeds.empty(), "seeds must not be empty");
  for (size_t i = 0; i < seeds.size(); ++i) check_seed(seeds[i], "seed");
  check_count(dim, "dim");
  check_float_dtype(dtype, "dtype");
}

// The out of normal_nonces_into: its row length.
int64_t check_into(at::IntArrayRef nonces, const at::Tensor& out) {
  check_no_grad(out, "out");
  return into_row_length(nonces, out);
}

// The seeds of the strings prefix + str(nonce) + suffix: one per nonce, or eight (concat).
std::vector<int64_t> host_seeds(c10::string_view prefix, at::IntArrayRef nonces,
                                c10::string_view suffix, bool concat) {
  const auto B = static_cast<int64_t>(nonces.size());
  std::vector<int64_t> seeds(concat ? B * 8 : B);
  if (concat)
    cpu::derive_seed_words(prefix, nonces.data(), B, suffix, seeds.data());
  else
    cpu::derive_seeds(prefix, nonces.data(), B, suffix, seeds.data());
  return seeds;
}

// unit_vectors_by_value's seeds after its checks: the values themselves, or with prefix the seeds
// of the strings prefix + str(id) + suffix.
std::vector<int64_t> row_seeds(at::IntArrayRef seeds, int64_t dim, at::ScalarType dtype,
                               const c10::optional<c10::string_view>& prefix,
                               c10::string_view suffix) {
  if (!prefix) {
    check_seed_values(seeds, dim, dtype);
    return std::vector<int64_t>(seeds.begin(), seeds.end());
  }
  TORCH_CHECK_VALUE(!seeds.empty(), "seeds (the ids) must not be empty");
  check_count(dim, "dim");
  check_float_dtype(dtype, "dtype");
  return host_seeds(*prefix, seeds, suffix, false);
}

// fill(t) writes t, a contiguous tensor of out's shape, dtype and device: out itself when it is
// contiguous, else a contiguous copy (a strided view of a KV-cache buffer, say).
template <typename Fill>
void write_into(const at::Tensor& out, Fill fill) {
  if (out.is_contiguous()) {
    fill(out);
    return;
  }
  auto tmp = at::empty(out.sizes(), out.options());
  fill(tmp);
  out.copy_(tmp);
}

// ---- CPU ----

void fill_rows_cpu(const std::vector<int64_t>& seeds, int64_t rows, int64_t n, bool concat,
                   const at::Tensor& out) {
  const cpu::Dtype dtype = cpu_dtype(out.scalar_type());
  if (concat) cpu::concat_normal_rows(seeds.data(), rows, n, 0, n, dtype, out.data_ptr());
  else cpu::normal_rows(seeds.data(), rows, n, 0, n, dtype, out.data_ptr());
}

at::Tensor normal_nonces_cpu(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                             int64_t n, at::ScalarType dtype, at::Device device, bool concat) {
  const IeeeFpMode ieee;  // fp_env.h
  check_nonces_args(nonces, n, dtype);
  const auto rows = static_cast<int64_t>(nonces.size());
  auto out = at::empty({rows, n}, at::TensorOptions().dtype(dtype));
  fill_rows_cpu(host_seeds(prefix, nonces, suffix, concat), rows, n, concat, out);
  return out;
}

void normal_nonces_into_cpu(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                            const at::Tensor& out, bool concat) {
  const IeeeFpMode ieee;
  const int64_t n = check_into(nonces, out);
  const auto seeds = host_seeds(prefix, nonces, suffix, concat);
  write_into(out, [&](const at::Tensor& o) {
    fill_rows_cpu(seeds, static_cast<int64_t>(nonces.size()), n, concat, o);
  });
}

at::Tensor unit_normal_seed_cpu(int64_t seed, int64_t vocab_size, at::ScalarType dtype, at::Device) {
  const IeeeFpMode ieee;
  check_unit_normal_seed(seed, vocab_size, dtype);
  auto out = at::empty({vocab_size}, at::TensorOptions().dtype(dtype));
  cpu::unit_rows(&seed, 1, vocab_size, false, cpu_dtype(dtype), out.data_ptr());
  return out;
}

at::Tensor unit_vectors_by_value_cpu(at::IntArrayRef seeds, int64_t dim, at::ScalarType dtype,
                                     at::Device, c10::optional<c10::string_view> prefix,
                                     c10::string_view suffix) {
  const IeeeFpMode ieee;
  const std::vector<int64_t> rows = row_seeds(seeds, dim, dtype, prefix, suffix);
  auto out = at::empty({static_cast<int64_t>(rows.size()), dim}, at::TensorOptions().dtype(dtype));
  cpu::unit_rows(rows.data(), static_cast<int64_t>(rows.size()), dim, true, cpu_dtype(dtype),
                 out.data_ptr());
  return out;
}

// ---- CUDA: the seeds inside the launch parameters ----

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
cudaStream_t stream() { return at::cuda::getCurrentCUDAStream(); }

at::Device with_index(at::Device device) {
  return device.has_index() ? device : at::Device(at::kCUDA, c10::cuda::current_device());
}

// Rows of `out` (contiguous, [rows, n]) from host seeds, `per_row` seeds a row (1, or 8 for the
// concat words), as many rows a launch as the launch parameters hold.
template <typename Launch>
void launch_by_value(const int64_t* seeds, int64_t rows, int64_t per_row, int64_t n,
                     const at::Tensor& out, Launch launch) {
  const int64_t group = cuda::kInlineSeeds / per_row;
  auto* base = static_cast<char*>(out.data_ptr());
  const int64_t row_bytes = n * static_cast<int64_t>(out.element_size());
  for (int64_t r0 = 0; r0 < rows; r0 += group) {
    const int64_t count = std::min<int64_t>(group, rows - r0);
    cuda::InlineSeeds s{};
    for (int64_t i = 0; i < count * per_row; ++i) s.v[i] = static_cast<uint32_t>(seeds[r0 * per_row + i]);
    C10_CUDA_CHECK(launch(s, count, base + r0 * row_bytes));
  }
}

void fill_rows_cuda(const std::vector<int64_t>& seeds, int64_t rows, int64_t n, bool concat,
                    const at::Tensor& out) {
  const cuda::FloatType type = cuda_dtype(out.scalar_type());
  launch_by_value(seeds.data(), rows, concat ? 8 : 1, n, out,
                  [&](const cuda::InlineSeeds& s, int64_t count, void* dst) {
                    return concat ? cuda::launch_concat_normal(s, count, n, type, dst, stream())
                                  : cuda::launch_normal(s, count, n, type, dst, stream());
                  });
}

at::Tensor normal_nonces_cuda(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                              int64_t n, at::ScalarType dtype, at::Device device, bool concat) {
  check_nonces_args(nonces, n, dtype);
  device = with_index(device);
  const c10::cuda::CUDAGuard guard(device);
  const auto rows = static_cast<int64_t>(nonces.size());
  auto out = at::empty({rows, n}, at::TensorOptions().device(device).dtype(dtype));
  fill_rows_cuda(host_seeds(prefix, nonces, suffix, concat), rows, n, concat, out);
  return out;
}

void normal_nonces_into_cuda(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                             const at::Tensor& out, bool concat) {
  const int64_t n = check_into(nonces, out);
  const auto seeds = host_seeds(prefix, nonces, suffix, concat);
  const c10::cuda::CUDAGuard guard(out.device());
  write_into(out, [&](const at::Tensor& o) {
    fill_rows_cuda(seeds, static_cast<int64_t>(nonces.size()), n, concat, o);
  });
}

// Unit rows (norm_offset 0: the Phase-2 target; kTiny: PoC v2's unit vectors) of host seeds.
at::Tensor unit_rows_cuda(const int64_t* seeds, int64_t rows, int64_t dim, float norm_offset,
                          at::IntArrayRef shape, at::ScalarType dtype, at::Device device) {
  device = with_index(device);
  const c10::cuda::CUDAGuard guard(device);
  auto out = at::empty(shape, at::TensorOptions().device(device).dtype(dtype));
  const int64_t group = std::min<int64_t>(rows, cuda::kInlineSeeds);
  auto scratch = at::empty({static_cast<int64_t>(cuda::unit_normal_scratch_floats(group, dim))},
                           out.options().dtype(at::kFloat));
  float* scratch_ptr = scratch.numel() ? scratch.data_ptr<float>() : nullptr;
  const cuda::FloatType type = cuda_dtype(dtype);
  launch_by_value(seeds, rows, 1, dim, out, [&](const cuda::InlineSeeds& s, int64_t count, void* dst) {
    return cuda::launch_unit_normal(s, count, dim, norm_offset, type, dst, scratch_ptr, stream());
  });
  return out;
}

at::Tensor unit_normal_seed_cuda(int64_t seed, int64_t vocab_size, at::ScalarType dtype,
                                 at::Device device) {
  check_unit_normal_seed(seed, vocab_size, dtype);
  return unit_rows_cuda(&seed, 1, vocab_size, 0.0f, {vocab_size}, dtype, device);
}

at::Tensor unit_vectors_by_value_cuda(at::IntArrayRef seeds, int64_t dim, at::ScalarType dtype,
                                      at::Device device, c10::optional<c10::string_view> prefix,
                                      c10::string_view suffix) {
  const std::vector<int64_t> values = row_seeds(seeds, dim, dtype, prefix, suffix);
  const auto rows = static_cast<int64_t>(values.size());
  return unit_rows_cuda(values.data(), rows, dim, kTiny, {rows, dim}, dtype, device);
}
#endif

// ---- BackendSelect: the `device` argument picks the implementation ----

void check_device(const at::Device& device) {
  TORCH_CHECK_VALUE(device.is_cpu() || device.is_cuda(),
                    "device must be a cpu or cuda device, got " + device.str());
#if !(defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA)
  TORCH_CHECK_VALUE(device.is_cpu(), "device " + device.str() + ": this pocrand build has no CUDA kernels");
#endif
}

c10::DispatchKeySet backend_of(at::ScalarType dtype, at::Device device) {
  check_float_dtype(dtype, "dtype");  // a quantized dtype would select a backend with no kernel
  check_device(device);
  return c10::DispatchKeySet(c10::computeDispatchKey(dtype, at::kStrided, device));
}

template <typename Signature>
c10::TypedOperatorHandle<Signature> op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

at::Tensor normal_nonces_select(c10::string_view prefix, at::IntArrayRef nonces,
                                c10::string_view suffix, int64_t n, at::ScalarType dtype,
                                at::Device device, bool concat) {
  static const auto handle = op<decltype(normal_nonces_cpu)>("pocrand::normal_nonces");
  return handle.redispatch(backend_of(dtype, device), prefix, nonces, suffix, n, dtype, device, concat);
}

at::Tensor unit_normal_seed_select(int64_t seed, int64_t vocab_size, at::ScalarType dtype,
                                   at::Device device) {
  static const auto handle = op<decltype(unit_normal_seed_cpu)>("pocrand::unit_normal_seed");
  return handle.redispatch(backend_of(dtype, device), seed, vocab_size, dtype, device);
}

at::Tensor unit_vectors_by_value_select(at::IntArrayRef seeds, int64_t dim, at::ScalarType dtype,
                                        at::Device device, c10::optional<c10::string_view> prefix,
                                        c10::string_view suffix) {
  static const auto handle = op<decltype(unit_vectors_by_value_cpu)>("pocrand::unit_vectors_by_value");
  return handle.redispatch(backend_of(dtype, device), seeds, dim, dtype, device, prefix, suffix);
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  m.impl("normal_nonces", &normal_nonces_select);
  m.impl("unit_normal_seed", &unit_normal_seed_select);
  m.impl("unit_vectors_by_value", &unit_vectors_by_value_select);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("normal_nonces", &normal_nonces_cpu);
  m.impl("normal_nonces_into", &normal_nonces_into_cpu);
  m.impl("unit_normal_seed", &unit_normal_seed_cpu);
  m.impl("unit_vectors_by_value", &unit_vectors_by_value_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("normal_nonces", &normal_nonces_cuda);
  m.impl("normal_nonces_into", &normal_nonces_into_cuda);
  m.impl("unit_normal_seed", &unit_normal_seed_cuda);
  m.impl("unit_vectors_by_value", &unit_vectors_by_value_cuda);
}
#endif

}  // namespace pocrand
