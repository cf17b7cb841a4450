"""Small models and a stand-in backend for the poc_graph tests.

StandInBackend computes embed and route from pocrand's existing ops (decode.step_normal,
decode.forced_logits) and torch.where, restating the semantics of pocrand_ext.overrides'
embed_synth and router_override; the tests that use it hold until that module exists, and
test_standin_equals_overrides checks the two agree bit for bit once it does."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import pocrand_ext as pr
from pocrand_ext import decode
from pocrand_ext.poc_graph import PocrandBackend
from pocrand_ext.protocols import gonka_poc as gp



def _overrides_usable() -> bool:
    """pocrand_ext.overrides imports and its ops are in the built extension."""
    if importlib.util.find_spec("pocrand_ext.overrides") is None:
        return False
    try:
        from pocrand_ext import overrides  # noqa: F401
    except (ImportError, RuntimeError):
        return False
    return hasattr(torch.ops.pocrand, "embed_synth") and hasattr(torch.ops.pocrand,
                                                                 "router_override")


HAS_OVERRIDES = _overrides_usable()
needs_overrides = pytest.mark.skipif(not HAS_OVERRIDES,
                                     reason="pocrand_ext.overrides (embed_synth, router_override) "
                                            "is not in this tree")


class StandInBackend(PocrandBackend):
    def embed(self, out, base, step, prev_k, embeds, mask):
        dec = decode.step_normal(base, step, prev_k, gp.SALT_EMBED, out.shape[-1], out.dtype)
        poc = torch.where((prev_k >= 0).unsqueeze(-1), dec, embeds.to(out.dtype))
        return torch.where(mask.unsqueeze(-1), poc, out)

    def route(self, logits, base, step, mask, n_experts, top_k, ladder):
        forced = decode.forced_logits(base, n_experts, top_k, ladder, step, logits.dtype)
        return torch.where(mask.unsqueeze(-1), forced, logits)


def backend_of(name: str):
    if name == "standin":
        return StandInBackend("stepwise")
    if not HAS_OVERRIDES:
        pytest.skip("pocrand_ext.overrides is not in this tree")
    return "pocrand"


# ---- a vLLM-style toy model: [tokens, hidden] rows, layers returning (hidden, residual) ----

class ToyEmbed(torch.nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(vocab, hidden))

    def forward(self, input_):
        return F.embedding(input_, self.weight)


class ToyGate(torch.nn.Module):
    """A ReplicatedLinear-like gate: returns (logits, bias)."""

    def __init__(self, hidden, n_experts):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n_experts, hidden) * 0.2)

    def forward(self, x):
        return F.linear(x, self.weight), None


class ToyExperts(torch.nn.Module):
    """FusedMoE-like: global_num_experts and top_k; the engine's top-k and softmax weights."""

    def __init__(self, hidden, n_experts, top_k):
        super().__init__()
        self.global_num_experts, self.top_k = n_experts, top_k
        self.w = torch.nn.Parameter(torch.randn(n_experts, hidden, hidden) * 0.1)

    def forward(self, hidden_states, router_logits):
        vals, ids = torch.topk(router_logits.float(), self.top_k, dim=-1)
        weights = torch.softmax(vals, dim=-1).to(hidden_states.dtype)
        out = torch.zeros_like(hidden_states)
        for j in range(self.top_k):
            w = self.w[ids[:, j]]                                   # [T, H, H]
            y = torch.bmm(w, hidden_states.unsqueeze(-1)).squeeze(-1)
            out = out + weights[:, j:j + 1] * y
        return out


class ToyMoE(torch.nn.Module):
    def __init__(self, hidden, n_experts, top_k):
        super().__init__()
        self.gate = ToyGate(hidden, n_experts)
        self.experts = ToyExperts(hidden, n_experts, top_k)

    def forward(self, x):
        logits, _ = self.gate(x)
        return self.experts(x, logits)


class ToyLayer(torch.nn.Module):
    def __init__(self, hidden, moe=None):
        super().__init__()
        self.lin = torch.nn.Linear(hidden, hidden)
        self.mlp = moe

    def forward(self, positions, hidden_states, residual):
        residual = hidden_states if residual is None else hidden_states + residual
        h = self.lin(residual)
        if self.mlp is not None:
            h = self.mlp(h)
        return h, residual


class ToyNorm(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.rand(hidden) + 0.5)

    def forward(self, x, residual):
        s = x + residual
        return s * self.weight, s


class RMSNorm(torch.nn.Module):
    """vLLM's RMSNorm as attach sees it (weight, variance_epsilon, variance_size_override,
    forward(x, residual=None) -> (x, residual)), computing the add + norm by the NumPy mirror of
    SPEC.md 10.14 (every row masked off): the fused form's oracle, independent of the kernel."""

    def __init__(self, hidden, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.rand(hidden) + 0.5)
        self.variance_epsilon = eps
        self.variance_size_override = None

    def forward(self, x, residual=None):
        if residual is None:
            s = x.float()
            return (s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
                    ).to(x.dtype) * self.weight
        import spec_numpy as spec
        from test_pocv2_spec import spec_tensor, storage
        name = str(x.dtype).removeprefix("torch.")
        n, hidden = x.shape[0], x.shape[-1]
        y, s = spec.fused_add_rms_norm_reflect(
            storage(x), storage(residual), storage(self.weight), self.variance_epsilon,
            storage(torch.zeros(1, hidden, dtype=x.dtype)), np.zeros(n, np.int64),
            np.zeros(n, bool), name, "stepwise")
        return (spec_tensor(y, name).view(x.shape).to(x.device),
                spec_tensor(s, name).view(x.shape).to(x.device))


class ToyNormedLayer(ToyLayer):
    """A vLLM decoder layer's shape: input_layernorm(hidden, residual) first."""

    def __init__(self, hidden, moe=None):
        super().__init__(hidden, moe)
        self.input_layernorm = RMSNorm(hidden)

    def forward(self, positions, hidden_states, residual):
        if residual is None:
            residual, h = hidden_states, self.input_layernorm(hidden_states)
        else:
            h, residual = self.input_layernorm(hidden_states, residual)
        h = self.lin(h)
        if self.mlp is not None:
            h = self.mlp(h)
        return h, residual


class ToyInner(torch.nn.Module):
    def __init__(self, vocab, hidden, n_layers, n_experts, top_k, moe_every, vllm_norms=False):
        super().__init__()
        self.embed_tokens = ToyEmbed(vocab, hidden)
        layer = ToyNormedLayer if vllm_norms else ToyLayer
        self.layers = torch.nn.ModuleList(
            layer(hidden, ToyMoE(hidden, n_experts, top_k) if i % moe_every == 0 else None)
            for i in range(n_layers))
        self.norm = RMSNorm(hidden) if vllm_norms else ToyNorm(hidden)

    def forward(self, input_ids, positions):
        h, residual = self.embed_tokens(input_ids), None
        for layer in self.layers:
            h, residual = layer(positions, h, residual)
        h, _ = self.norm(h, residual)
        return h


class ToyModel(torch.nn.Module):
    def __init__(self, vocab=50, hidden=32, n_layers=3, n_experts=6, top_k=2, moe_every=2,
                 vllm_norms=False):
        super().__init__()
        self.model = ToyInner(vocab, hidden, n_layers, n_experts, top_k, moe_every, vllm_norms)

    def forward(self, input_ids, positions):
        return self.model(input_ids, positions)


def toy(dtype=torch.float32, device="cpu", **kw):
    torch.manual_seed(0)
    return ToyModel(**kw).to(dtype).to(device).eval()


def codebook(P=4, d=16, device="cpu"):
    return pr.unit_vectors([f"cb{j}" for j in range(P)], d).to(device)
