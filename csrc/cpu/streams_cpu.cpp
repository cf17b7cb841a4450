// streams_cpu.cpp — the CPU generators (SPEC.md sections 1-5, 8, 9.1, 9.2): murmur3, uniform and
// normal streams, slices of them, and unit vectors.
//
// Thin loops over csrc/core/pocrand_core.h: at::parallel_for over independent elements, 64-bit
// indices throughout, no arithmetic of their own. Threads only split the work; they never change
// an operation's order (the norms follow the fixed tree of core section 7).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "../core/pocrand_core.h"
#include "../op_checks.h"
#include "cpu_common.h"
#include "seeds.h"
#include "../write_into.h"

namespace pocrand {
namespace {

at::Tensor murmur3_rows_cpu(const at::Tensor& keys, const at::Tensor& seeds);

at::Tensor murmur3_cpu(const at::Tensor& keys, int64_t seed, const c10::optional<at::Tensor>& seeds) {
  const IeeeFpMode ieee;  // fp_mode.h
  if (seeds.has_value()) {
    TORCH_CHECK_VALUE(seed == 0, "give seed or seeds, not both");
    return murmur3_rows_cpu(keys, *seeds);
  }
  check_keys(keys, "keys");
  check_seed(seed, "seed");
  auto out = at::empty_like(keys);
  const int64_t* k = keys.data_ptr<int64_t>();
  int64_t* o = out.data_ptr<int64_t>();
  const auto s = static_cast<uint32_t>(seed);
  ieee_parallel_for(0, keys.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) o[i] = murmur3(static_cast<uint32_t>(k[i]), s);
  });
  return out;
}

at::Tensor murmur3_rows_cpu(const at::Tensor& keys, const at::Tensor& seeds) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_murmur3_rows_args(keys, seeds);
  auto out = at::empty_like(keys);
  const int64_t* k = keys.data_ptr<int64_t>();
  const int64_t* s = seeds.data_ptr<int64_t>();
  int64_t* o = out.data_ptr<int64_t>();
  const int64_t n = keys.size(1);
  ieee_parallel_for(0, keys.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      o[i] = murmur3(static_cast<uint32_t>(k[i]), static_cast<uint32_t>(s[i / n]));
  });
  return out;
}

at::Tensor uniform_cpu(const at::Tensor& seeds, int64_t n) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_count(n, "n");
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel();
  auto out = at::empty({B, n}, seeds.options().dtype(at::kFloat));
  float* o = out.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    ieee_parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) o[b * n + i] = uniform(static_cast<uint32_t>(i), s[b]);
    });
  }
  return out;
}

// normal(seed_b, n) for each seed into out's rows (out: contiguous, B * n elements).
void fill_normal(const std::vector<uint32_t>& s, int64_t n, const at::Tensor& out) {
  const auto B = static_cast<int64_t>(s.size());
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  with_store(out, [&](const auto& store) {
    ieee_parallel_for(0, B * p, kGrain / 2, [&](int64_t t0, int64_t t1) {
      // Task [t0, t1) of the flattened (row, pair) space, split at row boundaries.
      for (int64_t t = t0; t < t1;) {
        const int64_t b = t / p, j0 = t % p, j1 = std::min(p, j0 + (t1 - t));
        normal_pairs(s[b], n, j0, j1, b * n, store);
        t += j1 - j0;
      }
    });
  });
}

at::Tensor normal_cpu(const at::Tensor& seeds, int64_t n, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seed_rows_args(seeds, n, "n", dtype);
  auto out = at::empty({seeds.numel(), n}, seeds.options().dtype(dtype));
  fill_normal(seeds_to_u32(seeds), n, out);
  return out;
}

at::Tensor normal_range_cpu(const at::Tensor& seeds, int64_t n, int64_t start, int64_t end,
                            at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_slice_args(n, start, end, dtype);
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel(), m = end - start;
  auto out = at::empty({B, m}, seeds.options().dtype(dtype));
  with_store(out, [&](const auto& store) {
    for (int64_t b = 0; b < B; ++b) {
      ieee_parallel_for(0, m, kGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          store(b * m + i, normal_element(static_cast<uint32_t>(start + i),
                                          static_cast<uint32_t>(n), s[b]));
      });
    }
  });
  return out;
}

// Rows normal(seed_b, V) / divisor(sum of squares) (core sections 5, 7, 9.2), rounded to dtype.
template <typename Divisor>
at::Tensor unit_rows(const at::Tensor& seeds, int64_t V, at::ScalarType dtype, Divisor divisor) {
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel();
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(V)));
  auto out = at::empty({B, V}, seeds.options().dtype(dtype));
  std::vector<float> t(V), sq(V);
  float* tp = t.data();
  with_store(out, [&](const auto& store) {
    for (int64_t b = 0; b < B; ++b) {
      ieee_parallel_for(0, p, kGrain / 2, [&](int64_t j0, int64_t j1) {
        normal_pairs(s[b], V, j0, j1, 0, [tp](int64_t i, float v) { tp[i] = v; });
      });
      for (int64_t i = 0; i < V; ++i) sq[i] = square(tp[i]);
      const float d = divisor(fixed_order_sum(sq));
      ieee_parallel_for(0, V, kGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) store(b * V + i, canonicalize_nan(pr_div(tp[i], d)));
      });
    }
  });
  return out;
}

// The Phase-2 target: divided by the norm alone, so a zero vector gives the canonical NaN.
at::Tensor unit_normal_cpu(const at::Tensor& seeds, int64_t vocab_size, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seed_rows_args(seeds, vocab_size, "vocab_size", dtype);
  return unit_rows(seeds, vocab_size, dtype, [](float sum_sq) { return pr_sqrt(sum_sq); });
}

// PoC v2's unit vectors (9.2): divided by norm + TINY, never NaN.
at::Tensor unit_vectors_cpu(const at::Tensor& seeds, int64_t dim, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seed_rows_args(seeds, dim, "dim", dtype);
  return unit_rows(seeds, dim, dtype, [](float sum_sq) { return unit_vector_divisor(sum_sq); });
}

// concat_normal(words_b, n)[start, end) for each row b (9.1) into out's rows (contiguous).
// Whole rows are generated segment by segment with the vectorised pair blocks; slices element by
// element (random access).
void fill_concat_normal(const at::Tensor& words, int64_t n, int64_t start, int64_t end,
                        const at::Tensor& out) {
  const int64_t B = words.size(0), m = end - start;
  const int64_t* w = words.data_ptr<int64_t>();
  std::vector<uint32_t> seeds(B * 8);
  for (int64_t i = 0; i < B * 8; ++i) seeds[i] = static_cast<uint32_t>(w[i]);
  const auto n32 = static_cast<uint32_t>(n);
  const int64_t L = concat_segment_length(n32), S = concat_segment_count(n32);
  with_store(out, [&](const auto& store) {
    if (start == 0 && end == n) {
      const int64_t pairs = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(L)));
      ieee_parallel_for(0, B * S * pairs, kGrain / 2, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1;) {  // (row, segment, pair) space, split at segment ends
          const int64_t row = t / (S * pairs), j = (t / pairs) % S, q0 = t % pairs;
          const int64_t q1 = std::min(pairs, q0 + (t1 - t));
          const int64_t len = concat_segment_size(static_cast<uint32_t>(j), n32);
          const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(len)));
          if (q0 < p)
            normal_pairs(seeds[row * 8 + j], len, q0, std::min(q1, p), row * n + j * L, store);
          t += q1 - q0;
        }
      });
      return;
    }
    ieee_parallel_for(0, B * m, kGrain, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        store(t, concat_normal_element(static_cast<uint32_t>(start + t % m), n32,
                                       &seeds[(t / m) * 8]));
    });
  });
}

at::Tensor concat_normal_cpu(const at::Tensor& words, int64_t n, int64_t start, int64_t end,
                             at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_words(words);
  check_slice_args(n, start, end, dtype);
  auto out = at::empty({words.size(0), end - start}, words.options().dtype(dtype));
  fill_concat_normal(words, n, start, end, out);
  return out;
}

void concat_normal_nonces_into_cpu(c10::string_view prefix, at::IntArrayRef nonces,
                                   c10::string_view suffix, const at::Tensor& out);

void normal_nonces_into_cpu(c10::string_view prefix, at::IntArrayRef nonces,
                            c10::string_view suffix, const at::Tensor& out, bool concat) {
  const IeeeFpMode ieee;  // fp_mode.h
  if (concat) return concat_normal_nonces_into_cpu(prefix, nonces, suffix, out);
  const int64_t n = into_row_length(nonces, out);
  const auto seeds = derive_seeds(prefix, nonces, suffix, false);
  write_into(out, [&](const at::Tensor& o) { fill_normal(seeds_to_u32(seeds), n, o); });
}

void concat_normal_nonces_into_cpu(c10::string_view prefix, at::IntArrayRef nonces,
                                   c10::string_view suffix, const at::Tensor& out) {
  const IeeeFpMode ieee;  // fp_mode.h
  const int64_t n = into_row_length(nonces, out);
  const auto words = derive_seed_words(prefix, nonces, suffix, false);
  write_into(out, [&](const at::Tensor& o) { fill_concat_normal(words, n, 0, n, o); });
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("murmur3", &murmur3_cpu);
  m.impl("uniform", &uniform_cpu);
  m.impl("normal", &normal_cpu);
  m.impl("normal_range", &normal_range_cpu);
  m.impl("unit_normal", &unit_normal_cpu);
  m.impl("unit_vectors", &unit_vectors_cpu);
  m.impl("concat_normal", &concat_normal_cpu);
  m.impl("normal_nonces_into", &normal_nonces_into_cpu);
}

}  // namespace pocrand
