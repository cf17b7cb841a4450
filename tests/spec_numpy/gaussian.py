"""SPEC.md section 5: Box-Muller and normal(seed, n).

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import MIN_U1, _MINUS_TWO, TWO_PI
from .uniforms import uniform
from .logarithm import log
from .trig import sincos


# ---------------------------------------------------------------------------------------------
# Section 5: Box-Muller
# ---------------------------------------------------------------------------------------------
def box_muller(u1_raw: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u1_raw = np.asarray(u1_raw, dtype=np.float32)
    u2 = np.asarray(u2, dtype=np.float32)
    u1 = np.where(u1_raw < MIN_U1, MIN_U1, u1_raw).astype(np.float32)
    r = np.sqrt(_MINUS_TWO * log(u1))
    th = TWO_PI * u2
    s, c = sincos(th)
    return r * c, r * s


def normal(seed: int, n: int) -> np.ndarray:
    if n < 1:
        raise ValueError("normal: n must be >= 1")
    p = (n + 1) // 2
    u = uniform(seed, 2 * p)  # indices 0 .. 2p-1 (2p-1 == n for odd n: computed, then dropped)
    first, second = box_muller(u[:p], u[p:2 * p])
    out = np.empty(n, dtype=np.float32)
    out[:p] = first
    out[p:] = second[: n - p]
    return out
