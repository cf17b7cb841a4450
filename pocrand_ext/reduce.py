"""Reductions in the fixed order of SPEC.md section 7: the distances of permuted, normalised logits
to a target (section 8), and the Haar chain of reflections of PoC v2 (9.10); the artifacts op
(9.11) is faked here. The Householder reflection is householder.py's.

Generic: tensors and seeds in, tensors out; the seed strings are the protocol layers'
(protocols/)."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import check_tensor, check_tensor_device, one_device

__all__ = ["compute_distances"]


def compute_distances(logits: torch.Tensor, permutations: torch.Tensor,
                      target: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """float32 [B]: || logits[b, perm[b]] / ||logits[b]|| - target ||; NaN for a row whose norm
    is zero or not finite (SPEC.md section 8). A permutation entry outside [0, V) raises
    (check=True, which synchronises a GPU) or makes its row NaN (check=False, never syncs).
    Inputs that require grad are refused (ValueError): the distances are not differentiable."""
    # argument types and the devices here; shapes, dtypes and grads are the op's checks
    # (csrc/bind/distances.cpp)
    for name, t in (("logits", logits), ("permutations", permutations), ("target", target)):
        check_tensor(name, t)
    if not isinstance(check, bool):
        raise TypeError(f"check must be a bool, got {type(check).__name__}")
    # one device first: with one tensor on meta, the mismatch is the error to report
    one_device("logits", logits, permutations=permutations, target=target)
    check_tensor_device("logits", logits)
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
