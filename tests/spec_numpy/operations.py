"""SPEC.md section 8: the Phase-2 operations (seeds, inputs, permutations, target,
distances).

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .constants import CANONICAL_NAN_BITS, U32, _ZERO
from .hashing import _murmur3
from .gaussian import normal
from .rounding import _deliver
from .reduction import norm, _norm_rows


# ---------------------------------------------------------------------------------------------
# Section 8: operations
# ---------------------------------------------------------------------------------------------
def seed_from_string(s: str) -> int:
    return int.from_bytes(hashlib.sha256(s.encode("utf-8")).digest()[:4], "big")


def inputs_seed(block_hash: str, public_key: str, nonce: int) -> int:
    return seed_from_string(f"{block_hash}_{public_key}_nonce{int(nonce)}")


def permutations_seed(block_hash: str, public_key: str, nonce: int) -> int:
    return seed_from_string(f"{block_hash}_{public_key}_nonce_{int(nonce)}_permutations")


def target_seed(block_hash: str) -> int:
    return seed_from_string(f"{block_hash}_target")


def _check_nonce(nonce: int) -> None:
    if not (-(1 << 63) <= int(nonce) < (1 << 63)):
        raise ValueError("nonce outside the int64 range")


def generate_inputs(block_hash: str, public_key: str, nonces: list[int], dim: int,
                    seq_len: int, dtype: str) -> np.ndarray:
    n = seq_len * dim
    rows = []
    for nonce in nonces:
        _check_nonce(nonce)
        rows.append(normal(inputs_seed(block_hash, public_key, nonce), n))
    out = (np.stack(rows) if rows else np.zeros((0, n), dtype=np.float32))
    out = out.reshape(len(nonces), seq_len, dim)
    return _deliver(out, dtype)


def generate_permutations(block_hash: str, public_key: str, nonces: list[int],
                          vocab_size: int) -> np.ndarray:
    for nonce in nonces:
        _check_nonce(nonce)
    seeds = np.array([permutations_seed(block_hash, public_key, nc) for nc in nonces],
                     dtype=np.uint32)
    idx = np.arange(vocab_size, dtype=np.uint32)
    h = _murmur3(idx[None, :], seeds[:, None])            # [B, V]
    return np.argsort(h, axis=1, kind="stable").astype(np.int64)


def generate_target(block_hash: str, vocab_size: int, dtype: str = "float32") -> np.ndarray:
    t = normal(target_seed(block_hash), vocab_size)
    nt = norm(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        target = t / nt
    bits = target.view(np.uint32).copy()
    bits[np.isnan(target)] = U32(CANONICAL_NAN_BITS)  # zero norm: every element is CANONICAL_NAN
    return _deliver(bits.view(np.float32), dtype)


def _widen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint16:  # bfloat16 bit patterns (this module's bfloat16 convention)
        return (a.astype(np.uint32) << U32(16)).view(np.float32)
    return a.astype(np.float32)  # float32 unchanged, float16 widened exactly


def compute_distances(logits: np.ndarray, permutations: np.ndarray,
                      target: np.ndarray) -> np.ndarray:
    x = _widen(logits)
    tg = _widen(target)
    perm = np.asarray(permutations, dtype=np.int64)
    if x.ndim != 2 or perm.shape != x.shape or tg.shape != (x.shape[1],):
        raise ValueError("shapes must be logits [B, V], permutations [B, V], target [V]")
    V = x.shape[1]
    if perm.size and (perm.min() < 0 or perm.max() >= V):
        raise ValueError("permutation entries must lie in [0, V)")
    nx = _norm_rows(x)                                        # [B]
    bad = (nx == _ZERO) | ~np.isfinite(nx)
    xg = np.take_along_axis(x, perm, axis=1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d = (xg / nx[:, None]) - tg[None, :]
    dist = _norm_rows(d)
    bad = bad | np.isnan(dist)  # canonicalise every NaN (see report: NaN target entries)
    bits = dist.view(np.uint32).copy()
    bits[bad] = U32(CANONICAL_NAN_BITS)
    return bits.view(np.float32)
