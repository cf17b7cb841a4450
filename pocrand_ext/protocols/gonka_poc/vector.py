"""The decode scheme's vector channel (plugin 0.2.0, SPEC.md 10.13): evidence beside the k chain.

For each step t = 0 .. T of a nonce the prover keeps the pre-snap q_t (SPHERE_DIM coordinates),
cuts it to k_dim coordinates picked with seed f"{bh}_{pk}_nonce_{n}_pick_{k_dim}_decode{t}" in
the host order of SPEC.md 9.4 (torch's CPU topk order, which the plugin's host-side pick
returns), and ships each slice as fp16 little-endian base64. The validator recomputes the same
slices and scores steps 1 .. n-1 by cosine distance (score_vector_channel).

The pick and the encoding are exact and portable. The scorer's floats are numpy's float32 dot
and norm, as in the plugin: they match the plugin's on the machine they run on; the verdict
stays k-based, and the vector score is read against a tolerance.
"""
from __future__ import annotations

import base64
import binascii
import os
from typing import Dict, List, Optional

import numpy as np
import torch

from ..._checks import check_int, check_nonce, check_str
from . import decode_pick_indices_steps
from .sphere import SPHERE_DIM

__all__ = ["K_DIM", "TOL_ENV", "step_tol_from_env", "encode_vector", "decode_vector",
           "slice_picks", "encode_slices", "encode_sph_slices", "score_vector_channel"]

K_DIM = 12  # coordinates kept per step
TOL_ENV = "VLLM_POC_VECTOR_TOL"  # the plugin's environment variable for the step tolerance


def step_tol_from_env() -> float:
    """The per-step tolerance: float(VLLM_POC_VECTOR_TOL), 0.01 when unset (the plugin's rule)."""
    raw = os.environ.get(TOL_ENV, "0.01")
    try:
        tol = float(raw)
    except ValueError:
        raise ValueError(f"{TOL_ENV} must be a number, got {raw!r}") from None
    if not tol == tol:  # a NaN tolerance would flag no step: a disagreement would hide behind it
        raise ValueError(f"{TOL_ENV} must not be NaN")
    return tol


def _host_array(name: str, v) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        if v.device.type != "cpu":
            raise ValueError(f"{name} must be on the host (a numpy array or CPU tensor), got {v.device}")
        v = v.detach()
        v = (v.float() if v.dtype in (torch.bfloat16, torch.float16) else v).numpy()
    a = np.asarray(v)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def encode_vector(vector) -> str:
    """fp16 little-endian bytes of `vector` (rounded to nearest even from its own dtype), base64."""
    a = _host_array("vector", vector)
    return base64.b64encode(a.astype("<f2").tobytes()).decode("ascii")


def decode_vector(b64: str) -> np.ndarray:
    """float32 [n] from an encode_vector string (base64 decoded as the plugin does: characters
    outside the alphabet are dropped)."""
    if not isinstance(b64, (str, bytes)):
        raise TypeError(f"b64 must be a str, got {type(b64).__name__}")
    try:
        raw = base64.b64decode(b64)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"b64 is not base64: {e}") from None
    if len(raw) % 2:
        raise ValueError(f"b64 decodes to {len(raw)} bytes, not a whole number of fp16 values")
    return np.frombuffer(raw, dtype="<f2").astype(np.float32)


def slice_picks(block_hash: str, public_key: str, nonce: int, n_steps: int, k_dim: int = K_DIM,
                dim: int = SPHERE_DIM) -> torch.Tensor:
    """int64 [n_steps, k_dim] (CPU): step t's picked coordinates, seed
    f"{bh}_{pk}_nonce_{nonce}_pick_{k_dim}_decode{t}", in the host order (SPEC.md 9.4)."""
    n_steps = check_int("n_steps", n_steps)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    return decode_pick_indices_steps(block_hash, public_key, nonce, dim, k_dim, range(n_steps),
                                     "cpu", host_order=True)


def encode_slices(q, block_hash: str, public_key: str, nonce: int, k_dim: int = K_DIM) -> List[str]:
    """One string per row of q ([steps, dim] on the host, any dim >= k_dim; row t is step t):
    row t at step t's picked coordinates (pick over dim), encode_vector'd."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    check_nonce("nonce", nonce)
    q = _host_array("q", q)
    if q.ndim != 2:
        raise ValueError(f"q must be [steps, dim], got shape {list(q.shape)}")
    k_dim = check_int("k_dim", k_dim)
    if not 1 <= k_dim <= q.shape[1]:
        raise ValueError(f"k_dim must be in [1, {q.shape[1]}], got {k_dim}")
    if q.shape[0] == 0:
        return []
    idx = slice_picks(block_hash, public_key, nonce, q.shape[0], k_dim, q.shape[1]).numpy()
    return [encode_vector(row[idx[t]]) for t, row in enumerate(q)]


def encode_sph_slices(q_host, block_hash: str, public_key: str, nonce: int, k_dim: int = K_DIM,
                      debug: bool = False) -> List[str]:
    """One string per step of q_host ([steps, SPHERE_DIM] on the host; row t is step t, 0 the
    prefill): row t at step t's picked coordinates (debug: the whole row), encode_vector'd."""
    if not isinstance(debug, bool):
        raise TypeError(f"debug must be a bool, got {type(debug).__name__}")
    q = _host_array("q_host", q_host)
    if q.ndim != 2 or q.shape[1] != SPHERE_DIM:
        raise ValueError(f"q_host must be [steps, {SPHERE_DIM}], got shape {list(q.shape)}")
    if debug:
        check_str("block_hash", block_hash)
        check_str("public_key", public_key)
        check_nonce("nonce", nonce)
        return [encode_vector(row) for row in q]
    return encode_slices(q, block_hash, public_key, nonce, k_dim)


def _steps_of(name: str, v) -> list:
    if v is None:
        return []
    if not isinstance(v, (list, tuple)):
        raise TypeError(f"{name} must be a list of strings, got {type(v).__name__}")
    return list(v)


def score_vector_channel(computed_artifacts: List[Dict], ref_vectors: Dict[int, List[str]],
                         step_tol: Optional[float] = None) -> Optional[Dict]:
    """The plugin's vector-channel score, key for key (SPEC.md 10.13). For each computed artifact
    with a reference: steps 1 .. n-1 (n the shorter length, step 0 never scored), both slices cut
    to the shorter one, d_t = 1 - cos; a step with a non-finite value, a zero norm or no
    coordinates is a bad step. None when no nonce has a scored step. step_tol defaults to
    VLLM_POC_VECTOR_TOL (0.01)."""
    if not isinstance(computed_artifacts, (list, tuple)):
        raise TypeError(f"computed_artifacts must be a list of dicts, got "
                        f"{type(computed_artifacts).__name__}")
    if not isinstance(ref_vectors, dict):
        raise TypeError(f"ref_vectors must be a dict of nonce -> strings, got "
                        f"{type(ref_vectors).__name__}")
    tol = step_tol_from_env() if step_tol is None else float(step_tol)
    if not tol == tol:
        raise ValueError("step_tol must not be NaN")
    per_nonce: List[Dict] = []
    n_skipped = 0  # nonces with a reference and nothing scorable
    n_bad_total = 0
    for a in computed_artifacts:
        ref = _steps_of(f"ref_vectors[{a['nonce']}]", ref_vectors.get(a["nonce"]) or [])
        own = _steps_of(f"sph_values_steps of nonce {a['nonce']}", a.get("sph_values_steps") or [])
        n = min(len(ref), len(own))
        if n < 2:  # no decode step beyond the prefill slice
            n_skipped += bool(ref)
            continue
        dists, n_bad = [], 0
        for t in range(1, n):
            vp, vv = decode_vector(ref[t]), decode_vector(own[t])
            d = min(vp.shape[0], vv.shape[0])
            vp, vv = vp[:d], vv[:d]
            if d == 0 or not (np.all(np.isfinite(vp)) and np.all(np.isfinite(vv))):
                n_bad += 1
                continue
            norm_p, norm_v = float(np.linalg.norm(vp)), float(np.linalg.norm(vv))
            if norm_p == 0.0 or norm_v == 0.0:
                n_bad += 1
                continue
            dists.append(1.0 - float(np.dot(vp, vv)) / (norm_p * norm_v))
        n_bad_total += n_bad
        if not dists:
            n_skipped += 1  # every step bad
            continue
        n_diverged = sum(1 for d in dists if d > tol)
        per_nonce.append({"nonce": a["nonce"], "mean_dist": float(np.mean(dists)),
                          "n_diverged": n_diverged, "n_steps": len(dists),
                          "n_steps_scored": len(dists), "n_bad_steps": n_bad})
    if not per_nonce:
        return None
    return {
        "mean_dist": float(np.mean([e["mean_dist"] for e in per_nonce])),
        "max_nonce_dist": float(max(e["mean_dist"] for e in per_nonce)),
        "diverged_rate": float(np.mean([e["n_diverged"] / max(e["n_steps"], 1) * 100.0
                                        for e in per_nonce])),
        "step_tol": tol,
        "n_nonces_scored": len(per_nonce),
        "n_nonces_skipped": n_skipped,
        "n_bad_steps_total": n_bad_total,
        "per_nonce": per_nonce,
    }
