"""Seeds: SHA-256 of a seed string (SPEC.md sections 8 and 9.5), one at a time in Python or a
batch at once in C++ (torch.ops.pocrand.derive_seeds), and their upload to a device."""
from __future__ import annotations

import hashlib
from typing import Sequence

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import check_int, check_nonce, check_str

__all__ = ["seed_from_string", "inputs_seed", "permutations_seed", "target_seed"]


def _seed(s: str) -> int:
    return int.from_bytes(hashlib.sha256(s.encode("utf-8")).digest()[:4], "big")


def seed_from_string(s: str) -> int:
    """First 4 bytes of SHA-256(UTF-8(s)) as a big-endian uint32."""
    return _seed(check_str("s", s))


# The parts are checked one by one, so that an error names the argument, not the joined string.
def inputs_seed(block_hash: str, public_key: str, nonce: int) -> int:
    """Seed of one nonce's inputs: seed_from_string(f"{block_hash}_{public_key}_nonce{nonce}")."""
    bh, pk = check_str("block_hash", block_hash), check_str("public_key", public_key)
    return _seed(f"{bh}_{pk}_nonce{check_nonce('nonce', nonce)}")


def permutations_seed(block_hash: str, public_key: str, nonce: int) -> int:
    """Seed of one nonce's permutation: ..._nonce_{nonce}_permutations."""
    bh, pk = check_str("block_hash", block_hash), check_str("public_key", public_key)
    return _seed(f"{bh}_{pk}_nonce_{check_nonce('nonce', nonce)}_permutations")


def target_seed(block_hash: str) -> int:
    """Seed of the target: seed_from_string(f"{block_hash}_target")."""
    return _seed(f"{check_str('block_hash', block_hash)}_target")


def seeds_tensor(seeds: Sequence[int], device: torch.device) -> torch.Tensor:
    """Seeds as int64 on `device`; a GPU gets them by an asynchronous copy from pinned memory
    (PyTorch's caching host allocator keeps the buffer alive until the copy is done)."""
    host = torch.tensor(seeds, dtype=torch.int64)
    if device.type == "cpu":
        return host
    return host.pin_memory().to(device, non_blocking=True)


def seeds_for(prefix: str, nonces: list[int], device: torch.device, suffix: str = "") -> torch.Tensor:
    """seed_from_string(f"{prefix}{nonce}{suffix}") for each nonce, hashed in one C++ call, as an
    int64 tensor on `device` (a GPU gets it by an asynchronous copy from pinned memory)."""
    on_gpu = device.type == "cuda"
    seeds = torch.ops.pocrand.derive_seeds.default(prefix, nonces, suffix, on_gpu)
    return seeds.to(device, non_blocking=True) if on_gpu else seeds


@torch.library.register_fake("pocrand::derive_seeds")
def _derive_seeds_fake(prefix, nonces, suffix, pin_memory):
    return torch.empty((len(nonces),), dtype=torch.int64)


# ----------------------------------------------------------------------------------------------
# PoC v2 seed strings (SPEC.md 9.5)
# ----------------------------------------------------------------------------------------------
__all__ += ["seed_words", "pick_seed", "haar_seed", "layer_seed", "target_v2_seed"]


def seed_words(s: str) -> list[int]:
    """The 8 big-endian uint32 words of SHA-256(UTF-8(s)); word 0 is seed_from_string(s)."""
    check_str("s", s)
    d = hashlib.sha256(s.encode("utf-8")).digest()
    return [int.from_bytes(d[4 * j:4 * j + 4], "big") for j in range(8)]


def pick_seed(block_hash: str, public_key: str, nonce: int, k: int) -> int:
    """Seed of a nonce's pick of k indices: ..._nonce_{nonce}_pick_{k}."""
    bh, pk = check_str("block_hash", block_hash), check_str("public_key", public_key)
    return _seed(f"{bh}_{pk}_nonce_{check_nonce('nonce', nonce)}_pick_{check_int('k', k)}")


def haar_seed(block_hash: str, public_key: str, nonce: int, k: int, j: int) -> int:
    """Seed of reflection j of a nonce's Haar rotation of k values: ..._haar_hh_{k}_{j}."""
    bh, pk = check_str("block_hash", block_hash), check_str("public_key", public_key)
    n, k, j = check_nonce("nonce", nonce), check_int("k", k), check_int("j", j)
    return _seed(f"{bh}_{pk}_nonce_{n}_haar_hh_{k}_{j}")


def layer_seed(block_hash: str, layer: int) -> int:
    """Seed of layer i's Householder vector: {block_hash}_layer_{i}_householder."""
    return _seed(f"{check_str('block_hash', block_hash)}_layer_{check_int('layer', layer)}"
                 f"_householder")


def target_v2_seed(block_hash: str, public_key: str) -> int:
    """Seed of PoC v2's target: {block_hash}_{public_key}_target."""
    bh, pk = check_str("block_hash", block_hash), check_str("public_key", public_key)
    return _seed(f"{bh}_{pk}_target")


def haar_seeds(block_hash: str, public_key: str, nonces: list[int], k: int,
               device: torch.device) -> torch.Tensor:
    """int64 [B, k-1] on device: the Haar seeds j = 0 .. k-2 of each nonce."""
    on_gpu = device.type == "cuda"
    seeds = torch.ops.pocrand.derive_seed_grid.default(f"{block_hash}_{public_key}_nonce_", nonces,
                                                       f"_haar_hh_{k}_", k - 1, on_gpu)
    return seeds.to(device, non_blocking=True) if on_gpu else seeds


@torch.library.register_fake("pocrand::derive_seed_words")
def _derive_seed_words_fake(prefix, nonces, suffix, pin_memory):
    return torch.empty((len(nonces), 8), dtype=torch.int64)


@torch.library.register_fake("pocrand::derive_seed_grid")
def _derive_seed_grid_fake(prefix, nonces, infix, count, pin_memory):
    return torch.empty((len(nonces), count), dtype=torch.int64)


@torch.library.register_fake("pocrand::derive_seeds_of_strings")
def _derive_seeds_of_strings_fake(strings, pin_memory):
    return torch.empty((len(strings),), dtype=torch.int64)
