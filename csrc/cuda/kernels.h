// kernels.h — the torch-free CUDA kernel layer of pocrand: plain launch functions over raw device
// pointers and a cudaStream_t. csrc/bind/<topic>.cpp wraps them as torch ops; CMake compiles
// the .cu files on their own (no torch) so that CI without a GPU still proves the CUDA code builds.
// Each group below names the file that defines it.
//
// Every launcher enqueues work on `stream` and returns cudaGetLastError(); none synchronises.
// Element indices are 64-bit; per-row counts are at most 2^31 - 1 (checked by the callers).
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/sha256.h"

namespace pocrand {
namespace cuda {

enum class FloatType { kFloat32, kFloat16, kBFloat16 };

// ---- generators.cu ----
// keys int64 [n] -> hash of their low 32 bits, as int64 [n].
cudaError_t launch_murmur3(const int64_t* keys, int64_t n, uint32_t seed, int64_t* out,
                           cudaStream_t stream);
// keys int64 [rows, n], seeds int64 [rows] -> hash of keys[r, i] with seeds[r] (low 32 bits of
// each), as int64 [rows, n] (murmur3_rows.cu).
cudaError_t launch_murmur3_rows(const int64_t* keys, const int64_t* seeds, int64_t rows,
                                int64_t n, int64_t* out, cudaStream_t stream);
// seeds [rows] -> float32 [rows, n].
cudaError_t launch_uniform(const int64_t* seeds, int64_t rows, int64_t n, float* out,
                           cudaStream_t stream);
// Seeds carried in a launch's parameters instead of device memory: no host-to-device copy to
// enqueue or wait for. At most kInlineSeeds rows per launch.
constexpr int kInlineSeeds = 128;
struct InlineSeeds {
  uint32_t v[kInlineSeeds];
};

// seeds [rows] -> out_type [rows, n].
cudaError_t launch_normal(const int64_t* seeds, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream);
cudaError_t launch_normal(const InlineSeeds& seeds, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream);

// seeds [rows] -> out_type [rows, end - start]: elements [start, end) of each row of normal(seed, n).
cudaError_t launch_normal_range(const int64_t* seeds, int64_t rows, int64_t n, int64_t start,
                                int64_t end, FloatType out_type, void* out, cudaStream_t stream);

// ---- unit_normal.cu ----
// Floats of scratch the fixed-order reductions of `rows` sums over n terms need.
size_t reduction_workspace_floats(int64_t rows, int64_t n);

// seeds [rows] -> out_type [rows, V]: normal(seed, V) / (norm + norm_offset): 0 for the
// Phase-2 target, kTiny for PoC v2's unit vectors (core 9.2). `scratch` holds
// unit_normal_scratch_floats(rows, V) floats.
size_t unit_normal_scratch_floats(int64_t rows, int64_t V);
cudaError_t launch_unit_normal(const int64_t* seeds, int64_t rows, int64_t V, float norm_offset,
                               FloatType out_type, void* out, float* scratch, cudaStream_t stream);
cudaError_t launch_unit_normal(const InlineSeeds& seeds, int64_t rows, int64_t V,
                               float norm_offset, FloatType out_type, void* out, float* scratch,
                               cudaStream_t stream);

// ---- generators.cu: PoC v2 (SPEC.md section 9) ----
// words [rows, 8] -> out_type [rows, end - start]: concat_normal(words_r, n)[start, end) (9.1).
cudaError_t launch_concat_normal(const int64_t* words, int64_t rows, int64_t n, int64_t start,
                                 int64_t end, FloatType out_type, void* out, cudaStream_t stream);
// Whole rows with the words in the launch parameters: at most kInlineSeeds / 8 rows.
cudaError_t launch_concat_normal(const InlineSeeds& words, int64_t rows, int64_t n,
                                 FloatType out_type, void* out, cudaStream_t stream);
// ---- pick.cu ----
// seeds [rows] -> int64 [rows, k]: pick(seed_r, dim, k) (9.4), one block per row.
cudaError_t launch_pick(const int64_t* seeds, int64_t rows, int64_t dim, int64_t k, int64_t* out,
                        cudaStream_t stream);
// ---- haar.cu ----
// x [rows, k] of `type`, seeds [rows, k - 1] -> out [rows, k] of `type` (9.10).
size_t haar_scratch_floats(int64_t rows, int64_t k);
cudaError_t launch_haar_rotate(const void* x, FloatType type, const int64_t* seeds, int64_t rows,
                               int64_t k, void* out, float* scratch, cudaStream_t stream);
// The artifact seeds of up to kInlineNonces nonces, derived on the device (core sha256.h):
// column 0 pick.seed(nonce), column c >= 1 haar.seed(nonce, c - 1). Passed by value: no upload.
constexpr int kInlineNonces = 64;
struct ArtifactSeedSpec {
  SeedPattern pick;  // the pick pattern (its strings come from pocrand_ext/protocols/pocv2/)
  SeedPattern haar;  // the Haar pattern (its str(j) is the column - 1)
  int64_t nonces[kInlineNonces];
};
// -> int64 [rows, k] (rows <= kInlineNonces).
cudaError_t launch_artifact_seeds(const ArtifactSeedSpec& spec, int64_t rows, int64_t k,
                                  int64_t* out, cudaStream_t stream);
// hidden [rows, H] of `type`, seeds [rows, k] -> fp16 bits [rows, k] and flags [rows] (9.11).
size_t artifact_scratch_floats(int64_t rows, int64_t H, int64_t k);
cudaError_t launch_artifacts(const void* hidden, FloatType type, const int64_t* seeds,
                             int64_t rows, int64_t H, int64_t k, uint16_t* out, bool* flags,
                             float* scratch, cudaStream_t stream);

// ---- distances.cu ----
// logits [rows, V], perm int64 [rows, V], target [V] -> float32 [rows]. `scratch` holds
// distance_scratch_floats(rows, V) floats. first_bad [rows] (set by the launch) ends as
// UINT64_MAX for a row whose permutation entries are all in [0, V), else as the smallest flat
// index of one outside; such a row's distance is the canonical NaN.
size_t distance_scratch_floats(int64_t rows, int64_t V);
cudaError_t launch_distances(const void* logits, FloatType logits_type, const int64_t* perm,
                             const void* target, FloatType target_type, int64_t rows, int64_t V,
                             float* out, float* scratch, unsigned long long* first_bad,
                             cudaStream_t stream);

// ---- permutations.cu ----
// Permutations sort `batch_rows` rows at a time (so one sort never exceeds 2^31 - 1 items).
int64_t permutation_batch_rows(int64_t rows, int64_t V);
// Bytes of device scratch for launch_permutations with this batch (keys, values, CUB storage).
size_t permutation_scratch_bytes(int64_t batch_rows, int64_t V);
// seeds [rows] -> int64 [rows, V]: 0..V-1 ordered by ascending hash(i, seed). A bucket sort
// for V <= 2^21, a radix sort above (permutations.cu).
cudaError_t launch_permutations(const int64_t* seeds, int64_t rows, int64_t V, int64_t* out,
                                void* scratch, size_t scratch_bytes, cudaStream_t stream);

// The bucket sort with its parameters forced, for verification: 2^bucket_bits buckets
// (bucket_bits in [0, 11]); a bucket of more than `capacity` (in [0, 4096]) elements takes the
// rank-by-counting fallback. Same result as launch_permutations for every choice.
constexpr int kMaxPermutationBucketBits = 11;
constexpr int kMaxPermutationBucketCapacity = 4096;
size_t bucket_sort_scratch_bytes(int64_t rows, int64_t V, int bucket_bits);
cudaError_t launch_bucket_sort(const int64_t* seeds, int64_t rows, int64_t V, int bucket_bits,
                               int capacity, int64_t* out, void* scratch, cudaStream_t stream);

// ---- stages.cu ----
// Elementwise scalar stages (verification ops).
cudaError_t launch_core_stages(const int64_t* hashes, int64_t n, float* u, float* r, float* c,
                               float* s, cudaStream_t stream);
cudaError_t launch_core_log(const float* x, int64_t n, float* out, cudaStream_t stream);
cudaError_t launch_core_sincos(const float* theta, int64_t n, float* s, float* c,
                               cudaStream_t stream);
cudaError_t launch_core_round(const float* x, int64_t n, FloatType out_type, void* out,
                              cudaStream_t stream);

// ---- reflect_rows.cu ----
// The reflection (SPEC.md 9.3, 10.10) of one or two tensors of `type` (the pair form), each
// [rows, copies, hidden]: row r of a tensor is reflected by table[slot(r)] (table [slots, hidden])
// when mask[r] and 0 <= slot(r) < slots, in the "once" (9.3) or stepwise rounding; otherwise
// copied. slot(r) = row_group[r]; with row_group null, 0 for a one-row table and r for an n-row
// one; mask null = every row (apply_householder is one slot and no mask). out may be x (in place). `scratch`: reflect_rows_scratch_floats(
// units, hidden) floats, units = count * rows * copies.
struct ReflectSet {
  const void* x;  // [rows, copies, hidden]
  void* out;      // [rows, copies, hidden]
};
size_t reflect_rows_scratch_floats(int64_t units, int64_t hidden);
cudaError_t launch_reflect_rows(const ReflectSet* sets, int count, int64_t rows, int64_t copies,
                                int64_t hidden, const void* table, int64_t slots,
                                const int64_t* row_group, const bool* mask, bool stepwise,
                                FloatType type, float* scratch, cudaStream_t stream);

// ---- fused_norm.cu ----
// SPEC.md 10.14 in place on x and residual ([rows, copies, hidden] of `type`, weight [hidden]):
// rows reflect_rows would reflect are reflected (both tensors), then residual <- st(x + residual),
// x <- st(st(residual * inv) * weight). `scratch`: fused_norm_scratch_floats(units, hidden,
// one_pass) floats, units = rows * copies, one_pass = fused_norm_one_pass(...) (the one-pass
// kernel's shapes, which need no scratch).
bool fused_norm_one_pass(const void* x, const void* residual, const void* weight,
                         const void* table, int64_t hidden, FloatType type);
size_t fused_norm_scratch_floats(int64_t units, int64_t hidden, bool one_pass);
cudaError_t launch_fused_add_rms_norm_reflect(void* x, void* residual, const void* weight, float eps,
                                              int64_t rows, int64_t copies, int64_t hidden,
                                              const void* table, int64_t slots,
                                              const int64_t* row_group, const bool* mask,
                                              bool stepwise, FloatType type, float* scratch,
                                              cudaStream_t stream);

}  // namespace cuda
}  // namespace pocrand
