"""Reductions in the fixed order of SPEC.md section 7: the distances of the Phase-2 API, and PoC
v2's Haar rotation and artifacts (9.10, 9.11). The Householder reflection is householder.py's."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import (MAX_COUNT, check_count, check_device, check_dtype, check_int, check_no_grad,
                      check_nonces, check_str, check_tensor)
from .seeds import haar_seeds

__all__ = ["compute_distances", "haar_rotate", "artifacts"]


def compute_distances(logits: torch.Tensor, permutations: torch.Tensor,
                      target: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """float32 [B]: || logits[b, perm[b]] / ||logits[b]|| - target ||; NaN for a row whose norm
    is zero or not finite (SPEC.md section 8). A permutation entry outside [0, V) raises
    (check=True, which synchronises a GPU) or makes its row NaN (check=False, never syncs).
    Inputs that require grad are refused (ValueError): the distances are not differentiable."""
    for name, t in (("logits", logits), ("permutations", permutations), ("target", target)):
        check_no_grad(name, check_tensor(name, t))
    if logits.dim() != 2:
        raise ValueError(f"logits must be 2-D [batch, vocab], got shape {tuple(logits.shape)}")
    check_dtype("logits.dtype", logits.dtype)
    if permutations.dtype != torch.int64:
        raise TypeError(f"permutations must be int64, got {permutations.dtype}")
    if permutations.shape != logits.shape:
        raise ValueError(f"permutations shape {tuple(permutations.shape)} must equal logits "
                         f"shape {tuple(logits.shape)}")
    if target.dim() != 1 or target.shape[0] != logits.shape[1]:
        raise ValueError(f"target must be 1-D of length {logits.shape[1]} (the vocab size), "
                         f"got shape {tuple(target.shape)}")
    check_dtype("target.dtype", target.dtype)
    if logits.shape[0] < 1 or logits.shape[1] < 1:
        raise ValueError(f"logits must be non-empty, got shape {tuple(logits.shape)}")
    if logits.shape[1] > MAX_COUNT:
        raise ValueError(f"vocab size must be <= 2^31 - 1, got {logits.shape[1]}")
    if not (logits.device == permutations.device == target.device):
        raise ValueError(f"logits, permutations and target must be on one device, got "
                         f"{logits.device}, {permutations.device} and {target.device}")
    check_device(logits.device)
    if not isinstance(check, bool):
        raise TypeError(f"check must be a bool, got {type(check).__name__}")
    return torch.ops.pocrand.distances(logits.contiguous(), permutations.contiguous(),
                                       target.contiguous(), check)


def haar_rotate(block_hash: str, public_key: str, nonces, x: torch.Tensor) -> torch.Tensor:
    """[B, k] in x's dtype: each row of x reflected by the unit vectors of its nonce's Haar seeds
    ..._nonce_{n}_haar_hh_{k}_{j}, j = 0 .. k-2, in that order (SPEC.md 9.10)."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    check_no_grad("x", check_tensor("x", x))
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D [batch, k], got shape {list(x.shape)}")
    if x.shape[1] < 1:
        raise ValueError(f"k must be positive, got k={x.shape[1]}")
    check_count("k (x.shape[1])", x.shape[1])
    if x.shape[0] != len(nonces):
        raise ValueError(f"x has {x.shape[0]} rows but there are {len(nonces)} nonces")
    check_dtype("x.dtype", x.dtype)
    dev = check_device(x.device)
    k = x.shape[1]
    return torch.ops.pocrand.haar_rotate(x.contiguous(), haar_seeds(block_hash, public_key, nonces,
                                                                    k, dev))


def artifacts(hidden: torch.Tensor, block_hash: str, public_key: str, nonces, k: int = 12):
    """(fp16 [B, k], bool [B]): PoC v2's artifact of each nonce's last hidden state [B, H] —
    x / (|x| + 1e-8), pick k, Haar-rotate in float32, y / (|y| + 1e-8), fp16 (SPEC.md 9.11). A
    row with a NaN or Inf (or whose norm overflows) gives fp16 NaNs and True in the flags."""
    check_no_grad("hidden", check_tensor("hidden", hidden))
    if hidden.dim() != 2:
        raise ValueError(f"hidden must be 2-D [batch, hidden], got shape {list(hidden.shape)}")
    if hidden.dtype == torch.float64:
        hidden = hidden.float()  # rounded to nearest, the same on every device
    check_dtype("hidden.dtype", hidden.dtype)
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    if hidden.shape[0] != len(nonces):
        raise ValueError(f"hidden has {hidden.shape[0]} rows but there are {len(nonces)} nonces")
    H = check_count("hidden size (hidden.shape[1])", hidden.shape[1])
    k = check_int("k", k)
    if not 1 <= k <= H:
        raise ValueError(f"k must be in [1, hidden size], got k={k}, hidden size={H}")
    check_device(hidden.device)
    # one op: the pick and Haar seeds are derived inside it (on a GPU, by the kernels: no upload)
    return torch.ops.pocrand.artifacts_nonces.default(hidden.contiguous(),
                                                      f"{block_hash}_{public_key}_nonce_", nonces, k)


@torch.library.register_fake("pocrand::haar_rotate")
def _haar_rotate_fake(x, seeds):
    return torch.empty_like(x)


@torch.library.register_fake("pocrand::artifacts")
def _artifacts_fake(hidden, seeds, k):
    b = hidden.shape[0]
    return (hidden.new_empty((b, k), dtype=torch.float16), hidden.new_empty((b,), dtype=torch.bool))


@torch.library.register_fake("pocrand::artifacts_nonces")
def _artifacts_nonces_fake(hidden, prefix, nonces, k):
    b = hidden.shape[0]
    return (hidden.new_empty((b, k), dtype=torch.float16), hidden.new_empty((b,), dtype=torch.bool))


@torch.library.register_fake("pocrand::distances")
def _distances_fake(logits, permutations, target, check=True):
    return logits.new_empty((logits.shape[0],), dtype=torch.float32)
