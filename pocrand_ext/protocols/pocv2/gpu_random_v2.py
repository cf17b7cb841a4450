"""Drop-in names of the PoC v2 module that nodes run (`vllm/poc/gpu_random.py`, 2026-01 to 2026-06),
backed by pocrand.

    from pocrand_ext import gpu_random_v2 as gpu_random   # instead of: from vllm.poc import gpu_random

Same names, signatures, defaults and ValueErrors as the deployed module. Integer results (seeds,
hashes, picked indices as a set) equal the deployed module's; float results follow the same
operation sequence with pocrand's portable log/sin/cos and fixed-order sums (SPEC.md section 9),
so they are identical on every device, and the pick order is the deployed GPUs' on the CPU too.
`pocrand_ext.gpu_random` stays the Phase-2 (seed document) module. A name map over
protocols/pocv2.py (and Phase 2's generate_inputs) and the generic ops, with the deployed
module's argument checks where they differ.
"""
from __future__ import annotations

from typing import List

import torch

from ... import householder, streams
from ..._checks import check_count, check_device, check_tensor_device, check_seed, check_tensor
from .. import pocv2
from ..phase2 import generate_inputs
from ...seeds import seed_from_string as _seed_from_string, seeds_tensor

__all__ = ["_seed_from_string", "_murmur3_32", "_uniform", "_normal", "_batched_murmur3_32",
           "_batched_normal", "generate_inputs", "generate_inputs_concat_murmur",
           "generate_target", "generate_householder_vector", "apply_householder",
           "random_pick_indices", "apply_haar_rotation"]


def _murmur3_32(keys: torch.Tensor, seed: int) -> torch.Tensor:
    """murmur3 of each key's low 32 bits, int64 values in [0, 2^32)."""
    return streams.murmur3_32(keys, seed)


def _uniform(seed: int, n: int, device) -> torch.Tensor:
    return streams.uniform(seed, n, device)


def _normal(seed: int, n: int, device) -> torch.Tensor:
    return streams.normal(seed, n, device)


def _batched_murmur3_32(keys: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """keys [B, n] (integers), seeds [B, 1] (integer u32 values) -> int64 [B, n]: row b hashed
    with seeds[b], in one launch that never reads the seeds back to the host."""
    check_tensor("keys", keys)
    check_tensor("seeds", seeds)
    for name, t in (("keys", keys), ("seeds", seeds)):
        if t.dtype.is_floating_point or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer tensor, got {t.dtype}")
    if keys.dim() != 2 or seeds.dim() != 2 or seeds.shape != (keys.shape[0], 1):
        raise ValueError(f"keys must be [B, n] and seeds [B, 1], got {list(keys.shape)} and "
                         f"{list(seeds.shape)}")
    if seeds.device != keys.device:
        raise ValueError(f"keys and seeds must be on one device, got {keys.device} and "
                         f"{seeds.device}")
    check_tensor_device("keys", keys)
    if keys.numel() == 0:
        return torch.empty(keys.shape, dtype=torch.int64, device=keys.device)
    return torch.ops.pocrand.murmur3(keys.to(torch.int64).contiguous(),
                                     seeds=seeds.to(torch.int64).reshape(-1).contiguous())


def _batched_normal(seeds: list, n: int, device) -> torch.Tensor:
    """float32 [len(seeds), n]: normal(seed, n) for each seed, in one launch."""
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise TypeError(f"seeds must be a non-empty list of ints, got {type(seeds).__name__}")
    values = [check_seed(f"seeds[{i}]", s) for i, s in enumerate(seeds)]
    n, dev = check_count("n", n), check_device(device)
    return torch.ops.pocrand.normal(seeds_tensor(values, dev), n, torch.float32)


def generate_inputs_concat_murmur(block_hash: str, public_key: str, nonces: List[int], dim: int,
                                  seq_len: int, device, dtype: torch.dtype = torch.float16,
                                  out: torch.Tensor | None = None) -> torch.Tensor:
    """[B, seq_len, dim] from all 256 bits of each nonce's SHA-256 (8 segments, SPEC.md 9.1)."""
    return pocv2.generate_inputs_concat(block_hash, public_key, nonces, dim, seq_len, device, dtype,
                                      out)


def generate_target(block_hash: str, public_key: str, dim: int, device,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[dim] unit vector of f"{block_hash}_{public_key}_target"."""
    return pocv2.generate_target_v2(block_hash, public_key, dim, device, dtype)


def generate_householder_vector(seed_str: str, dim: int, device) -> torch.Tensor:
    """float32 [dim]: the unit vector of seed_str."""
    return streams.unit_vectors([seed_str], dim, device)[0]


def apply_householder(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """x - 2 (x . v) v over the last dimension, in torch's promoted dtype of x and v (as the
    deployed expression returns); computed by SPEC.md 9.3 in that dtype."""
    check_tensor("x", x)
    check_tensor("v", v)
    dtype = torch.promote_types(x.dtype, v.dtype)
    return householder.apply_householder(x.to(dtype), v.to(dtype))


def random_pick_indices(block_hash: str, public_key: str, nonces: List[int], dim: int, k: int,
                        device) -> torch.Tensor:
    """int64 [B, k]: the k smallest-score indices, in the deployed GPUs' order (SPEC.md 9.4)."""
    if isinstance(k, int) and isinstance(dim, int) and (k <= 0 or k > dim):
        raise ValueError(f"k must be in [1, dim], got k={k}, dim={dim}")
    return pocv2.pick_indices(block_hash, public_key, nonces, dim, k, device)


def apply_haar_rotation(block_hash: str, public_key: str, nonces: List[int], x: torch.Tensor,
                        device) -> torch.Tensor:
    """[B, k] in x's dtype: k - 1 Householder reflections per nonce (SPEC.md 9.10)."""
    check_tensor("x", x)
    if x.dim() == 2 and x.shape[1] <= 0:
        raise ValueError(f"k must be positive, got k={x.shape[1]}")
    dev = check_device(device)
    if x.device != dev:
        raise ValueError(f"x is on {x.device}, but device is {dev}")
    return pocv2.haar_rotate(block_hash, public_key, nonces, x)
