"""The gonka-poc plugin's torch expressions for its decode scheme, restated from the scheme's
description (tests, the benchmark's baseline and `pocrand round --scheme decode --reference`):
int64 lanes masked to 32 bits, torch's own log/sin/cos, norms, sums, topk, scatter_ and matmul.
Not pocrand code: an independent oracle for the integer outputs, and the formulation whose float
results pocrand's are compared with (they are not portable: that is pocrand's point).

The in-graph transforms (the masked reflection, the embedding synthesis, the router override and
the snap) are gathered in BACKEND, an object with the four callables a model wrapper calls:
reflect(x, table, row_group, mask), embed(out, base, step, prev_k, embeds, mask),
route(logits, base, step, mask, n_experts, top_k, ladder) and snap(h, seeds, codebook, out),
and the optional reflect_pair(hidden, residual, table, row_group, mask) and pick_seeds(base, step,
prev_k) (the interface of pocrand_ext.integrate.backend, whose attach runs them)."""
from __future__ import annotations

import hashlib
import math

import torch

from ..pocv2.reference import householder_vector

M32 = 0xFFFFFFFF
SALT_EMBED, SALT_PICK = 0x0D, 0x91
LADDER_BASE = 100


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


def ref_pick(seeds: torch.Tensor, dim: int, k: int) -> torch.Tensor:
    """int64 [B, k]: the picked dimensions in torch.topk(sorted=False)'s order on seeds' device
    (the plugin's order; it differs between the CPU and CUDA)."""
    idx = torch.arange(dim, dtype=torch.int32, device=seeds.device).unsqueeze(0).expand(seeds.shape[0], -1)
    _, chosen = torch.topk(-ref_murmur(idx, seeds.view(-1, 1)), k=k, largest=True, sorted=False, dim=1)
    return chosen.to(torch.int64)


def ref_sph_slices(q, block_hash: str, public_key: str, nonce: int, k_dim: int) -> list:
    """The vector channel's slices of q [steps, dim] (float32, host) as the plugin makes them:
    step t's pick seed from its string, torch's CPU topk(sorted=False) order, fp16 LE base64."""
    import base64

    import numpy as np
    seeds = torch.tensor([ref_seed(f"{block_hash}_{public_key}_nonce_{nonce}_pick_{k_dim}_decode{t}")
                          for t in range(q.shape[0])], dtype=torch.int64)
    idx = ref_pick(seeds, q.shape[1], k_dim).numpy()
    q = np.asarray(q, dtype=np.float32)
    return [base64.b64encode(q[t][idx[t]].astype("<f2").tobytes()).decode("ascii")
            for t in range(q.shape[0])]


# --- the in-graph transforms: rows are the first dimension, buffers hold at least that many ----

def ref_reflect(x: torch.Tensor, table: torch.Tensor, row_group: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
    """The masked row-group reflection: row r's vector table[row_group[r]] (broadcast over any
    copies between the row and the hidden dimension), x - 2 (x.v) v on rows where mask holds."""
    n = x.shape[0]
    pad = (1,) * (x.dim() - 2)
    v = table.index_select(0, row_group[:n]).view(n, *pad, -1).to(x.dtype)
    m = mask[:n].view(n, *pad, 1)
    dot = (x * v).sum(-1, keepdim=True)
    return torch.where(m, x - 2.0 * dot * v, x)


def ref_embed(out: torch.Tensor, base: torch.Tensor, step: torch.Tensor, prev_k: torch.Tensor,
              embeds: torch.Tensor, mask: torch.Tensor, salt: int = SALT_EMBED) -> torch.Tensor:
    """The token embedding's PoC rows replaced: a decode row (prev_k >= 0) gets
    normal(step_seed(step, prev_k, 0x0D), hidden) in out's dtype, a prefill row its staged embeds
    row; rows where mask is False keep the token embedding."""
    n, hidden = out.shape[0], out.shape[-1]
    seeds = ref_step_seeds(base[:n], step[:n], prev_k[:n], salt)
    dec = ref_normal(seeds, hidden).to(out.dtype)
    is_dec = (prev_k[:n] >= 0).unsqueeze(-1)
    poc = torch.where(is_dec, dec, embeds[:n].to(out.dtype))
    return torch.where(mask[:n].unsqueeze(-1), poc, out)


def ref_reflect_pair(hidden: torch.Tensor, residual: torch.Tensor, table: torch.Tensor,
                     row_group: torch.Tensor, mask: torch.Tensor):
    """A layer's hidden states and residual, each by ref_reflect."""
    return (ref_reflect(hidden, table, row_group, mask),
            ref_reflect(residual, table, row_group, mask))


def ref_route(logits: torch.Tensor, base: torch.Tensor, step: torch.Tensor, mask: torch.Tensor,
              n_experts: int, top_k: int, ladder: int = LADDER_BASE) -> torch.Tensor:
    """The router override: forced logits (route seed hash(step, base)) in the gate's dtype on
    rows where mask holds, the gate's own logits elsewhere."""
    n = logits.shape[0]
    forced = ref_forced(base[:n], step[:n], n_experts, top_k, ladder).to(logits.dtype)
    return torch.where(mask[:n].unsqueeze(-1), forced, logits)


def ref_snap(h: torch.Tensor, seeds: torch.Tensor, codebook: torch.Tensor, out):
    """The snap of rows h [B, H] with pick seeds [B]: normalise, gather the picked dimensions
    (topk order of the device), project to the sphere, scores = q @ C.T (torch matmul), k =
    argmax; a non-finite q gives k = -1 and zero scores. Writes out = (k, bad, scores, q)."""
    lh = h.float()
    lh = lh / (lh.norm(dim=-1, keepdim=True) + 1e-8)
    idx = ref_pick(seeds.view(-1), lh.shape[-1], codebook.shape[1])
    q = torch.gather(lh, 1, idx)
    q = q / (q.norm(dim=-1, keepdim=True) + 1e-8)
    bad = ~torch.isfinite(q).all(dim=-1)
    scores = q.float() @ codebook.float().T
    k = torch.where(bad, torch.full_like(scores[:, 0], -1, dtype=torch.int64), scores.argmax(dim=-1))
    scores = torch.where(bad.unsqueeze(-1), torch.zeros_like(scores), scores)
    for buf, val in zip(out, (k, bad, scores, q)):
        buf.copy_(val)
    return out


def ref_snap_picked(h: torch.Tensor, idx: torch.Tensor, codebook: torch.Tensor):
    """The snap given its picked indices idx [B, d] (the benchmarks precompute the pick, which
    only flatters the torch side): (k, bad, scores, q) as new tensors."""
    hf = h.float()
    lh = hf / (hf.norm(dim=-1, keepdim=True) + 1e-8)
    g = lh.gather(1, idx)
    q = g / (g.norm(dim=-1, keepdim=True) + 1e-8)
    bad = ~torch.isfinite(q).all(dim=-1)
    scores = q @ codebook.T
    k = torch.where(bad, torch.full_like(idx[:, 0], -1), scores.argmax(dim=-1))
    return k, bad, torch.where(bad.unsqueeze(-1), torch.zeros_like(scores), scores), q


def ref_pick_seeds(base: torch.Tensor, step: torch.Tensor, prev_k: torch.Tensor) -> torch.Tensor:
    """int64 [B]: the snap pick's seeds of decode rows, step_seed(step, prev_k, 0x91)."""
    return ref_step_seeds(base, step, prev_k, SALT_PICK)


class _ReferenceBackend:
    """The plugin's expressions as a model wrapper's backend (see the module docstring)."""
    name = "reference"
    reflect = staticmethod(ref_reflect)
    reflect_pair = staticmethod(ref_reflect_pair)
    embed = staticmethod(ref_embed)
    route = staticmethod(ref_route)
    snap = staticmethod(ref_snap)
    pick_seeds = staticmethod(ref_pick_seeds)


BACKEND = _ReferenceBackend()


# --- what the plugin derives on the host per request: its seed strings through hashlib ---------

def ref_round_seeds(block_hash: str, public_key: str, nonces, num_gates: int, k: int):
    """(base [B], route_base [num_gates, B], pick0 [B]) int64: the decode base seeds, every
    seeded gate's route base seeds and the last prompt row's pick seeds."""
    base = [ref_seed(f"{block_hash}_{public_key}_nonce{n}") for n in nonces]
    route = [[ref_seed(f"{block_hash}_n{n}_route_layer_{g}") for n in nonces] for g in range(num_gates)]
    pick0 = [ref_seed(f"{block_hash}_{public_key}_nonce_{n}_pick_{k}_decode0") for n in nonces]
    as_t = lambda v: torch.tensor(v, dtype=torch.int64)  # noqa: E731
    return as_t(base), as_t(route).view(num_gates, len(nonces)), as_t(pick0)


def ref_reflection_table(block_hash: str, num_layers: int, hidden: int, device, dtype) -> torch.Tensor:
    """[num_layers, 2, hidden] in dtype: slot 0 all zeros, slot 1 layer i's per-block vector (the
    plugin's torch-ops unit vector of its layer seed string)."""
    table = torch.zeros(num_layers, 2, hidden, dtype=dtype, device=device)
    for i in range(num_layers):
        table[i, 1] = householder_vector(f"{block_hash}_layer_{i}_householder", hidden, device).to(dtype)
    return table
