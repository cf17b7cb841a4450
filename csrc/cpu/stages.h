// stages.h — the core's scalar stages as elementwise CPU loops, torch-free, for verification
// only (accuracy sweeps and CPU == GPU checks over whole domains; pocrand_ext/stages.py): each
// element through exactly the function of csrc/core/pocrand_core.h that the generators use.
#pragma once

#include <stdint.h>

#include "storage.h"

namespace pocrand {
namespace cpu {

// hashes (low 32 bits) -> u = uniform_from_hash, r = box_muller_radius(u), (s, c) = sin and cos of
// box_muller_angle(u) (core section 5).
void core_box_muller(const int64_t* hashes, int64_t n, float* u, float* r, float* c, float* s);
// x -> log_positive(x); meaningful for positive normal x.
void core_log(const float* x, int64_t n, float* out);
// theta -> (sin, cos) by sincos_reduced; meaningful for theta in [0, 8).
void core_sincos(const float* theta, int64_t n, float* s, float* c);
// x -> x delivered in `type` (core section 6).
void core_round(const float* x, int64_t n, Dtype type, void* out);

}  // namespace cpu
}  // namespace pocrand
