"""The deployed PoC v2 functions restated in plain torch ops, to measure pocrand against them.

Restated (not copied) from the vLLM fork gonka-ai/vllm, `vllm/poc/gpu_random.py` at commit
5110f7fcf and the newer stored versions of that file (2026-04 to 2026-06), whose PoC v2 functions
compute the same thing: torch.log / torch.cos / torch.sin Box-Muller, torch's own norms and sums,
topk(sorted=False) for the pick, the Haar vectors divided by ‖v‖ + 1e-30. The artifact step is
the runner's (`poc_model_runner.py`): x / (‖x‖ + 1e-8), pick, gather, Haar rotation in float32,
y / (‖y‖ + 1e-8), fp16. For comparisons only: the tests, the benchmark and `pocrand round
--reference` use it to show what pocrand changes. Its float results are not portable (that is
pocrand's point), its integer results are.
"""
from __future__ import annotations

import hashlib
import math

import torch

MASK = 0xFFFFFFFF


def seed_words(s: str) -> list[int]:
    d = hashlib.sha256(s.encode("utf-8")).digest()
    return [int.from_bytes(d[i:i + 4], "big") for i in range(0, 32, 4)]


def seed(s: str) -> int:
    return seed_words(s)[0]


def murmur3_rows(keys: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """keys [..., n] (any integers), seeds broadcastable int64 -> int64 hashes in [0, 2^32)."""
    k = keys.to(torch.int64) & MASK
    k = (k * 0xCC9E2D51) & MASK
    k = ((k << 15) | (k >> 17)) & MASK
    k = (k * 0x1B873593) & MASK
    h = (seeds & MASK) ^ k
    h = ((h << 13) | (h >> 19)) & MASK
    h = (h * 5 + 0xE6546B64) & MASK
    for mult, shift in ((0x85EBCA6B, 16), (0xC2B2AE35, 13)):
        h = ((h ^ (h >> shift)) * mult) & MASK
    return h ^ (h >> 16)


def normal_rows(seeds: list[int], n: int, device) -> torch.Tensor:
    """float32 [len(seeds), n]: torch-ops Box-Muller over murmur3 uniforms."""
    pairs = (n + 1) // 2
    idx = torch.arange(2 * pairs, device=device, dtype=torch.int32).expand(len(seeds), -1)
    s = torch.tensor(seeds, dtype=torch.int64, device=device).unsqueeze(1)
    u = murmur3_rows(idx, s).to(torch.float32) / 4294967296.0
    u1, u2 = u[:, :pairs].clamp(min=1e-10), u[:, pairs:]
    r = torch.sqrt(-2.0 * torch.log(u1))
    return torch.cat([r * torch.cos(2.0 * math.pi * u2), r * torch.sin(2.0 * math.pi * u2)], 1)[:, :n]


def generate_inputs(block_hash, public_key, nonces, dim, seq_len, device, dtype):
    rows = [normal_rows([seed(f"{block_hash}_{public_key}_nonce{n}")], seq_len * dim, device)[0]
            for n in nonces]
    return torch.stack(rows).view(len(nonces), seq_len, dim).to(dtype)


def generate_inputs_concat(block_hash, public_key, nonces, dim, seq_len, device, dtype):
    n = seq_len * dim
    L = (n + 7) // 8
    rows = []
    for nonce in nonces:
        words = seed_words(f"{block_hash}_{public_key}_nonce{nonce}")
        segs = [normal_rows([w], min(L, n - j * L), device)[0] for j, w in enumerate(words) if j * L < n]
        rows.append(torch.cat(segs)[:n].view(seq_len, dim).to(dtype))
    return torch.stack(rows)


def generate_target(block_hash, public_key, dim, device, dtype=torch.float32):
    t = normal_rows([seed(f"{block_hash}_{public_key}_target")], dim, device)[0].to(dtype)
    return t / t.norm()


def householder_vector(seed_str: str, dim: int, device) -> torch.Tensor:
    v = normal_rows([seed(seed_str)], dim, device)[0]
    return v / v.norm()


def apply_householder(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    dot = (x * v).sum(dim=-1, keepdim=True)
    return x - 2 * dot * v


def pick_indices(block_hash, public_key, nonces, dim, k, device) -> torch.Tensor:
    """topk(sorted=False) of the negated scores: the order is the device's own."""
    s = torch.tensor([seed(f"{block_hash}_{public_key}_nonce_{n}_pick_{k}") for n in nonces],
                     dtype=torch.int64, device=device).unsqueeze(1)
    idx = torch.arange(dim, device=device, dtype=torch.int32).expand(len(nonces), -1)
    return torch.topk(-murmur3_rows(idx, s), k=k, largest=True, sorted=False, dim=1).indices


def haar_rotate(block_hash, public_key, nonces, x: torch.Tensor) -> torch.Tensor:
    k = x.shape[1]
    y = x.clone()
    for j in range(k - 1):
        seeds = [seed(f"{block_hash}_{public_key}_nonce_{n}_haar_hh_{k}_{j}") for n in nonces]
        v = normal_rows(seeds, k, x.device)
        v = (v / (v.norm(dim=-1, keepdim=True) + 1e-30)).to(y.dtype)
        y = y - 2 * (y * v).sum(dim=-1, keepdim=True) * v
    return y


def artifacts(hidden, block_hash, public_key, nonces, k, pick=None) -> torch.Tensor:
    """fp16 [B, k]; `pick` overrides the picked indices (to fix their order)."""
    x = hidden.float()
    x = x / (x.norm(dim=-1, keepdim=True) + 1e-8)
    idx = pick_indices(block_hash, public_key, nonces, x.shape[1], k, x.device) if pick is None else pick
    y = haar_rotate(block_hash, public_key, nonces, torch.gather(x, 1, idx.to(x.device)))
    return (y / (y.norm(dim=-1, keepdim=True) + 1e-8)).half()


def layer_hooks(layers, block_hash: str, hidden: int, device) -> list:
    """The deployed layer hooks on `layers`, in torch ops: layer i's output reflected by the unit
    vector of its per-block seed string (tuple outputs: both of the first two entries); returns
    the hook handles."""
    handles = []
    for i, layer in enumerate(layers):
        v = householder_vector(f"{block_hash}_layer_{i}_householder", hidden, device)

        def hook(module, args, output, v=v):
            if isinstance(output, tuple):
                return tuple(apply_householder(o, v.to(o.dtype)) if j < 2 else o
                             for j, o in enumerate(output))
            return apply_householder(output, v.to(output.dtype))
        handles.append(layer.register_forward_hook(hook))
    return handles
