// stages.cpp — the core's scalar stages on the CPU (stages.h).
#include "stages.h"

#include "../core/pocrand_core.h"
#include "fp_env.h"
#include "parallel.h"

namespace pocrand {
namespace cpu {
namespace {
constexpr int64_t kGrain = 4096;
}  // namespace

void core_box_muller(const int64_t* hashes, int64_t n, float* u, float* r, float* c, float* s) {
  const IeeeFpMode ieee;
  parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      u[i] = uniform_from_hash(static_cast<uint32_t>(hashes[i]));
      r[i] = box_muller_radius(u[i]);
      sincos_reduced(box_muller_angle(u[i]), &s[i], &c[i]);
    }
  });
}

void core_log(const float* x, int64_t n, float* out) {
  const IeeeFpMode ieee;
  parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = log_positive(x[i]);
  });
}

void core_sincos(const float* theta, int64_t n, float* s, float* c) {
  const IeeeFpMode ieee;
  parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) sincos_reduced(theta[i], &s[i], &c[i]);
  });
}

void core_round(const float* x, int64_t n, Dtype type, void* out) {
  const IeeeFpMode ieee;
  with_storage(type, [&](auto st) {
    using S = decltype(st);
    auto* o = static_cast<typename S::Bits*>(out);
    parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) o[i] = S::encode(x[i]);
    });
  });
}

}  // namespace cpu
}  // namespace pocrand
