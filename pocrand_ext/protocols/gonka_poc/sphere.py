"""Drop-in for the gonka-poc plugin's `gonka_poc.poc.sphere`: the same public and private names,
signatures, defaults and errors, with the scores computed in SPEC.md section 7's fixed order so
that a query gets the same score bits and the same k on every device and in every batch.

What differs from the plugin's module (it computes `q.float() @ codebook.float().T`, whose bits
depend on the device and on how many rows share the batch):
  * nearest_sphere_index / snap_with_guard / snap_with_scores score by section 7's tree (10.6);
    k is the lowest index among equal maxima (torch's argmax rule, now on identical scores);
  * get_sphere_codebook() verifies the SHA-256 of the file named by GONKA_POC_SPHERE_CODEBOOK
    too (the plugin checks only its shape) and accepts an explicit `path`; pocrand ships no
    codebook file, so without one it raises like the plugin (FileNotFoundError) unless the
    offline escape hatch VLLM_POC_ALLOW_REBUILT_CODEBOOK=1 is set;
  * snap_hidden(h, seeds, codebook) is the whole snap of final hidden states (normalise, pick 256,
    normalise, score, argmax) as one pocrand op (SPEC.md 10.7).
"""
from __future__ import annotations

import logging
import os
from typing import Optional

import torch

from ..._checks import check_tensor_device, check_tensors
from ...snap import claimed_margin as _claimed_margin
from ...snap import codebook_sha256, load_codebook
from ...snap import SNAP_MAX
from ...snap import snap as _snap

logger = logging.getLogger(__name__)

__all__ = ["SPHERE_DIM", "SPHERE_POINTS", "EXPECTED_CODEBOOK_SHA256", "project_to_sphere",
           "build_equidistant_codebook", "get_sphere_codebook", "nearest_sphere_index",
           "snap_with_guard", "snap_with_scores", "claimed_margin", "snap_hidden",
           "_halton_on_sphere", "_codebook_sha256", "_fixed_order_scores"]

SPHERE_DIM = 256
SPHERE_POINTS = 16

_CODEBOOK_FILE = os.path.join(os.path.dirname(__file__), "sphere_codebook.pt")
EXPECTED_CODEBOOK_SHA256 = "2201d1093583f43f328dd4643ddf1f34737f6da8c1956395c43fd093e357e34f"

_SPHERE_CODEBOOK: Optional[torch.Tensor] = None


def project_to_sphere(v: torch.Tensor) -> torch.Tensor:
    """[..., dim] vectors divided by (their L2 norm + 1e-8) — the plugin's torch expression."""
    check_tensors(v=v)
    if not v.dtype.is_floating_point:
        raise TypeError(f"v must be a floating-point tensor, got {v.dtype}")
    return v / (v.norm(dim=-1, keepdim=True) + 1e-8)


def _halton_on_sphere(n_points: int, dim: int) -> torch.Tensor:
    """n_points low-discrepancy unit vectors on S^(dim-1): Halton radical inverses (base: the
    d-th of the first 16 primes, cyclically) clamped to [0.01, 0.99], the logit, projected."""
    primes = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53)

    def radical_inverse(i: int, base: int) -> float:
        value, scale = 0.0, 1.0
        while i > 0:
            scale /= base
            value += scale * (i % base)
            i //= base
        return value

    rows = [[radical_inverse(i, primes[d % len(primes)]) for d in range(dim)]
            for i in range(1, n_points + 1)]
    u = torch.tensor(rows, dtype=torch.float32).clamp(0.01, 0.99)
    return project_to_sphere(torch.log(u / (1.0 - u)))


def build_equidistant_codebook(n_points: int, dim: int, n_steps: int = 500,
                               lr: float = 0.05) -> torch.Tensor:
    """Approximately equidistant points (Thomson problem by Adam from the Halton start). Offline
    experiments only: Adam's arithmetic is not reproducible across hosts, so a rebuilt codebook
    is never the network's. n_points and dim in [1, 1024] (what a snap takes), n_steps in
    [0, 100000]: larger sizes would run for hours or exhaust memory, so they are refused."""
    for name, value, lo, hi in (("n_points", n_points, 1, SNAP_MAX), ("dim", dim, 1, SNAP_MAX),
                                ("n_steps", n_steps, 0, 100_000)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not lo <= value <= hi:
            raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not 0 < lr < float("inf"):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    with torch.inference_mode(mode=False):
        pts = _halton_on_sphere(n_points, dim).clone().requires_grad_(True)
        opt = torch.optim.Adam([pts], lr=lr)
        off_diagonal = 1.0 - torch.eye(n_points)
        for _ in range(n_steps):
            opt.zero_grad()
            p = project_to_sphere(pts)
            d2 = ((p.unsqueeze(0) - p.unsqueeze(1)) ** 2).sum(-1)
            (off_diagonal / (d2 + 1e-8)).sum().backward()
            opt.step()
        return project_to_sphere(pts).detach()


def _codebook_sha256(cb: torch.Tensor) -> str:
    return codebook_sha256(cb)


def get_sphere_codebook(path: Optional[str] = None) -> torch.Tensor:
    """The codebook (float32 [SPHERE_POINTS, SPHERE_DIM], CPU), resolved once and cached: from
    `path`, else GONKA_POC_SPHERE_CODEBOOK, else the file next to this module; each is verified
    against EXPECTED_CODEBOOK_SHA256 (a mismatch is a ValueError). With none of them present,
    FileNotFoundError — or, with VLLM_POC_ALLOW_REBUILT_CODEBOOK=1, a rebuilt codebook that is
    not the network's (logged as a warning)."""
    global _SPHERE_CODEBOOK
    if _SPHERE_CODEBOOK is not None and path is None:
        return _SPHERE_CODEBOOK
    source = path or os.environ.get("GONKA_POC_SPHERE_CODEBOOK")
    if not source and os.path.exists(_CODEBOOK_FILE):
        source = _CODEBOOK_FILE
    if source:
        cb = load_codebook(source, expected_sha256=EXPECTED_CODEBOOK_SHA256,
                           shape=(SPHERE_POINTS, SPHERE_DIM))
        logger.info("PoC sphere codebook: loaded %s (sha256=%s)", source,
                    EXPECTED_CODEBOOK_SHA256[:16])
    elif os.environ.get("VLLM_POC_ALLOW_REBUILT_CODEBOOK") == "1":
        cb = build_equidistant_codebook(SPHERE_POINTS, SPHERE_DIM)
        logger.warning("PoC sphere codebook: REBUILT (sha256=%s), not the network's codebook",
                       _codebook_sha256(cb)[:16])
    else:
        raise FileNotFoundError(
            f"PoC sphere codebook missing at {_CODEBOOK_FILE}: pass a path or set "
            f"GONKA_POC_SPHERE_CODEBOOK to the frozen file (sha256="
            f"{EXPECTED_CODEBOOK_SHA256[:16]}...); a rebuilt codebook is not consensus-safe")
    if path is None:
        _SPHERE_CODEBOOK = cb
    return cb


def _fixed_order_scores(query: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """float32 [batch, P]: sum(q[m] * C[j][m]) in SPEC.md section 7's order (d <= 1024: one
    chunk of 1024, zero-padded, halved ten times), elementwise float32 ops only."""
    check_tensors(query=query, codebook=codebook)
    check_tensor_device("query", query)
    check_tensor_device("codebook", codebook)
    q = query.float()
    c = codebook.float().to(q.device)
    if q.dim() != 2 or c.dim() != 2 or q.shape[1] != c.shape[1]:
        raise ValueError(f"query [batch, dim] and codebook [points, dim] must share dim, got "
                         f"{list(q.shape)} and {list(c.shape)}")
    d = q.shape[1]
    if not 1 <= d <= 1024:
        raise ValueError(f"dim must be in [1, 1024], got {d}")
    terms = q.unsqueeze(1) * c.unsqueeze(0)                      # [batch, P, d], one rounding each
    a = torch.nn.functional.pad(terms, (0, 1024 - d))             # +0.0 padding
    width = 512
    while width >= 1:
        a = a[..., :width] + a[..., width:2 * width]
        width //= 2
    return a[..., 0]


def nearest_sphere_index(query: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """int64 [batch]: the index of the codebook point with the largest fixed-order score."""
    return _fixed_order_scores(query, codebook).argmax(dim=-1)


def snap_with_guard(query: torch.Tensor, codebook: torch.Tensor):
    """(k int64 [batch], -1 for a non-finite query row; bad bool [batch])."""
    k, bad, _ = snap_with_scores(query, codebook)
    return k, bad


def snap_with_scores(query: torch.Tensor, codebook: torch.Tensor):
    """(k int64 [batch], bad bool [batch], scores float32 [batch, points]); a non-finite query row
    gives k = -1 and zero scores."""
    check_tensors(query=query, codebook=codebook)
    check_tensor_device("query", query)
    bad = ~torch.isfinite(query).all(dim=-1)
    scores = _fixed_order_scores(query, codebook)
    k = scores.argmax(dim=-1)
    k = torch.where(bad, torch.full_like(k, -1), k)
    scores = torch.where(bad.unsqueeze(-1), torch.zeros_like(scores), scores)
    return k, bad, scores


def claimed_margin(scores: torch.Tensor, claimed_k: torch.Tensor) -> torch.Tensor:
    """best - scores[claimed_k] per row; 2.0 for a claim outside [0, points) (SPEC.md 10.8)."""
    return _claimed_margin(scores, claimed_k)


def snap_hidden(h: torch.Tensor, seeds: torch.Tensor, codebook: torch.Tensor):
    """The whole snap of final hidden states h [B, H] with u32 pick seeds [B] (SPEC.md 10.7):
    (k, bad, scores, q), one op, the same bits on every device and batch size."""
    return _snap(h, seeds, codebook)
