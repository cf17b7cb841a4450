"""SPEC.md section 3: log on [MIN_U1, 1].

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import _HALF, _ONE, _TWO, U32, _hexf


# ---------------------------------------------------------------------------------------------
# Section 3: log
# ---------------------------------------------------------------------------------------------
LG1 = _hexf("0x1.555554p-1")
LG2 = _hexf("0x1.999c26p-2")
LG3 = _hexf("0x1.23d3dcp-2")
LG4 = _hexf("0x1.f13c4cp-3")
LN2_HI = _hexf("0x1.62e3p-1")
LN2_LO = _hexf("0x1.2fefa2p-17")


def log(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    ix = x.view(np.uint32)
    mant = ix & U32(0x007FFFFF)
    bump = (mant + U32(0x4AFB0D)) & U32(0x00800000)
    k = (ix >> U32(23)).astype(np.int32) - np.int32(127) + (bump >> U32(23)).astype(np.int32)
    m = (mant | (bump ^ U32(0x3F800000))).view(np.float32)
    f = m - _ONE
    s = f / (_TWO + f)
    dk = k.astype(np.float32)  # exact: |k| < 2^24
    z = s * s
    w = z * z
    t1 = w * (LG2 + (w * LG4))
    t2 = z * (LG1 + (w * LG3))
    R = t2 + t1
    hfsq = (_HALF * f) * f
    inn = (s * (hfsq + R)) + (dk * LN2_LO)
    return (dk * LN2_HI) - ((hfsq - inn) - f)
