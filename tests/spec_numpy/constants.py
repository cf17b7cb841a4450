"""SPEC.md section 0: the constants, with the two helpers that build them (a spec hex
float checked exact in binary32, a u32 value).

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np


F32 = np.float32
U32 = np.uint32


def _hexf(s: str) -> np.float32:
    """A spec hex-float constant, checked to be exactly representable in binary32."""
    v = float.fromhex(s)
    f = np.float32(v)
    assert float(f) == v, f"constant {s} is not exact in binary32"
    return f


def _u(x: int) -> np.uint32:
    return np.uint32(x & 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------------
# Section 0: constants
# ---------------------------------------------------------------------------------------------
TWO_NEG32 = _hexf("0x1p-32")
MIN_U1 = _hexf("0x1.b7cdfep-34")
TWO_PI = _hexf("0x1.921fb6p+2")
CANONICAL_NAN_BITS = 0x7FC00000
CANONICAL_NAN = np.array([CANONICAL_NAN_BITS], dtype=np.uint32).view(np.float32)[0]

# small exact constants used by the formulas
_ZERO = F32(0.0)
_HALF = F32(0.5)
_ONE = F32(1.0)
_TWO = F32(2.0)
_MINUS_TWO = F32(-2.0)
