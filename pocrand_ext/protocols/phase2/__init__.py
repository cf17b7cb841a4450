"""Phase 2 of the seed document (SPEC.md section 8): its seed strings, and its four functions
composed from the generic ops.

Seed strings (nonces written with str(), exactly as the deployed reference writes them: no
underscore between "nonce" and the number for the inputs, one for the permutations):

    inputs         f"{block_hash}_{public_key}_nonce{nonce}"
    permutations   f"{block_hash}_{public_key}_nonce_{nonce}_permutations"
    target         f"{block_hash}_target"
"""
from __future__ import annotations

import torch

from ..._checks import (DeviceLike, check_count, check_device, check_dtype, check_nonce,
                       check_nonces, check_str, check_total)
from ...reduce import compute_distances
from ...seeds import seed_of, seeds_for
from ...sort import permutations_of_seeds
from ...streams import (check_range, inputs_shape, normal_of_nonces, normal_slice_of_seeds,
                       unit_normal_of_seed)

__all__ = ["inputs_seed", "permutations_seed", "target_seed", "generate_inputs",
           "generate_inputs_slice", "generate_permutations", "generate_target",
           "compute_distances"]


# ----------------------------------------------------------------------------------------------
# The seed strings. Each takes parts its caller has checked (check_str, check_nonce).
# ----------------------------------------------------------------------------------------------
def inputs_prefix(block_hash: str, public_key: str) -> str:
    """The inputs string of a nonce is this prefix + str(nonce) (PoC v2's concat inputs too)."""
    return f"{block_hash}_{public_key}_nonce"


def permutations_prefix(block_hash: str, public_key: str) -> str:
    """The permutations string of a nonce is this prefix + str(nonce) + PERMUTATIONS_SUFFIX."""
    return f"{block_hash}_{public_key}_nonce_"


PERMUTATIONS_SUFFIX = "_permutations"


def target_string(block_hash: str) -> str:
    return f"{block_hash}_target"


# The parts are checked one by one, so that an error names the argument, not the joined string.
def checked_pair(block_hash, public_key) -> tuple[str, str]:
    return check_str("block_hash", block_hash), check_str("public_key", public_key)


def checked_slice_request(block_hash, public_key, nonces, dim, seq_len, start, end, device,
                          dtype):
    """The checked arguments of elements [start, end) of every nonce's flattened inputs (Phase 2's
    or PoC v2's concat form): (inputs prefix, nonces, n, start, end, dtype, device), a total
    larger than the device refused before any seed is derived."""
    bh, pk = checked_pair(block_hash, public_key)
    nonces = check_nonces(nonces)
    dim, seq_len, n = inputs_shape(dim, seq_len)
    start, end = check_range(start, end, n)
    dtype, dev = check_dtype("dtype", dtype), check_device(device)
    check_total("len(nonces) * (end - start)", len(nonces) * (end - start), dtype.itemsize, dev)
    return inputs_prefix(bh, pk), nonces, n, start, end, dtype, dev


def inputs_seed(block_hash: str, public_key: str, nonce: int) -> int:
    """Seed of one nonce's inputs: seed_from_string(f"{block_hash}_{public_key}_nonce{nonce}")."""
    bh, pk = checked_pair(block_hash, public_key)
    return seed_of(f"{inputs_prefix(bh, pk)}{check_nonce('nonce', nonce)}")


def permutations_seed(block_hash: str, public_key: str, nonce: int) -> int:
    """Seed of one nonce's permutation: ..._nonce_{nonce}_permutations."""
    bh, pk = checked_pair(block_hash, public_key)
    return seed_of(f"{permutations_prefix(bh, pk)}{check_nonce('nonce', nonce)}"
                   f"{PERMUTATIONS_SUFFIX}")


def target_seed(block_hash: str) -> int:
    """Seed of the target: seed_from_string(f"{block_hash}_target")."""
    return seed_of(target_string(check_str("block_hash", block_hash)))


# ----------------------------------------------------------------------------------------------
# The functions
# ----------------------------------------------------------------------------------------------
def generate_inputs(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                    device: DeviceLike = "cpu", dtype: torch.dtype = torch.float16,
                    out: torch.Tensor | None = None) -> torch.Tensor:
    """[len(nonces), seq_len, dim] normal inputs; row b depends on nonces[b] only. With `out`
    (a preallocated [B, seq_len, dim] tensor of `dtype` on `device`) the inputs are written there."""
    bh, pk = checked_pair(block_hash, public_key)
    nonces = check_nonces(nonces)
    dim, seq_len, n = inputs_shape(dim, seq_len)
    dtype, dev = check_dtype("dtype", dtype), check_device(device)
    if out is None:
        check_total("len(nonces) * seq_len * dim", len(nonces) * n, dtype.itemsize, dev)
    return normal_of_nonces(inputs_prefix(bh, pk), nonces, "", seq_len, dim, dev, dtype, out)


def generate_inputs_slice(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                          start: int, end: int, device: DeviceLike = "cpu",
                          dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[len(nonces), end - start]: elements [start, end) of each nonce's flattened inputs,
    bit-identical to generate_inputs(...).view(len(nonces), -1)[:, start:end], computed without
    the rest (a tensor-parallel rank builds only its shard). A row range of the batch is just
    the matching slice of `nonces`: a nonce's inputs never depend on the other nonces."""
    prefix, nonces, n, start, end, dtype, dev = checked_slice_request(
        block_hash, public_key, nonces, dim, seq_len, start, end, device, dtype)
    return normal_slice_of_seeds(seeds_for(prefix, nonces, dev), n, start, end, dtype)


def generate_permutations(block_hash: str, public_key: str, nonces, vocab_size: int,
                          device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [len(nonces), vocab_size]: row b = 0..V-1 ordered by ascending hash(i, seed_b)."""
    bh, pk = checked_pair(block_hash, public_key)
    nonces = check_nonces(nonces)
    vocab_size, dev = check_count("vocab_size", vocab_size), check_device(device)
    check_total("len(nonces) * vocab_size", len(nonces) * vocab_size, 8, dev)
    seeds = seeds_for(permutations_prefix(bh, pk), nonces, dev, PERMUTATIONS_SUFFIX)
    return permutations_of_seeds(seeds, vocab_size)


def generate_target(block_hash: str, vocab_size: int, device: DeviceLike = "cpu",
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[vocab_size] unit vector: normal(target seed, V) / its fixed-order norm, then dtype."""
    bh = check_str("block_hash", block_hash)
    vocab_size, dev = check_count("vocab_size", vocab_size), check_device(device)
    dtype = check_dtype("dtype", dtype)
    return unit_normal_of_seed(seed_of(target_string(bh)), vocab_size, dev, dtype)
