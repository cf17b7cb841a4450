"""log / sin / cos of the compiled CPU kernels against float64, at the figures SPEC.md and
docs/guarantees.md state: at most 0.829 / 0.795 / 0.790 ulp (faithful: <= 1 ulp is the guarantee).

Those maxima were measured on every float of the domains by tests/cpp/accuracy_core.cpp
(`build/cmake/accuracy_core 1`: 0.8288 ulp at 0x1.67e436p-1 for log, 0.7954 at 0x1.f68978p+1
for sin, 0.7904 at 0x1.922dc4p-1 for cos). Here 10^7 random points each, plus those three
arguments, go through the kernels: no point may exceed the error at those arguments, which must
round to the stated figures (so a figure is neither exceeded nor overstated).
"""
from __future__ import annotations

import numpy as np
import torch

from pocrand_ext import stages

N = 10_000_000
MIN_U1 = np.float32(float.fromhex("0x1.b7cdfep-34"))
TWO_PI = np.float32(float.fromhex("0x1.921fb6p+2"))
STATED = {"log": 0.829, "sin": 0.795, "cos": 0.790}            # SPEC.md sections 3 and 4
WORST = {"log": ("0x1.67e436p-1", 0.8288), "sin": ("0x1.f68978p+1", 0.7954),
         "cos": ("0x1.922dc4p-1", 0.7904)}                       # VERIFICATION.md, 4 decimals


def ulp_error(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of the binary32 ulp at exact (exact != 0, normal range)."""
    _, e = np.frexp(np.abs(exact))
    return np.abs(got.astype(np.float64) - exact) / np.ldexp(1.0, e - 24)


def random_floats(lo: np.float32, hi: np.float32, n: int, seed: int, *extra: str) -> np.ndarray:
    """Uniform over the bit patterns (so every binade is covered), endpoints and `extra` (hex
    floats) included."""
    b = np.random.default_rng(seed).integers(np.float32(lo).view(np.uint32),
                                             np.float32(hi).view(np.uint32) + 1, n)
    b[:2] = [np.float32(lo).view(np.uint32), np.float32(hi).view(np.uint32)]
    x = b.astype(np.uint32).view(np.float32)
    return np.concatenate([x, np.array([float.fromhex(h) for h in extra], dtype=np.float32)])


def check(name: str, args: np.ndarray, got: np.ndarray, exact: np.ndarray):
    nz = exact != 0
    assert np.all(got[~nz] == 0)
    err = ulp_error(got[nz], exact[nz])
    at, figure = WORST[name]
    worst = float(err[args[nz] == np.float32(float.fromhex(at))][0])
    # The worst argument of the exhaustive sweep is the worst here too, and its error is the
    # figure VERIFICATION.md gives (4 decimals) and SPEC.md / docs/guarantees.md round to 3.
    assert err.max() == worst, f"{name}: {err.max():.5f} ulp at {args[nz][err.argmax()]!r} > {worst:.5f}"
    assert round(worst, 4) == figure and round(worst, 3) == STATED[name], (name, worst)


def test_log_within_the_stated_ulps():
    x = random_floats(MIN_U1, np.float32(1), N, 1, WORST["log"][0])
    check("log", x, stages.log(torch.from_numpy(x)).numpy(), np.log(x.astype(np.float64)))


def test_sin_cos_within_the_stated_ulps():
    t = random_floats(np.float32(0), TWO_PI, N, 2, WORST["sin"][0], WORST["cos"][0])
    s, c = (v.numpy() for v in stages.sincos(torch.from_numpy(t)))
    t64 = t.astype(np.float64)
    assert np.abs(s).max() <= 1 and np.abs(c).max() <= 1   # what bounds |normal| by the radius
    check("sin", t, s, np.sin(t64))
    check("cos", t, c, np.cos(t64))
