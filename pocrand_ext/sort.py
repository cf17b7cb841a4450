"""Orders by hash: the permutations of the Phase-2 API (SPEC.md section 8) and PoC v2's pick of
k indices (9.4, 9.9)."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import (DeviceLike, check_count, check_device, check_int, check_nonces, check_str,
                      check_total)
from .seeds import seeds_for

__all__ = ["generate_permutations", "pick_indices"]


def generate_permutations(block_hash: str, public_key: str, nonces, vocab_size: int,
                          device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [len(nonces), vocab_size]: row b = 0..V-1 ordered by ascending hash(i, seed_b)."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    vocab_size, dev = check_count("vocab_size", vocab_size), check_device(device)
    check_total("len(nonces) * vocab_size", len(nonces) * vocab_size, 8, dev)
    seeds = seeds_for(f"{block_hash}_{public_key}_nonce_", nonces, dev, "_permutations")
    return torch.ops.pocrand.permutations(seeds, vocab_size)


def pick_indices(block_hash: str, public_key: str, nonces, dim: int, k: int,
                 device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [len(nonces), k]: the k indices of [0, dim) with the smallest hash(i, pick seed),
    the k - 1 below the k-th smallest in ascending index order, then the k-th smallest's index
    (SPEC.md 9.4: the order the deployed GPU nodes produce, on every device)."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    dim, k = check_count("dim", dim), check_int("k", k)
    if not 1 <= k <= dim:
        raise ValueError(f"k must be in [1, dim], got k={k}, dim={dim}")
    dev = check_device(device)
    seeds = seeds_for(f"{block_hash}_{public_key}_nonce_", nonces, dev, f"_pick_{k}")
    return torch.ops.pocrand.pick(seeds, dim, k)


@torch.library.register_fake("pocrand::pick")
def _pick_fake(seeds, dim, k):
    return seeds.new_empty((seeds.shape[0], k), dtype=torch.int64)


@torch.library.register_fake("pocrand::permutations")
def _permutations_fake(seeds, vocab_size):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=torch.int64)


@torch.library.register_fake("pocrand::permutations_bucketed")
def _permutations_bucketed_fake(seeds, vocab_size, bucket_bits, capacity):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=torch.int64)
