"""SPEC.md section 7: the reduction order (tree sums over chunks of 1024).

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------------------------------------
# Section 7: reduction order
# ---------------------------------------------------------------------------------------------
CHUNK = 1024


def _tree_sum_rows(a: np.ndarray) -> np.ndarray:
    """Section 7 sum applied independently to every row of a 2-D float32 array [B, n], n >= 1."""
    v = np.asarray(a, dtype=np.float32)
    if v.ndim != 2 or v.shape[1] < 1:
        raise ValueError("tree sum needs n >= 1 terms per row")
    B = v.shape[0]
    while True:
        n = v.shape[1]
        nc = -(-n // CHUNK)
        if nc * CHUNK != n:
            padded = np.zeros((B, nc * CHUNK), dtype=np.float32)  # +0.0 padding
            padded[:, :n] = v
            v = padded
        c = v.reshape(B, nc, CHUNK)
        width = CHUNK // 2
        while width >= 1:
            c = c[:, :, :width] + c[:, :, width:2 * width]
            width //= 2
        v = c[:, :, 0]
        if nc == 1:
            return v[:, 0].copy()


def tree_sum(v: np.ndarray) -> np.float32:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return np.float32(_tree_sum_rows(v[None, :])[0])


def _sumsq_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return _tree_sum_rows(a * a)


def _norm_rows(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.sqrt(_sumsq_rows(a))


def sumsq(v: np.ndarray) -> np.float32:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return np.float32(_sumsq_rows(v[None, :])[0])


def norm(v: np.ndarray) -> np.float32:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return np.float32(_norm_rows(v[None, :])[0])
