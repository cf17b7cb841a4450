"""Streams: the generators of random values (SPEC.md sections 2, 5 and 8) — murmur3, uniform and
normal streams, the inputs of a nonce batch (whole or a slice) and the unit-norm target."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import (MAX_COUNT, DeviceLike, check_count, check_device, check_dtype, check_int,
                      check_nonces, check_seed, check_str)
from .seeds import seeds_for, seeds_tensor, target_seed

__all__ = ["murmur3_32", "uniform", "normal", "generate_inputs", "generate_inputs_slice",
           "generate_target"]


def murmur3_32(keys: torch.Tensor, seed: int) -> torch.Tensor:
    """pocrand's murmur3 of each key's low 32 bits, as int64 values in [0, 2^32), keys' shape."""
    if not isinstance(keys, torch.Tensor):
        raise TypeError(f"keys must be a torch.Tensor, got {type(keys).__name__}")
    if keys.dtype.is_floating_point or keys.is_complex() or keys.dtype == torch.bool:
        raise TypeError(f"keys must be an integer tensor, got {keys.dtype}")
    seed = check_seed("seed", seed)
    check_device(keys.device)
    return torch.ops.pocrand.murmur3(keys.to(torch.int64).contiguous(), seed)


def uniform(seed: int, n: int, device: DeviceLike = "cpu") -> torch.Tensor:
    """float32 [n]: u(i, seed) = float32(hash(i, seed)) * 2^-32, in [0, 1] (1.0 included)."""
    seed, n, dev = check_seed("seed", seed), check_count("n", n), check_device(device)
    return torch.ops.pocrand.uniform(seeds_tensor([seed], dev), n)[0]


def normal(seed: int, n: int, device: DeviceLike = "cpu") -> torch.Tensor:
    """float32 [n]: Box-Muller standard normals of SPEC.md section 5."""
    seed, n, dev = check_seed("seed", seed), check_count("n", n), check_device(device)
    return torch.ops.pocrand.normal(seeds_tensor([seed], dev), n, torch.float32)[0]


def inputs_shape(dim, seq_len) -> tuple[int, int, int]:
    """(dim, seq_len, seq_len * dim) as ints, checked: a row's elements must fit 2^31 - 1."""
    dim, seq_len = check_count("dim", dim), check_count("seq_len", seq_len)
    if dim * seq_len > MAX_COUNT:
        raise ValueError(f"seq_len * dim must be <= 2^31 - 1 = {MAX_COUNT}, got {seq_len * dim}")
    return dim, seq_len, dim * seq_len


def generate_inputs(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                    device: DeviceLike = "cpu", dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[len(nonces), seq_len, dim] normal inputs; row b depends on nonces[b] only."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    dim, seq_len, n = inputs_shape(dim, seq_len)
    dtype, dev = check_dtype("dtype", dtype), check_device(device)
    # one op: seeds derived in C++ and handed to the kernel by value (no upload to wait for)
    # (.default: the overload itself, skipping the packet's overload resolution, ~1 us)
    x = torch.ops.pocrand.normal_nonces.default(f"{block_hash}_{public_key}_nonce", nonces, "",
                                                n, dtype, dev)
    return x.view(len(nonces), seq_len, dim)


def generate_inputs_slice(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                          start: int, end: int, device: DeviceLike = "cpu",
                          dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[len(nonces), end - start]: elements [start, end) of each nonce's flattened inputs,
    bit-identical to generate_inputs(...).view(len(nonces), -1)[:, start:end], computed without
    the rest (a tensor-parallel rank builds only its shard). A row range of the batch is just
    the matching slice of `nonces`: a nonce's inputs never depend on the other nonces."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    dim, seq_len, n = inputs_shape(dim, seq_len)
    start, end = check_int("start", start), check_int("end", end)
    if not 0 <= start < end <= n:
        raise ValueError(f"need 0 <= start < end <= seq_len * dim = {n}, got start={start}, end={end}")
    dtype, dev = check_dtype("dtype", dtype), check_device(device)
    seeds = seeds_for(f"{block_hash}_{public_key}_nonce", nonces, dev)
    return torch.ops.pocrand.normal_range(seeds, n, start, end, dtype)


def generate_target(block_hash: str, vocab_size: int, device: DeviceLike = "cpu",
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[vocab_size] unit vector: normal(target seed, V) / its fixed-order norm, then dtype."""
    check_str("block_hash", block_hash)
    vocab_size, dev = check_count("vocab_size", vocab_size), check_device(device)
    dtype = check_dtype("dtype", dtype)
    return torch.ops.pocrand.unit_normal_seed.default(target_seed(block_hash), vocab_size, dtype,
                                                      dev)


# Fake (meta) implementations: shapes only, for torch.compile and fake tensors.
@torch.library.register_fake("pocrand::murmur3")
def _murmur3_fake(keys, seed):
    return torch.empty_like(keys)


@torch.library.register_fake("pocrand::uniform")
def _uniform_fake(seeds, n):
    return seeds.new_empty((seeds.shape[0], n), dtype=torch.float32)


@torch.library.register_fake("pocrand::normal")
def _normal_fake(seeds, n, dtype):
    return seeds.new_empty((seeds.shape[0], n), dtype=dtype)


@torch.library.register_fake("pocrand::normal_range")
def _normal_range_fake(seeds, n, start, end, dtype):
    return seeds.new_empty((seeds.shape[0], end - start), dtype=dtype)


@torch.library.register_fake("pocrand::normal_nonces")
def _normal_nonces_fake(prefix, nonces, suffix, n, dtype, device):
    return torch.empty((len(nonces), n), dtype=dtype, device=device)


@torch.library.register_fake("pocrand::unit_normal_seed")
def _unit_normal_seed_fake(seed, vocab_size, dtype, device):
    return torch.empty((vocab_size,), dtype=dtype, device=device)


@torch.library.register_fake("pocrand::unit_normal")
def _unit_normal_fake(seeds, vocab_size, dtype):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=dtype)
