// fp_env_test.cpp — csrc/cpu/fp_env.h on its own (no torch): the probe sees flush-to-zero and
// non-nearest rounding by bit patterns; IeeeFpMode computes with subnormals honoured whatever
// mode the thread is in, and gives the thread its mode back. Built twice by CMake: with the
// x86-64 / aarch64 register code, and with -DPOCRAND_FP_MODE_PROBE_ONLY (the path of other
// architectures), where the guard must refuse instead.
#include <cfenv>
#include <cstdio>
#include <stdexcept>

#include "../../csrc/cpu/fp_env.h"
#include "flush_mode.h"

using pocrand::IeeeFpMode;
using pocrand::fp_env::bits_of;
using pocrand::fp_env::mode_is_ieee;

static int failures = 0;
static void expect(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  failures += !ok;
}

// 2^-126 * 0.5 = 2^-127, a subnormal: bits 0x00400000, or 0 when flushed.
static uint32_t half_of_min_normal() {
  volatile float m = 0x1p-126f, h = 0.5f;
  return bits_of(m * h);
}

// Does the guard let `body` compute in IEEE mode (true), or refuse (false)?
template <class F>
static bool guarded(F body) {
  try {
    const IeeeFpMode ieee;
    body();
    return true;
  } catch (const std::runtime_error& e) {
    std::printf("      refused: %.60s...\n", e.what());
    return false;
  }
}

int main() {
#if defined(POCRAND_FP_MODE_PROBE_ONLY)
  const bool can_set = false;
  std::printf("fp_env: probe only (the path of architectures without mode registers)\n");
#else
  const bool can_set = pocrand_test::kCanSetFlush;
  std::printf("fp_env: mode registers set and restored\n");
#endif
  expect(mode_is_ieee(), "the default mode is IEEE");
  expect(half_of_min_normal() == 0x00400000u, "subnormal results are kept by default");
  expect(guarded([] {}), "the guard accepts the IEEE mode");

  if (pocrand_test::kCanSetFlush) {
    pocrand_test::set_flush(true);
    expect(!mode_is_ieee(), "the probe sees flush-to-zero");
    expect(half_of_min_normal() == 0u, "flush-to-zero is really on");
    uint32_t inside = 0;
    const bool ran = guarded([&] {
      inside = half_of_min_normal();
      expect(mode_is_ieee(), "inside the guard the mode is IEEE");
    });
    expect(ran == can_set, can_set ? "the guard sets IEEE mode under flush-to-zero"
                                   : "the guard refuses under flush-to-zero");
    if (can_set) expect(inside == 0x00400000u, "inside the guard subnormals are kept");
    expect(half_of_min_normal() == 0u, "after the guard the thread flushes again (restored)");
    pocrand_test::set_flush(false);
  }

  // Rounding modes, through the standard <cfenv> (only where the platform has them).
#if defined(FE_UPWARD) && defined(FE_DOWNWARD) && defined(FE_TOWARDZERO)
  for (int mode : {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO}) {
    std::fesetround(mode);
    expect(!mode_is_ieee(), "the probe sees a rounding mode other than to-nearest");
    const bool ran = guarded([] { expect(mode_is_ieee(), "inside the guard: to-nearest"); });
    expect(ran == can_set, can_set ? "the guard sets round-to-nearest" : "the guard refuses");
    expect(std::fegetround() == mode, "after the guard the rounding mode is restored");
    std::fesetround(FE_TONEAREST);
  }
#endif
  expect(mode_is_ieee(), "the mode is IEEE at the end");
  if (failures) std::printf("%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
