"""Orders by hash (SPEC.md sections 8 and 9.4): each seed's permutation of 0 .. V-1 by ascending
hash(i, seed), and its pick of the k indices of [0, dim) with the smallest hashes.

Generic: the functions take a seeds tensor (int64 u32 values, on the device the result is wanted
on) and sizes the caller has checked; the seed strings are the protocol layers' (protocols/)."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)

__all__: list[str] = []


def permutations_of_seeds(seeds: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """int64 [len(seeds), vocab_size]: row b = 0 .. V-1 ordered by ascending hash(i, seeds[b])."""
    return torch.ops.pocrand.permutations(seeds, vocab_size)


def pick_of_seeds(seeds: torch.Tensor, dim: int, k: int) -> torch.Tensor:
    """int64 [len(seeds), k]: the k indices of [0, dim) with the smallest hash(i, seeds[b]), the
    k - 1 below the k-th smallest in ascending index order, then the k-th smallest's index
    (SPEC.md 9.4: the order the deployed GPU nodes produce, on every device)."""
    return torch.ops.pocrand.pick(seeds, dim, k)


@torch.library.register_fake("pocrand::pick")
def _pick_fake(seeds, dim, k, host_order=False):
    return seeds.new_empty((seeds.shape[0], k), dtype=torch.int64)


@torch.library.register_fake("pocrand::permutations")
def _permutations_fake(seeds, vocab_size, bucket_bits=-1, capacity=-1):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=torch.int64)
