"""Validation statistics of the decode scheme (SPEC.md 10.9), in float64 on the host: per nonce
the steps where the validator's snap disagrees with the claim, the largest claimed margin among
them, the flag at tau; over the request the missing-nonce cap and the one-sided binomial test."""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import numpy as np
import torch

from .snap import claimed_margin

__all__ = ["decode_validation", "binomial_upper_tail", "missing_nonce_cap"]
MAX_NONCES = 1 << 16  # the exact binomial tail is evaluated for at most this many nonces


@dataclass(frozen=True)
class DecodeValidation:
    mismatches: list          # per nonce: steps with k >= 0 and k != claimed
    margin_max: list          # per nonce: the largest claimed margin among them (float64; 0.0)
    flagged: list             # per nonce: mismatches > 0 and margin_max > tau
    n_flagged: int
    n_scored: int             # nonces given
    n_requested: int
    n_missing: int
    verdict: bool             # False: more nonces missing than the cap, no verdict
    p_value: Optional[float]  # P[X >= n_flagged], X ~ Binomial(n_scored, p_mismatch); None without verdict
    fraud_detected: Optional[bool]


def missing_nonce_cap(n_requested: int) -> int:
    """The most missing nonces that still allow a verdict: max(1, floor(n_requested / 10)), the
    deployed max(1, int(n_requested * 0.1))."""
    if isinstance(n_requested, bool) or not isinstance(n_requested, (int, np.integer)):
        raise TypeError(f"n_requested must be an int, got {type(n_requested).__name__}")
    if n_requested < 0:
        raise ValueError(f"n_requested must be >= 0, got {n_requested}")
    return max(1, int(n_requested) // 10)


def binomial_upper_tail(flagged: int, total: int, p: float) -> float:
    """P[X >= flagged] for X ~ Binomial(total, p), the sum evaluated exactly in rationals from
    p's float64 value and rounded once to float64 (1.0 when total == 0 or flagged <= 0)."""
    for name, v in (("flagged", flagged), ("total", total)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= MAX_NONCES:
            raise ValueError(f"{name} must be an integer in [0, {MAX_NONCES}], got {v!r}")
    flagged, total = int(flagged), int(total)
    if isinstance(p, bool) or not isinstance(p, (float, int, np.floating)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p_mismatch must be a float in [0, 1], got {p!r}")
    if total == 0 or flagged <= 0:
        return 1.0
    if flagged > total:
        return 0.0
    pf = Fraction(float(p))
    qf = 1 - pf
    # sum_{i >= flagged} C(n, i) p^i q^(n - i), as one rational
    tail = sum(math.comb(total, i) * pf ** i * qf ** (total - i) for i in range(flagged, total + 1))
    return float(tail)  # Fraction -> float is correctly rounded


def _rows(name, value, ndim):
    """A per-nonce list of arrays from a tensor/array (first dimension = nonces) or a sequence."""
    if isinstance(value, torch.Tensor):
        if value.device.type not in ("cpu", "cuda"):
            raise ValueError(f"{name} is on {value.device}: pass the values themselves (a CPU or "
                             f"CUDA tensor)")
        value = value.detach().cpu()
        if value.dim() < ndim:
            raise ValueError(f"{name} must have at least {ndim} dimensions, got shape "
                             f"{list(value.shape)}")
        return [value[i] for i in range(value.shape[0])]
    if isinstance(value, np.ndarray):
        if value.ndim < ndim:
            raise ValueError(f"{name} must have at least {ndim} dimensions, got shape "
                             f"{list(value.shape)}")
        return [torch.from_numpy(np.ascontiguousarray(value[i])) for i in range(value.shape[0])]
    try:
        return [torch.as_tensor(np.asarray(v)) for v in value]
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"{name} must be a tensor, an array or a sequence of per-nonce arrays: {e}")


def decode_validation(claimed_k, validator_k, scores, *, tau: float, p_mismatch: float,
                      fraud_threshold: float, requested: Optional[int] = None) -> DecodeValidation:
    """The validator's verdict statistics over the nonces of one request (SPEC.md 10.9).

    claimed_k[n]: the prover's k per step (int [T_n]); validator_k[n]: the validator's own snap
    (int [T_n], -1 for a bad step); scores[n]: the validator's scores (float32 [T_n, P]). Tensors
    [N, T] / [N, T, P] or sequences of per-nonce arrays. requested: how many nonces the request
    asked for (default: the number given)."""
    claimed = _rows("claimed_k", claimed_k, 1)
    k = _rows("validator_k", validator_k, 1)
    scores = _rows("scores", scores, 2)
    if not (len(claimed) == len(k) == len(scores)):
        raise ValueError(f"claimed_k, validator_k and scores must hold one entry per nonce, got "
                         f"{len(claimed)}, {len(k)} and {len(scores)}")
    for name, v in (("tau", tau), ("fraud_threshold", fraud_threshold)):
        if isinstance(v, bool) or not isinstance(v, (float, int, np.floating)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite float, got {v!r}")
    mismatches, margin_max, flagged = [], [], []
    for n, (c, kk, s) in enumerate(zip(claimed, k, scores)):
        for name, t in (("claimed_k", c), ("validator_k", kk)):
            if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
                raise TypeError(f"{name}[{n}] must hold integers, got {t.dtype}")
        c, kk = c.reshape(-1).long(), kk.reshape(-1).long()
        if s.dtype != torch.float32:
            raise TypeError(f"scores[{n}] must be float32, got {s.dtype}")
        if s.dim() != 2 or not (c.shape[0] == kk.shape[0] == s.shape[0]):
            raise ValueError(f"nonce {n}: claimed_k {list(c.shape)}, validator_k {list(kk.shape)} and scores "
                             f"{list(s.shape)} must be [T], [T] and [T, P]")
        disagree = (kk >= 0) & (kk != c)
        m = int(disagree.sum())
        # A NaN margin (NaN scores on a disagreeing step) counts as +inf: NaN never hides a
        # disagreement (SPEC.md 10.9).
        margins = claimed_margin(s, c)[disagree].double().nan_to_num(nan=math.inf)
        worst = float(margins.max()) if m else 0.0
        mismatches.append(m)
        margin_max.append(worst)
        flagged.append(m > 0 and worst > float(tau))
    n_scored = len(claimed)
    n_requested = n_scored if requested is None else requested
    if isinstance(n_requested, bool) or not isinstance(n_requested, (int, np.integer)) or \
            n_requested < n_scored:
        raise ValueError(f"requested must be an integer >= the {n_scored} nonces given, got "
                         f"{requested!r}")
    n_missing = int(n_requested) - n_scored
    verdict = n_missing <= missing_nonce_cap(n_requested)
    n_flagged = sum(flagged)
    p_value = binomial_upper_tail(n_flagged, n_scored, p_mismatch) if verdict else None
    if not verdict:  # still check p_mismatch, so a bad argument never passes silently
        binomial_upper_tail(0, 0, p_mismatch)
    return DecodeValidation(mismatches, margin_max, flagged, n_flagged, n_scored, int(n_requested),
                            n_missing, verdict, p_value,
                            (p_value < float(fraud_threshold)) if verdict else None)
