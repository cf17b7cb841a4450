"""The snap of the decode scheme (SPEC.md 10.6-10.8): a row of final hidden states normalised,
d dimensions picked (9.4), normalised again and scored against a codebook of P points with
section 7's fixed-order sum; k is the argmax (lowest index among equal maxima), -1 for a row whose
norm is not finite. Also the codebook's loading and digest check, and the claimed margin.

Seeds here are plain u32 values; the seed strings of a protocol live in the protocol layer.
"""
from __future__ import annotations

import hashlib
import os

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import check_no_grad, check_tensor, check_tensor_device, one_device

__all__ = ["snap", "claimed_margin", "load_codebook", "codebook_sha256"]

SNAP_MAX = 1024                            # d (picked dimensions) and P (points) are <= 1024
CODEBOOK_ENV = "GONKA_POC_SPHERE_CODEBOOK"  # where load_codebook looks when given no source


# Codebooks already seen finite, by (address, version counter, shape, device): a snap checks a
# codebook on a GPU once (a read-back), not on every call. The version counter moves with every
# in-place write, so a codebook changed since is checked again.
_FINITE_CODEBOOKS: set = set()


def check_finite_codebook(codebook: torch.Tensor) -> None:
    """ValueError when a codebook holds a NaN or an infinity: every score against it would be NaN
    and the snap would give k = 0 and bad = False for every row, a silent wrong answer. Skipped
    while torch.compile traces or a CUDA graph is captured (no read-back there): the in-graph
    state (integrate.PoCState) checks its codebook when it is set."""
    if torch.compiler.is_compiling():
        return
    if codebook.is_cuda and torch.cuda.is_current_stream_capturing():
        return
    key = (codebook.data_ptr(), codebook._version, tuple(codebook.shape), str(codebook.device))
    if key in _FINITE_CODEBOOKS:
        return
    bad = ~torch.isfinite(codebook.detach())
    if bool(bad.any()):
        where = [int(i) for i in bad.nonzero()[0]]
        raise ValueError(f"codebook{where} = {float(codebook[tuple(where)])} is not finite: every "
                         "score against such a codebook is NaN, so the snap would pick k = 0 for "
                         "every row (load the network's codebook with load_codebook)")
    if len(_FINITE_CODEBOOKS) > 64:
        _FINITE_CODEBOOKS.clear()
    _FINITE_CODEBOOKS.add(key)


def _check_inputs(h, seeds, codebook):
    """What the op cannot check itself: argument types, float64 rows (rounded to float32 here),
    the sizes of the outputs allocated here (before allocating them), the kind of device, and a
    codebook's values. Every other rule is the op's (csrc/bind/snap.cpp)."""
    check_tensor("h", h)
    check_tensor("seeds", seeds)
    check_tensor("codebook", codebook)
    if h.dim() != 2:
        raise ValueError(f"h must be 2-D [batch, hidden], got shape {list(h.shape)}")
    if h.dtype == torch.float64:
        h = h.float()  # rounded to nearest, the same on every device
    if codebook.dim() != 2:
        raise ValueError(f"codebook must be 2-D [points, dim], got shape {list(codebook.shape)}")
    P, d = codebook.shape
    if not 1 <= P <= SNAP_MAX:
        raise ValueError(f"codebook points (codebook.shape[0]) must be in [1, 1024], got {P}")
    if not 1 <= d <= min(h.shape[1], SNAP_MAX):
        raise ValueError(f"codebook dim (codebook.shape[1]) must be in [1, min(hidden size, 1024)]"
                         f", got {d} with hidden size {h.shape[1]}")
    one_device("h", h, seeds=seeds, codebook=codebook)  # before the codebook's values are read
    check_tensor_device("h", h)
    check_finite_codebook(codebook)
    return h.contiguous(), seeds.contiguous(), codebook.contiguous()


def snap(h: torch.Tensor, seeds: torch.Tensor, codebook: torch.Tensor, *, out=None):
    """(k int64 [B], bad bool [B], scores float32 [B, P], q float32 [B, d]) of the rows of h
    [B, H] (float32/float16/bfloat16), their u32 pick seeds (int64 [B], on h's device) and a
    float32 codebook [P, d] (SPEC.md 10.7). Bits identical on every device and batch size; a row
    whose norm is NaN or Inf gives k = -1, bad = True and zero scores and q. Never syncs.

    out: a tuple (k, bad, scores, q) of contiguous tensors of those dtypes and shapes on h's
    device to write into (address-stable, for CUDA-graph replay); it is returned."""
    h, seeds, codebook = _check_inputs(h, seeds, codebook)
    if out is None:
        B, (P, d) = h.shape[0], codebook.shape
        out = (h.new_empty((B,), dtype=torch.int64), h.new_empty((B,), dtype=torch.bool),
               h.new_empty((B, P), dtype=torch.float32), h.new_empty((B, d), dtype=torch.float32))
        torch.ops.pocrand.snap.default(h, seeds, codebook, *out)
        return out
    if not isinstance(out, (tuple, list)) or len(out) != 4:
        raise TypeError(f"out must be a tuple (k, bad, scores, q) of tensors, got "
                        f"{type(out).__name__}")
    for i, name in enumerate(("k", "bad", "scores", "q")):
        check_tensor(f"out[{i}] ({name})", out[i])  # dtypes, shapes, devices: the op checks them
    torch.ops.pocrand.snap.default(h, seeds, codebook, *out)
    return tuple(out)


def claimed_margin(scores: torch.Tensor, claimed_k: torch.Tensor) -> torch.Tensor:
    """float32 [...]: max_j scores[..., j] - scores[..., claimed_k], or 2.0 where claimed_k is
    outside [0, P) (SPEC.md 10.8). A maximum is exact and the difference one rounding, so the
    bits are the same on every device."""
    check_no_grad("scores", check_tensor("scores", scores))
    check_tensor("claimed_k", claimed_k)
    if scores.dtype != torch.float32:
        raise TypeError(f"scores must be float32, got {scores.dtype}")
    if claimed_k.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"claimed_k must be int64 or int32, got {claimed_k.dtype}")
    if scores.dim() < 1 or tuple(claimed_k.shape) != tuple(scores.shape[:-1]):
        raise ValueError(f"claimed_k must have shape {list(scores.shape[:-1])} (scores without "
                         f"its last dimension), got {list(claimed_k.shape)}")
    if claimed_k.device != scores.device:
        raise ValueError(f"scores and claimed_k must be on one device, got {scores.device} and "
                         f"{claimed_k.device}")
    claimed_k = claimed_k.long()
    n_points = scores.shape[-1]
    valid = (claimed_k >= 0) & (claimed_k < n_points)
    idx = torch.where(valid, claimed_k, torch.zeros_like(claimed_k))
    best = scores.amax(dim=-1)
    picked = scores.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
    return torch.where(valid, best - picked, torch.full_like(best, 2.0))


def codebook_sha256(codebook: torch.Tensor) -> str:
    """SHA-256 (hex) of a codebook's float32 bytes, row-major, little-endian."""
    check_tensor("codebook", codebook)
    if not codebook.is_floating_point():
        raise TypeError(f"codebook must be a floating-point tensor, got {codebook.dtype}")
    check_tensor_device("codebook", codebook)
    cb = codebook.detach().to("cpu", torch.float32).contiguous()
    data = cb.numpy().astype("<f4", copy=False).tobytes()
    return hashlib.sha256(data).hexdigest()


def load_codebook(source=None, *, expected_sha256: str, shape=None) -> torch.Tensor:
    """The codebook as a float32 [P, d] CPU tensor, verified against expected_sha256 (the
    SHA-256 of its float32 bytes, row-major, little-endian).

    source: a tensor, or a path to a file written by torch.save (a tensor, as the network's
    codebook file is), or None for the path in the environment variable GONKA_POC_SPHERE_CODEBOOK.
    A digest mismatch, a non-finite value or a wrong shape (when `shape` is given) is a
    ValueError; nothing is ever rebuilt."""
    if shape is not None and not (isinstance(shape, (tuple, list)) and all(
            isinstance(n, int) and not isinstance(n, bool) for n in shape)):
        raise TypeError(f"shape must be a tuple of ints or None, got {shape!r}")
    if not isinstance(expected_sha256, str) or len(expected_sha256) != 64 or any(
            c not in "0123456789abcdef" for c in expected_sha256.lower()):
        raise ValueError("expected_sha256 must be 64 hex digits (the SHA-256 of the codebook's "
                         f"float32 bytes), got {expected_sha256!r}")
    if source is None:
        source = os.environ.get(CODEBOOK_ENV)
        if not source:
            raise ValueError(f"no codebook given: pass a path or tensor, or set {CODEBOOK_ENV}")
        where = f"{CODEBOOK_ENV}={source}"
    elif isinstance(source, (str, os.PathLike)):
        where = f"codebook file {os.fspath(source)}"
    else:
        where = "codebook"
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise ValueError(f"{where}: no such file")
        try:
            cb = torch.load(source, map_location="cpu", weights_only=True)
        except Exception as e:  # not a torch.save file, or one holding more than tensors
            raise ValueError(f"{where}: cannot be read by torch.load: {e}") from None
        if not isinstance(cb, torch.Tensor):
            raise ValueError(f"{where}: the file holds a {type(cb).__name__}, not a tensor")
    elif isinstance(source, torch.Tensor):
        cb = source
    else:
        raise TypeError(f"codebook source must be a path, a tensor or None, got "
                        f"{type(source).__name__}")
    if not cb.is_floating_point():
        raise ValueError(f"{where}: dtype {cb.dtype} is not a floating-point type")
    cb = cb.detach().to("cpu", torch.float32).contiguous()
    if cb.dim() != 2:
        raise ValueError(f"{where}: shape {list(cb.shape)} is not 2-D [points, dim]")
    if shape is not None and tuple(cb.shape) != tuple(shape):
        raise ValueError(f"{where}: shape {list(cb.shape)} != expected {list(shape)}")
    if not bool(torch.isfinite(cb).all()):
        raise ValueError(f"{where}: holds a NaN or Inf")
    digest = codebook_sha256(cb)
    if digest != expected_sha256.lower():
        raise ValueError(f"{where}: sha256 {digest} != expected {expected_sha256.lower()}; "
                         "refusing a different codebook (it is never rebuilt)")
    return cb


@torch.library.register_fake("pocrand::snap")
def _snap_fake(h, seeds, codebook, k, bad, scores, q):
    one_device("h", h, seeds=seeds, codebook=codebook, k=k, bad=bad, scores=scores, q=q)
