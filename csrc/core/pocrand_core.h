// pocrand_core.h — the whole arithmetic of pocrand-v1, in one place.
//
// Every scalar step that decides an output bit lives here as a small inline function that the CPU
// kernels (plain C++) and the CUDA kernels (device code) both call: murmur3, the uniform map, log,
// sincos, Box-Muller, fp16/bf16 rounding, the fixed reduction tree (sections 0-7) and the scalar
// steps of the PoC v2 pipeline (section 9: concat segments, unit-vector divisor, Householder) and of
// gonka-poc (section 10: step seeds, hash modulo, forced logits). SPEC.md describes these
// functions in the same order; a change here is a change of the spec and of the known answers.
//
// Rules that keep CPU and GPU bit-identical:
//   * floating point is IEEE-754 binary32, round-to-nearest-even, through add/sub/mul/div/sqrt only
//     (pr_add ... pr_sqrt). On the device these are the _rn intrinsics, which are never contracted
//     into FMA; they do NOT escape nvcc's fast-math mode: with it (or with flush-to-zero on) nvcc
//     emits their .ftz forms, which flush subnormal inputs and results to zero. So the device code
//     must be compiled with --ftz=false and never in fast-math mode (setup.py and CMakeLists.txt
//     pass --ftz=false -fmad=false --prec-div=true --prec-sqrt=true; tests/test_fp_flags.py
//     checks them, and known answers with subnormal products fail a flushing build). On the
//     host the file must be compiled with -ffp-contract=off (setup.py and CMakeLists.txt do) and
//     never with fast-math options;
//   * no libm: log, sin and cos are written out below;
//   * integer/bit operations and conversions that are exact (or, for uint32 -> float, correctly
//     rounded by IEEE rule).
// Guarantees: no function here returns NaN or Inf for the inputs the kernels give it; u may be
// exactly 0.0 or exactly 1.0; normal deviates are finite with |x| < 6.8.
//
// The file has no torch include and no dependency beyond <stdint.h>/<string.h>.
#pragma once

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

// Every function is forced inline: the CPU loops only vectorise when the whole computation is
// visible in the loop body (a call to an out-of-line sincos would keep them scalar).
#if defined(__CUDACC__)
#define POCRAND_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define POCRAND_HD inline __attribute__((always_inline))
#else
#define POCRAND_HD inline
#endif

namespace pocrand {

// ---------------------------------------------------------------------------------------------
// 0. binary32 primitives. One definition each, so that no expression can be contracted or
//    reassociated behind our back.
// ---------------------------------------------------------------------------------------------
POCRAND_HD float pr_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
POCRAND_HD float pr_sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
POCRAND_HD float pr_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
POCRAND_HD float pr_div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
POCRAND_HD float pr_sqrt(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return __builtin_sqrtf(a);  // IEEE correctly rounded (sqrtss); not a libm approximation
#endif
}
POCRAND_HD uint32_t pr_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
#endif
}
POCRAND_HD float pr_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
#endif
}
// uint32 -> binary32, round-to-nearest-even (the only inexact conversion in the file).
POCRAND_HD float pr_u32_to_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint2float_rn(u);
#else
  return static_cast<float>(u);
#endif
}
// c ? a : b. On the host written as a bit blend: compilers turn some ternaries into branches,
// which stops the CPU loops from vectorising.
POCRAND_HD uint32_t pr_select_u32(bool c, uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return c ? a : b;
#else
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return (a & mask) | (b & ~mask);
#endif
}
POCRAND_HD float pr_select(bool c, float a, float b) {
  return pr_from_bits(pr_select_u32(c, pr_bits(a), pr_bits(b)));
}

// Hex-float constants (C++17). Each is an exact binary32 value.
constexpr float kTwoNeg32 = 0x1p-32f;           // 2^-32
constexpr float kMinU1 = 0x1.b7cdfep-34f;        // float32(1e-10)
constexpr float kTwoPi = 0x1.921fb6p+2f;         // float32(2*pi)
constexpr uint32_t kCanonicalNaN = 0x7fc00000u;  // the one NaN pocrand outputs

// x, or the canonical NaN when x is any NaN (NaN payloads differ between CPUs and GPUs).
POCRAND_HD float canonicalize_nan(float x) {
  return pr_select(x != x, pr_from_bits(kCanonicalNaN), x);
}

// ---------------------------------------------------------------------------------------------
// 1. murmur3: the x86_32 body for one 4-byte block, then fmix32 — WITHOUT the `h ^= length` of
//    the textbook MurmurHash3_x86_32, exactly as the deployed PoC 2.0 network computes it.
//    For a fixed seed this is a bijection of uint32 (each step is invertible).
// ---------------------------------------------------------------------------------------------
POCRAND_HD uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

POCRAND_HD uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

POCRAND_HD uint32_t murmur3(uint32_t key, uint32_t seed) {
  uint32_t k = key * 0xcc9e2d51u;
  k = rotl32(k, 15);
  k *= 0x1b873593u;
  uint32_t h = seed ^ k;
  h = rotl32(h, 13);
  h = h * 5u + 0xe6546b64u;
  return fmix32(h);
}

// ---------------------------------------------------------------------------------------------
// 2. uniform: u = float32_rne(hash) * 2^-32, in [0, 1]. Exactly 1.0 happens (hash >= 2^32 - 128
//    rounds up to 2^32); exactly 0.0 happens for hash == 0.
// ---------------------------------------------------------------------------------------------
POCRAND_HD float uniform_from_hash(uint32_t h) { return pr_mul(pr_u32_to_float(h), kTwoNeg32); }

POCRAND_HD float uniform(uint32_t index, uint32_t seed) {
  return uniform_from_hash(murmur3(index, seed));
}

// ---------------------------------------------------------------------------------------------
// 3. log(x) for normal, positive, finite x (used on [1e-10, 1]); <= 1 ulp.
//    x = 2^k * m with m in [sqrt(2)/2, sqrt(2)); f = m - 1 (exact); s = f / (2 + f);
//    log(m) = f - f^2/2 + s*(f^2/2 + R(s^2)), R a degree-4 polynomial in s^2 (the classic
//    fdlibm/FreeBSD logf coefficients); ln2 split so that k*ln2_hi is exact. Branch-free.
// ---------------------------------------------------------------------------------------------
constexpr float kLg1 = 0x1.555554p-1f;
constexpr float kLg2 = 0x1.999c26p-2f;
constexpr float kLg3 = 0x1.23d3dcp-2f;
constexpr float kLg4 = 0x1.f13c4cp-3f;
constexpr float kLn2Hi = 0x1.62e3p-1f;      // 17 significant bits: k*kLn2Hi exact for |k| <= 127
constexpr float kLn2Lo = 0x1.2fefa2p-17f;

POCRAND_HD float log_positive(float x) {
  const uint32_t ix = pr_bits(x);
  const uint32_t mant = ix & 0x007fffffu;
  // bump = 0x800000 when the mantissa is >= sqrt(2)'s, 0x3504f3 (then + 0x4afb0d carries into bit 23);
  // m then gets exponent -1 instead of 0, and k goes up by one.
  const uint32_t bump = (mant + 0x4afb0du) & 0x00800000u;
  const int32_t k = static_cast<int32_t>(ix >> 23) - 127 + static_cast<int32_t>(bump >> 23);
  const float m = pr_from_bits(mant | (bump ^ 0x3f800000u));
  const float f = pr_sub(m, 1.0f);
  const float s = pr_div(f, pr_add(2.0f, f));
  const float dk = static_cast<float>(k);  // exact
  const float z = pr_mul(s, s);
  const float w = pr_mul(z, z);
  const float t1 = pr_mul(w, pr_add(kLg2, pr_mul(w, kLg4)));
  const float t2 = pr_mul(z, pr_add(kLg1, pr_mul(w, kLg3)));
  const float R = pr_add(t2, t1);
  const float hfsq = pr_mul(pr_mul(0.5f, f), f);
  const float inner = pr_add(pr_mul(s, pr_add(hfsq, R)), pr_mul(dk, kLn2Lo));
  return pr_sub(pr_mul(dk, kLn2Hi), pr_sub(pr_sub(hfsq, inner), f));
}

// ---------------------------------------------------------------------------------------------
// 4. sin and cos of theta in [0, 8) (used on [0, float32(2*pi)]); each <= 1 ulp.
//    Quadrant j = rint(theta * 2/pi) by the magic-number trick (no float->int instruction);
//    3-constant Cody-Waite reduction r = theta - j*pi/2 kept as a head+tail pair (x, y);
//    short minimax kernels with tail corrections; swap/negate by j mod 4.
// ---------------------------------------------------------------------------------------------
constexpr float kTwoOverPi = 0x1.45f306p-1f;
constexpr float kRintMagic = 0x1.8p23f;      // 1.5 * 2^23
constexpr float kPio2C1 = 0x1.921fap+0f;     // 20 significant bits: j*C1 exact for j <= 5
constexpr float kPio2C2 = 0x1.54442p-20f;    // 20 significant bits: j*C2 exact for j <= 5
constexpr float kPio2C3 = 0x1.a308d4p-41f;
constexpr float kS1 = -0x1.555546p-3f;
constexpr float kS2 = 0x1.11073cp-7f;
constexpr float kS3 = -0x1.9943f2p-13f;
constexpr float kC1 = 0x1.55554ap-5f;
constexpr float kC2 = -0x1.6c0c34p-10f;
constexpr float kC3 = 0x1.99eb9cp-16f;

// sin(x + y) for |x| <= ~pi/4, |y| tiny: x + x^3*S(x^2) + y*(1 - x^2/2).
POCRAND_HD float kernel_sin(float x, float y) {
  const float z = pr_mul(x, x);
  const float v = pr_mul(z, x);
  const float r = pr_add(kS2, pr_mul(z, kS3));
  const float a = pr_sub(pr_mul(0.5f, y), pr_mul(v, r));
  return pr_sub(x, pr_sub(pr_sub(pr_mul(z, a), y), pr_mul(v, kS1)));
}

// cos(x + y) for |x| <= ~pi/4: 1 - x^2/2 + x^4*C(x^2) - x*y, with 1 - x^2/2 split so that its
// rounding error is added back.
POCRAND_HD float kernel_cos(float x, float y) {
  const float z = pr_mul(x, x);
  const float r = pr_mul(z, pr_add(kC1, pr_mul(z, pr_add(kC2, pr_mul(z, kC3)))));
  const float hz = pr_mul(0.5f, z);
  const float w = pr_sub(1.0f, hz);
  const float corr = pr_add(pr_sub(pr_sub(1.0f, w), hz), pr_sub(pr_mul(z, r), pr_mul(x, y)));
  return pr_add(w, corr);
}

POCRAND_HD void sincos_reduced(float theta, float* s_out, float* c_out) {
  const float t = pr_add(pr_mul(theta, kTwoOverPi), kRintMagic);
  const float j = pr_sub(t, kRintMagic);        // exact small integer 0..5
  const uint32_t q = pr_bits(t) & 3u;            // j mod 4 (t's ulp is 1)
  const float a = pr_sub(theta, pr_mul(j, kPio2C1));  // exact
  const float b = pr_mul(j, kPio2C2);                  // exact
  // TwoSum: hi + err == a - b exactly.
  const float hi = pr_sub(a, b);
  const float bv = pr_sub(hi, a);
  const float err = pr_add(pr_sub(a, pr_sub(hi, bv)), pr_sub(pr_sub(0.0f, b), bv));
  const float lo = pr_sub(err, pr_mul(j, kPio2C3));
  // Fast2Sum renormalisation (|hi| >= |lo|).
  const float x = pr_add(hi, lo);
  const float y = pr_sub(lo, pr_sub(x, hi));
  const float s = kernel_sin(x, y);
  const float c = kernel_cos(x, y);
  const float ns = pr_sub(0.0f, s);
  const float nc = pr_sub(0.0f, c);
  // quadrant:      0      1      2      3
  //   sin        s      c     -s     -c
  //   cos        c     -s     -c      s
  *s_out = pr_select(q == 0u, s, pr_select(q == 1u, c, pr_select(q == 2u, ns, nc)));
  *c_out = pr_select(q == 0u, c, pr_select(q == 1u, ns, pr_select(q == 2u, nc, s)));
}

// ---------------------------------------------------------------------------------------------
// 5. Box-Muller. normal(seed, n): p = ceil(n/2); pair j < p uses u(j) and u(p + j) and gives
//    out[j] = r*cos(theta) and out[p + j] = r*sin(theta) (the latter only when p + j < n).
// ---------------------------------------------------------------------------------------------
struct NormalPair {
  float first;   // out[j]
  float second;  // out[p + j]
};

// r = sqrt(-2 log(max(u1, float32(1e-10)))): finite, in [-0, 6.8).
POCRAND_HD float box_muller_radius(float u1_raw) {
  const float u1 = pr_select(u1_raw < kMinU1, kMinU1, u1_raw);
  return pr_sqrt(pr_mul(-2.0f, log_positive(u1)));
}

POCRAND_HD float box_muller_angle(float u2) { return pr_mul(kTwoPi, u2); }

POCRAND_HD NormalPair box_muller(float u1_raw, float u2) {
  const float r = box_muller_radius(u1_raw);
  float s, c;
  sincos_reduced(box_muller_angle(u2), &s, &c);
  return NormalPair{pr_mul(r, c), pr_mul(r, s)};
}

POCRAND_HD uint64_t normal_pair_count(uint64_t n) { return (n + 1) / 2; }

POCRAND_HD NormalPair normal_pair(uint32_t j, uint32_t p, uint32_t seed) {
  return box_muller(uniform(j, seed), uniform(p + j, seed));
}

// Random access: element i of normal(seed, n) alone (its pair is computed, one half kept), so any
// slice [start, end) of a row can be generated bit-identical to the same slice of the whole row.
POCRAND_HD float normal_element(uint32_t i, uint32_t n, uint32_t seed) {
  const auto p = static_cast<uint32_t>(normal_pair_count(n));
  const bool second = i >= p;
  const NormalPair v = normal_pair(second ? i - p : i, p, seed);
  return pr_select(second, v.second, v.first);
}

// ---------------------------------------------------------------------------------------------
// 6. Output rounding, float32 -> fp16 / bf16 bit patterns, round-to-nearest-even. NaN becomes
//    the sign | 0x7e00 (fp16) / 0x7fc0 (bf16) quiet NaN, as PyTorch's own conversions do.
// ---------------------------------------------------------------------------------------------
// Branch-free, so the CPU store loops vectorise. Every candidate is computed, one is selected:
//  - normal half (|f| >= 2^-14): rebias the exponent 127 -> 15, round off 13 bits (RNE);
//  - subnormal half or zero: |f| + 0.5 is rounded by the binary32 add to a multiple of 2^-24 (the
//    ulp of 0.5), ties to even, so its bits minus those of 0.5 are k = RNE(|f| * 2^24), the
//    subnormal's mantissa (k = 1024 is exactly the smallest normal, 0x0400);
//  - |f| >= 65520 rounds to Inf; NaN becomes sign | 0x7e00.
// The portable formulations are the definition (the CPU computes them); on the device the
// conversions below take the hardware's cvt.rn instead, which tests/cpp/storage_round_gpu.cu
// proves equal to these for every float32 bit pattern (scripts/exhaustive_check.py compares the
// CPU's and the GPU's too).
POCRAND_HD uint16_t float_to_half_bits_portable(float f) {
  const uint32_t u = pr_bits(f);
  const uint32_t a = u & 0x7fffffffu;
  const uint32_t m = a - 0x38000000u;
  const uint32_t normal = (m + 0x0fffu + ((m >> 13) & 1u)) >> 13;
  const uint32_t subnormal = pr_bits(pr_add(pr_from_bits(a), 0.5f)) - 0x3f000000u;
  uint32_t mag = pr_select_u32(a >= 0x38800000u, normal, subnormal);
  mag = pr_select_u32(a >= 0x477ff000u, 0x7c00u, mag);
  mag = pr_select_u32(a > 0x7f800000u, 0x7e00u, mag);
  return static_cast<uint16_t>(((u >> 16) & 0x8000u) | mag);
}

POCRAND_HD uint16_t float_to_bf16_bits_portable(float f) {
  const uint32_t u = pr_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;  // NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

POCRAND_HD uint16_t float_to_half_bits(float f) {
#if defined(__CUDA_ARCH__)
  // The device's cvt.rn.f16.f32 is the same function (IEEE round-to-nearest-even, subnormals
  // kept) in one instruction; only NaN needs our bits.
  const uint32_t u = pr_bits(f);
  const uint16_t h = __half_as_ushort(__float2half_rn(f));
  return (u & 0x7fffffffu) > 0x7f800000u ? static_cast<uint16_t>(((u >> 16) & 0x8000u) | 0x7e00u)
                                         : h;
#else
  return float_to_half_bits_portable(f);
#endif
}

POCRAND_HD uint16_t float_to_bf16_bits(float f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const uint32_t u = pr_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;  // NaN
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));  // cvt.rn.bf16.f32: the same RNE rounding
#else
  return float_to_bf16_bits_portable(f);
#endif
}

// Widening fp16 / bf16 -> float32 is exact; written with bit operations so that no library
// conversion (or its flush-to-zero setting) is involved.
POCRAND_HD float half_bits_to_float(uint16_t h) {
  const uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu;
  const uint32_t m = h & 0x3ffu;
  if (e == 0u) {  // zero or subnormal: m * 2^-24, exact
    const float mag = pr_mul(static_cast<float>(m), 0x1p-24f);
    return pr_from_bits(pr_bits(mag) | sign);
  }
  if (e == 31u) return pr_from_bits(sign | 0x7f800000u | (m << 13));  // Inf / NaN
  return pr_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

POCRAND_HD float bf16_bits_to_float(uint16_t b) {
  return pr_from_bits(static_cast<uint32_t>(b) << 16);
}

// ---------------------------------------------------------------------------------------------
// 7. The fixed reduction order. A sum over n >= 1 terms is computed in levels: split the terms
//    into chunks of kChunk = 1024 (the last zero-padded), reduce each chunk by the halving tree
//    below, and repeat on the chunk sums until one value is left. The tree on a chunk a[0..1023]:
//      for width = 512, 256, ..., 1:  a[i] = a[i] + a[i + width]  for i < width
//    and the chunk sum is a[0]. The padding is +0.0. Thread count, block size and device never change this order.
// ---------------------------------------------------------------------------------------------
constexpr int kChunk = 1024;

// Halving tree over a full chunk held in `a` (length kChunk, zero-padded); overwrites `a`.
inline float chunk_tree_sum(float* a) {
  for (int width = kChunk / 2; width >= 1; width /= 2) {
    for (int i = 0; i < width; ++i) a[i] = pr_add(a[i], a[i + width]);
  }
  return a[0];
}

// Floats of scratch a sum over n >= 1 terms needs for its levels: every level's chunk sums.
POCRAND_HD int64_t tree_scratch(int64_t n) {
  int64_t total = 0;
  do {
    n = (n + kChunk - 1) / kChunk;
    total += n;
  } while (n > 1);
  return total;
}

// Runs body(c0, c1) over the chunks [c0, c1) of a level, here all of them in order; a caller may
// pass its own runner that splits [0, count) over threads (the chunk sums are independent).
struct SerialChunks {
  template <typename Body>
  void operator()(int64_t count, const Body& body) const { body(0, count); }
};

// The host's sum() of section 7 over term(0) .. term(n - 1) (n >= 1): the terms of each chunk are
// computed into a zero-padded array and summed by chunk_tree_sum, level after level, the levels
// kept in `scratch` (tree_scratch(n) floats). The device's version is csrc/cuda/tree_sum.cuh.
template <typename Term, typename ForChunks = SerialChunks>
inline float tree_sum(const Term& term, int64_t n, float* scratch,
                      const ForChunks& for_chunks = ForChunks{}) {
  // out[c] = the tree over chunk c of get(0) .. get(count - 1), for every chunk of the level
  auto chunk_sums = [&](const auto& get, int64_t count, float* out) {
    for_chunks((count + kChunk - 1) / kChunk, [&](int64_t c0, int64_t c1) {
      float buf[kChunk];
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t lo = c * kChunk, m = count - lo < kChunk ? count - lo : kChunk;
        for (int64_t i = 0; i < m; ++i) buf[i] = get(lo + i);
        for (int64_t i = m; i < kChunk; ++i) buf[i] = 0.0f;  // the +0.0 padding
        out[c] = chunk_tree_sum(buf);
      }
    });
  };
  chunk_sums(term, n, scratch);
  float* level = scratch;
  for (int64_t count = (n + kChunk - 1) / kChunk; count > 1; count = (count + kChunk - 1) / kChunk) {
    const float* in = level;
    level += count;
    chunk_sums([in](int64_t i) { return in[i]; }, count, level);
  }
  return level[0];
}

POCRAND_HD float square(float x) { return pr_mul(x, x); }

// ---------------------------------------------------------------------------------------------
// 9. PoC v2 steps (SPEC.md 9.1-9.4; SPEC.md section 8 is the Phase-2 operations, which use
//    sections 1-7 only). Nothing above changes for them.
// ---------------------------------------------------------------------------------------------
constexpr float kTiny = 0x1.4484cp-100f;  // float32(1e-30), added to a unit vector's norm
constexpr float kEps8 = 0x1.5798eep-27f;  // float32(1e-8), added to an artifact's norms

// 9.1 concat_normal(words[0..7], n): segment j covers [j*L, j*L + len_j), L = ceil(n/8),
// len_j = min(L, n - j*L), and is normal(words[j], len_j). n <= 2^31 - 1, so n + 7 fits a u32.
POCRAND_HD uint32_t concat_segment_length(uint32_t n) { return (n + 7u) / 8u; }

// Segments that exist (j*L < n): 8, or fewer for small n (n = 9: L = 2, five segments).
POCRAND_HD uint32_t concat_segment_count(uint32_t n) {
  const uint32_t L = concat_segment_length(n);
  return (n + L - 1u) / L;
}

POCRAND_HD uint32_t concat_segment_size(uint32_t j, uint32_t n) {
  const uint32_t L = concat_segment_length(n);
  const uint32_t left = n - j * L;
  return left < L ? left : L;
}

// Element i of concat_normal(words, n) alone (random access within its segment).
POCRAND_HD float concat_normal_element(uint32_t i, uint32_t n, const uint32_t* words) {
  const uint32_t j = i / concat_segment_length(n);
  const uint32_t start = j * concat_segment_length(n);
  return normal_element(i - start, concat_segment_size(j, n), words[j]);
}

// 9.2 A unit vector's divisor from the fixed-order sum of squares of t = normal(seed, dim):
// norm(t) + TINY, which equals norm(t) for every nonzero t normal() produces (SPEC.md 9.2) and
// makes t = 0 give the zero vector instead of 0/0. The Phase-2 target divides by norm(t) alone.
POCRAND_HD float unit_vector_divisor(float sum_of_squares) {
  return pr_add(pr_sqrt(sum_of_squares), kTiny);
}

// 9.11 An artifact's divisor: norm + float32(1e-8), as the deployed code normalises.
POCRAND_HD float artifact_divisor(float sum_of_squares) {
  return pr_add(pr_sqrt(sum_of_squares), kEps8);
}

// 9.3 Householder reflection of one row: c = 2 * dot (dot = sum of x[i]*v[i] in the order of
// section 7), then y[i] = x[i] - c*v[i], each step one binary32 rounding; the caller rounds y
// once to the row's storage type (after canonicalize_nan).
POCRAND_HD float householder_coefficient(float dot) { return pr_mul(2.0f, dot); }

POCRAND_HD float householder_update(float x, float c, float v) { return pr_sub(x, pr_mul(c, v)); }

// 10.10 The stepwise reflection (reflect_rows, mode "stepwise"): the deployed torch expression's
// roundings, each binary32 result delivered in the row's storage type s (kStorageFloat32 /
// kStorageFloat16 / kStorageBFloat16: NaN made canonical, then section 6) and widened back before
// the next step. p[i] = st(x[i] * v[i]); d = st(sum(p)) (section 7); c = st(2 * d);
// y[i] = st(x[i] - st(c * v[i])). For float32 storage st is canonicalize_nan alone.
constexpr int kStorageFloat32 = 0;
constexpr int kStorageFloat16 = 1;
constexpr int kStorageBFloat16 = 2;

POCRAND_HD float round_to_storage(float v, int s) {
  v = canonicalize_nan(v);
  if (s == kStorageFloat16) return half_bits_to_float(float_to_half_bits(v));
  if (s == kStorageBFloat16) return bf16_bits_to_float(float_to_bf16_bits(v));
  return v;
}

POCRAND_HD float stepwise_product(float x, float v, int s) { return round_to_storage(pr_mul(x, v), s); }

POCRAND_HD float stepwise_coefficient(float sum_of_products, int s) {
  return round_to_storage(pr_mul(2.0f, round_to_storage(sum_of_products, s)), s);
}

POCRAND_HD float stepwise_update(float x, float c, float v, int s) {
  return round_to_storage(pr_sub(x, round_to_storage(pr_mul(c, v), s)), s);
}

// 10.14 The fused residual add + RMSNorm (fused_add_rms_norm_reflect): s[i] = st(a[i] + b[i]) of
// the two (reflected or not) rows; ss = sumsq(s) (section 7); inv = 1 / sqrt(ss / H + eps);
// y[i] = st(st(s[i] * inv) * w[i]). H is the row length as binary32 (exact: H <= 2^24). Every step
// one binary32 operation; st as above.
POCRAND_HD float residual_sum(float a, float b, int s) { return round_to_storage(pr_add(a, b), s); }

POCRAND_HD float rms_inverse(float sum_of_squares, float hidden, float eps) {
  return pr_div(1.0f, pr_sqrt(pr_add(pr_div(sum_of_squares, hidden), eps)));
}

POCRAND_HD float rms_output(float s, float inv, float w, int st) {
  return round_to_storage(pr_mul(round_to_storage(pr_mul(s, inv), st), w), st);
}

// 9.4 pick(seed, dim, k): the k - 1 indices whose score hash(i, seed) is below the k-th smallest
// score T, in ascending index order, then the index whose score is T. Scores are distinct (hash
// is a bijection of u32), so T's index is unique; the kernels find T by a selection over the
// scores and then list the indices in order. No float arithmetic is involved.
POCRAND_HD uint32_t pick_score(uint32_t i, uint32_t seed) { return murmur3(i, seed); }

// ---------------------------------------------------------------------------------------------
// 10. gonka-poc steps (SPEC.md 10.1-10.4, 10.11-10.12): the step seeds of the decode scheme, hash
//     modulo (the pseudo token ids), forced expert logits, the row selectors of the masked
//     forward-pass overrides. Integer work only, plus one exact conversion.
// ---------------------------------------------------------------------------------------------
constexpr uint32_t kMixA = 0x9E3779B1u;
constexpr uint32_t kMixB = 0x85EBCA77u;
constexpr float kExpertFloor = -0x1.388p+13f;  // -10000, the logit of an expert not forced

// 10.1 key = prev * MIX_A + step * MIX_B + salt (mod 2^32); the step seed is hash(key, base).
POCRAND_HD uint32_t step_key(uint32_t prev, uint32_t step, uint32_t salt) {
  return prev * kMixA + step * kMixB + salt;
}

POCRAND_HD uint32_t step_seed(uint32_t base, uint32_t prev, uint32_t step, uint32_t salt) {
  return murmur3(step_key(prev, step, salt), base);
}

// 10.2 hash(i, seed) mod m, 1 <= m <= 2^31 - 1 (fits an int32).
POCRAND_HD uint32_t hash_mod(uint32_t i, uint32_t seed, uint32_t m) { return murmur3(i, seed) % m; }

// 10.4 The first forced expert of route seed r: r mod E.
POCRAND_HD uint32_t route_start(uint32_t r, uint32_t n_experts) { return r % n_experts; }

// 10.4 Expert e's logit: the ladder ladder_base + top_k - off for the top_k experts from start
// on (off = (e - start) mod E < top_k), else -10000. |ladder_base| <= 2^23 and top_k <= 2^23,
// so the integer has magnitude <= 2^24 and its conversion is exact.
POCRAND_HD float forced_logit(uint32_t e, uint32_t start, uint32_t n_experts, uint32_t top_k,
                              int32_t ladder_base) {
  const uint32_t off = pr_select_u32(e >= start, e - start, e + (n_experts - start));
  const uint32_t rung = pr_select_u32(off < top_k, top_k - off, 0u);  // no int32 overflow below
  const float ladder = static_cast<float>(ladder_base + static_cast<int32_t>(rung));
  return pr_select(off < top_k, ladder, kExpertFloor);
}

// 10.11 The kind of a row of embed_synth: a masked row whose previous index is >= 0 is a decode
// row (the normals of its step seed, 10.3), a masked row whose previous index is negative a
// prefill row (the given embedding, delivered in the output's type), any other row keeps its bits.
constexpr int kSynthKeep = 0;
constexpr int kSynthDecode = 1;
constexpr int kSynthPrefill = 2;

POCRAND_HD int embed_synth_kind(bool mask, int64_t prev) {
  return mask ? (prev >= 0 ? kSynthDecode : kSynthPrefill) : kSynthKeep;
}

// 10.12 The route seed of a router_override row at step t: hash(u32(t), u32(seed)) (10.4's fold).
POCRAND_HD uint32_t route_seed(uint32_t step, uint32_t seed) { return murmur3(step, seed); }

}  // namespace pocrand

// =============================================================================================
// section 10: snap (SPEC.md 10.6-10.8). The snap of a decode row onto a codebook of P points in
// d dimensions: normalise, pick (9.4), normalise the picked values, score with section 7's sum,
// argmax. The divisors are 9.11's (artifact_divisor); only the steps below are new.
// =============================================================================================
namespace pocrand {

constexpr int kSnapMax = 1024;     // d (picked dimensions) and P (codebook points) are <= 1024
constexpr int64_t kSnapBadK = -1;  // k of a row whose norm is NaN or Inf

// 10.6 A row is bad when its norm sqrt(sumsq(h)) is NaN or +-Inf (a NaN or Inf in h, or overflow
// of the sum of squares); written as a comparison that is false for NaN.
POCRAND_HD bool snap_row_bad(float norm) { return !(norm <= 0x1.fffffep127f); }

// 10.6 The argmax scan replaces the best index k by j only when scores[j] > scores[k]: the lowest
// index among equal maxima wins, -0 equals +0, and a NaN never replaces nor is replaced.
POCRAND_HD bool snap_better(float score, float best) { return score > best; }

// 10.8 The claimed margin of a row: best - scores[claimed], or 2.0 for a claim outside [0, P).
POCRAND_HD float snap_claimed_margin(float best, float claimed_score, bool valid) {
  return pr_select(valid, pr_sub(best, claimed_score), 2.0f);
}

}  // namespace pocrand
