"""SPEC.md section 4: sin and cos on [0, TWO_PI].

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import _HALF, _ONE, U32, _ZERO, _hexf


# ---------------------------------------------------------------------------------------------
# Section 4: sin and cos
# ---------------------------------------------------------------------------------------------
TWO_OVER_PI = _hexf("0x1.45f306p-1")
RINT_MAGIC = _hexf("0x1.8p23")
PIO2_C1 = _hexf("0x1.921fap+0")
PIO2_C2 = _hexf("0x1.54442p-20")
PIO2_C3 = _hexf("0x1.a308d4p-41")
S1 = _hexf("-0x1.555546p-3")
S2 = _hexf("0x1.11073cp-7")
S3 = _hexf("-0x1.9943f2p-13")
C1 = _hexf("0x1.55554ap-5")
C2 = _hexf("-0x1.6c0c34p-10")
C3 = _hexf("0x1.99eb9cp-16")


def _kernel_sin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = x * x
    v = z * x
    r = S2 + (z * S3)
    a = (_HALF * y) - (v * r)
    return x - (((z * a) - y) - (v * S1))


def _kernel_cos(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = x * x
    r = z * (C1 + (z * (C2 + (z * C3))))
    hz = _HALF * z
    w = _ONE - hz
    corr = ((_ONE - w) - hz) + ((z * r) - (x * y))
    return w + corr


def sincos(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    th = np.asarray(theta, dtype=np.float32)
    t = (th * TWO_OVER_PI) + RINT_MAGIC
    j = t - RINT_MAGIC
    q = t.view(np.uint32) & U32(3)
    a = th - (j * PIO2_C1)
    b = j * PIO2_C2
    hi = a - b
    bv = hi - a
    err = (a - (hi - bv)) + ((_ZERO - b) - bv)
    lo = err - (j * PIO2_C3)
    x = hi + lo
    y = lo - (x - hi)
    s = _kernel_sin(x, y)
    c = _kernel_cos(x, y)
    ns = _ZERO - s
    nc = _ZERO - c
    sin_out = np.select([q == 0, q == 1, q == 2], [s, c, ns], default=nc).astype(np.float32)
    cos_out = np.select([q == 0, q == 1, q == 2], [c, ns, nc], default=s).astype(np.float32)
    return sin_out, cos_out
