"""Reductions in the fixed order of SPEC.md section 7: the distances of permuted, normalised logits
to a target (section 8), and the Haar chain of reflections of PoC v2 (9.10); the artifacts op
(9.11) is faked here. The Householder reflection is householder.py's.

Generic: tensors and seeds in, tensors out; the seed strings are the protocol layers'
(protocols/)."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import MAX_COUNT, check_tensor_device, check_dtype, check_no_grad, check_tensor, one_device

__all__ = ["compute_distances"]


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
    check_tensor_device("logits", logits)
    if not isinstance(check, bool):
        raise TypeError(f"check must be a bool, got {type(check).__name__}")
    return torch.ops.pocrand.distances(logits.contiguous(), permutations.contiguous(),
                                       target.contiguous(), check)


def haar_rotate_of_seeds(x: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """[B, k] in x's dtype: row b of x (contiguous, checked by the caller) reflected by
    unit_vector(seeds[b][j], k) for j = 0 .. k-2, in that order (SPEC.md 9.10)."""
    return torch.ops.pocrand.haar_rotate(x, seeds)


@torch.library.register_fake("pocrand::haar_rotate")
def _haar_rotate_fake(x, seeds):
    one_device("x", x, seeds=seeds)
    return torch.empty_like(x)


@torch.library.register_fake("pocrand::artifacts")
def _artifacts_fake(hidden, seeds, k):
    one_device("hidden", hidden, seeds=seeds)
    b = hidden.shape[0]
    return (hidden.new_empty((b, k), dtype=torch.float16), hidden.new_empty((b,), dtype=torch.bool))


@torch.library.register_fake("pocrand::distances")
def _distances_fake(logits, permutations, target, check=True):
    one_device("logits", logits, permutations=permutations, target=target)
    return logits.new_empty((logits.shape[0],), dtype=torch.float32)
