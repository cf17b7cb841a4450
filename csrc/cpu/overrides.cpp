// overrides.cpp — embed_synth and router_override on the CPU (overrides.h): thin loops over core
// section 10.
#include "overrides.h"

#include <string.h>

#include <algorithm>
#include <type_traits>

#include "../core/pocrand_core.h"
#include "box_muller.h"
#include "fp_env.h"
#include "parallel.h"

namespace pocrand {
namespace cpu {
namespace {

// A prefill element (10.11): its bits when embeds has the output's type, else widened exactly and
// delivered by section 6.
template <typename Out, typename In>
typename Out::Bits convert(typename In::Bits v) {
  if constexpr (std::is_same_v<Out, In>) return v;
  else return Out::encode(In::widen(v));
}

// The work is the (row, Box-Muller pair) space, as step_normal's: pair j of a row covers elements
// j and p + j (the latter while p + j < hidden), whatever the row's kind.
template <typename Out, typename In>
void embed_synth_rows(const typename Out::Bits* x, typename Out::Bits* out, int64_t n, int64_t hidden,
                      const int64_t* base, const int64_t* step, const int64_t* prev,
                      const typename In::Bits* embeds, const bool* mask, uint32_t salt) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(hidden)));
  const auto store = [out](int64_t i, float v) { out[i] = Out::encode(v); };
  parallel_for(0, n * p, kGrain / 2, [&](int64_t t0, int64_t t1) {
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
            memcpy(out + at + j0, x + at + j0, sizeof(typename Out::Bits) * (j1 - j0));
            if (seconds_end > p + j0)
              memcpy(out + at + p + j0, x + at + p + j0,
                     sizeof(typename Out::Bits) * (seconds_end - p - j0));
          }
      }
      t += j1 - j0;
    }
  });
}

}  // namespace

void embed_synth(Dtype type, const void* x, void* out, int64_t n, int64_t hidden,
                 const int64_t* base_seeds, const int64_t* step, const int64_t* prev_k,
                 Dtype embeds_type, const void* embeds, const bool* mask, uint32_t salt) {
  const IeeeFpMode ieee;  // fp_env.h: the serial parts in the IEEE mode too
  if (n == 0 || hidden == 0) return;
  with_storage(type, [&](auto o) {
    with_storage(embeds_type, [&](auto e) {
      using Out = decltype(o);
      using In = decltype(e);
      embed_synth_rows<Out, In>(static_cast<const typename Out::Bits*>(x),
                                static_cast<typename Out::Bits*>(out), n, hidden, base_seeds, step,
                                prev_k, static_cast<const typename In::Bits*>(embeds), mask, salt);
    });
  });
}

void router_override(Dtype type, const void* logits, void* out, int64_t n, int64_t n_experts,
                     const int64_t* route_seeds, const int64_t* step, const bool* mask,
                     int64_t top_k, int64_t ladder_base) {
  const IeeeFpMode ieee;
  if (n == 0 || n_experts == 0) return;
  const int64_t E = n_experts;
  const auto e32 = static_cast<uint32_t>(E), k32 = static_cast<uint32_t>(top_k);
  const auto lad = static_cast<int32_t>(ladder_base);
  with_storage(type, [&](auto s) {
    using S = decltype(s);
    using Bits = typename S::Bits;
    const auto* x = static_cast<const Bits*>(logits);
    auto* o = static_cast<Bits*>(out);
    parallel_for(0, n, std::max<int64_t>(1, kGrain / E), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        if (!mask[r]) {  // kept bit for bit
          if (o != x) memcpy(o + r * E, x + r * E, sizeof(Bits) * E);
          continue;
        }
        const uint32_t start = route_start(
            route_seed(static_cast<uint32_t>(step[r]), static_cast<uint32_t>(route_seeds[r])), e32);
        for (int64_t e = 0; e < E; ++e)
          o[r * E + e] = S::encode(forced_logit(static_cast<uint32_t>(e), start, e32, k32, lad));
      }
    });
  });
}

}  // namespace cpu
}  // namespace pocrand
