"""PoC v2 inside the forward pass: the layer hooks (pocrand_ext.hooks) and a whole round on a
random transformers Llama (pocrand_ext.round, `pocrand round`)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal, requires_cuda
from pocrand_ext import hooks as hk
from pocrand_ext.round import RoundConfig, binomial_p_value, build_model, compare, run_round
from test_pocv2_spec import spec_tensor, storage

BH = "hooks-block"


class Layer(torch.nn.Module):
    """A decoder-like layer: a linear map, returning a tensor or (hidden, residual, extra)."""

    def __init__(self, dim: int, tuple_out: bool):
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)
        self.tuple_out = tuple_out

    def forward(self, x, residual=None):
        h = self.lin(x)
        if not self.tuple_out:
            return h
        r = x if residual is None else x + residual
        return h, r, "extra"


class Stack(torch.nn.Module):
    """Layers found at model.layers (the third layer-finding rule)."""

    def __init__(self, dim=32, n=3, tuple_out=False):
        super().__init__()
        self.layers = torch.nn.ModuleList(Layer(dim, tuple_out) for _ in range(n))
        self.tuple_out = tuple_out

    def forward(self, x, explicit_v=None):
        residual = None
        for i, layer in enumerate(self.layers):
            out = layer(x, residual) if self.tuple_out else layer(x)
            if self.tuple_out:
                x, residual = out[0], out[1]
                if explicit_v is not None:
                    x = pr.apply_householder(x, explicit_v[i])
                    residual = pr.apply_householder(residual, explicit_v[i])
            else:
                x = out if explicit_v is None else pr.apply_householder(out, explicit_v[i])
        return x if residual is None else x + residual


def make(tuple_out, dtype=torch.float32, device="cpu"):
    torch.manual_seed(0)
    return Stack(tuple_out=tuple_out).to(dtype).to(device).eval()


@pytest.mark.parametrize("tuple_out", [False, True], ids=["tensor", "tuple"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_hooked_forward_equals_explicit_calls(tuple_out, dtype, device):
    model = make(tuple_out, dtype, device)
    x = pr.generate_inputs(BH, "pk", [0, 1], 32, 5, device, dtype)
    v = pr.householder_vectors(BH, 3, 32, device).to(dtype)
    with torch.no_grad():
        explicit = model(x, explicit_v=v)
        hooks = pr.install_householder_hooks(model, BH)
        with hooks.active():
            hooked = model(x)
        plain = model(x)
    assert_bits_equal(hooked, explicit)
    assert not torch.equal(hooked, plain)  # the hooks did something, and only inside active()
    hooks.remove()


def test_hook_removal_restores_the_model():
    model = make(False)
    x = torch.randn(2, 4, 32)
    with torch.no_grad():
        before = model(x)
        hooks = pr.install_householder_hooks(model, BH)
        assert hooks.num_layers == 3
        hooks.remove()
        assert hooks.num_layers == 0
        with hooks.active():   # nothing left to apply
            after = model(x)
    assert_bits_equal(after, before)
    assert all(not layer._forward_hooks for layer in model.layers)


def test_layer_finding_rules_and_vector_cache():
    class HF(torch.nn.Module):          # model.model.layers
        def __init__(self):
            super().__init__()
            self.model = Stack()

    class GPT(torch.nn.Module):         # model.transformer.h
        def __init__(self):
            super().__init__()
            self.transformer = torch.nn.Module()
            self.transformer.h = torch.nn.ModuleList([Layer(8, False)])

    assert len(hk.find_layers(HF())) == 3 and len(hk.find_layers(GPT())) == 1
    assert hk.find_layers(torch.nn.Linear(2, 2)) == []
    with pytest.raises(ValueError, match="decoder layers"):
        pr.install_householder_hooks(torch.nn.Linear(2, 2), BH)
    a = hk.layer_vectors("cache-bh", 4, 16, "cpu", torch.bfloat16)
    assert hk.layer_vectors("cache-bh", 4, 16, "cpu", torch.bfloat16) is a
    assert_bits_equal(a, pr.householder_vectors("cache-bh", 4, 16).to(torch.bfloat16))


def test_hooks_inside_torch_compile(device):
    torch._dynamo.reset()
    model = make(True, torch.float32, device)
    x = pr.generate_inputs(BH, "pk", [3], 32, 4, device, torch.float32)
    hooks = pr.install_householder_hooks(model, BH)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad(), hooks.active():
        eager = model(x)
        got = compiled(x)
    assert_bits_equal(got, eager)
    hooks.remove()


transformers = pytest.importorskip("transformers")


def test_tiny_round_on_cpu_equals_the_spec_for_the_random_parts():
    """The round's random parts on a real transformers Llama: the inputs, each layer's output as
    the hook leaves it (the spec's reflection of what the layer returned) and the artifacts of
    the last hidden state are the NumPy spec's, bit for bit."""
    cfg = RoundConfig(hidden=64, layers=2, heads=4, batch=4, seq_len=6)
    model = build_model(cfg)
    ns = list(range(cfg.batch))
    x = pr.generate_inputs(cfg.block_hash, cfg.public_key, ns, cfg.hidden, cfg.seq_len, "cpu",
                           torch.float32)
    assert_bits_equal(x, torch.from_numpy(spec.generate_inputs(cfg.block_hash, cfg.public_key, ns,
                                                               cfg.hidden, cfg.seq_len, "float32")))
    hooks = pr.install_householder_hooks(model, cfg.block_hash)
    before, after = [], []  # each layer's output before and after pocrand's hook
    handles = [layer.register_forward_hook(lambda m, a, o: before.append(o), prepend=True)
               for layer in model.layers]
    handles += [layer.register_forward_hook(lambda m, a, o: after.append(o))
                for layer in model.layers]
    with torch.no_grad(), hooks.active():
        last = model(inputs_embeds=x).last_hidden_state[:, -1, :]
    for h in handles:
        h.remove()
    hooks.remove()
    v = spec.layer_vectors(cfg.block_hash, cfg.layers, cfg.hidden)
    for i, (b, a) in enumerate(zip(before, after)):
        b = b[0] if isinstance(b, tuple) else b
        a = a[0] if isinstance(a, tuple) else a
        want = spec.householder(storage(b.reshape(-1, cfg.hidden)), v[i], "float32")
        assert_bits_equal(a.reshape(-1, cfg.hidden), torch.from_numpy(want))
    art, flags = pr.artifacts(last, cfg.block_hash, cfg.public_key, ns, cfg.k)
    want, want_flags = spec.artifacts(storage(last), "float32", cfg.block_hash, cfg.public_key, ns,
                                      cfg.k)
    assert_bits_equal(art, torch.from_numpy(want))
    assert not flags.any() and not want_flags.any() and len(before) == cfg.layers


def test_round_cpu_against_cpu_has_no_mismatch():
    res = run_round(RoundConfig(batch=6), "cpu", "cpu")
    assert res.mismatches == 0 and not res.fraud and max(res.distances) == 0.0


def test_validation_rule():
    a = torch.zeros(10, 12, dtype=torch.float16)
    b = a.clone()
    b[0, 0] = 0.03                 # beyond 0.02
    b[1, 0] = float("nan")         # not finite: a mismatch
    b[2, 0] = 0.01                 # within
    res = compare(b, a)
    assert res.mismatches == 2
    assert abs(res.p_value - binomial_p_value(2, 10)) < 1e-15 and res.fraud
    assert binomial_p_value(0, 10) == 1.0
    assert abs(binomial_p_value(1, 10) - (1 - 0.999**10)) < 1e-12


def test_cli_round_runs_and_reports():
    out = subprocess.run([sys.executable, "-m", "pocrand_ext", "round", "--batch", "4",
                          "--reference"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "mismatches 0/4" in out.stdout and "reference" in out.stdout


def test_cli_round_without_transformers_says_what_to_install():
    code = ("import sys; sys.modules['transformers'] = None; "
            "from pocrand_ext.__main__ import main; sys.exit(main(['round']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert "pip install 'pocrand[round]'" in out.stderr and "Traceback" not in out.stderr


@requires_cuda
def test_round_gpu_prover_cpu_validator():
    """pocrand: an honest H100/H200 prover and a CPU validator agree on every nonce; the deployed
    reference's own pick order makes the same round flag the honest prover."""
    cfg = RoundConfig(hidden=512, layers=4, heads=8, batch=16, seq_len=32)
    ours = run_round(cfg, "cuda", "cpu")
    assert ours.mismatches == 0 and not ours.fraud and max(ours.distances) < 1e-3
    theirs = run_round(cfg, "cuda", "cpu", reference=True)
    assert theirs.mismatches >= 8 and theirs.fraud


@requires_cuda
def test_hooked_forward_in_a_cuda_graph():
    """The hooks' vectors are cached before capture; the reflections replay in a CUDA graph."""
    model = make(True, torch.bfloat16, "cuda")
    hooks = pr.install_householder_hooks(model, BH)
    static = pr.generate_inputs(BH, "pk", [0, 1], 32, 5, "cuda", torch.bfloat16)
    with torch.no_grad(), hooks.active():
        eager = model(static)       # warms the vector cache and the allocator
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = model(static)
        static.copy_(pr.generate_inputs(BH, "pk", [5, 6], 32, 5, "cuda", torch.bfloat16))
        graph.replay()
        want = model(static)
    assert_bits_equal(out, want)
    assert not torch.equal(out, eager)
    hooks.remove()
