// flush_mode.h — test tooling: switch the calling thread's flush-to-zero on or off, the way a
// fast-math library or torch.set_flush_denormal(True) does (x86-64: MXCSR FTZ | DAZ; aarch64:
// FPCR FZ), to check that csrc/cpu/fp_env.h's guard undoes it and restores it.
#pragma once

#include <stdint.h>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace pocrand_test {

// True where this file knows how to set the mode.
constexpr bool kCanSetFlush =
#if defined(__x86_64__) || defined(__aarch64__)
    true;
#else
    false;
#endif

inline void set_flush(bool on) {
#if defined(__x86_64__)
  const unsigned bits = 0x8040u;  // FTZ (bit 15) | DAZ (bit 6)
  _mm_setcsr(on ? (_mm_getcsr() | bits) : (_mm_getcsr() & ~bits));
#elif defined(__aarch64__)
  const uint64_t fz = uint64_t{1} << 24;
  uint64_t v;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
  v = on ? (v | fz) : (v & ~fz);
  __asm__ __volatile__("msr fpcr, %0" : : "r"(v) : "memory");
#else
  (void)on;
#endif
  __asm__ __volatile__("" ::: "memory");
}

}  // namespace pocrand_test
