"""SPEC.md section 10.6-10.9: the snap of the decode scheme and its validation
statistics.

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path. 10.9's p-value is, as the spec defines it, an exact
rational sum rounded once to a float64 (binomial_upper_tail).
"""
from __future__ import annotations

import math

import numpy as np

from .constants import F32
from .reduction import norm, _tree_sum_rows
from .operations import _widen
from .pocv2 import EPS8, _canonicalize_nan, _check_storage, pick


# ---------------------------------------------------------------------------------------------
# Section 10.6-10.9: the snap of the decode scheme and its validation statistics
# ---------------------------------------------------------------------------------------------
SNAP_MAX = 1024                   # d, P <= 1024 (10.6)


def snap_row(h: np.ndarray, seed: int, codebook: np.ndarray):
    """10.6 for one widened binary32 row h [H]: (k, bad, scores [P], q [d])."""
    h = np.asarray(h, dtype=np.float32).reshape(-1)
    C = np.asarray(codebook, dtype=np.float32)
    P, d = C.shape
    H = h.shape[0]
    if not (1 <= d <= H and d <= SNAP_MAX and 1 <= P <= SNAP_MAX):
        raise ValueError("snap: need 1 <= d <= H, d <= 1024, 1 <= P <= 1024")
    nh = norm(h)                                                     # √sumsq(h), section 7
    if np.isnan(nh) or np.isinf(nh):
        return -1, True, np.zeros(P, np.float32), np.zeros(d, np.float32)
    d1 = F32(nh + EPS8)                                              # nh ⊕ EPS8
    idx = pick(seed & 0xFFFFFFFF, H, d)                               # 9.4
    with np.errstate(under="ignore"):
        g = h[idx] / d1                                              # h[idx[m]] ⊘ d1
        d2 = F32(norm(g) + EPS8)                                     # norm(g) ⊕ EPS8
        q = g / d2                                                   # g[m] ⊘ d2
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        scores = _tree_sum_rows(q[None, :] * C)                      # row j: sum(q[m] ⊗ C[j][m])
    scores = _canonicalize_nan(scores.astype(np.float32))
    k = 0
    for j in range(1, P):                                            # strict: lowest index wins
        if scores[j] > scores[k]:
            k = j
    return k, False, scores, q.astype(np.float32)


def snap(h: np.ndarray, dtype: str, seeds, codebook: np.ndarray):
    """10.7: (k int64 [B], bad bool [B], scores float32 [B, P], q float32 [B, d]).
    h holds dtype's storage (float32, float16, or bfloat16 bit patterns as uint16)."""
    h = _widen(_check_storage(h, dtype))
    if h.ndim != 2:
        raise ValueError("snap: h must be [B, H]")
    B = h.shape[0]
    seeds = [int(s) for s in seeds]
    if len(seeds) != B:
        raise ValueError("snap: one seed a row")
    C = np.asarray(codebook, dtype=np.float32)
    P, d = C.shape
    k = np.empty(B, np.int64)
    bad = np.empty(B, np.bool_)
    scores = np.empty((B, P), np.float32)
    q = np.empty((B, d), np.float32)
    for b in range(B):
        k[b], bad[b], scores[b], q[b] = snap_row(h[b], seeds[b], C)
    return k, bad, scores, q


def claimed_margin(scores: np.ndarray, claimed) -> np.ndarray:
    """10.8: binary32 best ⊖ scores[claimed], or 2.0 for a claim outside [0, P)."""
    s = np.asarray(scores, dtype=np.float32)
    c = np.asarray(claimed, dtype=np.int64)
    P = s.shape[-1]
    out = np.full(c.shape, F32(2.0), dtype=np.float32)
    flat_s = s.reshape(-1, P)
    flat_c = c.reshape(-1)
    flat_o = out.reshape(-1)
    for r in range(flat_c.shape[0]):
        if 0 <= flat_c[r] < P:
            row = flat_s[r]
            best = row[0]
            for v in row[1:]:                                        # exact selection
                if v > best or np.isnan(v):
                    best = v
            flat_o[r] = F32(best - row[flat_c[r]])
    return out


def binomial_upper_tail(F: int, N: int, p: float) -> float:
    """P[X >= F], X ~ Binomial(N, p): exact rational sum, rounded once to float64 (10.9)."""
    from fractions import Fraction
    if N == 0 or F <= 0:
        return 1.0
    if F > N:
        return 0.0
    pf = Fraction(float(p))
    qf = 1 - pf
    total = Fraction(0)
    for i in range(F, N + 1):
        total += math.comb(N, i) * pf ** i * qf ** (N - i)
    return float(total)                      # Fraction -> float rounds to nearest


def validation_stats(claimed, k, scores, tau: float, p_mismatch: float, fraud_threshold: float,
                     requested=None) -> dict:
    """10.9 over per-nonce lists: claimed[n] [T_n], k[n] [T_n], scores[n] [T_n, P]."""
    N = len(claimed)
    mism, mmax, flagged = [], [], []
    for n in range(N):
        c = np.asarray(claimed[n], np.int64).reshape(-1)
        kk = np.asarray(k[n], np.int64).reshape(-1)
        s = np.asarray(scores[n], np.float32).reshape(c.shape[0], -1)
        dis = [t for t in range(c.shape[0]) if kk[t] >= 0 and kk[t] != c[t]]
        margins = claimed_margin(s, c)
        # a NaN margin counts as +inf: NaN never hides a disagreement
        m = max((math.inf if math.isnan(float(margins[t])) else float(margins[t]) for t in dis),
                default=0.0)
        mism.append(len(dis))
        mmax.append(m)
        flagged.append(len(dis) > 0 and m > tau)
    R = N if requested is None else int(requested)
    missing = R - N
    verdict = not (missing > max(1, R // 10))
    Fc = sum(flagged)
    p_value = binomial_upper_tail(Fc, N, p_mismatch) if verdict else None
    return {"mismatches": mism, "margin_max": mmax, "flagged": flagged, "n_flagged": Fc,
            "n_scored": N, "n_missing": missing, "verdict": verdict, "p_value": p_value,
            "fraud_detected": (p_value < fraud_threshold) if verdict else None}
