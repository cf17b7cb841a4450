// reflect_rows_cpu.cpp — the masked row-group reflection on the CPU (SPEC.md 10.10): row r of x
// [n, copies, hidden] is reflected by table[row_group[r]] when mask[r] holds and the slot lies in
// [0, slots), in the "once" (9.3) or "stepwise" rounding; every other row is copied bit for bit.
// Threads split rows; each dot is the fixed tree of core section 7 whatever the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstring>
#include <tuple>

#include "../core/pocrand_core.h"
#include "../reflect_checks.h"
#include "cpu_common.h"

namespace pocrand {
namespace {

template <typename S> constexpr int kStorageOf = kStorageFloat32;
template <> constexpr int kStorageOf<F16Storage> = kStorageFloat16;
template <> constexpr int kStorageOf<BF16Storage> = kStorageBFloat16;

// One row of `hidden` elements: out = the reflection of x by v in the given mode. Element i of x
// is read before element i of out is written, so out may be x (in place).
template <typename S, bool Stepwise>
void reflect_one(const typename S::Bits* x, typename S::Bits* out, const typename S::Bits* v,
                 int64_t hidden) {
  constexpr int st = kStorageOf<S>;
  const float dot = tree_sum_serial([&](int64_t i) {
    const float xi = S::widen(x[i]), vi = S::widen(v[i]);
    return Stepwise ? stepwise_product(xi, vi, st) : pr_mul(xi, vi);
  }, hidden);
  const float c = Stepwise ? stepwise_coefficient(dot, st) : householder_coefficient(dot);
  for (int64_t i = 0; i < hidden; ++i) {
    const float xi = S::widen(x[i]), vi = S::widen(v[i]);
    out[i] = S::encode(Stepwise ? stepwise_update(xi, c, vi, st)
                                : canonicalize_nan(householder_update(xi, c, vi)));
  }
}

// x and out [n, copies, hidden] (out may be x); table [slots, hidden].
template <typename S, bool Stepwise>
void reflect_tensor(const typename S::Bits* x, typename S::Bits* out, int64_t n, int64_t copies,
                    int64_t hidden, const typename S::Bits* table, int64_t slots,
                    const int64_t* row_group, const bool* mask) {
  const int64_t row = copies * hidden;
  ieee_parallel_for(0, n, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t g = row_group[r];
      if (!mask[r] || g < 0 || g >= slots) {  // copied bit for bit
        if (out != x) std::memcpy(out + r * row, x + r * row, sizeof(typename S::Bits) * row);
        continue;
      }
      for (int64_t c = 0; c < copies; ++c)
        reflect_one<S, Stepwise>(x + r * row + c * hidden, out + r * row + c * hidden,
                                 table + g * hidden, hidden);
    }
  });
}

void reflect_into(const at::Tensor& x, const at::Tensor& out, const at::Tensor& table,
                  const at::Tensor& row_group, const at::Tensor& mask, bool stepwise) {
  if (x.numel() == 0) return;
  with_storage(x.scalar_type(), [&](auto s) {
    using S = decltype(s);
    using Bits = typename S::Bits;
    const auto* xp = static_cast<const Bits*>(x.data_ptr());
    auto* op = static_cast<Bits*>(out.data_ptr());
    const auto* tp = static_cast<const Bits*>(table.data_ptr());
    const int64_t* g = row_group.data_ptr<int64_t>();
    const bool* m = mask.data_ptr<bool>();
    if (stepwise)
      reflect_tensor<S, true>(xp, op, x.size(0), x.size(1), x.size(2), tp, table.size(0), g, m);
    else
      reflect_tensor<S, false>(xp, op, x.size(0), x.size(1), x.size(2), tp, table.size(0), g, m);
  });
}

at::Tensor reflect_rows_cpu(const at::Tensor& x, const at::Tensor& table, const at::Tensor& row_group,
                            const at::Tensor& mask, c10::string_view mode) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_reflect_rows_args(x, table, row_group, mask);
  const bool stepwise = reflect_mode_stepwise(mode);
  auto out = at::empty_like(x);
  reflect_into(x, out, table, row_group, mask, stepwise);
  return out;
}

void reflect_rows_inplace_cpu(const at::Tensor& x, const at::Tensor& table, const at::Tensor& row_group,
                              const at::Tensor& mask, c10::string_view mode) {
  const IeeeFpMode ieee;
  check_reflect_rows_inplace_args(x, table, row_group, mask);
  reflect_into(x, x, table, row_group, mask, reflect_mode_stepwise(mode));
}

std::tuple<at::Tensor, at::Tensor> reflect_rows_pair_cpu(const at::Tensor& hidden, const at::Tensor& residual,
                                                         const at::Tensor& table, const at::Tensor& row_group,
                                                         const at::Tensor& mask, c10::string_view mode) {
  const IeeeFpMode ieee;
  check_reflect_rows_pair_args(hidden, residual, table, row_group, mask);
  const bool stepwise = reflect_mode_stepwise(mode);
  auto h = at::empty_like(hidden), r = at::empty_like(residual);
  reflect_into(hidden, h, table, row_group, mask, stepwise);
  reflect_into(residual, r, table, row_group, mask, stepwise);
  return {h, r};
}

void reflect_rows_pair_inplace_cpu(const at::Tensor& hidden, const at::Tensor& residual,
                                   const at::Tensor& table, const at::Tensor& row_group,
                                   const at::Tensor& mask, c10::string_view mode) {
  const IeeeFpMode ieee;
  check_reflect_rows_pair_inplace_args(hidden, residual, table, row_group, mask);
  const bool stepwise = reflect_mode_stepwise(mode);
  reflect_into(hidden, hidden, table, row_group, mask, stepwise);
  reflect_into(residual, residual, table, row_group, mask, stepwise);
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("reflect_rows", &reflect_rows_cpu);
  m.impl("reflect_rows_", &reflect_rows_inplace_cpu);
  m.impl("reflect_rows_pair", &reflect_rows_pair_cpu);
  m.impl("reflect_rows_pair_", &reflect_rows_pair_inplace_cpu);
}

}  // namespace pocrand
