// sort.h — orders by hash on the CPU, torch-free: the permutations of SPEC.md section 8 and the
// pick of PoC v2 (9.4). Integer work only. Arguments are checked by the caller
// (csrc/bind/sort.cpp).
#pragma once

#include <stdint.h>

namespace pocrand {
namespace cpu {

// out [rows, V]: row b lists 0 .. V-1 by ascending murmur3(i, seeds[b]) (low 32 bits of each seed).
void permutations(const int64_t* seeds, int64_t rows, int64_t V, int64_t* out);
// out [rows, k]: pick(seeds[b], dim, k) (9.4), in 9.4's order or, with host_order, in the host
// order of 9.4 (torch's CPU topk order; the vector channel's pick, 10.13).
void pick(const int64_t* seeds, int64_t rows, int64_t dim, int64_t k, bool host_order,
          int64_t* out);

}  // namespace cpu
}  // namespace pocrand
