// kernels_cpu.cpp — the reference CPU implementation of the pocrand ops.
//
// Thin loops over csrc/core/pocrand_core.h: ieee_parallel_for over independent elements, 64-bit
// indices throughout, no arithmetic of its own. Threads only split the work; they never change
// an operation's order (the reductions follow the fixed tree of core section 7). Every op and
// every task computes in the IEEE floating-point mode whatever mode the process is in
// (fp_mode.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "../core/pocrand_core.h"
#include "../op_checks.h"
#include "fp_mode.h"

namespace pocrand {
namespace {

constexpr int64_t kGrain = 4096;  // elements per task: large enough to hide scheduling
constexpr int kPairBlock = 256;   // Box-Muller pairs computed per vectorised block

// The hot loops are compiled twice, for AVX2 and for the baseline ISA, and the loader picks one.
// Vectorising changes nothing in the results: each lane does the same IEEE binary32 operations
// (no FMA: -ffp-contract=off; AVX2 does not imply FMA).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define POCRAND_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define POCRAND_CPU_CLONES
#endif

std::vector<uint32_t> seeds_to_u32(const at::Tensor& seeds) {
  const int64_t* s = seeds.data_ptr<int64_t>();
  std::vector<uint32_t> out(seeds.numel());
  for (size_t b = 0; b < out.size(); ++b) out[b] = static_cast<uint32_t>(s[b]);  // low 32 bits
  return out;
}

// Writes float32 results into an output of dtype float32 / float16 / bfloat16 (core section 6).
template <typename Fn>
void with_store(const at::Tensor& out, Fn&& fn) {
  switch (out.scalar_type()) {
    case at::kFloat: {
      float* p = out.data_ptr<float>();
      fn([p](int64_t i, float v) { p[i] = v; });
      break;
    }
    case at::kHalf: {
      auto* p = reinterpret_cast<uint16_t*>(out.data_ptr());
      fn([p](int64_t i, float v) { p[i] = float_to_half_bits(v); });
      break;
    }
    case at::kBFloat16: {
      auto* p = reinterpret_cast<uint16_t*>(out.data_ptr());
      fn([p](int64_t i, float v) { p[i] = float_to_bf16_bits(v); });
      break;
    }
    default:
      TORCH_CHECK(false, "unsupported output dtype " + dtype_name(out.scalar_type()));
  }
}

// Float32 view of a float32/float16/bfloat16 tensor's elements [begin, end), widened exactly.
void widen_to_float(const at::Tensor& t, int64_t begin, int64_t end, float* dst) {
  switch (t.scalar_type()) {
    case at::kFloat:
      std::copy(t.data_ptr<float>() + begin, t.data_ptr<float>() + end, dst);
      break;
    case at::kHalf: {
      auto* p = reinterpret_cast<const uint16_t*>(t.data_ptr());
      for (int64_t i = begin; i < end; ++i) dst[i - begin] = half_bits_to_float(p[i]);
      break;
    }
    case at::kBFloat16: {
      auto* p = reinterpret_cast<const uint16_t*>(t.data_ptr());
      for (int64_t i = begin; i < end; ++i) dst[i - begin] = bf16_bits_to_float(p[i]);
      break;
    }
    default:
      TORCH_CHECK(false, "unsupported dtype " + dtype_name(t.scalar_type()));
  }
}

// sum() of core section 7; consumes `v` (n >= 1).
float fixed_order_sum(std::vector<float> v) {
  do {
    const int64_t n = static_cast<int64_t>(v.size());
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    std::vector<float> sums(chunks);
    ieee_parallel_for(0, chunks, 16, [&](int64_t c0, int64_t c1) {
      float buf[kChunk];
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t lo = c * kChunk, hi = std::min(n, lo + kChunk);
        std::fill(std::copy(v.begin() + lo, v.begin() + hi, buf), buf + kChunk, 0.0f);
        sums[c] = chunk_tree_sum(buf);
      }
    });
    v.swap(sums);
  } while (v.size() > 1);
  return v[0];
}

float fixed_order_norm(const float* x, int64_t n) {
  std::vector<float> sq(n);
  for (int64_t i = 0; i < n; ++i) sq[i] = square(x[i]);
  return pr_sqrt(fixed_order_sum(std::move(sq)));
}

// Box-Muller pairs j0 .. j0 + count - 1 (count <= kPairBlock) of a row with p pairs: the stages
// of core section 5 as separate simple loops, each of which the compiler vectorises.
POCRAND_CPU_CLONES
void normal_pair_block(uint32_t seed, uint32_t p, uint32_t j0, int count, float* __restrict first,
                       float* __restrict second) {
  float r[kPairBlock], theta[kPairBlock], s[kPairBlock], c[kPairBlock];
  for (int k = 0; k < count; ++k) r[k] = box_muller_radius(uniform(j0 + static_cast<uint32_t>(k), seed));
  for (int k = 0; k < count; ++k)
    theta[k] = box_muller_angle(uniform(p + j0 + static_cast<uint32_t>(k), seed));
  for (int k = 0; k < count; ++k) sincos_reduced(theta[k], &s[k], &c[k]);
  for (int k = 0; k < count; ++k) {
    first[k] = pr_mul(r[k], c[k]);
    second[k] = pr_mul(r[k], s[k]);
  }
}

// Box-Muller pairs [j0, j1) of normal(seed, n), written through store at base + index.
template <typename Store>
void normal_pairs(uint32_t seed, int64_t n, int64_t j0, int64_t j1, int64_t base, const Store& store) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  float first[kPairBlock], second[kPairBlock];
  for (int64_t jb = j0; jb < j1; jb += kPairBlock) {
    const int count = static_cast<int>(std::min<int64_t>(kPairBlock, j1 - jb));
    normal_pair_block(seed, static_cast<uint32_t>(p), static_cast<uint32_t>(jb), count, first, second);
    // out[j] for every pair, out[p + j] only while p + j < n (an odd n drops the last one).
    const int seconds = static_cast<int>(std::min<int64_t>(count, n - p - jb));
    for (int k = 0; k < count; ++k) store(base + jb + k, first[k]);
    for (int k = 0; k < seconds; ++k) store(base + p + jb + k, second[k]);
  }
}

at::Tensor murmur3_cpu(const at::Tensor& keys, int64_t seed) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_keys(keys, "keys");
  auto out = at::empty_like(keys);
  const int64_t* k = keys.data_ptr<int64_t>();
  int64_t* o = out.data_ptr<int64_t>();
  const auto s = static_cast<uint32_t>(seed);
  ieee_parallel_for(0, keys.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) o[i] = murmur3(static_cast<uint32_t>(k[i]), s);
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

at::Tensor normal_cpu(const at::Tensor& seeds, int64_t n, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_count(n, "n");
  check_float_dtype(dtype, "dtype");
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel();
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  auto out = at::empty({B, n}, seeds.options().dtype(dtype));
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
  return out;
}

at::Tensor normal_range_cpu(const at::Tensor& seeds, int64_t n, int64_t start, int64_t end,
                            at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_count(n, "n");
  check_range(n, start, end);
  check_float_dtype(dtype, "dtype");
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

at::Tensor permutations_cpu(const at::Tensor& seeds, int64_t vocab_size) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_count(vocab_size, "vocab_size");
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel(), V = vocab_size;
  auto out = at::empty({B, V}, seeds.options().dtype(at::kLong));
  int64_t* o = out.data_ptr<int64_t>();
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<uint64_t> keyed(V);
    for (int64_t b = b0; b < b1; ++b) {
      // (hash << 32 | index): hash is a bijection, so ordering by the pair is ordering by hash.
      for (int64_t i = 0; i < V; ++i)
        keyed[i] = (static_cast<uint64_t>(murmur3(static_cast<uint32_t>(i), s[b])) << 32) |
                   static_cast<uint64_t>(i);
      std::sort(keyed.begin(), keyed.end());
      for (int64_t i = 0; i < V; ++i) o[b * V + i] = static_cast<int64_t>(keyed[i] & 0xffffffffu);
    }
  });
  return out;
}

at::Tensor unit_normal_cpu(const at::Tensor& seeds, int64_t vocab_size, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_count(vocab_size, "vocab_size");
  check_float_dtype(dtype, "dtype");
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel(), V = vocab_size;
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(V)));
  auto out = at::empty({B, V}, seeds.options().dtype(dtype));
  std::vector<float> t(V);
  float* tp = t.data();
  with_store(out, [&](const auto& store) {
    for (int64_t b = 0; b < B; ++b) {
      ieee_parallel_for(0, p, kGrain / 2, [&](int64_t j0, int64_t j1) {
        normal_pairs(s[b], V, j0, j1, 0, [tp](int64_t i, float v) { tp[i] = v; });
      });
      const float nrm = fixed_order_norm(tp, V);
      ieee_parallel_for(0, V, kGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) store(b * V + i, canonicalize_nan(pr_div(tp[i], nrm)));
      });
    }
  });
  return out;
}

at::Tensor distances_cpu(const at::Tensor& logits, const at::Tensor& permutations,
                         const at::Tensor& target, bool check) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_distance_args(logits, permutations, target);
  const int64_t B = logits.size(0), V = logits.size(1);
  std::vector<float> tgt(V);
  widen_to_float(target, 0, V, tgt.data());
  auto out = at::empty({B}, logits.options().dtype(at::kFloat));
  float* o = out.data_ptr<float>();
  const int64_t* perm = permutations.data_ptr<int64_t>();
  // Range check first, without throwing inside the parallel region: the first bad flat index.
  std::vector<int64_t> first_bad(B, -1);
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t i = 0; i < V && first_bad[b] < 0; ++i)
        if (perm[b * V + i] < 0 || perm[b * V + i] >= V) first_bad[b] = b * V + i;
  });
  for (int64_t b = 0; check && b < B; ++b)
    if (first_bad[b] >= 0)
      TORCH_CHECK(false, out_of_range_message(first_bad[b], perm[first_bad[b]], V));
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> x(V), d(V);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t* pr = perm + b * V;
      if (first_bad[b] >= 0) {  // only reached with check = false: the row has no distance
        o[b] = pr_from_bits(kCanonicalNaN);
        continue;
      }
      widen_to_float(logits, b * V, (b + 1) * V, x.data());
      const float nx = fixed_order_norm(x.data(), V);
      if (!(nx > 0.0f && nx <= 0x1.fffffep127f)) {  // zero, Inf or NaN: no valid direction
        o[b] = pr_from_bits(kCanonicalNaN);
        continue;
      }
      for (int64_t i = 0; i < V; ++i) d[i] = pr_sub(pr_div(x[pr[i]], nx), tgt[i]);
      o[b] = canonicalize_nan(fixed_order_norm(d.data(), V));
    }
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> core_stages_cpu(const at::Tensor& hashes) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_keys(hashes, "hashes");
  auto u = at::empty(hashes.sizes(), hashes.options().dtype(at::kFloat));
  auto r = at::empty_like(u), c = at::empty_like(u), s = at::empty_like(u);
  const int64_t* h = hashes.data_ptr<int64_t>();
  float *up = u.data_ptr<float>(), *rp = r.data_ptr<float>(), *cp = c.data_ptr<float>(),
        *sp = s.data_ptr<float>();
  ieee_parallel_for(0, hashes.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      up[i] = uniform_from_hash(static_cast<uint32_t>(h[i]));
      rp[i] = box_muller_radius(up[i]);
      sincos_reduced(box_muller_angle(up[i]), &sp[i], &cp[i]);
    }
  });
  return {u, r, c, s};
}

at::Tensor core_log_cpu(const at::Tensor& x) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_float32(x, "x");
  auto out = at::empty_like(x);
  const float* xp = x.data_ptr<float>();
  float* o = out.data_ptr<float>();
  ieee_parallel_for(0, x.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) o[i] = log_positive(xp[i]);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> core_sincos_cpu(const at::Tensor& theta) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_float32(theta, "theta");
  auto s = at::empty_like(theta), c = at::empty_like(theta);
  const float* t = theta.data_ptr<float>();
  float *sp = s.data_ptr<float>(), *cp = c.data_ptr<float>();
  ieee_parallel_for(0, theta.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) sincos_reduced(t[i], &sp[i], &cp[i]);
  });
  return {s, c};
}

at::Tensor core_round_cpu(const at::Tensor& x, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_float32(x, "x");
  check_float_dtype(dtype, "dtype");
  auto out = at::empty(x.sizes(), x.options().dtype(dtype));
  const float* xp = x.data_ptr<float>();
  with_store(out, [&](const auto& store) {
    ieee_parallel_for(0, x.numel(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) store(i, xp[i]);
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("core_stages", &core_stages_cpu);
  m.impl("core_log", &core_log_cpu);
  m.impl("core_sincos", &core_sincos_cpu);
  m.impl("core_round", &core_round_cpu);
  m.impl("murmur3", &murmur3_cpu);
  m.impl("uniform", &uniform_cpu);
  m.impl("normal", &normal_cpu);
  m.impl("normal_range", &normal_range_cpu);
  m.impl("permutations", &permutations_cpu);
  m.impl("unit_normal", &unit_normal_cpu);
  m.impl("distances", &distances_cpu);
}

}  // namespace pocrand
