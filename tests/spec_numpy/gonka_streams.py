"""SPEC.md section 10.1-10.5: gonka-poc's step seeds and streams (the prefill
scheme's pseudo ids, the decode scheme's streams, the forced router logits).

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import U32, _hexf
from .hashing import _murmur3
from .gaussian import normal
from .rounding import _deliver
from .operations import seed_from_string
from .pocv2 import pick


# ---------------------------------------------------------------------------------------------
# Section 10: gonka-poc (the prefill scheme's pseudo ids, the decode scheme's streams)
#
# Written from SPEC.md section 10 alone: u32 steps on np.uint32 (wraparound intended), the one
# int -> binary32 conversion of 10.4 exact by its domain, section 5 and 6 reused as they are.
# ---------------------------------------------------------------------------------------------
MIX_A = 0x9E3779B1
MIX_B = 0x85EBCA77
SALT_EMBED, SALT_PICK, SALT_TOKEN_ID = 0x0D, 0x91, 0x57
LADDER_BASE = 100
EXPERT_FLOOR = _hexf("-0x1.388p+13")


def _u32s(x) -> np.ndarray:
    """u32(x) of every element of an integer array or int (its low 32 bits, two's complement)."""
    return (np.asarray(x, dtype=np.int64) & np.int64(0xFFFFFFFF)).astype(np.uint32)


def step_seeds(base_seeds, step, prev_k, salt: int) -> np.ndarray:
    """10.1: int64 [B]; step an int or one per row."""
    b, prev = _u32s(base_seeds), _u32s(prev_k)
    t = np.broadcast_to(_u32s(step), b.shape)
    with np.errstate(over="ignore"):
        key = prev * U32(MIX_A) + t * U32(MIX_B) + U32(salt)
    return _murmur3(key, b).astype(np.int64)


def hash_mod(seeds, n: int, m: int) -> np.ndarray:
    """10.2: int32 [B, n], hash(i, seed_b) mod m."""
    s = _u32s(seeds)[:, None]
    i = np.arange(n, dtype=np.uint32)[None, :]
    return (_murmur3(i, s) % U32(m)).astype(np.int32)


def step_normal(base_seeds, step, prev_k, salt: int, n: int, dtype: str = "float32") -> np.ndarray:
    """10.3: [B, n], row b = normal(step seed b, n) delivered in dtype."""
    seeds = step_seeds(base_seeds, step, prev_k, salt)
    return np.stack([_deliver(normal(int(s), n), dtype) for s in seeds])


def forced_logits(seeds, n_experts: int, top_k: int, ladder_base: int, step=None,
                  dtype: str = "float32") -> np.ndarray:
    """10.4: [B, E]; route seed hash(u32(step), seed) when a step is given, else the seed."""
    s = _u32s(seeds)
    r = s if step is None else _murmur3(np.broadcast_to(_u32s(step), s.shape), s)
    start = (r % U32(n_experts)).astype(np.int64)[:, None]
    e = np.arange(n_experts, dtype=np.int64)[None, :]
    off = np.where(e >= start, e - start, e + n_experts - start)
    ladder = (ladder_base + top_k - off).astype(np.float32)   # |value| <= 2^24: exact
    out = np.where(off < top_k, ladder, EXPERT_FLOOR).astype(np.float32)
    return _deliver(out, dtype)


def gonka_base_seeds(block_hash: str, public_key: str, nonces) -> np.ndarray:
    return np.array([seed_from_string(f"{block_hash}_{public_key}_nonce{n}") for n in nonces],
                    dtype=np.int64)


def gonka_route_base_seeds(block_hash: str, nonces, num_gates: int) -> np.ndarray:
    return np.array([[seed_from_string(f"{block_hash}_n{n}_route_layer_{l}")
                      for l in range(num_gates)] for n in nonces], dtype=np.int64)


def gonka_pseudo_input_ids(block_hash: str, public_key: str, nonces, seq_len: int,
                           vocab: int) -> np.ndarray:
    seeds = [seed_from_string(f"{block_hash}_{public_key}_nonce{n}_input_ids") for n in nonces]
    return hash_mod(seeds, seq_len, vocab).reshape(-1)


def gonka_decode_pick(base_seeds, step, prev_k, dim: int, k: int) -> np.ndarray:
    seeds = step_seeds(base_seeds, step, prev_k, SALT_PICK)
    return np.stack([pick(int(s), dim, k) for s in seeds])


def gonka_decode_pseudo_token_ids(base_seeds, step, prev_k, vocab: int) -> np.ndarray:
    return hash_mod(step_seeds(base_seeds, step, prev_k, SALT_TOKEN_ID), 1, vocab).reshape(-1)


def gonka_decode_pick_string(block_hash: str, public_key: str, nonce: int, k: int, step: int,
                             prev=None) -> str:
    tail = "" if prev is None else f"_k_{prev}"
    return f"{block_hash}_{public_key}_nonce_{nonce}_pick_{k}_decode{step}{tail}"
