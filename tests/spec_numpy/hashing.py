"""SPEC.md section 1: murmur3 (hash(key, seed) on u32 values) and fmix32's inverse.

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import U32, _u


# ---------------------------------------------------------------------------------------------
# Section 1: murmur3
# ---------------------------------------------------------------------------------------------
_C1 = _u(0xCC9E2D51)
_C2 = _u(0x1B873593)
_N = _u(0xE6546B64)
_FM1 = 0x85EBCA6B
_FM2 = 0xC2B2AE35
_FM1_INV = pow(_FM1, -1, 1 << 32)
_FM2_INV = pow(_FM2, -1, 1 << 32)
assert (_FM1 * _FM1_INV) & 0xFFFFFFFF == 1 and (_FM2 * _FM2_INV) & 0xFFFFFFFF == 1


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << U32(r)) | (x >> U32(32 - r))


def fmix32(h: np.ndarray) -> np.ndarray:
    h = np.asarray(h, dtype=np.uint32).copy()
    with np.errstate(over="ignore"):
        h ^= h >> U32(16)
        h = h * _u(_FM1)
        h ^= h >> U32(13)
        h = h * _u(_FM2)
        h ^= h >> U32(16)
    return h


def fmix32_inverse(h: np.ndarray) -> np.ndarray:
    """Inverse of fmix32 (each step undone in reverse order)."""
    h = np.asarray(h, dtype=np.uint32).copy()
    with np.errstate(over="ignore"):
        h ^= h >> U32(16)                       # x ^= x >> 16 is an involution on u32
        h = h * _u(_FM2_INV)
        h = h ^ (h >> U32(13)) ^ (h >> U32(26))  # inverse of x ^= x >> 13
        h = h * _u(_FM1_INV)
        h ^= h >> U32(16)
    return h


def _murmur3(keys: np.ndarray, seeds) -> np.ndarray:
    """hash(key, seed) with broadcasting between keys and seeds (both u32)."""
    k = np.asarray(keys, dtype=np.uint32)
    s = np.asarray(seeds, dtype=np.uint32)
    with np.errstate(over="ignore"):
        k = k * _C1
        k = _rotl(k, 15)
        k = k * _C2
        h = s ^ k
        h = _rotl(h, 13)
        h = h * U32(5) + _N
    return fmix32(h)


def murmur3(keys: np.ndarray, seed: int) -> np.ndarray:
    return _murmur3(np.asarray(keys, dtype=np.uint32), _u(int(seed)))


def murmur3_32(keys: np.ndarray, seed: int) -> np.ndarray:
    k = np.asarray(keys, dtype=np.int64)
    k32 = (k & np.int64(0xFFFFFFFF)).astype(np.uint32)
    return murmur3(k32, seed).astype(np.int64)
