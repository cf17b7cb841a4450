// overrides_cpu.cpp — the masked forward-pass overrides on the CPU: embed_synth (SPEC.md 10.11)
// and router_override (10.12). Thin loops over core section 10; the CUDA twins are in
// cuda/overrides.cu. Every row is decided by its own mask entry (and, for embed_synth, the sign of
// its previous index); a row that is not overridden keeps x's bits (copied when out is not x).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "../core/pocrand_core.h"
#include "../overrides_checks.h"
#include "cpu_common.h"

namespace pocrand {
namespace {

// A prefill element (10.11): its bits when embeds has the output's type, else widened exactly and
// delivered by section 6.
template <typename Out, typename In>
typename Out::Bits convert(typename In::Bits v) {
  if constexpr (std::is_same_v<Out, In>) return v;
  else return Out::encode(In::widen(v));
}

// x and out [n, hidden] of storage Out (out may be x); embeds [>= n, hidden] of storage In. The
// work is the (row, Box-Muller pair) space, as step_normal's: pair j of a row covers elements j
// and p + j (the latter while p + j < hidden), whatever the row's kind.
template <typename Out, typename In>
void embed_synth_rows(const typename Out::Bits* x, typename Out::Bits* out, int64_t n, int64_t hidden,
                      const int64_t* base, const int64_t* step, const int64_t* prev,
                      const typename In::Bits* embeds, const bool* mask, uint32_t salt) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(hidden)));
  const auto store = [out](int64_t i, float v) { out[i] = Out::encode(v); };
  ieee_parallel_for(0, n * p, kGrain / 2, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1;) {  // task [t0, t1) of the (row, pair) space, split at rows
      const int64_t r = t / p, j0 = t % p, j1 = std::min(p, j0 + (t1 - t));
      const int64_t at = r * hidden;
      const int64_t seconds_end = std::min(p + j1, hidden);  // elements p + j0 .. of this segment
      switch (embed_synth_kind(mask[r], prev[r])) {
        case kSynthDecode:
          normal_pairs(step_seed(static_cast<uint32_t>(base[r]), static_cast<uint32_t>(prev[r]),
                                 static_cast<uint32_t>(step[r]), salt),
                       hidden, j0, j1, at, store);
          break;
        case kSynthPrefill:
          for (int64_t i = j0; i < j1; ++i) out[at + i] = convert<Out, In>(embeds[at + i]);
          for (int64_t i = p + j0; i < seconds_end; ++i) out[at + i] = convert<Out, In>(embeds[at + i]);
          break;
        default:  // kept bit for bit
          if (out != x) {
            std::memcpy(out + at + j0, x + at + j0, sizeof(typename Out::Bits) * (j1 - j0));
            if (seconds_end > p + j0)
              std::memcpy(out + at + p + j0, x + at + p + j0,
                          sizeof(typename Out::Bits) * (seconds_end - p - j0));
          }
      }
      t += j1 - j0;
    }
  });
}

void embed_synth_into(const at::Tensor& x, const at::Tensor& out, const at::Tensor& base_seeds,
                      const at::Tensor& step, const at::Tensor& prev_k, const at::Tensor& embeds,
                      const at::Tensor& mask, int64_t salt) {
  if (x.numel() == 0) return;
  with_storage(x.scalar_type(), [&](auto o) {
    with_storage(embeds.scalar_type(), [&](auto e) {
      using Out = decltype(o);
      using In = decltype(e);
      embed_synth_rows<Out, In>(static_cast<const typename Out::Bits*>(x.data_ptr()),
                                static_cast<typename Out::Bits*>(out.data_ptr()), x.size(0), x.size(1),
                                base_seeds.data_ptr<int64_t>(), step.data_ptr<int64_t>(),
                                prev_k.data_ptr<int64_t>(),
                                static_cast<const typename In::Bits*>(embeds.data_ptr()),
                                mask.data_ptr<bool>(), static_cast<uint32_t>(salt));
    });
  });
}

at::Tensor embed_synth_cpu(const at::Tensor& x, const at::Tensor& base_seeds, const at::Tensor& step,
                           const at::Tensor& prev_k, const at::Tensor& embeds, const at::Tensor& mask,
                           int64_t salt) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_embed_synth_args(x, base_seeds, step, prev_k, embeds, mask, salt);
  auto out = at::empty_like(x);
  embed_synth_into(x, out, base_seeds, step, prev_k, embeds, mask, salt);
  return out;
}

void embed_synth_inplace_cpu(const at::Tensor& x, const at::Tensor& base_seeds, const at::Tensor& step,
                             const at::Tensor& prev_k, const at::Tensor& embeds, const at::Tensor& mask,
                             int64_t salt) {
  const IeeeFpMode ieee;
  check_embed_synth_inplace_args(x, base_seeds, step, prev_k, embeds, mask, salt);
  embed_synth_into(x, x, base_seeds, step, prev_k, embeds, mask, salt);
}

// logits and out [n, E] of storage S (out may be logits): a masked row becomes row r's forced
// logits (10.4 with route seed 10.12), any other row keeps its bits.
void router_override_into(const at::Tensor& logits, const at::Tensor& out, const at::Tensor& route_seeds,
                          const at::Tensor& step, const at::Tensor& mask, int64_t top_k,
                          int64_t ladder_base) {
  if (logits.numel() == 0) return;
  const int64_t n = logits.size(0), E = logits.size(1);
  const int64_t* seeds = route_seeds.data_ptr<int64_t>();
  const int64_t* steps = step.data_ptr<int64_t>();
  const bool* m = mask.data_ptr<bool>();
  const auto e32 = static_cast<uint32_t>(E), k32 = static_cast<uint32_t>(top_k);
  const auto lad = static_cast<int32_t>(ladder_base);
  with_storage(logits.scalar_type(), [&](auto s) {
    using S = decltype(s);
    using Bits = typename S::Bits;
    const auto* x = static_cast<const Bits*>(logits.data_ptr());
    auto* o = static_cast<Bits*>(out.data_ptr());
    ieee_parallel_for(0, n, std::max<int64_t>(1, kGrain / E), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        if (!m[r]) {  // kept bit for bit
          if (o != x) std::memcpy(o + r * E, x + r * E, sizeof(Bits) * E);
          continue;
        }
        const uint32_t start = route_start(
            route_seed(static_cast<uint32_t>(steps[r]), static_cast<uint32_t>(seeds[r])), e32);
        for (int64_t e = 0; e < E; ++e)
          o[r * E + e] = S::encode(forced_logit(static_cast<uint32_t>(e), start, e32, k32, lad));
      }
    });
  });
}

at::Tensor router_override_cpu(const at::Tensor& logits, const at::Tensor& route_seeds,
                               const at::Tensor& step, const at::Tensor& mask, int64_t n_experts,
                               int64_t top_k, int64_t ladder_base) {
  const IeeeFpMode ieee;
  check_router_override_args(logits, route_seeds, step, mask, n_experts, top_k, ladder_base);
  auto out = at::empty_like(logits);
  router_override_into(logits, out, route_seeds, step, mask, top_k, ladder_base);
  return out;
}

void router_override_inplace_cpu(const at::Tensor& logits, const at::Tensor& route_seeds,
                                 const at::Tensor& step, const at::Tensor& mask, int64_t n_experts,
                                 int64_t top_k, int64_t ladder_base) {
  const IeeeFpMode ieee;
  check_router_override_inplace_args(logits, route_seeds, step, mask, n_experts, top_k, ladder_base);
  router_override_into(logits, logits, route_seeds, step, mask, top_k, ladder_base);
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("embed_synth", &embed_synth_cpu);
  m.impl("embed_synth_", &embed_synth_inplace_cpu);
  m.impl("router_override", &router_override_cpu);
  m.impl("router_override_", &router_override_inplace_cpu);
}

}  // namespace pocrand
