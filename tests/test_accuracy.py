"""log / sin / cos are faithful (<= 1 ulp) against float64 on >= 10^7 points of their domains.

The CTest program tests/cpp/accuracy_core.cpp sweeps every float of both domains
(`build/cmake/accuracy_core 1`); here 10^7 random points each go through the compiled CPU kernels.
"""
from __future__ import annotations

import numpy as np
import torch

from pocrand_ext import stages

N = 10_000_000
MIN_U1 = np.float32(float.fromhex("0x1.b7cdfep-34"))
TWO_PI = np.float32(float.fromhex("0x1.921fb6p+2"))


def ulp_error(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of the binary32 ulp at exact (exact != 0, normal range)."""
    _, e = np.frexp(np.abs(exact))
    return np.abs(got.astype(np.float64) - exact) / np.ldexp(1.0, e - 24)


def random_floats(lo: np.float32, hi: np.float32, n: int, seed: int) -> np.ndarray:
    """Uniform over the bit patterns (so every binade is covered), endpoints included."""
    b = np.random.default_rng(seed).integers(np.float32(lo).view(np.uint32),
                                             np.float32(hi).view(np.uint32) + 1, n)
    b[:2] = [np.float32(lo).view(np.uint32), np.float32(hi).view(np.uint32)]
    return b.astype(np.uint32).view(np.float32)


def test_log_within_one_ulp():
    x = random_floats(MIN_U1, np.float32(1), N, 1)
    got = stages.log(torch.from_numpy(x)).numpy()
    exact = np.log(x.astype(np.float64))
    nz = exact != 0
    assert np.all(got[~nz] == 0)
    err = ulp_error(got[nz], exact[nz])
    assert err.max() <= 1.0, f"max {err.max():.4f} ulp at {x[nz][err.argmax()]!r}"


def test_sin_cos_within_one_ulp():
    t = random_floats(np.float32(0), TWO_PI, N, 2)
    s, c = (v.numpy() for v in stages.sincos(torch.from_numpy(t)))
    t64 = t.astype(np.float64)
    for name, got, exact in (("sin", s, np.sin(t64)), ("cos", c, np.cos(t64))):
        nz = exact != 0
        assert np.all(got[~nz] == 0)
        err = ulp_error(got[nz], exact[nz])
        assert err.max() <= 1.0, f"{name}: max {err.max():.4f} ulp at {t[nz][err.argmax()]!r}"
