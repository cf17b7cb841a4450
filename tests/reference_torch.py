"""The deployed PoC reference, restated in torch ops: the Phase-2 functions of `vllm/poc/gpu_random.py`
in the vLLM fork gonka-ai/vllm (Phase 2 at commit 9320b42fb; PoC v2 at commit 5110f7fcf).

This is the compatibility oracle of tests/test_reference_compat.py. It is written from the deployed
code, not from SPEC.md, and computes what that code computes, op for op: torch's own log / sqrt /
cos / sin, torch's norms and its argsort. Only the integer results (seeds, hashes, permutations)
and the uniforms can therefore equal pocrand's bit for bit; the rest is compared by measured
distances.

What was read. Neither of the two commits above is in the public code index this was written
from; these stored copies of the file were read instead (commits abbreviated to 12 digits):

- akup/vllm @ 0b5ad25eb241, a fork of gonka-ai/vllm: the Phase-2 API restated here —
  generate_target(block_hash, vocab_size, device, dtype), generate_permutations and
  compute_distances, beside _seed_from_string, _murmur3_32, _uniform, _normal and generate_inputs.
- gonka-ai/vllm @ 2d49fd8906fb, the PoC v2 line (generate_target(block_hash, public_key, dim, ...),
  Householder and Haar functions, no permutations): its _seed_from_string, _murmur3_32, _uniform,
  _normal and generate_inputs are identical to the akup copy's once comments and docstrings are
  set aside, and so are those of the stored copies in the forks axeltec-software, kaitakuai (hex
  literals in upper case), qdanik and vedenij. One more stored copy computes generate_inputs of
  more than 4 nonces on the CPU in a thread pool and copies the rows over: the same ops.
- akup/vllm @ 7345895319fb, an earlier Phase-2 draft: it hashes in int32 tensors, takes
  uniform = (int32 hash + 2^31) / 2^32 and orders a permutation by argsort of those float
  uniforms. It is not what the later copies or SPEC.md describe and is not restated.

The Phase-2 functions, as the deployed code computes them:

- seed: the first 8 hex digits of SHA-256(UTF-8(s)) read as an integer (= the first 4 bytes,
  big-endian).
- hash: MurmurHash3_x86_32's one-block body and fmix32 (no `h ^= length`) on int64 tensors masked
  to 32 bits; keys are their low 32 bits.
- uniform(seed, n): the hashes of 0 .. n-1 (int32 arange) converted to float32, divided by 2^32.
- normal(seed, n): p = ceil(n/2) pairs from uniform(seed, 2p); u1 = first half clamped to 1e-10,
  u2 = second half; sqrt(-2 log u1) times cos and sin of 2*pi*u2 (a Python-float 2*pi times the
  float32 tensor); the cos half, then the sin half, cut to n.
- generate_inputs: row b = normal(seed of f"{bh}_{pk}_nonce{nonce}", seq_len*dim) viewed
  [seq_len, dim], then converted to dtype.
- generate_permutations: row b = stable argsort of the hashes of 0 .. V-1 under the seed of
  f"{bh}_{pk}_nonce_{nonce}_permutations".
- generate_target: normal(seed of f"{bh}_target", V), converted to dtype FIRST, then divided by its
  own norm (so an fp16/bf16 target is normalised in that type).
- compute_distances: gather logits by the permutation, divide each row by its norm, subtract the
  target, norm of each row — all in the logits' dtype (no widening).
"""
from __future__ import annotations

import hashlib
import math

import torch

_LOW32 = (1 << 32) - 1


def _seed_from_string(seed_string: str) -> int:
    digest = hashlib.sha256(seed_string.encode("utf-8")).hexdigest()
    return int(digest[:8], 16)


def _rotl32(x: torch.Tensor, r: int) -> torch.Tensor:
    return ((x << r) | (x >> (32 - r))) & _LOW32


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    # A u32 times a u32 can pass 2^63 and wrap in int64; wrapping keeps the low 32 bits, as the
    # deployed code relies on too.
    return (x * c) & _LOW32


def _murmur3_32(keys: torch.Tensor, seed: int) -> torch.Tensor:
    k = keys.to(torch.int64) & _LOW32
    k = _mul32(_rotl32(_mul32(k, 0xCC9E2D51), 15), 0x1B873593)
    h = _rotl32(k ^ (seed & _LOW32), 13)
    h = (h * 5 + 0xE6546B64) & _LOW32
    for shift, mult in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h = _mul32(h ^ (h >> shift), mult)
    return h ^ (h >> 16)


def _uniform(seed: int, n: int, device) -> torch.Tensor:
    keys = torch.arange(n, dtype=torch.int32, device=device)
    return _murmur3_32(keys, seed).to(torch.float32) / 4294967296.0


def _normal(seed: int, n: int, device) -> torch.Tensor:
    pairs = (n + 1) // 2
    u = _uniform(seed, 2 * pairs, device)
    radius = torch.sqrt(-2.0 * torch.log(torch.clamp(u[:pairs], min=1e-10)))
    angle = 2.0 * math.pi * u[pairs:]
    return torch.cat([radius * torch.cos(angle), radius * torch.sin(angle)])[:n]


def generate_inputs(block_hash, public_key, nonces, dim, seq_len, device, dtype=torch.float16):
    rows = [_normal(_seed_from_string(f"{block_hash}_{public_key}_nonce{nonce}"), seq_len * dim,
                    device).view(seq_len, dim).to(dtype) for nonce in nonces]
    return torch.stack(rows)


def generate_permutations(block_hash, public_key, nonces, vocab_size, device):
    keys = torch.arange(vocab_size, dtype=torch.int32, device=device)
    rows = []
    for nonce in nonces:
        seed = _seed_from_string(f"{block_hash}_{public_key}_nonce_{nonce}_permutations")
        rows.append(torch.argsort(_murmur3_32(keys, seed), stable=True))
    return torch.stack(rows)


def generate_target(block_hash, vocab_size, device, dtype=torch.float32):
    t = _normal(_seed_from_string(f"{block_hash}_target"), vocab_size, device).to(dtype)
    return t / t.norm()


def compute_distances(logits, permutations, target):
    picked = torch.gather(logits, 1, permutations)
    unit = picked / picked.norm(dim=1, keepdim=True)
    return (unit - target.unsqueeze(0)).norm(dim=1)


# The names the repository's other scripts (benchmarks/bench.py) used before the restatement.
seed_from_string, murmur3_32, uniform, normal = _seed_from_string, _murmur3_32, _uniform, _normal
