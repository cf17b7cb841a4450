"""Seeds: the SHA-256 of a seed string (SPEC.md sections 8 and 9.5), one at a time in Python or a
batch at once in C++ (torch.ops.pocrand.derive_*), and their upload to a device.

Generic: a batch is a family of strings prefix + str(nonce) + suffix (or + infix + str(j)) that
the caller names; which strings a protocol hashes is its module's business (protocols/)."""
from __future__ import annotations

import hashlib
from typing import Sequence

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import check_str

__all__ = ["seed_from_string", "seed_words"]


def seed_of(s: str) -> int:
    """seed_from_string without the argument check, for strings the caller has checked."""
    return int.from_bytes(hashlib.sha256(s.encode("utf-8")).digest()[:4], "big")


def seed_from_string(s: str) -> int:
    """First 4 bytes of SHA-256(UTF-8(s)) as a big-endian uint32."""
    return seed_of(check_str("s", s))


def seed_words(s: str) -> list[int]:
    """The 8 big-endian uint32 words of SHA-256(UTF-8(s)); word 0 is seed_from_string(s)."""
    check_str("s", s)
    d = hashlib.sha256(s.encode("utf-8")).digest()
    return [int.from_bytes(d[4 * j:4 * j + 4], "big") for j in range(8)]


def seeds_tensor(seeds: Sequence[int], device: torch.device) -> torch.Tensor:
    """Seeds as int64 on `device`; a GPU gets them by an asynchronous copy from pinned memory
    (PyTorch's caching host allocator keeps the buffer alive until the copy is done)."""
    host = torch.tensor(seeds, dtype=torch.int64)
    if device.type == "cpu":
        return host
    return host.pin_memory().to(device, non_blocking=True)


def _to(device: torch.device, seeds: torch.Tensor) -> torch.Tensor:
    """A CPU seeds tensor (pinned when bound for a GPU) on `device`, copied asynchronously."""
    return seeds.to(device, non_blocking=True) if device.type == "cuda" else seeds


def seeds_for(prefix: str, nonces: list[int], device: torch.device, suffix: str = "") -> torch.Tensor:
    """seed_from_string(f"{prefix}{nonce}{suffix}") for each nonce, hashed in one C++ call, as an
    int64 tensor on `device` (a GPU gets it by an asynchronous copy from pinned memory)."""
    on_gpu = device.type == "cuda"
    return _to(device, torch.ops.pocrand.derive_seeds.default(prefix, nonces, suffix, on_gpu))


def seed_words_for(prefix: str, nonces: list[int], device: torch.device,
                   suffix: str = "") -> torch.Tensor:
    """int64 [B, 8] on `device`: seed_words(f"{prefix}{nonce}{suffix}") for each nonce."""
    on_gpu = device.type == "cuda"
    return _to(device, torch.ops.pocrand.derive_seeds.default(prefix, nonces, suffix, on_gpu, words=True))


def seed_grid(prefix: str, nonces: list[int], infix: str, count: int,
              device: torch.device) -> torch.Tensor:
    """int64 [B, count] on `device`: seed_from_string(f"{prefix}{nonce}{infix}{j}"), j < count."""
    on_gpu = device.type == "cuda"
    return _to(device, torch.ops.pocrand.derive_seeds.default(prefix, nonces, infix, on_gpu,
                                                              count))


def seeds_of_strings(strings: list[str]) -> list[int]:
    """seed_from_string of each (checked) string, hashed in one C++ call, as Python ints."""
    return torch.ops.pocrand.derive_seeds_of_strings.default(strings, False).tolist()


@torch.library.register_fake("pocrand::derive_seeds")
def _derive_seeds_fake(prefix, nonces, suffix, pin_memory=False, count=-1, words=False):
    shape = (len(nonces), 8) if words else (len(nonces), count) if count >= 0 else (len(nonces),)
    return torch.empty(shape, dtype=torch.int64)


@torch.library.register_fake("pocrand::derive_seeds_of_strings")
def _derive_seeds_of_strings_fake(strings, pin_memory):
    return torch.empty((len(strings),), dtype=torch.int64)
