// streams.h — the generators on the CPU, torch-free (SPEC.md sections 1-5, 8, 9.1, 9.2): murmur3,
// uniform and normal streams, slices of them, unit rows and the concat rows of PoC v2. Seeds are
// int64 holding u32 values (their low 32 bits are used). Float outputs are written in `dtype`
// (core section 6). Arguments are checked by the caller (csrc/bind/streams.cpp).
#pragma once

#include <stdint.h>

#include "storage.h"

namespace pocrand {
namespace cpu {

// out[i] = murmur3(keys[i], seed), i < n.
void hash_keys(const int64_t* keys, int64_t n, uint32_t seed, int64_t* out);
// out[b * n + i] = murmur3(keys[b * n + i], seeds[b]).
void hash_rows(const int64_t* keys, const int64_t* seeds, int64_t rows, int64_t n, int64_t* out);
// out float32 [rows, n]: u(i, seeds[b]).
void uniform_rows(const int64_t* seeds, int64_t rows, int64_t n, float* out);
// out [rows, end - start]: elements [start, end) of normal(seeds[b], n); start = 0, end = n for
// whole rows (generated a Box-Muller block at a time).
void normal_rows(const int64_t* seeds, int64_t rows, int64_t n, int64_t start, int64_t end, Dtype dtype,
            void* out);
// out [rows, n]: normal(seeds[b], n) / divisor (core sections 5, 7): with `tiny` false the norm
// (the Phase-2 target: a zero row gives the canonical NaN), with `tiny` true norm + TINY (PoC v2's
// unit vectors, 9.2, never NaN).
void unit_rows(const int64_t* seeds, int64_t rows, int64_t n, bool tiny, Dtype dtype, void* out);
// out [rows, end - start]: elements [start, end) of concat_normal(words[b * 8 .. b * 8 + 8), n)
// (9.1).
void concat_normal_rows(const int64_t* words, int64_t rows, int64_t n, int64_t start, int64_t end,
                   Dtype dtype, void* out);

}  // namespace cpu
}  // namespace pocrand
