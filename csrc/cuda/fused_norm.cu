// fused_norm.cu — the fused residual add + RMSNorm with the PoC reflection folded in, on the GPU
// (SPEC.md 10.14). Two kernels, the same bits:
// - the one-pass chunk kernel (fused_norm_chunk.cuh) for fp16/bf16 rows of whole 16-byte vectors
//   at 16-byte aligned addresses, up to 16384 elements: each element read from memory and written
//   once (a reflected unit's read again from L1 or L2);
// - the generic kernel below for every other shape and for fp32.
// The generic kernel: one block per (row, copy) unit, walking units by a grid stride:
//   1. a unit whose row is masked on and whose slot lies in [0, slots) has both dots summed first
//      (x's and the residual's against the slot's vector, block_tree_sum: section 7's order);
//   2. each element: the two reflected (or plain) values as reflect_rows stores them, their sum
//      delivered in the storage type, written to residual;
//   3. after a barrier, the sum of squares of the stored residual (block_tree_sum again), the
//      inverse RMS, and x <- st(st(residual * inv) * weight).
// Every value is the core's function of the same operands as on the CPU (cpu/reflect.cpp), so
// the bits are the CPU's; the roundings to storage use the core's exact rounding, not the
// hardware conversion. Nothing of a unit is written before its dots are known (each sum ends with
// a barrier), and element i of x and residual is read before it is written by the same thread.
#include <algorithm>
#include <type_traits>

#include "device_common.cuh"
#include "fused_norm_chunk.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "reflect_rows_chunk.cuh"
#include "tree_sum.cuh"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kFusedThreads = 256;

template <typename E>
struct SquareTerms {
  const typename E::Bits* s;
  __device__ float operator()(int64_t i) const {
    const float si = E::widen(s[i]);
    return pr_mul(si, si);
  }
};

// The core's storage constant of an element type (its round_to_storage and 10.14's steps take it).
template <typename E>
constexpr int kStorageOf = std::is_same<E, F16>::value    ? kStorageFloat16
                           : std::is_same<E, BF16>::value ? kStorageBFloat16
                                                          : kStorageFloat32;

// A value as the storage type holds it, widened: NaN canonical, then section 6 (round_to_storage).
template <typename E>
__device__ __forceinline__ float stored(float v) { return round_to_storage(v, kStorageOf<E>); }

// The coefficient of a row's reflection from its dot (10.10): the core's, exact roundings.
template <typename E, bool Stepwise>
__device__ __forceinline__ float coefficient(float dot) {
  return Stepwise ? stepwise_coefficient(dot, kStorageOf<E>) : householder_coefficient(dot);
}

template <typename E, bool Stepwise>
__global__ void fused_kernel(typename E::Bits* x_all, typename E::Bits* res_all,
                             const typename E::Bits* weight, float eps, int64_t rows,
                             int64_t copies, int64_t hidden, const typename E::Bits* table,
                             int64_t slots, const int64_t* row_group, const bool* mask,
                             float* scratch, int64_t scratch_per_block) {
  using Bits = typename E::Bits;
  const int64_t units = rows * copies;
  float* my_scratch = scratch ? scratch + blockIdx.x * scratch_per_block : nullptr;
  const float h = static_cast<float>(hidden);  // exact: hidden <= 2^24
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const int64_t r = u / copies;
    Bits* x = x_all + u * hidden;
    Bits* res = res_all + u * hidden;
    const UnitSlot slot = row_slot(r, slots, row_group, mask);
    const bool reflect = slot.m && slot.g >= 0 && slot.g < slots;  // the same in every thread
    if (reflect) {
      const Bits* v = table + slot.g * hidden;
      using Terms = ReflectTerms<E, Stepwise>;
      const float cx = coefficient<E, Stepwise>(block_tree_sum(Terms{x, v}, hidden, my_scratch));
      const float cr = coefficient<E, Stepwise>(block_tree_sum(Terms{res, v}, hidden, my_scratch));
      for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
        const float vi = E::arith(v[i]);
        const float a = stored<E>(reflect_unrounded<E, Stepwise>(E::arith(x[i]), cx, vi));
        const float b = stored<E>(reflect_unrounded<E, Stepwise>(E::arith(res[i]), cr, vi));
        res[i] = E::encode(residual_sum(a, b, kStorageOf<E>));
      }
    } else {
      for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x)
        res[i] = E::encode(residual_sum(E::arith(x[i]), E::arith(res[i]), kStorageOf<E>));
    }
    __syncthreads();  // every residual element is written before the sum of squares reads it
    const float inv = rms_inverse(block_tree_sum(SquareTerms<E>{res}, hidden, my_scratch), h, eps);
    for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
      x[i] = E::encode(rms_output(E::widen(res[i]), inv, E::widen(weight[i]), kStorageOf<E>));
    }
    __syncthreads();  // the scratch is free for the next unit
  }
}

// The chunk kernel's widths: 8 warps (rows of up to 8192 elements) and 16 (up to 16384).
constexpr int kFusedChunkWarps = 8;
constexpr int kFusedWideChunkWarps = 16;

}  // namespace

bool fused_norm_one_pass(const void* x, const void* residual, const void* weight,
                         const void* table, int64_t hidden, FloatType type) {
  return type != FloatType::kFloat32 && hidden % 8 == 0 &&
         hidden <= int64_t{kFusedWideChunkWarps} * kChunk && aligned16(x) && aligned16(residual) &&
         aligned16(weight) && aligned16(table);
}

size_t fused_norm_scratch_floats(int64_t units, int64_t hidden, bool one_pass) {
  if (one_pass || hidden <= kChunk) return 0;  // one chunk: block_tree_sum needs no scratch
  return static_cast<size_t>(unit_blocks(units) * block_tree_scratch(hidden));
}

cudaError_t launch_fused_add_rms_norm_reflect(void* x, void* residual, const void* weight, float eps,
                                              int64_t rows, int64_t copies, int64_t hidden,
                                              const void* table, int64_t slots,
                                              const int64_t* row_group, const bool* mask,
                                              bool stepwise, FloatType type, float* scratch,
                                              cudaStream_t stream) {
  const int64_t units = rows * copies;
  if (units == 0 || hidden == 0) return cudaSuccess;
  const bool one_pass = fused_norm_one_pass(x, residual, weight, table, hidden, type);
  const auto blocks = static_cast<unsigned>(unit_blocks(units));
  const int64_t per_block = hidden <= kChunk ? 0 : block_tree_scratch(hidden);
  with_element_type(type, [&](auto e) {
    using E = decltype(e);
    using Bits = typename E::Bits;
    auto* xp = static_cast<Bits*>(x);
    auto* rp = static_cast<Bits*>(residual);
    const auto* wp = static_cast<const Bits*>(weight);
    const auto* tp = static_cast<const Bits*>(table);
    if constexpr (sizeof(Bits) == 2) {
      if (one_pass) {
        const bool wide = hidden > int64_t{kFusedChunkWarps} * kChunk;
        if (stepwise && !wide)
          launch_fused_norm_chunk<E, true, kFusedChunkWarps>(xp, rp, wp, eps, units, copies, hidden,
                                                             tp, slots, row_group, mask, stream);
        else if (stepwise)
          launch_fused_norm_chunk<E, true, kFusedWideChunkWarps>(xp, rp, wp, eps, units, copies,
                                                                 hidden, tp, slots, row_group, mask,
                                                                 stream);
        else if (!wide)
          launch_fused_norm_chunk<E, false, kFusedChunkWarps>(xp, rp, wp, eps, units, copies, hidden,
                                                              tp, slots, row_group, mask, stream);
        else
          launch_fused_norm_chunk<E, false, kFusedWideChunkWarps>(xp, rp, wp, eps, units, copies,
                                                                  hidden, tp, slots, row_group, mask,
                                                                  stream);
        return;
      }
    }
    if (stepwise)
      fused_kernel<E, true><<<blocks, kFusedThreads, 0, stream>>>(
          xp, rp, wp, eps, rows, copies, hidden, tp, slots, row_group, mask, scratch, per_block);
    else
      fused_kernel<E, false><<<blocks, kFusedThreads, 0, stream>>>(
          xp, rp, wp, eps, rows, copies, hidden, tp, slots, row_group, mask, scratch, per_block);
  });
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
