"""Streams: the generators of random values (SPEC.md sections 2, 5, 9.1 and 9.2) — murmur3,
uniform and normal streams, batches of normal rows (whole, a slice, or PoC v2's 8-segment concat)
and unit vectors.

Generic: the functions take seeds (values, or a family of seed strings prefix + str(nonce) +
suffix whose parts the caller gives), sizes and dtypes, and know no protocol's strings; the
protocol layers (protocols/) name the strings and check their own arguments first. Functions
without a public name take arguments already checked by their caller.
"""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import (MAX_COUNT, DeviceLike, check_count, check_device, check_tensor_device,
                      check_int, check_no_grad, check_no_self_overlap, check_seed, check_str,
                      check_total, one_device)
from .seeds import seeds_of_strings, seeds_tensor

__all__ = ["murmur3_32", "uniform", "normal", "unit_vectors"]

def murmur3_32(keys: torch.Tensor, seed: int) -> torch.Tensor:
    """pocrand's murmur3 of each key's low 32 bits, as int64 values in [0, 2^32), keys' shape."""
    if not isinstance(keys, torch.Tensor):
        raise TypeError(f"keys must be a torch.Tensor, got {type(keys).__name__}")
    if keys.dtype.is_floating_point or keys.is_complex() or keys.dtype == torch.bool:
        raise TypeError(f"keys must be an integer tensor, got {keys.dtype}")
    seed = check_seed("seed", seed)
    check_tensor_device("keys", keys)
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


def check_range(start, end, n: int) -> tuple[int, int]:
    """(start, end) as ints with 0 <= start < end <= n: a slice of a row of n elements."""
    start, end = check_int("start", start), check_int("end", end)
    if not 0 <= start < end <= n:
        raise ValueError(f"need 0 <= start < end <= seq_len * dim = {n}, got start={start}, end={end}")
    return start, end


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


def _rows_of_nonces(concat, prefix, nonces, suffix, seq_len, dim, device, dtype, out):
    """A batch of rows by one by-value op (seeds derived in C++ and handed to the kernel in its
    launch parameters: no upload to wait for), or written into `out`; concat: the rows of
    SPEC.md 9.1 (all 8 seed words of each string)."""
    if out is not None:
        torch.ops.pocrand.normal_nonces_into.default(
            prefix, nonces, suffix, check_out(out, (len(nonces), seq_len, dim), dtype, device), concat)
        return out
    # (.default: the overload itself, skipping the packet's overload resolution, ~1 us)
    return torch.ops.pocrand.normal_nonces.default(prefix, nonces, suffix, seq_len * dim, dtype,
                                                   device, concat).view(len(nonces), seq_len, dim)


def normal_of_nonces(prefix: str, nonces: list[int], suffix: str, seq_len: int, dim: int,
                     device: torch.device, dtype: torch.dtype,
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """[B, seq_len, dim]: row b = normal(seed(prefix + str(nonces[b]) + suffix), seq_len * dim)
    delivered in dtype (SPEC.md 5, 6), or written into `out` (a [B, seq_len, dim] tensor)."""
    return _rows_of_nonces(False, prefix, nonces, suffix, seq_len, dim, device, dtype, out)


def concat_normal_of_nonces(prefix: str, nonces: list[int], suffix: str, seq_len: int, dim: int,
                            device: torch.device, dtype: torch.dtype,
                            out: torch.Tensor | None = None) -> torch.Tensor:
    """normal_of_nonces with each row built from all 8 seed words of its string (SPEC.md 9.1)."""
    return _rows_of_nonces(True, prefix, nonces, suffix, seq_len, dim, device, dtype, out)


def normal_slice_of_seeds(seeds: torch.Tensor, n: int, start: int, end: int,
                          dtype: torch.dtype) -> torch.Tensor:
    """[B, end - start]: elements [start, end) of normal(seeds[b], n) in dtype, without the rest."""
    return torch.ops.pocrand.normal_range(seeds, n, start, end, dtype)


def concat_normal_slice_of_words(words: torch.Tensor, n: int, start: int, end: int,
                                 dtype: torch.dtype) -> torch.Tensor:
    """[B, end - start]: elements [start, end) of concat_normal(words[b], n) (SPEC.md 9.1)."""
    return torch.ops.pocrand.concat_normal(words, n, start, end, dtype)


def unit_normal_of_seed(seed: int, n: int, device: torch.device,
                        dtype: torch.dtype) -> torch.Tensor:
    """[n]: normal(seed, n) divided by its fixed-order norm (SPEC.md 7), then dtype; NaN if 0."""
    return torch.ops.pocrand.unit_normal_seed.default(seed, n, dtype, device)


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
    dim, dev = check_count("dim", dim), check_device(device)
    if isinstance(seed_strings, (list, tuple)):  # the total first: checking 2^24 strings takes seconds
        check_total("len(seed_strings) * dim", len(seed_strings) * dim, 4, dev)
    strings = _check_strings("seed_strings", seed_strings)
    check_total("len(seed_strings) * dim", len(strings) * dim, 4, dev)
    return unit_vectors_of_seeds(seeds_of_strings(strings), dim, dev, torch.float32)


def unit_vectors_of_seeds(seeds: list[int], dim: int, device: torch.device,
                          dtype: torch.dtype) -> torch.Tensor:
    """[len(seeds), dim]: unit_vector(seeds[r], dim) (SPEC.md 9.2), divided in float32 and
    rounded once to dtype; the seeds travel in the launch parameters."""
    return torch.ops.pocrand.unit_vectors_by_value.default(seeds, dim, dtype, device)


def unit_vectors_of_nonces(prefix: str, ids, suffix: str, dim: int,
                           device: torch.device) -> torch.Tensor:
    """float32 [len(ids), dim]: unit_vector(seed(prefix + str(id) + suffix), dim) for each id,
    the strings hashed and the rows made in one op call."""
    return torch.ops.pocrand.unit_vectors_by_value.default(ids, dim, torch.float32, device,
                                                           prefix, suffix)


# Fake (meta) implementations: shapes only, for torch.compile and fake tensors.
@torch.library.register_fake("pocrand::murmur3")
def _murmur3_fake(keys, seed=0, seeds=None):
    one_device("keys", keys, seeds=seeds)
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
def _normal_nonces_fake(prefix, nonces, suffix, n, dtype, device, concat=False):
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
def _unit_vectors_by_value_fake(seeds, dim, dtype, device, prefix=None, suffix=""):
    return torch.empty((len(seeds), dim), dtype=dtype, device=device)


@torch.library.register_fake("pocrand::concat_normal")
def _concat_normal_fake(words, n, start, end, dtype):
    return words.new_empty((words.shape[0], end - start), dtype=dtype)


@torch.library.register_fake("pocrand::normal_nonces_into")
def _normal_nonces_into_fake(prefix, nonces, suffix, out, concat=False):
    return None
