// overrides.h — the masked forward-pass overrides on the CPU, torch-free: embed_synth (SPEC.md
// 10.11) and router_override (10.12). Every row is decided by its own mask entry (and, for
// embed_synth, the sign of its previous index); a row that is not overridden keeps x's bits
// (copied when out is not x). out may be x (in place). Steps, seeds and previous indices are used
// mod 2^32 (prev_k's sign decides a row's kind). Arguments are checked by the caller
// (csrc/bind/overrides.cpp); the CUDA twins are in cuda/overrides.cu.
#pragma once

#include <stdint.h>

#include "storage.h"

namespace pocrand {
namespace cpu {

// x and out [n, hidden] of `type`; base_seeds, step, prev_k and mask [>= n]; embeds [>= n, hidden]
// of `embeds_type`. A decode row (mask, prev_k >= 0) becomes normal(step_seed(...), hidden), a
// prefill row (mask, prev_k < 0) embeds[r] delivered in `type`.
void embed_synth(Dtype type, const void* x, void* out, int64_t n, int64_t hidden,
                 const int64_t* base_seeds, const int64_t* step, const int64_t* prev_k,
                 Dtype embeds_type, const void* embeds, const bool* mask, uint32_t salt);

// logits and out [n, n_experts] of `type`; route_seeds, step and mask [>= n]: a masked row becomes
// the forced logits (10.4) of route seed hash(step[r], route_seeds[r]) (10.12).
void router_override(Dtype type, const void* logits, void* out, int64_t n, int64_t n_experts,
                     const int64_t* route_seeds, const int64_t* step, const bool* mask,
                     int64_t top_k, int64_t ladder_base);

}  // namespace cpu
}  // namespace pocrand
