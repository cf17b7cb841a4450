// fp_env.h — the processor's floating-point mode, set to IEEE for the length of a scope.
//
// pocrand's bits assume IEEE-754 binary32 with round-to-nearest-even and subnormals honoured.
// The mode that decides this is per thread (MXCSR on x86-64, FPCR on aarch64), and any library
// in the process may have changed it: a fast-math build sets flush-to-zero (FTZ) and
// denormals-are-zero (DAZ), torch.set_flush_denormal(True) does the same for the calling thread.
// IeeeFpMode saves the mode, sets the IEEE one and restores the saved one when it goes out of
// scope, so the caller's mode is never changed behind its back:
//   x86-64:  MXCSR = 0x1f80 (every exception masked, round-to-nearest, no FTZ, no DAZ);
//   aarch64: FPCR  = 0      (no FZ/FZ16/FIZ/AH, round-to-nearest, no default NaN, no traps).
// On any other architecture the mode cannot be set portably (C++ has no flush-to-zero control),
// so the guard probes it instead and throws std::runtime_error when it is not IEEE.
//
// Torch-free on purpose: tests/cpp checks the guard on x86-64 and under qemu on aarch64.
//
// The mode is per thread, and a parallel loop runs tasks on worker threads whose mode anything in
// the process may have changed. So every CPU kernel follows two rules:
//   1. each entry point starts with `const IeeeFpMode ieee;`: its serial parts run in the IEEE
//      mode;
//   2. it never calls at::parallel_for but cpu::parallel_for (parallel.h), which runs each task
//      body under its own IeeeFpMode on the thread that runs it.
// tests/test_fp_mode.py runs every CPU op with flush-to-zero set in the calling thread and in the
// worker threads.
#pragma once

#include <stdint.h>
#include <string.h>

#include <stdexcept>

#if (defined(__x86_64__) || defined(_M_X64)) && !defined(POCRAND_FP_MODE_PROBE_ONLY)
#include <xmmintrin.h>  // _mm_getcsr, _mm_setcsr
#define POCRAND_FP_MODE_X86 1
#elif defined(__aarch64__) && !defined(POCRAND_FP_MODE_PROBE_ONLY)
#define POCRAND_FP_MODE_AARCH64 1
#endif
// POCRAND_FP_MODE_PROBE_ONLY forces the probe of unknown architectures (for its test).

namespace pocrand {
namespace fp_env {

inline uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

inline float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// True when this thread computes binary32 the IEEE way. Compares bit patterns, never float
// values: under DAZ a comparison with a subnormal constant treats it as zero, so `r == 0x1p-127f`
// would pass for a flushed r == 0. `volatile` keeps the compiler from folding the operations.
inline bool mode_is_ieee() {
  volatile float min_normal = 0x1p-126f, half = 0.5f, one = 1.0f, three_quarter_ulp = 0x1.8p-24f;
  volatile float subnormal = from_bits(0x00400000u);  // 2^-127
  const bool no_ftz = bits_of(min_normal * half) == 0x00400000u;     // FTZ gives +0
  const bool no_daz = bits_of(subnormal + subnormal) == 0x00800000u;  // DAZ gives +0
  // 1 + 0.75 ulp rounds up to 1 + ulp only under round-to-nearest or upward; the negative case
  // rules out upward (it gives -1 there).
  const bool nearest = bits_of(one + three_quarter_ulp) == 0x3f800001u &&
                       bits_of(-one - three_quarter_ulp) == 0xbf800001u;
  return no_ftz && no_daz && nearest;
}

// Keeps the compiler from moving memory accesses (and the arithmetic on what they load) across
// a mode switch.
inline void compiler_barrier() { __asm__ __volatile__("" ::: "memory"); }

class IeeeFpMode {
 public:
  IeeeFpMode() {
#if defined(POCRAND_FP_MODE_X86)
    saved_ = _mm_getcsr();
    // Bits 0-5 are the sticky exception flags, which do not change results.
    if ((saved_ & ~0x3fu) != kIeeeMxcsr) {
      _mm_setcsr(kIeeeMxcsr);
      changed_ = true;
    }
#elif defined(POCRAND_FP_MODE_AARCH64)
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    saved_ = fpcr;
    if (fpcr != 0) {
      __asm__ __volatile__("msr fpcr, %0" : : "r"(uint64_t{0}));
      changed_ = true;
    }
#else
    if (!mode_is_ieee())
      throw std::runtime_error(
          "pocrand: this thread's floating-point mode is not IEEE (flush-to-zero, "
          "denormals-are-zero or a rounding mode other than to-nearest is set) and pocrand "
          "cannot reset it on this architecture; results would not be bit-exact, refusing to "
          "compute");
#endif
    compiler_barrier();
  }

  ~IeeeFpMode() {
    compiler_barrier();
#if defined(POCRAND_FP_MODE_X86)
    if (changed_) _mm_setcsr(static_cast<unsigned>(saved_));
#elif defined(POCRAND_FP_MODE_AARCH64)
    if (changed_) __asm__ __volatile__("msr fpcr, %0" : : "r"(saved_));
#endif
  }

  IeeeFpMode(const IeeeFpMode&) = delete;
  IeeeFpMode& operator=(const IeeeFpMode&) = delete;

 private:
  static constexpr unsigned kIeeeMxcsr = 0x1f80u;
  [[maybe_unused]] uint64_t saved_ = 0;  // unused where the mode is only probed
  [[maybe_unused]] bool changed_ = false;
};

// A stand-in that changes nothing, for one test build only: the known-answer driver built with
// POCRAND_TEST_ONLY_NO_FP_GUARD computes in whatever mode it is given, which shows that the known
// answers see flush-to-zero (CMakeLists.txt, known_answers_see_flush). Never defined elsewhere.
class NoFpGuard {
 public:
  NoFpGuard() = default;
  NoFpGuard(const NoFpGuard&) = delete;
  NoFpGuard& operator=(const NoFpGuard&) = delete;
};

}  // namespace fp_env

#if defined(POCRAND_TEST_ONLY_NO_FP_GUARD)
using IeeeFpMode = fp_env::NoFpGuard;
#else
using fp_env::IeeeFpMode;
#endif

}  // namespace pocrand
