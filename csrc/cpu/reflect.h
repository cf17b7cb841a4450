// reflect.h — the reflection on the CPU (SPEC.md 9.3, 9.8, 10.10), torch-free: row r of x
// [n, copies, hidden] is reflected by table row slot(r) when its mask entry holds and the slot lies
// in [0, slots), every copy of the row by the same vector; every other row is copied bit for bit.
//   slot(r) = row_group[r], or, without row_group, 0 for a one-row table and r for an n-row one;
//   mask absent = every row reflected.
// "once" is 9.3's arithmetic (products, dot and update in binary32, rounded once to the storage
// type): apply_householder is this with one slot and no mask. "stepwise" rounds each step to the
// storage type as the deployed torch expression does (10.10). out may be x (in place); any other
// overlap is the caller's to refuse. Arguments are checked by the caller (csrc/bind/reflect.cpp).
#pragma once

#include <stdint.h>

#include "storage.h"

namespace pocrand {
namespace cpu {

void reflect_rows(Dtype dtype, const void* x, void* out, int64_t n, int64_t copies, int64_t hidden,
                  const void* table, int64_t slots, const int64_t* row_group /* [>= n] or null */,
                  const bool* mask /* [>= n] or null */, bool stepwise);

// SPEC.md 10.14, in place on x and residual ([n, copies, hidden] each, weight [hidden], all of
// `dtype`): the rows reflect_rows would reflect are reflected first (x and residual by the row's
// one vector), then residual <- st(x + residual) and x <- RMSNorm(residual) * weight, the sum of
// squares in the fixed order of core section 7. hidden <= 2^24.
void fused_add_rms_norm_reflect(Dtype dtype, void* x, void* residual, const void* weight, float eps,
                                int64_t n, int64_t copies, int64_t hidden, const void* table,
                                int64_t slots, const int64_t* row_group, const bool* mask,
                                bool stepwise);

}  // namespace cpu
}  // namespace pocrand
