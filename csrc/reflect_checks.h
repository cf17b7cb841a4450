// reflect_checks.h — argument checks of the masked row-group reflection (SPEC.md 10.10), shared by
// the CPU and CUDA implementations. Every failure is a TypeError (wrong dtype) or ValueError (wrong
// shape, value, layout or device) naming the argument, as op_checks.h's are. The values of
// row_group and mask are never read here (that would synchronise a GPU stream): a row whose slot
// lies outside [0, slots) is copied unchanged, as a masked-off row is.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "op_checks.h"

namespace pocrand {

// rounding (the API's mode): "once" (9.3's arithmetic) or "stepwise" (the deployed expression's
// roundings). (The schema cannot call it `mode`: torch's mode dispatch takes that keyword.)
inline bool reflect_mode_stepwise(c10::string_view mode) {
  TORCH_CHECK_VALUE(mode == "once" || mode == "stepwise",
                    "mode (rounding) must be \"once\" or \"stepwise\", got \"" + std::string(mode) + "\"");
  return mode == "stepwise";
}

// x [n, copies, hidden] (f32/f16/bf16, contiguous), table [slots, hidden] of x's dtype,
// row_group int64 [>= n], mask bool [>= n], all contiguous and on x's device.
inline void check_reflect_rows_args(const at::Tensor& x, const at::Tensor& table,
                                    const at::Tensor& row_group, const at::Tensor& mask,
                                    const char* x_name = "x") {
  const std::string xn(x_name);
  TORCH_CHECK_VALUE(x.dim() == 3, xn + " must be 3-D [rows, copies, hidden], got " + num(x.dim()) + "-D");
  check_float_dtype(x.scalar_type(), (xn + " dtype").c_str());
  check_count(x.size(2), ("hidden size (" + xn + ".shape[-1])").c_str());
  TORCH_CHECK_TYPE(table.scalar_type() == x.scalar_type(), "table must have " + xn + "'s dtype " +
                   dtype_name(x.scalar_type()) + ", got " + dtype_name(table.scalar_type()));
  TORCH_CHECK_VALUE(table.dim() == 2 && table.size(0) >= 1 && table.size(1) == x.size(2),
                    "table must be [slots, hidden] = [slots >= 1, " + num(x.size(2)) + "], got " +
                    shape(table.sizes()));
  TORCH_CHECK_TYPE(row_group.scalar_type() == at::kLong, "row_group must be int64, got " +
                   dtype_name(row_group.scalar_type()));
  TORCH_CHECK_VALUE(row_group.dim() == 1 && row_group.size(0) >= x.size(0),
                    "row_group must be 1-D with at least " + num(x.size(0)) + " entries (one per row of " +
                    xn + "), got " + shape(row_group.sizes()));
  TORCH_CHECK_TYPE(mask.scalar_type() == at::kBool, "mask must be bool, got " +
                   dtype_name(mask.scalar_type()));
  TORCH_CHECK_VALUE(mask.dim() == 1 && mask.size(0) >= x.size(0),
                    "mask must be 1-D with at least " + num(x.size(0)) + " entries (one per row of " +
                    xn + "), got " + shape(mask.sizes()));
  TORCH_CHECK_VALUE(table.device() == x.device() && row_group.device() == x.device() &&
                    mask.device() == x.device(),
                    xn + ", table, row_group and mask must be on one device, got " + x.device().str() +
                    ", " + table.device().str() + ", " + row_group.device().str() + " and " +
                    mask.device().str());
  TORCH_CHECK_VALUE(x.is_contiguous(), xn + " must be contiguous");
  TORCH_CHECK_VALUE(table.is_contiguous(), "table must be contiguous");
  TORCH_CHECK_VALUE(row_group.is_contiguous(), "row_group must be contiguous");
  TORCH_CHECK_VALUE(mask.is_contiguous(), "mask must be contiguous");
}

// The pair form: hidden and residual of one shape, each checked as x.
inline void check_reflect_rows_pair_args(const at::Tensor& hidden, const at::Tensor& residual,
                                         const at::Tensor& table, const at::Tensor& row_group,
                                         const at::Tensor& mask) {
  check_reflect_rows_args(hidden, table, row_group, mask, "hidden");
  check_reflect_rows_args(residual, table, row_group, mask, "residual");
  TORCH_CHECK_VALUE(hidden.sizes() == residual.sizes(), "hidden and residual must have one shape, got " +
                    shape(hidden.sizes()) + " and " + shape(residual.sizes()));
}

// The in-place forms write x (hidden and residual) while reading table, row_group and mask.
inline void check_reflect_rows_written(const at::Tensor& x, const char* x_name, const at::Tensor& table,
                                       const at::Tensor& row_group, const at::Tensor& mask) {
  check_no_self_overlap(x, x_name);
  check_no_overlap(x, x_name, table, "table");
  check_no_overlap(x, x_name, row_group, "row_group");
  check_no_overlap(x, x_name, mask, "mask");
}

inline void check_reflect_rows_inplace_args(const at::Tensor& x, const at::Tensor& table,
                                            const at::Tensor& row_group, const at::Tensor& mask) {
  check_reflect_rows_args(x, table, row_group, mask);
  check_reflect_rows_written(x, "x", table, row_group, mask);
}

inline void check_reflect_rows_pair_inplace_args(const at::Tensor& hidden, const at::Tensor& residual,
                                                 const at::Tensor& table, const at::Tensor& row_group,
                                                 const at::Tensor& mask) {
  check_reflect_rows_pair_args(hidden, residual, table, row_group, mask);
  check_reflect_rows_written(hidden, "hidden", table, row_group, mask);
  check_reflect_rows_written(residual, "residual", table, row_group, mask);
  check_no_overlap(hidden, "hidden", residual, "residual");
}

}  // namespace pocrand
