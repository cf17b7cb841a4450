// overrides.cu — the masked forward-pass overrides on the GPU (SPEC.md 10.11 embed_synth, 10.12
// router_override): thin kernels over core section 10, the twins of cpu/overrides.cpp. One
// launch per call; rows along grid y (a y-stride beyond 65535), and within a row one thread per
// Box-Muller pair (embed_synth: elements j and p + j, whatever the row's kind, so a decode row is
// step_normal's kernel) or per expert (router_override). Each thread reads its row's mask entry
// (and previous index) on the device: rows of every kind share the launch, no host decision.
#include <algorithm>
#include <type_traits>

#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "launch_util.cuh"
#include "overrides.h"

namespace pocrand {
namespace cuda {
namespace {

// A prefill element (10.11): its bits when embeds has the output's type, else widened exactly and
// delivered by section 6.
template <typename Out, typename In>
__device__ __forceinline__ typename Out::Bits convert(typename In::Bits v) {
  if constexpr (std::is_same_v<Out, In>) return v;
  else return Out::encode(In::widen(v));
}

template <typename Out, typename In>
__global__ void embed_synth_kernel(const typename Out::Bits* x, typename Out::Bits* out, int64_t rows,
                                   int64_t hidden, const int64_t* base, const int64_t* step,
                                   const int64_t* prev, const typename In::Bits* embeds,
                                   const bool* mask, uint32_t salt) {
  const auto p = static_cast<uint32_t>(normal_pair_count(static_cast<uint64_t>(hidden)));
  const auto n32 = static_cast<uint32_t>(hidden);
  const uint32_t stride = gridDim.x * blockDim.x;
  const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const int64_t at = r * hidden;
    const int64_t pr = prev[r];
    const int kind = embed_synth_kind(mask[r], pr);
    if (kind == kSynthDecode) {
      const uint32_t seed = step_seed(static_cast<uint32_t>(base[r]), static_cast<uint32_t>(pr),
                                      static_cast<uint32_t>(step[r]), salt);
      for (uint32_t j = first; j < p; j += stride) {
        const NormalPair v = normal_pair(j, p, seed);
        out[at + j] = Out::encode(v.first);
        if (p + j < n32) out[at + p + j] = Out::encode(v.second);
      }
    } else if (kind == kSynthPrefill) {
      for (uint32_t j = first; j < p; j += stride) {
        out[at + j] = convert<Out, In>(embeds[at + j]);
        if (p + j < n32) out[at + p + j] = convert<Out, In>(embeds[at + p + j]);
      }
    } else if (out != x) {  // kept bit for bit
      for (uint32_t j = first; j < p; j += stride) {
        out[at + j] = x[at + j];
        if (p + j < n32) out[at + p + j] = x[at + p + j];
      }
    }
  }
}

template <typename E>
__global__ void router_override_kernel(const typename E::Bits* x, typename E::Bits* out, int64_t rows,
                                       int64_t E_count, const int64_t* seeds, const int64_t* step,
                                       const bool* mask, uint32_t top_k, int32_t ladder_base,
                                       uint32_t per_lane) {
  const auto e32 = static_cast<uint32_t>(E_count);
  for (int64_t r = short_row_first(); r < rows; r += short_row_stride()) {
    const int64_t at = r * E_count;
    if (mask[r]) {
      const uint32_t start = route_start(
          route_seed(static_cast<uint32_t>(step[r]), static_cast<uint32_t>(seeds[r])), e32);
      short_row_cols(e32, per_lane, [&](uint32_t e) {
        out[at + e] = E::encode(forced_logit(e, start, e32, top_k, ladder_base));
      });
    } else if (out != x) {  // kept bit for bit
      short_row_cols(e32, per_lane, [&](uint32_t e) { out[at + e] = x[at + e]; });
    }
  }
}

}  // namespace

cudaError_t launch_embed_synth(const void* x, void* out, FloatType out_type, int64_t rows,
                               int64_t hidden, const int64_t* base, const int64_t* step,
                               const int64_t* prev, const void* embeds, FloatType embeds_type,
                               const bool* mask, uint32_t salt, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(hidden)));
  with_element_type(out_type, [&](auto o) {
    with_element_type(embeds_type, [&](auto e) {
      using Out = decltype(o);
      using In = decltype(e);
      embed_synth_kernel<Out, In><<<grid_for(p, rows), kThreads, 0, stream>>>(
          static_cast<const typename Out::Bits*>(x), static_cast<typename Out::Bits*>(out), rows,
          hidden, base, step, prev, static_cast<const typename In::Bits*>(embeds), mask, salt);
    });
  });
  return cudaGetLastError();
}

cudaError_t launch_router_override(const void* logits, void* out, FloatType type, int64_t rows,
                                   int64_t n_experts, const int64_t* route_seeds,
                                   const int64_t* step, const bool* mask, int64_t top_k,
                                   int64_t ladder_base, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  with_element_type(type, [&](auto e) {
    using E = decltype(e);
    const ShortRowGrid g = short_row_grid(n_experts, rows);
    router_override_kernel<E><<<g.grid, g.block, 0, stream>>>(
        static_cast<const typename E::Bits*>(logits), static_cast<typename E::Bits*>(out), rows,
        n_experts, route_seeds, step, mask, static_cast<uint32_t>(top_k),
        static_cast<int32_t>(ladder_base), g.per_lane);
  });
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
