"""Streams: the generators of random values (SPEC.md sections 2, 5 and 8) — murmur3, uniform and
normal streams, the inputs of a nonce batch (whole or a slice) and the unit-norm target."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import (MAX_COUNT, DeviceLike, check_count, check_device, check_dtype, check_int,
                      check_total,
                      check_no_grad, check_no_self_overlap, check_nonces, check_seed,
                      check_str)
from .seeds import seeds_for, seeds_tensor, target_seed, target_v2_seed

__all__ = ["murmur3_32", "uniform", "normal", "generate_inputs", "generate_inputs_slice",
           "generate_target", "generate_inputs_concat", "generate_inputs_concat_slice",
           "unit_vectors", "householder_vectors", "generate_target_v2"]


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


def check_out(out, shape: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A preallocated output: a tensor of exactly this shape, dtype and device."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    check_no_grad("out", out)
    if tuple(out.shape) != shape:
        raise ValueError(f"out must have shape {list(shape)}, got {list(out.shape)}")
    if out.dtype != dtype:
        raise ValueError(f"out.dtype {out.dtype} must equal dtype {dtype}")
    if out.device != device:
        raise ValueError(f"out is on {out.device}, but device is {device}")
    return check_no_self_overlap("out", out)


def _inputs(op, op_into, block_hash, public_key, nonces, dim, seq_len, device, dtype, out):
    """The inputs of a nonce batch by one by-value op (seeds derived in C++ and handed to the
    kernel in its launch parameters: no upload to wait for), or written into `out`."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    dim, seq_len, n = inputs_shape(dim, seq_len)
    dtype, dev = check_dtype("dtype", dtype), check_device(device)
    prefix = f"{block_hash}_{public_key}_nonce"
    if out is None:
        check_total("len(nonces) * seq_len * dim", len(nonces) * n, dtype.itemsize, dev)
    if out is not None:
        op_into(prefix, nonces, "", check_out(out, (len(nonces), seq_len, dim), dtype, dev))
        return out
    # (.default: the overload itself, skipping the packet's overload resolution, ~1 us)
    return op(prefix, nonces, "", n, dtype, dev).view(len(nonces), seq_len, dim)


def generate_inputs(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                    device: DeviceLike = "cpu", dtype: torch.dtype = torch.float16,
                    out: torch.Tensor | None = None) -> torch.Tensor:
    """[len(nonces), seq_len, dim] normal inputs; row b depends on nonces[b] only. With `out`
    (a preallocated [B, seq_len, dim] tensor of `dtype` on `device`) the inputs are written there."""
    return _inputs(torch.ops.pocrand.normal_nonces.default,
                   torch.ops.pocrand.normal_nonces_into.default, block_hash, public_key, nonces,
                   dim, seq_len, device, dtype, out)


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
    check_total("len(nonces) * (end - start)", len(nonces) * (end - start), dtype.itemsize, dev)
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


# ----------------------------------------------------------------------------------------------
# PoC v2 (SPEC.md 9.1, 9.2, 9.6, 9.7)
# ----------------------------------------------------------------------------------------------
def generate_inputs_concat(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                           device: DeviceLike = "cpu", dtype: torch.dtype = torch.float16,
                           out: torch.Tensor | None = None) -> torch.Tensor:
    """[len(nonces), seq_len, dim] inputs from all 256 bits of each nonce's SHA-256: 8 segments,
    each normal(sub-seed j, its length) (SPEC.md 9.1). Same arguments as generate_inputs."""
    return _inputs(torch.ops.pocrand.concat_normal_nonces.default,
                   torch.ops.pocrand.concat_normal_nonces_into.default, block_hash, public_key,
                   nonces, dim, seq_len, device, dtype, out)


def generate_inputs_concat_slice(block_hash: str, public_key: str, nonces, dim: int,
                                 seq_len: int, start: int, end: int, device: DeviceLike = "cpu",
                                 dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[len(nonces), end - start]: elements [start, end) of each nonce's flattened concat inputs,
    bit-identical to the same slice of generate_inputs_concat, computed without the rest."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    dim, seq_len, n = inputs_shape(dim, seq_len)
    start, end = check_int("start", start), check_int("end", end)
    if not 0 <= start < end <= n:
        raise ValueError(f"need 0 <= start < end <= seq_len * dim = {n}, got start={start}, end={end}")
    dtype, dev = check_dtype("dtype", dtype), check_device(device)
    check_total("len(nonces) * (end - start)", len(nonces) * (end - start), dtype.itemsize, dev)
    on_gpu = dev.type == "cuda"
    words = torch.ops.pocrand.derive_seed_words.default(f"{block_hash}_{public_key}_nonce",
                                                        nonces, "", on_gpu)
    if on_gpu:
        words = words.to(dev, non_blocking=True)
    return torch.ops.pocrand.concat_normal(words, n, start, end, dtype)


def _check_strings(name: str, strings) -> list[str]:
    if isinstance(strings, str) or not isinstance(strings, (list, tuple)):
        raise TypeError(f"{name} must be a list of str, got {type(strings).__name__}")
    if not strings:
        raise ValueError(f"{name} must not be empty")
    for i, s in enumerate(strings):
        check_str(f"{name}[{i}]", s)
    return list(strings)


def unit_vectors(seed_strings, dim: int, device: DeviceLike = "cpu") -> torch.Tensor:
    """float32 [len(seed_strings), dim]: row r = normal(seed(seed_strings[r]), dim) divided by its
    fixed-order norm (+ 1e-30, SPEC.md 9.2); the seeds are derived in one C++ call."""
    strings = _check_strings("seed_strings", seed_strings)
    dim, dev = check_count("dim", dim), check_device(device)
    check_total("len(seed_strings) * dim", len(strings) * dim, 4, dev)
    seeds = torch.ops.pocrand.derive_seeds_of_strings.default(strings, False).tolist()
    return torch.ops.pocrand.unit_vectors_by_value.default(seeds, dim, torch.float32, dev)


def householder_vectors(block_hash: str, num_layers: int, dim: int,
                        device: DeviceLike = "cpu") -> torch.Tensor:
    """float32 [num_layers, dim]: the unit vector of f"{block_hash}_layer_{i}_householder" for
    every layer i, in one call (the vectors the forward hooks reflect each layer's output by)."""
    check_str("block_hash", block_hash)
    num_layers, dim = check_count("num_layers", num_layers), check_count("dim", dim)
    dev = check_device(device)
    check_total("num_layers * dim", num_layers * dim, 4, dev)
    return torch.ops.pocrand.unit_vectors_nonces.default(f"{block_hash}_layer_", range(num_layers),
                                                         "_householder", dim, torch.float32, dev)


def generate_target_v2(block_hash: str, public_key: str, dim: int, device: DeviceLike = "cpu",
                       dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """PoC v2's target, [dim]: the unit vector of f"{block_hash}_{public_key}_target" (SPEC.md
    9.7), divided in float32 and then rounded once to dtype."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    dim, dev, dtype = check_count("dim", dim), check_device(device), check_dtype("dtype", dtype)
    seed = target_v2_seed(block_hash, public_key)
    return torch.ops.pocrand.unit_vectors_by_value.default([seed], dim, dtype, dev)[0]


# Fake (meta) implementations: shapes only, for torch.compile and fake tensors.
@torch.library.register_fake("pocrand::murmur3_rows")
def _murmur3_rows_fake(keys, seeds):
    return torch.empty_like(keys)


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


@torch.library.register_fake("pocrand::unit_vectors")
def _unit_vectors_fake(seeds, dim, dtype):
    return seeds.new_empty((seeds.shape[0], dim), dtype=dtype)


@torch.library.register_fake("pocrand::unit_vectors_by_value")
def _unit_vectors_by_value_fake(seeds, dim, dtype, device):
    return torch.empty((len(seeds), dim), dtype=dtype, device=device)


@torch.library.register_fake("pocrand::unit_vectors_nonces")
def _unit_vectors_nonces_fake(prefix, ids, suffix, dim, dtype, device):
    return torch.empty((len(ids), dim), dtype=dtype, device=device)


@torch.library.register_fake("pocrand::concat_normal")
def _concat_normal_fake(words, n, start, end, dtype):
    return words.new_empty((words.shape[0], end - start), dtype=dtype)


@torch.library.register_fake("pocrand::concat_normal_nonces")
def _concat_normal_nonces_fake(prefix, nonces, suffix, n, dtype, device):
    return torch.empty((len(nonces), n), dtype=dtype, device=device)


@torch.library.register_fake("pocrand::normal_nonces_into")
def _normal_nonces_into_fake(prefix, nonces, suffix, out):
    return None


@torch.library.register_fake("pocrand::concat_normal_nonces_into")
def _concat_normal_nonces_into_fake(prefix, nonces, suffix, out):
    return None
