"""pocrand's murmur3 against the public `mmh3` package (the textbook MurmurHash3_x86_32).

pocrand omits the textbook `h ^= length` before fmix32, so the identity is
    hash(i, s) == fmix32(fmix32_inverse(mmh3.hash(le32(i), s)) ^ 4).
fmix32_inverse is derived here from the multipliers' inverses modulo 2^32 (independently of the
library and of spec_numpy).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pocrand_ext as pr

mmh3 = pytest.importorskip("mmh3")

M1, M2 = 0x85EBCA6B, 0xC2B2AE35
M1_INV, M2_INV = pow(M1, -1, 2**32), pow(M2, -1, 2**32)


def _unxorshift(h: np.ndarray, s: int) -> np.ndarray:
    """Inverse of h ^= h >> s on uint32 (iterate until every bit is recovered)."""
    x = h.copy()
    for _ in range(32 // s + 1):
        x = h ^ (x >> np.uint32(s))
    return x


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(M1)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(M2)
    return h ^ (h >> np.uint32(16))


def fmix32_inverse(h: np.ndarray) -> np.ndarray:
    h = _unxorshift(h, 16)
    h = h * np.uint32(M2_INV)
    h = _unxorshift(h, 13)
    h = h * np.uint32(M1_INV)
    return _unxorshift(h, 16)


def test_fmix32_inverse_is_an_inverse():
    x = np.random.default_rng(0).integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32)
    with np.errstate(over="ignore"):
        assert np.array_equal(fmix32_inverse(fmix32(x)), x)


@pytest.mark.parametrize("seed", [0, 1, 0x9747B28C, 0xFFFFFFFF])
def test_matches_mmh3_on_a_million_keys(seed):
    keys = np.arange(1_000_000, dtype=np.uint32)
    keys[-1000:] = np.arange(2**32 - 1000, 2**32, dtype=np.uint64).astype(np.uint32)  # top of range
    textbook = np.fromiter((mmh3.hash(int(k).to_bytes(4, "little"), seed, signed=False)
                            for k in keys), dtype=np.uint32, count=keys.size)
    with np.errstate(over="ignore"):
        expected = fmix32(fmix32_inverse(textbook) ^ np.uint32(4))
    got = pr.murmur3_32(torch.from_numpy(keys.astype(np.int64)), seed)
    assert got.dtype == torch.int64
    assert torch.equal(got, torch.from_numpy(expected.astype(np.int64)))


def test_keys_use_their_low_32_bits():
    keys = torch.tensor([5, 5 + 2**32, 5 - 2**32, -1, 2**32 - 1])
    h = pr.murmur3_32(keys, 7)
    assert h[0] == h[1] == h[2] and h[3] == h[4]
    assert int(h.min()) >= 0 and int(h.max()) < 2**32


def test_bijection_on_a_block():
    """Distinct keys never collide (hash is a bijection of uint32)."""
    h = pr.murmur3_32(torch.arange(2**22), 12345)
    assert torch.unique(h).numel() == 2**22
