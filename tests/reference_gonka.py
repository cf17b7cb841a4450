"""The gonka-poc plugin's torch expressions for its decode scheme, restated from the scheme's
description (tests and the benchmark's baseline): int64 lanes masked to 32 bits, torch's own
log/sin/cos, topk and scatter_. Not pocrand code: an independent oracle for the integer outputs."""
from __future__ import annotations

import hashlib
import math

import torch

M32 = 0xFFFFFFFF


def ref_seed(s: str) -> int:
    return int(hashlib.sha256(s.encode()).hexdigest()[:8], 16)


def ref_murmur(keys: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """murmur3 (no length xor) on int64 lanes: keys [B, n], seeds [B, 1]."""
    h = (seeds & M32).expand_as(keys.to(torch.int64))
    k = keys.to(torch.int64) & M32
    k = (k * 0xCC9E2D51) & M32
    k = ((k << 15) | (k >> 17)) & M32
    k = (k * 0x1B873593) & M32
    h = h ^ k
    h = ((h << 13) | (h >> 19)) & M32
    h = (h * 5 + 0xE6546B64) & M32
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & M32
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def ref_step_seeds(base, step, prev, salt):
    step_term = step.to(torch.int64) * 0x85EBCA77 + salt if torch.is_tensor(step) \
        else int(step) * 0x85EBCA77 + salt
    key = ((prev.to(torch.int64) & M32) * 0x9E3779B1 + step_term) & M32
    return ref_murmur(key.view(-1, 1), base.view(-1, 1)).view(-1)


def ref_normal(seeds: torch.Tensor, n: int) -> torch.Tensor:
    p = (n + 1) // 2
    idx = torch.arange(2 * p, dtype=torch.int32, device=seeds.device).unsqueeze(0).expand(seeds.shape[0], -1)
    u = ref_murmur(idx, seeds.view(-1, 1)).to(torch.float32) / 4294967296.0
    u1, u2 = torch.clamp(u[:, :p], min=1e-10), u[:, p:]
    r = torch.sqrt(-2.0 * torch.log(u1))
    return torch.cat([r * torch.cos(2.0 * math.pi * u2), r * torch.sin(2.0 * math.pi * u2)], 1)[:, :n]


def ref_pick_set(seeds: torch.Tensor, dim: int, k: int) -> torch.Tensor:
    idx = torch.arange(dim, dtype=torch.int32, device=seeds.device).unsqueeze(0).expand(seeds.shape[0], -1)
    _, chosen = torch.topk(-ref_murmur(idx, seeds.view(-1, 1)), k=k, sorted=False, dim=1)
    return chosen.sort(1).values


def ref_forced(route_base, steps, n_experts, top_k, ladder=100):
    seed = ref_murmur(steps.view(-1, 1).to(torch.int32), route_base.view(-1, 1))
    start = torch.remainder(seed.view(-1, 1), n_experts)
    chosen = torch.remainder(start + torch.arange(top_k, device=seed.device).unsqueeze(0), n_experts)
    out = torch.full((seed.shape[0], n_experts), -1.0e4, device=seed.device)
    vals = torch.arange(top_k, 0, -1, dtype=torch.float32, device=seed.device) + ladder
    return out.scatter_(1, chosen, vals.unsqueeze(0).expand(seed.shape[0], -1))


def ref_embed_synth(out, base, step, prev, embeds, mask, salt=0x0D):
    """The plugin's fused embedding override: rows of out [n, hidden] where mask holds are
    replaced, by the step-seed normals (prev >= 0, a decode row) or by embeds' row in out's dtype
    (prev < 0, a prefill row); the others are out's rows."""
    n, hidden = out.shape
    base, step, prev, mask = base[:n], step[:n], prev[:n], mask[:n]
    normals = ref_normal(ref_step_seeds(base, step, prev, salt), hidden).to(out.dtype)
    decode = (mask & (prev >= 0)).view(-1, 1)
    prefill = (mask & (prev < 0)).view(-1, 1)
    y = torch.where(decode, normals, out)
    return torch.where(prefill, embeds[:n].to(out.dtype), y)


def ref_router_override(logits, route_seeds, step, mask, n_experts, top_k, ladder=100):
    """The plugin's fused router override: masked rows of logits [n, E] become the forced logits
    of hash(step, route seed), the step read as step.to(int32).to(int64) & 0xFFFFFFFF."""
    n = logits.shape[0]
    forced = ref_forced(route_seeds[:n], step[:n], n_experts, top_k, ladder).to(logits.dtype)
    return torch.where(mask[:n].view(-1, 1), forced, logits)


# ---- the plugin's per-layer PoC transforms (the benchmark's baselines, benchmarks/graph_rows.py) ----

def ref_reflect_rows(x, table, row_group, mask):
    """The plugin's masked row-group reflection of one layer's x [n, hidden]: each row whose mask
    holds reflected by its slot's table row, evaluated by torch in x's dtype."""
    n = x.shape[0]
    v = table.index_select(0, row_group[:n]).to(x.dtype)
    dot = (x * v).sum(-1, keepdim=True)
    return torch.where(mask[:n, None], x - 2.0 * dot * v, x)


def ref_reflect_rows_pair(hidden, residual, table, row_group, mask):
    return (ref_reflect_rows(hidden, table, row_group, mask),
            ref_reflect_rows(residual, table, row_group, mask))


def ref_snap(h, idx, codebook):
    """The plugin's snap of the final hidden states h [B, H] given its picked indices idx [B, d]
    and a codebook [P, d]: (k, bad, scores, q) as pocrand_ext.snap returns them."""
    hf = h.float()
    lh = hf / (hf.norm(dim=-1, keepdim=True) + 1e-8)
    g = lh.gather(1, idx)
    q = g / (g.norm(dim=-1, keepdim=True) + 1e-8)
    bad = ~torch.isfinite(q).all(dim=-1)
    scores = q @ codebook.T
    k = torch.where(bad, torch.full_like(idx[:, 0], -1), scores.argmax(dim=-1))
    return k, bad, torch.where(bad.unsqueeze(-1), torch.zeros_like(scores), scores), q
