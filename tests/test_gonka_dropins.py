"""The gonka-poc drop-in modules: the plugin's names, signatures, defaults, constants and
ValueErrors, and results equal to a restatement of its expressions (integers exactly)."""
from __future__ import annotations

import inspect

import pytest
import torch

from pocrand_ext.gonka_poc import decode_random as dr
from pocrand_ext.gonka_poc import gpu_random as gr
from pocrand_ext import gpu_random_v2
from pocrand_ext.reference_gonka import ref_forced, ref_murmur, ref_pick_set, ref_seed, ref_step_seeds
from test_gonka_decode import rows

# The plugin's signatures (parameter names and defaults), from its source.
SIGNATURES = {
    "pinned_to_device": "(vals, dtype, device)",
    "decode_base_seeds": "(block_hash, public_key, nonces, device)",
    "_step_seeds": "(base_seeds, step, prev_k, salt)",
    "_batched_normal_t": "(seeds, n, device)",
    "generate_decode_inputs_gpu": "(base_seeds, prev_k, step, dim, device, dtype=torch.float16)",
    "random_pick_indices_gpu": "(base_seeds, prev_k, step, dim, k, device)",
    "set_ladder_base_for_model": "(model_type)",
    "_forced_logits": "(seed, n_experts, top_k, device)",
    "decode_pseudo_token_ids": "(base_seeds, step, prev_k, vocab)",
    "route_base_seed": "(block_hash, nonce, layer)",
    "expert_logits_from_base": "(base_ints, steps, n_experts, top_k, device)",
    "random_pick_indices_decode": "(block_hash, public_key, nonces, dim, k, device, "
                                  "prev_point_ids=None, step=0)",
    "random_pick_indices_decode_steps": "(block_hash, public_key, nonce, dim, k, device, steps)",
}


def bare(sig: inspect.Signature) -> str:
    return str(sig.replace(parameters=[p.replace(annotation=inspect.Parameter.empty)
                                       for p in sig.parameters.values()],
                           return_annotation=inspect.Signature.empty))


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signatures(name):
    assert bare(inspect.signature(getattr(dr, name))) == SIGNATURES[name]


def test_constants():
    assert (dr._SALT_DECODE_EMBED, dr._SALT_DECODE_PICK, dr._SALT_DECODE_TOKEN_ID) == (0x0D, 0x91, 0x57)
    assert (dr._MIX_A, dr._MIX_B, dr.LADDER_BASE, dr._ladder_base) == (0x9E3779B1, 0x85EBCA77, 100, 100)
    assert dr.set_ladder_base_for_model("minimax_m2") == 100
    assert dr.route_base_seed("bh", -3, 7) == "bh_n-3_route_layer_7"


def test_gpu_random_is_v2_plus_pseudo_ids():
    assert set(gr.__all__) == set(gpu_random_v2.__all__) | {"derive_pseudo_input_ids"}
    for name in gpu_random_v2.__all__:
        assert getattr(gr, name) is getattr(gpu_random_v2, name)
    assert bare(inspect.signature(gr.derive_pseudo_input_ids)) == \
        "(block_hash, public_key, nonces, seq_len, vocab, device)"
    ids = gr.derive_pseudo_input_ids("bh", "pk", [0, 1], 5, 1000, torch.device("cpu"))
    seeds = torch.tensor([[ref_seed(f"bh_pk_nonce{n}_input_ids")] for n in (0, 1)])
    keys = torch.arange(5, dtype=torch.int32).unsqueeze(0).expand(2, -1)
    assert torch.equal(ids, (ref_murmur(keys, seeds) % 1000).to(torch.int32).flatten())


def test_values_equal_the_plugin_expressions():
    cpu = torch.device("cpu")
    base, prev, steps = rows(20, 50)
    assert torch.equal(dr.decode_base_seeds("bh", "pk", [1, 2], cpu),
                       torch.tensor([ref_seed("bh_pk_nonce1"), ref_seed("bh_pk_nonce2")]))
    for step in (3, steps):
        assert torch.equal(dr._step_seeds(base, step, prev, 0x0D), ref_step_seeds(base, step, prev, 0x0D))
    e = dr.generate_decode_inputs_gpu(base, prev, 4, 96, cpu)
    assert e.shape == (50, 1, 96) and e.dtype == torch.float16
    assert torch.equal(e[:, 0], dr._batched_normal_t(dr._step_seeds(base, 4, prev, 0x0D), 96, cpu)
                       .to(torch.float16))
    pick = dr.random_pick_indices_gpu(base, prev, steps, 300, 20, cpu)
    assert torch.equal(pick.sort(1).values, ref_pick_set(ref_step_seeds(base, steps, prev, 0x91), 300, 20))
    assert torch.equal(dr.expert_logits_from_base(base, steps, 64, 4, cpu), ref_forced(base, steps, 64, 4))
    seed = ref_murmur(steps.view(-1, 1).to(torch.int32), base.view(-1, 1))
    assert torch.equal(dr._forced_logits(seed, 64, 4, cpu), ref_forced(base, steps, 64, 4))
    tok = dr.decode_pseudo_token_ids(base, steps, prev, 1000)
    ref = ref_murmur(torch.zeros(50, 1, dtype=torch.int32),
                     ref_step_seeds(base, steps, prev, 0x57).view(-1, 1)) % 1000
    assert torch.equal(tok, ref.to(torch.int32).flatten())
    got = dr.random_pick_indices_decode("bh", "pk", [5, 6], 100, 9, cpu, prev_point_ids=[1, 2], step=3)
    want = ref_pick_set(torch.tensor([ref_seed(f"bh_pk_nonce_{n}_pick_9_decode3_k_{p}")
                                      for n, p in ((5, 1), (6, 2))]), 100, 9)
    assert torch.equal(got.sort(1).values, want)
    many = dr.random_pick_indices_decode_steps("bh", "pk", 5, 100, 9, cpu, [0, 3])
    assert torch.equal(many[1], dr.random_pick_indices_decode("bh", "pk", [5], 100, 9, cpu, step=3)[0])


@pytest.mark.parametrize("call", [
    lambda: dr.random_pick_indices_gpu(torch.tensor([1]), torch.tensor([0]), 0, 10, 11, "cpu"),
    lambda: dr.random_pick_indices_gpu(torch.tensor([1]), torch.tensor([0]), 0, 10, 0, "cpu"),
    lambda: dr.random_pick_indices_decode("b", "p", [1], 10, 0, "cpu"),
    lambda: dr.random_pick_indices_decode_steps("b", "p", 1, 10, 11, "cpu", [0]),
])
def test_value_errors(call):
    with pytest.raises(ValueError, match=r"k must be in \[1, dim\], got k=-?\d+, dim=10"):
        call()
