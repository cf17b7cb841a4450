"""Orders by hash: the permutations of the Phase-2 API (SPEC.md section 8)."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import DeviceLike, check_count, check_device, check_nonces, check_str
from .seeds import seeds_for

__all__ = ["generate_permutations"]


def generate_permutations(block_hash: str, public_key: str, nonces, vocab_size: int,
                          device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [len(nonces), vocab_size]: row b = 0..V-1 ordered by ascending hash(i, seed_b)."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    vocab_size, dev = check_count("vocab_size", vocab_size), check_device(device)
    seeds = seeds_for(f"{block_hash}_{public_key}_nonce_", nonces, dev, "_permutations")
    return torch.ops.pocrand.permutations(seeds, vocab_size)


@torch.library.register_fake("pocrand::permutations")
def _permutations_fake(seeds, vocab_size):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=torch.int64)


@torch.library.register_fake("pocrand::permutations_bucketed")
def _permutations_bucketed_fake(seeds, vocab_size, bucket_bits, capacity):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=torch.int64)
