// storage_round_gpu.cu — the device's hardware roundings (csrc/cuda/storage_round.cuh) against the
// core's portable formulations (csrc/core/pocrand_core.h), bit for bit (needs a GPU; without one
// it exits 77, which CTest reports as skipped).
//   1. Every float32 bit pattern f (all 2^32), for fp16 and bf16:
//      - f not NaN: st_fast(f) == widen(portable(f)), encode_fast(f) == portable(f), and
//        pack_fast / st_fast2 of (f, g) == the two portable roundings, g another pattern;
//      - f NaN: st_fast(f) and st_fast2(f, .) are NaN;
//      - the core's device float_to_half_bits / float_to_bf16_bits (cvt + its NaN bits) ==
//        the portable ones, NaN included.
//      The portable functions run on the device here (integer operations and one IEEE add, the
//      same on both sides without flush-to-zero); a sample of the device's results is also
//      compared with the portable functions computed on the host.
//   2. The stepwise steps of the reflect_rows kernels (stepwise_product_fast, the chunk kernel's
//      pair product, stepwise_coefficient_fast, stepwise_update_unrounded[2] then the store)
//      against the core's stepwise_product / stepwise_coefficient / stepwise_update computed on
//      the host, over a large sample of 16-bit inputs (every class: zeros, subnormals, normals,
//      Inf, NaN): equal bits where the core's result is not NaN, a NaN where it is; the stored
//      bits (with NaN made canonical) equal in every case.
//   3. The storage type's own arithmetic (st_add2, st_sub2, st_mul2): every pair of 16-bit
//      patterns (all 2^32) in each half of the word, for fp16 and bf16, against the core's
//      binary32 operation on the widened values and its portable rounding: equal bits where that
//      result is not NaN, a NaN where it is.
//   nvcc -std=c++17 -O3 -fmad=false --ftz=false -Xcompiler=-ffp-contract=off -arch=sm_90 \
//        tests/cpp/storage_round_gpu.cu -o storage_round_gpu && ./storage_round_gpu
//   (-gencode arch=compute_80,code=compute_80 in place of -arch=sm_90 checks sm_80's forms of the
//   section-3 operations on a newer card, compute_75 the pre-sm_80 bf16 fallback.)
#include <cstdio>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "gpu_check.cuh"
#include "../../csrc/cuda/reflect_rows_chunk.cuh"
#include "../../csrc/cuda/storage_round.cuh"

using namespace pocrand;
using namespace pocrand::cuda;

// ---- 1. every float32 bit pattern ----
enum Check { kStF16, kEncF16, kPairF16, kCoreF16, kStBF16, kEncBF16, kPairBF16, kCoreBF16, kChecks };
const char* const kCheckNames[kChecks] = {
    "fp16 st_fast / st_fast2",   "fp16 encode_fast",        "fp16 pack_fast",
    "fp16 core device rounding", "bf16 st_fast / st_fast2", "bf16 encode_fast",
    "bf16 pack_fast",            "bf16 core device rounding"};

struct Failures {
  unsigned long long count[kChecks];
  uint32_t first[kChecks];  // the smallest failing pattern (0xffffffff: none, or that one)
};

__device__ bool is_nan_bits(uint32_t u) { return (u & 0x7fffffffu) > 0x7f800000u; }

__device__ void fail(Failures* f, int check, uint32_t bits) {
  atomicAdd(&f->count[check], 1ull);
  atomicMin(&f->first[check], bits);
}

// g: the partner of f in the pair checks, another pattern of every class as f walks the range.
__device__ uint32_t partner(uint32_t b) { return __brev(b) ^ 0x00a5a5a5u; }

template <typename E, int kSt, int kEnc, int kPair, int kCore>
__device__ void check_pattern(uint32_t b, Failures* fails, uint32_t* sample, int64_t slot) {
  const float f = pr_from_bits(b), g = pr_from_bits(partner(b));
  constexpr bool kHalf = kSt == kStF16;
  auto portable = [](float v) -> uint32_t {
    return kHalf ? float_to_half_bits_portable(v) : float_to_bf16_bits_portable(v);
  };
  auto widen = [](uint32_t h) -> float {
    return kHalf ? half_bits_to_float(static_cast<uint16_t>(h))
                 : bf16_bits_to_float(static_cast<uint16_t>(h));
  };
  const uint32_t pf = portable(f), pg = portable(g);
  const float st = st_fast<E>(f);
  const float2 st2 = st_fast2<E>(f, g);
  const uint32_t enc = encode_fast<E>(f);
  const uint32_t pack = pack_fast<E>(f, g);
  const uint32_t core = kHalf ? float_to_half_bits(f) : float_to_bf16_bits(f);
  if (slot >= 0) {  // the host compares these with its own portable roundings
    sample[3 * slot] = b;
    sample[3 * slot + 1] = pr_bits(st);
    sample[3 * slot + 2] = core;
  }
  if (core != pf) fail(fails, kCore, b);
  if (is_nan_bits(b)) {
    if (!is_nan_bits(pr_bits(st)) || !is_nan_bits(pr_bits(st2.x))) fail(fails, kSt, b);
    return;
  }
  if (pr_bits(st) != pr_bits(widen(pf)) || pr_bits(st2.x) != pr_bits(widen(pf))) fail(fails, kSt, b);
  if (enc != pf) fail(fails, kEnc, b);
  if (!is_nan_bits(pr_bits(g))) {
    if (pack != (pf | pg << 16)) fail(fails, kPair, b);
    if (pr_bits(st2.y) != pr_bits(widen(pg))) fail(fails, kSt, b);
  }
}

constexpr uint32_t kSampleStride = 4099;  // every 4099th pattern is also checked on the host

__global__ void every_pattern_kernel(uint64_t start, uint64_t count, Failures* fails,
                                     uint32_t* sample16, uint32_t* sampleb) {
  for (uint64_t k = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; k < count;
       k += uint64_t{gridDim.x} * blockDim.x) {
    const uint64_t i = start + k;
    const auto b = static_cast<uint32_t>(i);
    const int64_t slot = i % kSampleStride == 0 ? static_cast<int64_t>(i / kSampleStride) : -1;
    check_pattern<F16, kStF16, kEncF16, kPairF16, kCoreF16>(b, fails, sample16, slot);
    check_pattern<BF16, kStBF16, kEncBF16, kPairBF16, kCoreBF16>(b, fails, sampleb, slot);
  }
}

// ---- 2. the stepwise steps over a sample ----
struct StepIn {
  uint16_t x0, x1, v0, v1;
  uint32_t d;  // a sum of products (any float32)
  uint16_t c;  // a coefficient (in the storage type, as stepwise_coefficient delivers it)
};
struct StepOut {
  uint32_t p0;          // stepwise_product_fast of (x0, v0)
  uint32_t pair0, pair1;  // ReflectProduct<E, true>::pair (the chunk kernel's dot terms)
  uint32_t p_single;    // ReflectProduct<E, true>::operator() of (x0, v0) (the generic kernel's)
  uint32_t coef;        // stepwise_coefficient_fast(d)
  uint32_t u0, u1;      // stepwise_update_unrounded2 (the chunk kernel's)
  uint32_t u_single;    // stepwise_update_unrounded of (x0, c, v0) (the generic kernel's)
  uint32_t stored0;     // the store of u0: encode_fast when no NaN, else encode(canonicalize_nan)
};

template <typename E>
__global__ void step_kernel(const StepIn* in, StepOut* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const StepIn s = in[i];
  const float x0 = E::arith(s.x0), x1 = E::arith(s.x1), v0 = E::arith(s.v0), v1 = E::arith(s.v1);
  const float c = E::arith(s.c);
  StepOut o;
  const float2 pp = ReflectProduct<E, true>{}.pair(uint32_t{s.x0} | uint32_t{s.x1} << 16,
                                                   uint32_t{s.v0} | uint32_t{s.v1} << 16);
  o.p0 = pr_bits(stepwise_product_fast<E>(x0, v0));
  o.pair0 = pr_bits(pp.x);
  o.pair1 = pr_bits(pp.y);
  o.p_single = pr_bits(ReflectProduct<E, true>{}(s.x0, s.v0));
  o.coef = pr_bits(stepwise_coefficient_fast<E>(pr_from_bits(s.d)));
  const float2 u = stepwise_update_unrounded2<E>(x0, x1, c, v0, v1);
  o.u0 = pr_bits(u.x);
  o.u1 = pr_bits(u.y);
  const float us = stepwise_update_unrounded<E>(x0, c, v0);
  o.u_single = pr_bits(us);
  o.stored0 = is_nan_bits(pr_bits(u.x)) ? E::encode(canonicalize_nan(u.x)) : encode_fast<E>(u.x);
  out[i] = o;
}

// ---- 3. the storage type's own arithmetic, every pair of patterns ----
enum PairCheck { kAddF16, kSubF16, kMulF16, kAddBF16, kSubBF16, kMulBF16, kPairChecks };
const char* const kPairCheckNames[kPairChecks] = {"fp16 st_add2", "fp16 st_sub2", "fp16 st_mul2",
                                                  "bf16 st_add2", "bf16 st_sub2", "bf16 st_mul2"};

struct PairFailures {
  unsigned long long count[kPairChecks];
  uint32_t first[kPairChecks][2];  // the smallest failing (a << 16 | b) of each half
};

// The high half's operands: a bijection of the 16-bit patterns, so that as (a, b) walks every
// pair the high half sees every pair too, each beside another pair than in the low half.
__device__ uint32_t other16(uint32_t a) { return (a * 0x9e37u + 0x3c6fu) & 0xffffu; }

template <typename E>
__device__ uint32_t want_bits(int op, uint32_t a, uint32_t b) {
  constexpr bool kHalf = std::is_same<E, F16>::value;
  auto widen = [](uint32_t h) -> float {
    return kHalf ? half_bits_to_float(static_cast<uint16_t>(h))
                 : bf16_bits_to_float(static_cast<uint16_t>(h));
  };
  const float x = widen(a), y = widen(b);
  const float r = op == 0 ? pr_add(x, y) : op == 1 ? pr_sub(x, y) : pr_mul(x, y);
  if (is_nan_bits(pr_bits(r))) return 0xffffffffu;  // any NaN
  return kHalf ? float_to_half_bits_portable(r) : float_to_bf16_bits_portable(r);
}

__device__ bool half_matches(uint32_t got, uint32_t want, bool half_type) {
  const uint32_t exp_all = half_type ? 0x7c00u : 0x7f80u;
  if (want == 0xffffffffu) return (got & 0x7fffu) > exp_all;  // a NaN of any payload
  return got == want;
}

template <typename E, int kFirst>
__device__ void check_pair_ops(uint32_t a, uint32_t b, PairFailures* f) {
  constexpr bool kHalf = std::is_same<E, F16>::value;
  const uint32_t a2 = other16(a), b2 = other16(b);
  const uint32_t x = a | a2 << 16, y = b | b2 << 16;
  const uint32_t got[3] = {st_add2<E>(x, y), st_sub2<E>(x, y), st_mul2<E>(x, y)};
#pragma unroll
  for (int op = 0; op < 3; ++op) {
    const bool low = half_matches(got[op] & 0xffffu, want_bits<E>(op, a, b), kHalf);
    const bool high = half_matches(got[op] >> 16, want_bits<E>(op, a2, b2), kHalf);
    if (!low || !high) atomicAdd(&f->count[kFirst + op], 1ull);
    if (!low) atomicMin(&f->first[kFirst + op][0], a << 16 | b);
    if (!high) atomicMin(&f->first[kFirst + op][1], a2 << 16 | b2);
  }
}

__global__ void every_pair_kernel(uint64_t start, uint64_t count, PairFailures* fails) {
  for (uint64_t k = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; k < count;
       k += uint64_t{gridDim.x} * blockDim.x) {
    const auto i = static_cast<uint32_t>(start + k);
    check_pair_ops<F16, kAddF16>(i >> 16, i & 0xffffu, fails);
    check_pair_ops<BF16, kAddBF16>(i >> 16, i & 0xffffu, fails);
  }
}

int64_t check_every_pair(int64_t* checks) {
  PairFailures* dfails;
  CHECK_CUDA(cudaMalloc(&dfails, sizeof(PairFailures)));
  PairFailures init{};
  for (int c = 0; c < kPairChecks; ++c) init.first[c][0] = init.first[c][1] = 0xffffffffu;
  CHECK_CUDA(cudaMemcpy(dfails, &init, sizeof(PairFailures), cudaMemcpyHostToDevice));
  const uint64_t total = uint64_t{1} << 32, part = total / 4;
  for (uint64_t start = 0; start < total; start += part)
    every_pair_kernel<<<4096, 256>>>(start, part, dfails);
  CHECK_CUDA(cudaGetLastError());
  PairFailures fails;
  CHECK_CUDA(cudaMemcpy(&fails, dfails, sizeof(PairFailures), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaFree(dfails));
  int64_t failures = 0;
  for (int c = 0; c < kPairChecks; ++c) {
    *checks += 2 * static_cast<int64_t>(total);  // both halves
    if (fails.count[c] != 0) {
      std::printf("FAIL %s: %llu pairs\n", kPairCheckNames[c], fails.count[c]);
      for (int h = 0; h < 2; ++h)
        if (fails.first[c][h] != 0xffffffffu)
          std::printf("  the first in the %s half: a=%04x b=%04x\n", h ? "high" : "low",
                      fails.first[c][h] >> 16, fails.first[c][h] & 0xffffu);
      failures += static_cast<int64_t>(fails.count[c]);
    }
  }
  return failures;
}

// ---- host side ----
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
bool nan_bits(uint32_t u) { return (u & 0x7fffffffu) > 0x7f800000u; }

// The device value `got` against the core's host value `want`: the same bits, or both NaN.
bool same(uint32_t got, uint32_t want) { return got == want || (nan_bits(got) && nan_bits(want)); }

template <typename E>
int64_t check_steps(const char* name, bool half, std::mt19937& g, int64_t* checks) {
  const int s = half ? kStorageFloat16 : kStorageBFloat16;
  auto widen = [&](uint16_t h) { return half ? half_bits_to_float(h) : bf16_bits_to_float(h); };
  auto encode = [&](float v) -> uint32_t {
    return half ? float_to_half_bits(v) : float_to_bf16_bits(v);
  };
  // 16-bit inputs: uniform patterns (every class, NaN and Inf ~0.2-3%) and values near one
  // another (so that products and differences round at every position).
  auto pattern = [&]() -> uint16_t {
    const uint32_t r = g();
    if (r % 4u == 0u) return static_cast<uint16_t>(r >> 16);
    const uint32_t sign = (r >> 31) << 15;
    const uint32_t exp = half ? 12u + (r >> 8) % 8u : 124u + (r >> 8) % 8u;
    const uint32_t mant = half ? (r >> 16) & 0x3ffu : (r >> 16) & 0x7fu;
    return static_cast<uint16_t>(sign | (half ? exp << 10 : exp << 7) | mant);
  };
  constexpr int n = 1 << 22;
  std::vector<StepIn> in(n);
  for (auto& t : in) {
    t.x0 = pattern(); t.x1 = pattern(); t.v0 = pattern(); t.v1 = pattern(); t.c = pattern();
    const uint32_t r = g();
    t.d = r % 3u == 0u ? r : bits_of(static_cast<float>(static_cast<int32_t>(g())) * 0x1p-24f);
  }
  StepIn* din;
  StepOut* dout;
  CHECK_CUDA(cudaMalloc(&din, n * sizeof(StepIn)));
  CHECK_CUDA(cudaMalloc(&dout, n * sizeof(StepOut)));
  CHECK_CUDA(cudaMemcpy(din, in.data(), n * sizeof(StepIn), cudaMemcpyHostToDevice));
  step_kernel<E><<<(n + 255) / 256, 256>>>(din, dout, n);
  CHECK_CUDA(cudaGetLastError());
  std::vector<StepOut> out(n);
  CHECK_CUDA(cudaMemcpy(out.data(), dout, n * sizeof(StepOut), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaFree(din));
  CHECK_CUDA(cudaFree(dout));
  int64_t bad = 0;
  for (int i = 0; i < n; ++i) {
    const StepIn& t = in[i];
    const StepOut& o = out[i];
    const float x0 = widen(t.x0), x1 = widen(t.x1), v0 = widen(t.v0), v1 = widen(t.v1);
    const float c = widen(t.c);
    const uint32_t p0 = bits_of(stepwise_product(x0, v0, s));
    const uint32_t p1 = bits_of(stepwise_product(x1, v1, s));
    const uint32_t coef = bits_of(stepwise_coefficient(from_bits(t.d), s));
    const float y0 = stepwise_update(x0, c, v0, s), y1 = stepwise_update(x1, c, v1, s);
    // the store rounds the unrounded last step: its rounding is y (a value of the storage type)
    const uint32_t want0 = encode(y0), want1 = encode(y1);
    const bool ok = same(o.p0, p0) && same(o.pair0, p0) && same(o.pair1, p1) && same(o.p_single, p0) &&
                    same(o.coef, coef) && encode(canonicalize_nan(from_bits(o.u0))) == want0 &&
                    encode(canonicalize_nan(from_bits(o.u1))) == want1 &&
                    encode(canonicalize_nan(from_bits(o.u_single))) == want0 &&
                    nan_bits(o.u0) == nan_bits(bits_of(y0)) && o.stored0 == want0;
    *checks += 10;
    if (!ok && bad++ < 5)
      std::printf("FAIL %s: x=(%04x %04x) v=(%04x %04x) c=%04x d=%08x: product %08x/%08x want "
                  "%08x/%08x, coefficient %08x want %08x, stored %08x want %08x\n",
                  name, t.x0, t.x1, t.v0, t.v1, t.c, t.d, o.pair0, o.pair1, p0, p1, o.coef, coef,
                  o.stored0, want0);
  }
  return bad;
}

int main() {
  if (no_gpu("storage_round_gpu")) return kSkippedNoGpu;
  int64_t failures = 0, checks = 0;
  // 1. all 2^32 patterns, in four launches
  Failures* dfails;
  CHECK_CUDA(cudaMalloc(&dfails, sizeof(Failures)));
  Failures init{};
  for (int c = 0; c < kChecks; ++c) init.first[c] = 0xffffffffu;
  CHECK_CUDA(cudaMemcpy(dfails, &init, sizeof(Failures), cudaMemcpyHostToDevice));
  const uint64_t total = uint64_t{1} << 32;
  const size_t samples = total / kSampleStride + 1;
  uint32_t *dsample16, *dsampleb;
  CHECK_CUDA(cudaMalloc(&dsample16, 3 * samples * sizeof(uint32_t)));
  CHECK_CUDA(cudaMalloc(&dsampleb, 3 * samples * sizeof(uint32_t)));
  const uint64_t part = total / 4;
  for (uint64_t start = 0; start < total; start += part)
    every_pattern_kernel<<<4096, 256>>>(start, part, dfails, dsample16, dsampleb);
  CHECK_CUDA(cudaGetLastError());
  Failures fails;
  CHECK_CUDA(cudaMemcpy(&fails, dfails, sizeof(Failures), cudaMemcpyDeviceToHost));
  for (int c = 0; c < kChecks; ++c) {
    checks += static_cast<int64_t>(total);
    if (fails.count[c] != 0) {
      std::printf("FAIL %s: %llu patterns, the first %08x\n", kCheckNames[c], fails.count[c],
                  fails.first[c]);
      failures += static_cast<int64_t>(fails.count[c]);
    }
  }
  // the sample against the host's portable roundings (the definition, computed by the CPU)
  std::vector<uint32_t> s16(3 * samples), sb(3 * samples);
  CHECK_CUDA(cudaMemcpy(s16.data(), dsample16, s16.size() * 4, cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(sb.data(), dsampleb, sb.size() * 4, cudaMemcpyDeviceToHost));
  int64_t bad_sample = 0;
  for (size_t k = 0; k < samples; ++k) {
    const uint32_t b = static_cast<uint32_t>(k * kSampleStride);
    const float f = from_bits(b);
    const uint16_t h = float_to_half_bits_portable(f), bf = float_to_bf16_bits_portable(f);
    const bool ok = s16[3 * k] == b && sb[3 * k] == b && s16[3 * k + 2] == h &&
                    sb[3 * k + 2] == bf && same(s16[3 * k + 1], bits_of(half_bits_to_float(h))) &&
                    same(sb[3 * k + 1], bits_of(bf16_bits_to_float(bf)));
    checks += 6;
    if (!ok && bad_sample++ < 5)
      std::printf("FAIL host sample %08x: fp16 %04x/%08x want %04x, bf16 %04x/%08x want %04x\n", b,
                  s16[3 * k + 2], s16[3 * k + 1], h, sb[3 * k + 2], sb[3 * k + 1], bf);
  }
  failures += bad_sample;
  CHECK_CUDA(cudaFree(dfails));
  CHECK_CUDA(cudaFree(dsample16));
  CHECK_CUDA(cudaFree(dsampleb));
  // 2. the stepwise steps
  std::mt19937 g(20261202u);
  failures += check_steps<F16>("fp16 stepwise", true, g, &checks);
  failures += check_steps<BF16>("bf16 stepwise", false, g, &checks);
  // 3. the storage type's own arithmetic
  failures += check_every_pair(&checks);
  std::printf("storage_round_gpu: %lld checks, %lld failures\n", static_cast<long long>(checks),
              static_cast<long long>(failures));
  return failures == 0 ? 0 : 1;
}
