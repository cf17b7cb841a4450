// distances.h — the Phase-2 distances on the CPU, torch-free (SPEC.md section 8, sums in the
// order of section 7). Arguments are checked by the caller (csrc/bind/distances.cpp).
#pragma once

#include <stdint.h>

#include "storage.h"

namespace pocrand {
namespace cpu {

// out[b] = || logits[b][perm[b]] / ||logits[b]|| - target || for rows b < rows of V elements;
// first_bad[b] = the smallest flat index of an entry of perm's row b outside [0, V), or -1. A row
// with such an entry, or whose norm is zero, Inf or NaN, gets the canonical NaN.
void distances(Dtype logits_type, const void* logits, const int64_t* perm, Dtype target_type,
               const void* target, int64_t rows, int64_t V, float* out, int64_t* first_bad);

}  // namespace cpu
}  // namespace pocrand
