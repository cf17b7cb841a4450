// reflect.cpp — the reflection on the CPU (reflect.h). Threads split rows; each dot is the fixed
// tree of core section 7 whatever the thread count. "once" widens a row to float32 first, so the
// product and update loops vectorise; rows longer than kBufferedRow are done without row-sized
// buffers (memory O(threads * chunk) beyond the tensors): the products are formed chunk by chunk
// inside the sum and the update widens x and v element by element. Same operations in the same
// order: the same bits.
#include "reflect.h"

#include <string.h>

#include <vector>

#include "../core/pocrand_core.h"
#include "fp_env.h"
#include "parallel.h"
#include "sums.h"

namespace pocrand {
namespace cpu {
namespace {

constexpr int64_t kBufferedRow = int64_t{1} << 16;

// Where a row's vector is, or null when the row is copied.
template <typename Bits>
const Bits* row_vector(int64_t r, const Bits* table, int64_t slots, int64_t hidden,
                       const int64_t* row_group, const bool* mask) {
  if (mask != nullptr && !mask[r]) return nullptr;
  const int64_t g = row_group != nullptr ? row_group[r] : (slots == 1 ? 0 : r);
  return g >= 0 && g < slots ? table + g * hidden : nullptr;
}

// One row in the stepwise rounding, or a "once" row too long for buffers. Element i of x is read
// before element i of out is written, so out may be x.
template <typename S, bool Stepwise>
void reflect_unbuffered(const typename S::Bits* x, typename S::Bits* out, const typename S::Bits* v,
                        int64_t hidden) {
  constexpr int st = S::kStorage;
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

// A "once" row through float32 buffers y (the row), w (its vector) and p (the products).
template <typename S>
void reflect_buffered(const typename S::Bits* x, typename S::Bits* out, const float* w,
                      int64_t hidden, float* y, float* p) {
  for (int64_t i = 0; i < hidden; ++i) y[i] = S::widen(x[i]);
  for (int64_t i = 0; i < hidden; ++i) p[i] = pr_mul(y[i], w[i]);
  const float c = householder_coefficient(tree_sum_serial([&](int64_t i) { return p[i]; }, hidden));
  for (int64_t i = 0; i < hidden; ++i) out[i] = S::encode(canonicalize_nan(householder_update(y[i], c, w[i])));
}

template <typename S, bool Stepwise>
void reflect_typed(const typename S::Bits* x, typename S::Bits* out, int64_t n, int64_t copies,
                   int64_t hidden, const typename S::Bits* table, int64_t slots,
                   const int64_t* row_group, const bool* mask) {
  using Bits = typename S::Bits;
  const int64_t row = copies * hidden;
  const bool buffered = !Stepwise && hidden <= kBufferedRow;
  parallel_for(0, n, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> y(buffered ? hidden : 0), p(y.size()), w(y.size());
    const Bits* widened = nullptr;  // the vector now in w
    for (int64_t r = r0; r < r1; ++r) {
      const Bits* v = row_vector(r, table, slots, hidden, row_group, mask);
      if (v == nullptr) {  // copied bit for bit
        if (out != x) memcpy(out + r * row, x + r * row, sizeof(Bits) * row);
        continue;
      }
      if (buffered && v != widened) {
        for (int64_t i = 0; i < hidden; ++i) w[i] = S::widen(v[i]);
        widened = v;
      }
      for (int64_t c = 0; c < copies; ++c) {
        const Bits* xr = x + r * row + c * hidden;
        Bits* o = out + r * row + c * hidden;
        if (buffered) reflect_buffered<S>(xr, o, w.data(), hidden, y.data(), p.data());
        else reflect_unbuffered<S, Stepwise>(xr, o, v, hidden);
      }
    }
  });
}

// One row's add and norm (10.14) after its reflection: s = st(x + residual) into residual, then
// y = st(st(s * inv) * w) into x.
template <typename S>
void add_rms_norm_row(typename S::Bits* x, typename S::Bits* res, const typename S::Bits* w,
                      float eps, int64_t hidden) {
  constexpr int st = S::kStorage;
  for (int64_t i = 0; i < hidden; ++i)
    res[i] = S::encode(residual_sum(S::widen(x[i]), S::widen(res[i]), st));
  const float ss = tree_sum_serial([&](int64_t i) {
    const float si = S::widen(res[i]);
    return pr_mul(si, si);
  }, hidden);
  const float inv = rms_inverse(ss, static_cast<float>(hidden), eps);
  for (int64_t i = 0; i < hidden; ++i)
    x[i] = S::encode(rms_output(S::widen(res[i]), inv, S::widen(w[i]), st));
}

template <typename S, bool Stepwise>
void fused_typed(typename S::Bits* x, typename S::Bits* res, const typename S::Bits* w, float eps,
                 int64_t n, int64_t copies, int64_t hidden, const typename S::Bits* table,
                 int64_t slots, const int64_t* row_group, const bool* mask) {
  const int64_t row = copies * hidden;
  parallel_for(0, n, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const typename S::Bits* v = row_vector(r, table, slots, hidden, row_group, mask);
      for (int64_t c = 0; c < copies; ++c) {
        auto* xr = x + r * row + c * hidden;
        auto* rr = res + r * row + c * hidden;
        if (v != nullptr) {  // reflected in place, exactly as reflect_rows writes it
          reflect_unbuffered<S, Stepwise>(xr, xr, v, hidden);
          reflect_unbuffered<S, Stepwise>(rr, rr, v, hidden);
        }
        add_rms_norm_row<S>(xr, rr, w, eps, hidden);
      }
    }
  });
}

}  // namespace

void fused_add_rms_norm_reflect(Dtype dtype, void* x, void* residual, const void* weight, float eps,
                                int64_t n, int64_t copies, int64_t hidden, const void* table,
                                int64_t slots, const int64_t* row_group, const bool* mask,
                                bool stepwise) {
  const IeeeFpMode ieee;
  if (n == 0 || copies == 0 || hidden == 0) return;
  with_storage(dtype, [&](auto s) {
    using S = decltype(s);
    using Bits = typename S::Bits;
    auto* xp = static_cast<Bits*>(x);
    auto* rp = static_cast<Bits*>(residual);
    const auto* wp = static_cast<const Bits*>(weight);
    const auto* tp = static_cast<const Bits*>(table);
    if (stepwise) fused_typed<S, true>(xp, rp, wp, eps, n, copies, hidden, tp, slots, row_group, mask);
    else fused_typed<S, false>(xp, rp, wp, eps, n, copies, hidden, tp, slots, row_group, mask);
  });
}

void reflect_rows(Dtype dtype, const void* x, void* out, int64_t n, int64_t copies, int64_t hidden,
                  const void* table, int64_t slots, const int64_t* row_group, const bool* mask,
                  bool stepwise) {
  const IeeeFpMode ieee;  // fp_env.h: the serial parts in the IEEE mode too
  if (n == 0 || copies == 0 || hidden == 0) return;
  with_storage(dtype, [&](auto s) {
    using S = decltype(s);
    using Bits = typename S::Bits;
    const auto* xp = static_cast<const Bits*>(x);
    auto* op = static_cast<Bits*>(out);
    const auto* tp = static_cast<const Bits*>(table);
    if (stepwise) reflect_typed<S, true>(xp, op, n, copies, hidden, tp, slots, row_group, mask);
    else reflect_typed<S, false>(xp, op, n, copies, hidden, tp, slots, row_group, mask);
  });
}

}  // namespace cpu
}  // namespace pocrand
