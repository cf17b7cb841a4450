"""The gonka-poc plugin's schemes (SPEC.md 10.5): its seed strings, salts and constants, and its
operations composed from the generic ops of pocrand_ext.decode.

Seed strings are hashed in C++, one call per batch (csrc/cpu/seeds.cpp). What runs per decode
step — embeddings, the snap's pick, pseudo token ids, forced router logits — takes device tensors
(base seeds, steps, previous indices) and never reads back to the host.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ... import decode
from ..._checks import (DeviceLike, check_count, check_device, check_int, check_nonce,
                       check_nonces, check_str, named_as)
from .wire import pack_k_steps, split_packable, unpack_k_steps

__all__ = ["MIX_A", "MIX_B", "SALT_EMBED", "SALT_PICK", "SALT_TOKEN_ID", "LADDER_BASE",
           "base_seeds", "route_base_seeds", "pseudo_input_ids", "decode_embeddings",
           "decode_pick_seeds", "decode_pick", "decode_pseudo_token_ids", "expert_logits",
           "decode_pick_string", "decode_pick_strings_seeds", "decode_pick_indices",
           "decode_pick_indices_steps", "pack_k_steps", "unpack_k_steps", "split_packable"]

MIX_A = 0x9E3779B1
MIX_B = 0x85EBCA77
SALT_EMBED = 0x0D
SALT_PICK = 0x91
SALT_TOKEN_ID = 0x57
LADDER_BASE = 100


def _to(seeds: torch.Tensor, dev: torch.device) -> torch.Tensor:
    return seeds.to(dev, non_blocking=True) if dev.type == "cuda" else seeds


def _derive(prefix: str, nonces: list[int], suffix: str, dev: torch.device) -> torch.Tensor:
    return _to(torch.ops.pocrand.derive_seeds.default(prefix, nonces, suffix, dev.type == "cuda"), dev)


def base_seeds(block_hash: str, public_key: str, nonces, device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [B] on device: seed(f"{block_hash}_{public_key}_nonce{nonce}"), one C++ call."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    return _derive(f"{block_hash}_{public_key}_nonce", check_nonces(nonces), "", check_device(device))


def route_base_seeds(block_hash: str, nonces, num_gates: int,
                     device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [B, num_gates] on device: seed(f"{block_hash}_n{nonce}_route_layer_{l}") for every
    (nonce, seeded gate l), one C++ call."""
    check_str("block_hash", block_hash)
    nonces, num_gates = check_nonces(nonces), check_count("num_gates", num_gates)
    dev = check_device(device)
    grid = torch.ops.pocrand.derive_seeds.default(f"{block_hash}_n", nonces, "_route_layer_",
                                                  dev.type == "cuda", num_gates)
    return _to(grid, dev)


def pseudo_input_ids(block_hash: str, public_key: str, nonces, seq_len: int, vocab: int,
                     device: DeviceLike = "cpu") -> torch.Tensor:
    """int32 [B * seq_len]: hash(p, seed(f"{bh}_{pk}_nonce{nonce}_input_ids")) mod vocab, rows
    flattened (the prefill scheme's pseudo token ids)."""
    check_str("block_hash", block_hash)
    check_str("public_key", public_key)
    nonces = check_nonces(nonces)
    seq_len, vocab = check_count("seq_len", seq_len), check_count("vocab", vocab)
    seeds = _derive(f"{block_hash}_{public_key}_nonce", nonces, "_input_ids", check_device(device))
    return decode.hash_mod(seeds, seq_len, vocab).view(-1)


def decode_embeddings(base: torch.Tensor, step, prev_k: torch.Tensor, hidden: int,
                      dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[B, hidden] in dtype: normal(step_seed(base, step, prev_k, 0x0D), hidden) per row."""
    return decode.step_normal(base, step, prev_k, SALT_EMBED, check_count("hidden", hidden), dtype)


def decode_pick_seeds(base: torch.Tensor, step, prev_k: torch.Tensor) -> torch.Tensor:
    """int64 [B]: the snap pick's seeds, step_seed(base, step, prev_k, 0x91)."""
    return decode.step_seeds(base, step, prev_k, SALT_PICK)


def decode_pick(base: torch.Tensor, step, prev_k: torch.Tensor, dim: int, k: int = 256) -> torch.Tensor:
    """int64 [B, k]: the snap's k picked dimensions of [0, dim), in pocrand's (CUDA topk) order."""
    return decode.pick_from_seeds(decode_pick_seeds(base, step, prev_k), dim, k)


def decode_pseudo_token_ids(base: torch.Tensor, step, prev_k: torch.Tensor, vocab: int) -> torch.Tensor:
    """int32 [B]: hash(0, step_seed(base, step, prev_k, 0x57)) mod vocab."""
    vocab = check_count("vocab", vocab)
    seeds = decode.step_seeds(base, step, prev_k, SALT_TOKEN_ID)
    return decode.hash_mod(seeds, 1, vocab).view(-1)


def expert_logits(route_base: torch.Tensor, steps, n_experts: int, top_k: int,
                  ladder_base: int = LADDER_BASE, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[B, n_experts] in dtype: one gate's forced logits, route seed hash(step, route_base)."""
    with named_as(seeds="route_base", step="steps"):
        return decode.forced_logits(route_base, n_experts, top_k, ladder_base, steps, dtype)


def decode_pick_string(block_hash: str, public_key: str, nonce: int, k: int, step: int,
                       prev: int | None = None) -> str:
    """f"{bh}_{pk}_nonce_{nonce}_pick_{k}_decode{step}", plus f"_k_{prev}" when prev is given."""
    tail = "" if prev is None else f"_k_{check_int('prev', prev)}"
    return (f"{check_str('block_hash', block_hash)}_{check_str('public_key', public_key)}_nonce_"
            f"{check_nonce('nonce', nonce)}_pick_{check_int('k', k)}_decode{check_int('step', step)}{tail}")


def decode_pick_strings_seeds(strings: Sequence[str], device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [len(strings)] on device: seed(s) of each string, one C++ call. strings: a list or
    tuple of str (a str, a set or a dict would give rows in an order nobody chose)."""
    if not isinstance(strings, (list, tuple)):
        raise TypeError(f"strings must be a list or tuple of str, got {type(strings).__name__}")
    strings = [check_str(f"strings[{i}]", s) for i, s in enumerate(strings)]
    dev = check_device(device)
    return _to(torch.ops.pocrand.derive_seeds_of_strings.default(strings, dev.type == "cuda"), dev)


def decode_pick_indices(block_hash: str, public_key: str, nonces, dim: int, k: int,
                        device: DeviceLike = "cpu", prev_point_ids=None, step: int = 0,
                        host_order: bool = False) -> torch.Tensor:
    """int64 [B, k]: pick(seed of the string form, dim, k) for each nonce at `step` (with its
    previous index when prev_point_ids is given), in SPEC.md 9.4's order, or its host order."""
    nonces = check_nonces(nonces)
    if prev_point_ids is not None:
        if not isinstance(prev_point_ids, (list, tuple, range)):
            raise TypeError(f"prev_point_ids must be a list of ints (one per nonce) or None, got "
                            f"{type(prev_point_ids).__name__}")
        prev_point_ids = [check_int(f"prev_point_ids[{i}]", p) for i, p in enumerate(prev_point_ids)]
        if len(prev_point_ids) != len(nonces):
            raise ValueError(f"prev_point_ids must hold one id per nonce ({len(nonces)}), got "
                             f"{len(prev_point_ids)}")
    strings = [decode_pick_string(block_hash, public_key, n, k, step,
                                  None if prev_point_ids is None else prev_point_ids[i])
               for i, n in enumerate(nonces)]
    return decode.pick_from_seeds(decode_pick_strings_seeds(strings, device), dim, k, host_order)


def decode_pick_indices_steps(block_hash: str, public_key: str, nonce: int, dim: int, k: int,
                              steps, device: DeviceLike = "cpu",
                              host_order: bool = False) -> torch.Tensor:
    """int64 [len(steps), k]: decode_pick_indices(..., [nonce], step=s) for each s, one batch."""
    if not isinstance(steps, (list, tuple, range)):
        raise TypeError(f"steps must be a list of ints, got {type(steps).__name__}")
    steps = [check_int(f"steps[{i}]", s) for i, s in enumerate(steps)]
    if not steps:
        raise ValueError("steps must not be empty")
    strings = [decode_pick_string(block_hash, public_key, nonce, k, s) for s in steps]
    return decode.pick_from_seeds(decode_pick_strings_seeds(strings, device), dim, k, host_order)
