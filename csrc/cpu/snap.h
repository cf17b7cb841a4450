// snap.h — the snap of the decode scheme on the CPU (SPEC.md 10.6, 10.7), torch-free: each row of
// h [B, H] is normalised, its pick (9.4, seed seeds[b]) gathered and normalised into q [B, d], q
// scored against every codebook point ([P, d], float32) into scores [B, P], and k [B] set to the
// best point (bad [B] for a row whose norm is zero or not finite: k = -1, scores and q zeros).
// Every sum is the fixed tree of core section 7 and every element step the core's, so a row's bits
// never depend on the batch. Arguments are checked by the caller (csrc/bind/snap.cpp).
#pragma once

#include <stdint.h>

#include "storage.h"

namespace pocrand {
namespace cpu {

void snap(Dtype h_type, const void* h, int64_t B, int64_t H, const int64_t* seeds,
          const float* codebook, int64_t P, int64_t d, int64_t* k, bool* bad, float* scores,
          float* q);

}  // namespace cpu
}  // namespace pocrand
