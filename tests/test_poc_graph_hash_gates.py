"""Hash-routed gates (plugin 0.2.0, DeepSeek-V4's tid2eid layers): attach leaves them natural, the
gate ordinals count the seeded gates only, and a token-id table on a model type the scheme does
not name is refused."""
from __future__ import annotations

import types

import pytest
import torch

from conftest import assert_bits_equal
from pocrand_ext.poc_graph import attach
from poc_graph_models import backend_of, toy
from poc_graph_state import fill, make_state, run


def _hash_routed_toy(model_type):
    model = toy(torch.float32, n_layers=5, moe_every=2)  # MoE in layers 0, 2 and 4
    model.config = types.SimpleNamespace(model_type=model_type)
    moe0 = model.model.layers[0].mlp
    moe0.register_buffer("tid2eid", torch.zeros(50, 2, dtype=torch.int32))
    return model


def _record(module, seen):
    """Hooks that keep a module's input and first output (returning None: nothing replaced)."""
    def pre(m, args):
        seen["in"] = args[0]

    def post(m, args, out):
        seen["out"] = out[0] if isinstance(out, tuple) else out
    return module.register_forward_pre_hook(pre), module.register_forward_hook(post)


def test_a_hash_routed_gate_stays_natural_and_takes_no_ordinal():
    model = _hash_routed_toy("deepseek_v4")
    ids = torch.arange(10)
    with torch.no_grad():
        st = make_state(5, 32, 2, torch.float32)
        mask = fill(st, 10)
        handle = attach(model, st, backend=backend_of("pocrand"))
        assert handle.num_gates == 2                       # layers 2 and 4: ordinals 0 and 1
        hashed, seeded = {}, {}
        hooks = _record(model.model.layers[0].mlp.gate, hashed) + \
            _record(model.model.layers[2].mlp.gate, seeded)
        run(model, ids)
        for h in hooks:
            h.remove()
        gate0, gate2 = model.model.layers[0].mlp.gate, model.model.layers[2].mlp.gate
        natural0 = torch.nn.functional.linear(hashed["in"], gate0.weight)
        natural2 = torch.nn.functional.linear(seeded["in"], gate2.weight)
    assert bool(mask.any())
    assert_bits_equal(hashed["out"], natural0)             # every row natural, PoC rows too
    assert not torch.equal(seeded["out"][mask], natural2[mask])  # a seeded gate is forced
    handle.detach()


def test_a_token_id_table_on_another_model_type_is_refused():
    model = _hash_routed_toy("mixtral")
    st = make_state(5, 32, 2, torch.float32)
    with pytest.raises(ValueError, match="tid2eid"):
        attach(model, st, backend=backend_of("pocrand"))
