// reflect_rows.cu — the masked row-group reflection on the GPU (SPEC.md 10.10). Two kernels:
// - the one-pass chunk kernel (reflect_rows_chunk.cuh) for rows of whole 16-byte vectors at
//   16-byte aligned addresses, up to 8192 elements (16384 for fp16/bf16): x is read once.
// - the generic kernel below, for every other row: one block per (tensor, row, copy) unit,
//   walking units by a grid stride: a unit whose row is masked off or whose slot lies outside
//   [0, slots) is copied; any other is reflected by its slot's table row in the "once" (9.3) or
//   "stepwise" rounding, its dot summed by block_tree_sum (tree_sum.cuh, the fixed order of core
//   section 7), then the row read again for the update. Nothing of a row is written before its
//   dot is known (the sum ends with a barrier), so out may be x.
// Both sum each dot by section 7's pairing, so which one runs never changes a bit (the GPU tests
// compare each against the CPU kernel). mask and row_group are read on the device only; either may
// be absent (nullptr): reflect_rows_chunk.cuh's row_slot says what then holds.
#include <algorithm>

#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "reflect_rows_chunk.cuh"
#include "tree_sum.cuh"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kReflectThreads = 256;

template <typename E, bool Stepwise>
__global__ void reflect_rows_kernel(ReflectSet s0, ReflectSet s1, int count, int64_t rows,
                                    int64_t copies, int64_t hidden, const typename E::Bits* table,
                                    int64_t slots, const int64_t* row_group, const bool* mask,
                                    float* scratch, int64_t scratch_per_block) {
  using Bits = typename E::Bits;
  const int64_t per_set = rows * copies;
  const int64_t units = per_set * count;
  float* my_scratch = scratch ? scratch + blockIdx.x * scratch_per_block : nullptr;
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const ReflectSet& s = u < per_set ? s0 : s1;
    const int64_t local = u < per_set ? u : u - per_set;
    const int64_t r = local / copies;
    const Bits* x = static_cast<const Bits*>(s.x) + local * hidden;
    Bits* out = static_cast<Bits*>(s.out) + local * hidden;
    const UnitSlot slot = row_slot(r, slots, row_group, mask);
    const int64_t g = slot.g;
    if (!slot.m || g < 0 || g >= slots) {  // copied bit for bit (the same for every thread)
      if (out != x)
        for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) out[i] = x[i];
      continue;
    }
    const Bits* v = table + g * hidden;
    const float dot = block_tree_sum(ReflectTerms<E, Stepwise>{x, v}, hidden, my_scratch);
    const float c = Stepwise ? stepwise_coefficient_fast<E>(dot) : householder_coefficient(dot);
    // The store rounds the last step (storage_round.cuh); with c finite no output is NaN.
    if (no_nan_outputs(c)) {  // the same in every thread
      for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x)
        out[i] = encode_fast<E>(reflect_unrounded<E, Stepwise>(E::arith(x[i]), c, E::arith(v[i])));
    } else {
      for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x)
        out[i] = E::encode(
            canonicalize_nan(reflect_unrounded<E, Stepwise>(E::arith(x[i]), c, E::arith(v[i]))));
    }
    __syncthreads();  // the scratch is free for the next unit
  }
}

// The chunk kernel's widths: 8 warps (rows of up to 8192 elements) and, for 16-bit elements, 16
// (up to 16384; float32 rows that long would need twice the registers and spill).
constexpr int kReflectChunkWarps = 8;
constexpr int kReflectWideChunkWarps = 16;

// The chunk kernel's shapes: rows of whole 16-byte vectors, every row address 16-byte aligned.
bool chunk_shaped(const ReflectSet* sets, int count, int64_t hidden, const void* table,
                  size_t element_size) {
  if ((hidden * static_cast<int64_t>(element_size)) % 16 != 0) return false;
  bool ok = aligned16(table);
  for (int s = 0; s < count; ++s) ok = ok && aligned16(sets[s].x) && aligned16(sets[s].out);
  return ok;
}

}  // namespace

size_t reflect_rows_scratch_floats(int64_t units, int64_t hidden) {
  if (hidden <= kChunk) return 0;  // one chunk: block_tree_sum needs no scratch
  return static_cast<size_t>(unit_blocks(units) * block_tree_scratch(hidden));
}

cudaError_t launch_reflect_rows(const ReflectSet* sets, int count, int64_t rows, int64_t copies,
                                int64_t hidden, const void* table, int64_t slots,
                                const int64_t* row_group, const bool* mask, bool stepwise,
                                FloatType type, float* scratch, cudaStream_t stream) {
  const int64_t units = rows * copies * count;
  if (units == 0) return cudaSuccess;
  const int64_t blocks = unit_blocks(units);
  const int64_t per_block = hidden <= kChunk ? 0 : block_tree_scratch(hidden);
  const ReflectSet s1 = count > 1 ? sets[1] : sets[0];
  with_element_type(type, [&](auto e) {
    using E = decltype(e);
    using Bits = typename E::Bits;
    const auto* t = static_cast<const Bits*>(table);
    if (chunk_shaped(sets, count, hidden, table, sizeof(Bits))) {
      const ReflectUnits u{{sets[0], s1}, rows * copies, copies, units};
      constexpr bool kWide = sizeof(Bits) == 2;
      if (hidden <= int64_t{kReflectChunkWarps} * kChunk) {
        if (stepwise)
          launch_reflect_chunk<E, true, kReflectChunkWarps>(u, hidden, t, slots, row_group, mask, stream);
        else
          launch_reflect_chunk<E, false, kReflectChunkWarps>(u, hidden, t, slots, row_group, mask, stream);
        return;
      }
      if constexpr (kWide) {
        if (hidden <= int64_t{kReflectWideChunkWarps} * kChunk) {
          if (stepwise)
            launch_reflect_chunk<E, true, kReflectWideChunkWarps>(u, hidden, t, slots, row_group,
                                                                  mask, stream);
          else
            launch_reflect_chunk<E, false, kReflectWideChunkWarps>(u, hidden, t, slots, row_group,
                                                                   mask, stream);
          return;
        }
      }
    }
    if (stepwise)
      reflect_rows_kernel<E, true><<<static_cast<unsigned>(blocks), kReflectThreads, 0, stream>>>(
          sets[0], s1, count, rows, copies, hidden, t, slots, row_group, mask, scratch, per_block);
    else
      reflect_rows_kernel<E, false><<<static_cast<unsigned>(blocks), kReflectThreads, 0, stream>>>(
          sets[0], s1, count, rows, copies, hidden, t, slots, row_group, mask, scratch, per_block);
  });
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
