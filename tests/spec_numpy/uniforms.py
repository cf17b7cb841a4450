"""SPEC.md section 2: the uniform in [0, 1] of a hash.

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import TWO_NEG32
from .hashing import murmur3


# ---------------------------------------------------------------------------------------------
# Section 2: uniform
# ---------------------------------------------------------------------------------------------
def _u32_to_f32(h: np.ndarray) -> np.ndarray:
    # numpy's uint32 -> float32 cast is a single correctly rounded (RNE) conversion; the
    # self-check verifies this against an integer-only RNE conversion.
    return np.asarray(h, dtype=np.uint32).astype(np.float32)


def uniform_from_hash(h: np.ndarray) -> np.ndarray:
    return _u32_to_f32(h) * TWO_NEG32


def uniform(seed: int, n: int) -> np.ndarray:
    idx = np.arange(n, dtype=np.uint32)
    return uniform_from_hash(murmur3(idx, seed))
