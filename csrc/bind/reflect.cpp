// bind/reflect.cpp — the reflection topic (SPEC.md 9.3, 9.8, 10.10, 10.14): the ops' schemas, their
// argument checks, and their CPU (cpu/reflect.cpp) and CUDA (cuda/reflect_rows.cu,
// cuda/fused_norm.cu) implementations.
//
// One op for every form: apply_householder (one slot, no mask, "once"), its pair form, the
// PoC v2 hooks, and the masked row-group reflection of the decode scheme, out of place or in
// place (out is x), one tensor or a layer's hidden states and residual in one launch. Python's
// functional forms allocate `out` and call it (pocrand_ext/reflect.py, householder.py).
// Nothing is read back to the host: the op runs under CUDA-graph capture and
// torch.compile(fullgraph=True), with new row_group and mask values between replays.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <string>

#include "../cpu/fp_env.h"
#include "../cpu/reflect.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // x [n, copies, hidden] (f32/f16/bf16), table [slots, hidden] of x's dtype; row_group int64
  // [>= n] or None (then a one-row table serves every row, an n-row table one row each); mask
  // bool [>= n] or None (every row). Row r is reflected by table[slot(r)] when mask[r] holds and
  // the slot lies in [0, slots), else copied bit for bit, into out (x's shape; x itself: in
  // place). residual and residual_out: a second tensor of x's shape, reflected alike in the same
  // launch. rounding: "once" (9.3) or "stepwise" (10.10). (Not `mode`: torch's mode dispatch
  // takes that keyword.)
  m.def("reflect_rows(Tensor(a!) out, Tensor x, Tensor(b!)? residual_out, Tensor? residual, "
        "Tensor table, Tensor? row_group, Tensor? mask, str rounding) -> ()");
  // 10.14, in place on x and residual (both [n, copies, hidden], f32/f16/bf16): the rows
  // reflect_rows would reflect are reflected (x and residual alike), then residual <- x + residual
  // and x <- RMSNorm(residual) * weight (weight [hidden] of x's dtype), vLLM's fused_add_rms_norm
  // with the fixed-order sum of squares. row_group int64 and mask bool, [>= n] each.
  m.def("fused_add_rms_norm_reflect(Tensor(a!) x, Tensor(b!) residual, Tensor weight, float eps, "
        "Tensor table, Tensor row_group, Tensor mask, str rounding) -> ()");
}

namespace {

bool stepwise_rounding(c10::string_view rounding) {
  TORCH_CHECK_VALUE(rounding == "once" || rounding == "stepwise",
                    "rounding (mode) must be \"once\" or \"stepwise\", got \"" + std::string(rounding) + "\"");
  return rounding == "stepwise";
}

// x [n, copies, hidden] of a float dtype, contiguous.
void check_rows(const at::Tensor& x, const char* name) {
  const std::string xn(name);
  TORCH_CHECK_VALUE(x.dim() == 3, xn + " must be 3-D [rows, copies, hidden], got " + num(x.dim()) + "-D");
  check_float_dtype(x.scalar_type(), (xn + " dtype").c_str());
  check_count(x.size(2), ("hidden size (" + xn + ".shape[-1])").c_str());
  TORCH_CHECK_VALUE(x.is_contiguous(), xn + " must be contiguous");
  check_no_grad(x, name);
}

// `t` of x's shape, dtype and device, contiguous (an output, or the residual).
void check_like_x(const at::Tensor& t, const char* name, const at::Tensor& x) {
  TORCH_CHECK_TYPE(t.scalar_type() == x.scalar_type(), std::string(name) + " must have x's dtype " +
                   dtype_name(x.scalar_type()) + ", got " + dtype_name(t.scalar_type()));
  TORCH_CHECK_VALUE(t.sizes() == x.sizes(), std::string(name) + " must have x's shape " +
                    shape(x.sizes()) + ", got " + shape(t.sizes()));
  TORCH_CHECK_VALUE(t.device() == x.device(), std::string(name) + " must be on x's device " +
                    x.device().str() + ", got " + t.device().str());
  TORCH_CHECK_VALUE(t.is_contiguous(), std::string(name) + " must be contiguous");
  check_no_grad(t, name);
}

// table [slots >= 1, hidden] of x's dtype and device, contiguous (both reflection ops).
void check_table(const at::Tensor& table, const at::Tensor& x) {
  TORCH_CHECK_TYPE(table.scalar_type() == x.scalar_type(), "table must have x's dtype " +
                   dtype_name(x.scalar_type()) + ", got " + dtype_name(table.scalar_type()));
  TORCH_CHECK_VALUE(table.dim() == 2 && table.size(0) >= 1 && table.size(1) == x.size(2),
                    "table must be [slots, hidden] = [slots >= 1, " + num(x.size(2)) + "], got " +
                    shape(table.sizes()));
  TORCH_CHECK_VALUE(table.device() == x.device(), "table must be on x's device " +
                    x.device().str() + ", got " + table.device().str());
  TORCH_CHECK_VALUE(table.is_contiguous(), "table must be contiguous");
  check_no_grad(table, "table");
}

// The checked call: which tensors are written where, and the rounding.
struct ReflectCall {
  bool stepwise;
  bool pair;
};

ReflectCall check_reflect(const at::Tensor& out, const at::Tensor& x,
                          const c10::optional<at::Tensor>& residual_out,
                          const c10::optional<at::Tensor>& residual, const at::Tensor& table,
                          const c10::optional<at::Tensor>& row_group,
                          const c10::optional<at::Tensor>& mask, c10::string_view rounding) {
  const bool stepwise = stepwise_rounding(rounding);
  check_rows(x, "x");
  check_like_x(out, "out", x);
  TORCH_CHECK_VALUE(residual.has_value() == residual_out.has_value(),
                    "residual and residual_out go together: give both or neither");
  if (residual) {
    check_like_x(*residual, "residual", x);
    check_like_x(*residual_out, "residual_out", x);
  }
  check_table(table, x);
  if (row_group) check_per_row(*row_group, "row_group", at::kLong, x.size(0), x.device(), "x");
  else
    TORCH_CHECK_VALUE(table.size(0) == 1 || table.size(0) == x.size(0),
                      "without row_group, table must have one row (for every row of x) or " +
                      num(x.size(0)) + " (one per row of x), got " + shape(table.sizes()));
  if (mask) check_per_row(*mask, "mask", at::kBool, x.size(0), x.device(), "x");
  // What is written must not meet what is read, except an output that is its own input.
  const auto apart_from_inputs = [&](const at::Tensor& w, const char* name) {
    check_apart(w, name, table, "table");
    if (row_group) check_apart(w, name, *row_group, "row_group");
    if (mask) check_apart(w, name, *mask, "mask");
  };
  in_place_or_apart(out, "out", x, "x");
  apart_from_inputs(out, "out");
  if (residual) {
    in_place_or_apart(*residual_out, "residual_out", *residual, "residual");
    apart_from_inputs(*residual_out, "residual_out");
    check_apart(out, "out", *residual, "residual");
    check_apart(*residual_out, "residual_out", x, "x");
    check_apart(out, "out", *residual_out, "residual_out");
  }
  return {stepwise, residual.has_value()};
}

// The fused op's checked call: the rounding (everything else is read from the tensors).
bool check_fused(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                 double eps, const at::Tensor& table, const at::Tensor& row_group,
                 const at::Tensor& mask, c10::string_view rounding) {
  const bool stepwise = stepwise_rounding(rounding);
  check_rows(x, "x");
  check_like_x(residual, "residual", x);
  TORCH_CHECK_VALUE(x.size(2) <= (int64_t{1} << 24), "hidden size (x.shape[-1]) must be at most "
                    "2^24 (the norm divides by it as a float32), got " + num(x.size(2)));
  TORCH_CHECK_TYPE(weight.scalar_type() == x.scalar_type(), "weight must have x's dtype " +
                   dtype_name(x.scalar_type()) + ", got " + dtype_name(weight.scalar_type()));
  TORCH_CHECK_VALUE(weight.dim() == 1 && weight.size(0) == x.size(2), "weight must be [hidden] = [" +
                    num(x.size(2)) + "], got " + shape(weight.sizes()));
  TORCH_CHECK_VALUE(weight.device() == x.device(), "weight must be on x's device " +
                    x.device().str() + ", got " + weight.device().str());
  TORCH_CHECK_VALUE(weight.is_contiguous(), "weight must be contiguous");
  check_no_grad(weight, "weight");
  TORCH_CHECK_VALUE(eps >= 0 && eps <= 3.4028234663852886e38,
                    "eps must be a finite float >= 0 (as a float32), got " + std::to_string(eps));
  check_table(table, x);
  check_per_row(row_group, "row_group", at::kLong, x.size(0), x.device(), "x");
  check_per_row(mask, "mask", at::kBool, x.size(0), x.device(), "x");
  check_apart(x, "x", residual, "residual");
  for (const auto& [w, wn] : {std::pair<const at::Tensor*, const char*>{&x, "x"}, {&residual, "residual"}}) {
    check_apart(*w, wn, weight, "weight");
    check_apart(*w, wn, table, "table");
    check_apart(*w, wn, row_group, "row_group");
    check_apart(*w, wn, mask, "mask");
  }
  return stepwise;
}

void fused_cpu(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, double eps,
               const at::Tensor& table, const at::Tensor& row_group, const at::Tensor& mask,
               c10::string_view rounding) {
  const IeeeFpMode ieee;  // fp_env.h
  const bool stepwise = check_fused(x, residual, weight, eps, table, row_group, mask, rounding);
  cpu::fused_add_rms_norm_reflect(cpu_dtype(x.scalar_type()), x.data_ptr(), residual.data_ptr(),
                                  weight.data_ptr(), static_cast<float>(eps), x.size(0), x.size(1),
                                  x.size(2), table.data_ptr(), table.size(0),
                                  row_group.data_ptr<int64_t>(), mask.data_ptr<bool>(), stepwise);
}

const int64_t* row_group_ptr(const c10::optional<at::Tensor>& g) {
  return g ? g->data_ptr<int64_t>() : nullptr;
}

const bool* mask_ptr(const c10::optional<at::Tensor>& m) { return m ? m->data_ptr<bool>() : nullptr; }

void reflect_rows_cpu(const at::Tensor& out, const at::Tensor& x,
                      const c10::optional<at::Tensor>& residual_out,
                      const c10::optional<at::Tensor>& residual, const at::Tensor& table,
                      const c10::optional<at::Tensor>& row_group, const c10::optional<at::Tensor>& mask,
                      c10::string_view rounding) {
  const IeeeFpMode ieee;  // fp_env.h
  const ReflectCall call = check_reflect(out, x, residual_out, residual, table, row_group, mask, rounding);
  const auto run = [&](const at::Tensor& in, const at::Tensor& o) {
    cpu::reflect_rows(cpu_dtype(in.scalar_type()), in.data_ptr(), o.data_ptr(), in.size(0), in.size(1),
                      in.size(2), table.data_ptr(), table.size(0), row_group_ptr(row_group),
                      mask_ptr(mask), call.stepwise);
  };
  run(x, out);
  if (call.pair) run(*residual, *residual_out);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
void reflect_rows_cuda(const at::Tensor& out, const at::Tensor& x,
                       const c10::optional<at::Tensor>& residual_out,
                       const c10::optional<at::Tensor>& residual, const at::Tensor& table,
                       const c10::optional<at::Tensor>& row_group, const c10::optional<at::Tensor>& mask,
                       c10::string_view rounding) {
  const ReflectCall call = check_reflect(out, x, residual_out, residual, table, row_group, mask, rounding);
  const c10::cuda::CUDAGuard guard(x.device());
  cuda::ReflectSet sets[2] = {{x.data_ptr(), out.data_ptr()}, {}};
  const int count = call.pair ? 2 : 1;
  if (call.pair) sets[1] = {residual->data_ptr(), residual_out->data_ptr()};
  const int64_t rows = x.size(0), copies = x.size(1), hidden = x.size(2);
  const int64_t units = rows * copies * count;
  if (units == 0) return;
  const auto floats = static_cast<int64_t>(cuda::reflect_rows_scratch_floats(units, hidden));
  const at::Tensor scratch = floats > 0 ? at::empty({floats}, x.options().dtype(at::kFloat)) : at::Tensor();
  C10_CUDA_CHECK(cuda::launch_reflect_rows(
      sets, count, rows, copies, hidden, table.data_ptr(), table.size(0), row_group_ptr(row_group),
      mask_ptr(mask), call.stepwise, cuda_dtype(x.scalar_type()),
      scratch.defined() ? scratch.data_ptr<float>() : nullptr, at::cuda::getCurrentCUDAStream()));
}

void fused_cuda(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                double eps, const at::Tensor& table, const at::Tensor& row_group,
                const at::Tensor& mask, c10::string_view rounding) {
  const bool stepwise = check_fused(x, residual, weight, eps, table, row_group, mask, rounding);
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t units = x.size(0) * x.size(1);
  if (units == 0) return;
  const bool one_pass = cuda::fused_norm_one_pass(x.data_ptr(), residual.data_ptr(), weight.data_ptr(),
                                                   table.data_ptr(), x.size(2), cuda_dtype(x.scalar_type()));
  const auto floats = static_cast<int64_t>(cuda::fused_norm_scratch_floats(units, x.size(2), one_pass));
  const at::Tensor scratch = floats > 0 ? at::empty({floats}, x.options().dtype(at::kFloat)) : at::Tensor();
  C10_CUDA_CHECK(cuda::launch_fused_add_rms_norm_reflect(
      x.data_ptr(), residual.data_ptr(), weight.data_ptr(), static_cast<float>(eps), x.size(0),
      x.size(1), x.size(2), table.data_ptr(), table.size(0), row_group.data_ptr<int64_t>(),
      mask.data_ptr<bool>(), stepwise, cuda_dtype(x.scalar_type()),
      scratch.defined() ? scratch.data_ptr<float>() : nullptr, at::cuda::getCurrentCUDAStream()));
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "reflect_rows", reflect_rows_cpu);
  POCRAND_TENSOR_GUARD(m, "fused_add_rms_norm_reflect", fused_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("reflect_rows", &reflect_rows_cpu);
  m.impl("fused_add_rms_norm_reflect", &fused_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("reflect_rows", &reflect_rows_cuda);
  m.impl("fused_add_rms_norm_reflect", &fused_cuda);
}
#endif

}  // namespace pocrand
