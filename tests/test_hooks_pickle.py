"""The layer hooks: a model with hooks installed pickles (and deep-copies), hooks and all, and
the layer vectors are rounded by the core's fp16/bf16 rounding (SPEC.md section 6)."""
from __future__ import annotations

import copy
import pickle

import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import hooks as hk, stages
from conftest import assert_bits_equal

BH = "pickle-block"


class Layer(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)

    def forward(self, x):
        return self.lin(x), x


class Stack(torch.nn.Module):
    def __init__(self, dim=16, n=2):
        super().__init__()
        self.layers = torch.nn.ModuleList(Layer(dim) for _ in range(n))

    def forward(self, x):
        for layer in self.layers:
            x, r = layer(x)
            x = x + r
        return x


def test_a_hooked_model_pickles_and_keeps_its_hooks():
    torch.manual_seed(0)
    model = Stack().eval()
    hooks = pr.install_householder_hooks(model, BH)
    x = torch.randn(3, 16)
    with torch.no_grad(), hooks.active():
        want = model(x)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        (hook,) = clone.layers[0]._forward_hooks.values()
        with torch.no_grad(), hook.hooks.active():
            assert_bits_equal(clone(x), want)
        with torch.no_grad():
            assert not torch.equal(clone(x), want)  # inactive outside active()
    hooks.remove()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_layer_vectors_use_the_core_rounding(dtype):
    hk._VECTORS.clear()
    seen = []
    from torch.overrides import TorchFunctionMode

    class Watch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if getattr(func, "__name__", "") == "to" and (dtype in args or dtype in kwargs.values()):
                seen.append(func)
            return func(*args, **kwargs)

    with Watch():
        v = hk.layer_vectors(BH + str(dtype), 3, 40, "cpu", dtype)
    assert not seen, "the layer vectors were cast by torch's .to(dtype)"
    f32 = pr.householder_vectors(BH + str(dtype), 3, 40, "cpu")
    assert_bits_equal(v, stages.round_to(f32, dtype))
    assert_bits_equal(v, f32.to(dtype))  # finite floats: the same bits as IEEE RNE
