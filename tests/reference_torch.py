"""The PoC 2.0 reference formulation in plain torch ops (a per-nonce Python loop), written from
the semantics in SPEC.md section 8 with torch.log / torch.cos / torch.sin and torch.argsort.

Used only to measure compatibility: its integer results must equal pocrand's exactly, its float
results agree closely (torch's transcendental functions are not portable, pocrand's are).
"""
from __future__ import annotations

import hashlib
import math

import torch

MASK = 0xFFFFFFFF


def seed_from_string(s: str) -> int:
    return int.from_bytes(hashlib.sha256(s.encode("utf-8")).digest()[:4], "big")


def murmur3_32(keys: torch.Tensor, seed: int) -> torch.Tensor:
    k = keys.to(torch.int64) & MASK
    k = (k * 0xCC9E2D51) & MASK
    k = ((k << 15) | (k >> 17)) & MASK
    k = (k * 0x1B873593) & MASK
    h = seed ^ k
    h = ((h << 13) | (h >> 19)) & MASK
    h = (h * 5 + 0xE6546B64) & MASK
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & MASK
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & MASK
    return h ^ (h >> 16)


def uniform(seed: int, n: int, device) -> torch.Tensor:
    h = murmur3_32(torch.arange(n, device=device), seed)
    return h.to(torch.float32) / 2.0**32


def normal(seed: int, n: int, device) -> torch.Tensor:
    pairs = (n + 1) // 2
    u = uniform(seed, 2 * pairs, device)
    u1 = u[:pairs].clamp(min=1e-10)
    u2 = u[pairs:]
    r = torch.sqrt(-2.0 * torch.log(u1))
    theta = 2.0 * math.pi * u2
    return torch.cat([r * torch.cos(theta), r * torch.sin(theta)])[:n]


def generate_inputs(block_hash, public_key, nonces, dim, seq_len, device, dtype=torch.float16):
    rows = []
    for nonce in nonces:
        seed = seed_from_string(f"{block_hash}_{public_key}_nonce{nonce}")
        rows.append(normal(seed, seq_len * dim, device).view(seq_len, dim).to(dtype))
    return torch.stack(rows)


def generate_permutations(block_hash, public_key, nonces, vocab_size, device):
    rows = []
    for nonce in nonces:
        seed = seed_from_string(f"{block_hash}_{public_key}_nonce_{nonce}_permutations")
        h = murmur3_32(torch.arange(vocab_size, device=device), seed)
        rows.append(torch.argsort(h, stable=True))
    return torch.stack(rows)


def generate_target(block_hash, vocab_size, device, dtype=torch.float32):
    t = normal(seed_from_string(f"{block_hash}_target"), vocab_size, device)
    return (t / t.norm()).to(dtype)


def compute_distances(logits, permutations, target):
    x = torch.gather(logits.float(), 1, permutations)
    x = x / x.norm(dim=-1, keepdim=True)
    return (x - target.float().unsqueeze(0)).norm(dim=-1)
