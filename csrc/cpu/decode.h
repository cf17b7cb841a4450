// decode.h — the gonka-poc ops on the CPU (SPEC.md section 10), torch-free: step seeds (10.1), the
// decode rows of normals (step seeds and section 5 in one pass, 10.3), hash modulo (the pseudo
// token ids, 10.2) and forced expert logits (10.4). Thin loops over core section 10; the CUDA
// twins are in cuda/decode.cu. Every value is used mod 2^32. Arguments are checked by the caller
// (csrc/bind/decode.cpp).
#pragma once

#include <stdint.h>

#include "storage.h"

namespace pocrand {
namespace cpu {

// A row's step: steps[b] when steps is given, else `step`.
struct Steps {
  const int64_t* steps;  // [B] or null
  uint32_t step;
  uint32_t operator()(int64_t b) const { return steps ? static_cast<uint32_t>(steps[b]) : step; }
};

// out [B]: step_seed(base_seeds[b], prev_k[b], step(b), salt).
void step_seeds(const int64_t* base_seeds, const int64_t* prev_k, int64_t B, Steps step, uint32_t salt,
                int64_t* out);
// out [B, n] of `type`: normal(step seed of row b, n).
void step_normal(const int64_t* base_seeds, const int64_t* prev_k, int64_t B, Steps step, uint32_t salt,
                 int64_t n, Dtype type, void* out);
// out int32 [B, n]: hash(i, seeds[b]) mod modulus.
void hash_mod(const int64_t* seeds, int64_t B, int64_t n, uint32_t modulus, int32_t* out);
// out [B, n_experts] of `type`: the forced logits of route seed hash(step(b), seeds[b]) when
// fold, else of seeds[b] itself.
void forced_logits(const int64_t* seeds, int64_t B, Steps step, bool fold, int64_t n_experts,
                   int64_t top_k, int64_t ladder_base, Dtype type, void* out);

}  // namespace cpu
}  // namespace pocrand
