"""Decode streams (SPEC.md 10.1–10.4): seeds chained on the device from a base seed, a step and the
previous step's index, and what is drawn from seeds held in a device tensor — rows of normals,
picked indices, hash values modulo m, forced expert logits. No seed strings here (those are the
protocol layer's, pocrand_ext.protocols.gonka_poc).

Every function takes and returns tensors on one device and never reads a value back to the host,
so each works inside torch.compile(fullgraph=True) and inside a captured CUDA graph (a replay
reads whatever was last written into the input buffers).
"""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import (INT64_MAX, INT64_MIN, check_count, check_dtype, check_int, check_int64,
                      check_no_grad, check_seed, check_tensor, one_device)

__all__ = ["step_seeds", "step_normal", "normal_from_seeds", "pick_from_seeds", "hash_mod",
           "forced_logits"]


def _int_rows(name: str, t, rows: int | None, device: torch.device | None) -> torch.Tensor:
    """An integer tensor of `rows` values (any shape that flattens to [rows]) on `device`, as
    contiguous int64 [rows]."""
    check_tensor(name, t)
    if t.dtype.is_floating_point or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got {t.dtype}")
    check_no_grad(name, t)
    t = t.reshape(-1)
    if rows is not None and t.shape[0] != rows:
        raise ValueError(f"{name} must hold {rows} values (one per row of base_seeds), "
                         f"got shape {list(t.shape)}")
    if device is not None and t.device != device:
        raise ValueError(f"{name} is on {t.device}, but base_seeds is on {device}")
    return t.to(torch.int64).contiguous()


def _seeds(name: str, seeds) -> torch.Tensor:
    s = _int_rows(name, seeds, None, None)
    if s.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one seed")
    return s


def _step(step, rows: int, device: torch.device):
    """(steps tensor or None, step int or None) for the ops: an int, or a tensor of rows values."""
    if isinstance(step, torch.Tensor):
        return _int_rows("step", step, rows, device), None
    s = check_int("step", step)
    if not INT64_MIN <= s <= INT64_MAX:
        raise ValueError(f"step = {s} is outside the int64 range")
    return None, s


def _chain_args(base_seeds, step, prev_k, salt):
    base = _seeds("base_seeds", base_seeds)
    prev = _int_rows("prev_k", prev_k, base.shape[0], base.device)
    steps, step_int = _step(step, base.shape[0], base.device)
    return base, prev, steps, step_int, check_seed("salt", salt)


def step_seeds(base_seeds: torch.Tensor, step, prev_k: torch.Tensor, salt: int) -> torch.Tensor:
    """int64 [B] on base_seeds' device: hash(prev*0x9E3779B1 + step*0x85EBCA77 + salt, base) per
    row (SPEC.md 10.1). step is an int or a [B] tensor; prev_k [B] (low 32 bits used)."""
    base, prev, steps, step_int, salt = _chain_args(base_seeds, step, prev_k, salt)
    return torch.ops.pocrand.step_seeds.default(base, prev, steps, step_int, salt)


def step_normal(base_seeds: torch.Tensor, step, prev_k: torch.Tensor, salt: int, n: int,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[B, n] in dtype: normal(step seed of row b, n) (SPEC.md 10.3), the step seeds and the
    normals in one pass. Equals normal_from_seeds(step_seeds(...), n, dtype)."""
    base, prev, steps, step_int, salt = _chain_args(base_seeds, step, prev_k, salt)
    n, dtype = check_count("n", n), check_dtype("dtype", dtype)
    return torch.ops.pocrand.step_normal.default(base, prev, steps, step_int, salt, n, dtype)


def normal_from_seeds(seeds: torch.Tensor, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[B, n] in dtype: normal(seeds[b], n) (SPEC.md section 5), seeds a [B] tensor of u32 values."""
    s = _seeds("seeds", seeds)
    n, dtype = check_count("n", n), check_dtype("dtype", dtype)
    return torch.ops.pocrand.normal.default(s, n, dtype)


HOST_ORDER_MAX_DIM = 2**20  # the widest pick in the host order (csrc/cpu/host_order.h)


def pick_from_seeds(seeds: torch.Tensor, dim: int, k: int, host_order: bool = False) -> torch.Tensor:
    """int64 [B, k]: pick(seeds[b], dim, k) (SPEC.md 9.4), in the CUDA topk order on every device,
    or with host_order=True in 9.4's host order (torch's CPU topk order, the vector channel's
    pick; seeds on the CPU, dim <= 2^20)."""
    s = _seeds("seeds", seeds)
    dim, k = check_count("dim", dim), check_int("k", k)
    if not 1 <= k <= dim:
        raise ValueError(f"k must be in [1, dim], got k={k}, dim={dim}")
    if not isinstance(host_order, bool):
        raise TypeError(f"host_order must be a bool, got {type(host_order).__name__}")
    if host_order and s.device.type != "cpu":
        raise ValueError(f"host_order is the order of a pick made on the host: seeds must be on "
                         f"the CPU, got {s.device}")
    if host_order and dim > HOST_ORDER_MAX_DIM:
        raise ValueError(f"dim must be at most 2^20 with host_order, got {dim}")
    return torch.ops.pocrand.pick.default(s, dim, k, host_order)


def hash_mod(seeds: torch.Tensor, n: int, modulus: int) -> torch.Tensor:
    """int32 [B, n]: hash(i, seeds[b]) mod modulus (SPEC.md 10.2)."""
    s = _seeds("seeds", seeds)
    n, modulus = check_count("n", n), check_count("modulus", modulus)
    return torch.ops.pocrand.hash_mod.default(s, n, modulus)


def forced_logits(seeds: torch.Tensor, n_experts: int, top_k: int, ladder_base: int,
                  step=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[B, n_experts] in dtype (SPEC.md 10.4): experts start .. start + top_k - 1 (mod E),
    start = r mod E, get ladder_base + top_k .. ladder_base + 1, the others -10000. The route seed
    r is hash(step, seeds[b]) when step (an int or a [B] tensor) is given, else seeds[b]."""
    s = _seeds("seeds", seeds)
    n_experts = check_count("n_experts", n_experts)
    # the ladder's ranges are the op's check (csrc/bind/bind_common.h, check_ladder)
    top_k, ladder_base = check_int64("top_k", top_k), check_int64("ladder_base", ladder_base)
    dtype = check_dtype("dtype", dtype)
    steps, step_int = (None, None) if step is None else _step(step, s.shape[0], s.device)
    return torch.ops.pocrand.forced_logits.default(s, steps, step_int, n_experts, top_k,
                                                   ladder_base, dtype)


# Fake (meta) implementations: shapes only, for torch.compile and fake tensors.
@torch.library.register_fake("pocrand::step_seeds")
def _step_seeds_fake(base_seeds, prev_k, steps, step, salt):
    one_device("base_seeds", base_seeds, prev_k=prev_k, steps=steps)
    return torch.empty_like(base_seeds)


@torch.library.register_fake("pocrand::step_normal")
def _step_normal_fake(base_seeds, prev_k, steps, step, salt, n, dtype):
    one_device("base_seeds", base_seeds, prev_k=prev_k, steps=steps)
    return base_seeds.new_empty((base_seeds.shape[0], n), dtype=dtype)


@torch.library.register_fake("pocrand::hash_mod")
def _hash_mod_fake(seeds, n, modulus):
    return seeds.new_empty((seeds.shape[0], n), dtype=torch.int32)


@torch.library.register_fake("pocrand::forced_logits")
def _forced_logits_fake(seeds, steps, step, n_experts, top_k, ladder_base, dtype):
    one_device("seeds", seeds, steps=steps)
    return seeds.new_empty((seeds.shape[0], n_experts), dtype=dtype)
