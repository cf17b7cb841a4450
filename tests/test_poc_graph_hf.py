"""poc_graph on tiny random-init transformers models (Llama, Mixtral, Qwen2-MoE, Qwen3-MoE): PoC
rows equal the un-attached model with plain forward hooks that call pocrand's ops, chat rows keep
every bit, torch.compile(fullgraph=True, dynamic=True) equals eager, and the MoE routers' logits
are forced before the engine's top-k. The toy model's tests are in test_poc_graph.py."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from conftest import assert_bits_equal
from pocrand_ext import decode
from pocrand_ext.poc_graph import attach
from pocrand_ext.protocols import gonka_poc as gp
from poc_graph_models import backend_of
from poc_graph_state import BACKENDS, counting_backend, fill, make_state, pick_seeds


def hf_model(kind, dtype=torch.float32):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    common = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=64, max_position_embeddings=64)
    if kind == "llama":
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**common))
    elif kind == "mixtral":
        model = transformers.MixtralForCausalLM(transformers.MixtralConfig(
            num_local_experts=4, num_experts_per_tok=2, **common))
    elif kind == "qwen3_moe":
        model = transformers.Qwen3MoeForCausalLM(transformers.Qwen3MoeConfig(
            num_experts=4, num_experts_per_tok=2, moe_intermediate_size=24, head_dim=8, **common))
    else:
        model = transformers.Qwen2MoeForCausalLM(transformers.Qwen2MoeConfig(
            num_experts=4, num_experts_per_tok=2, moe_intermediate_size=24,
            shared_expert_intermediate_size=24, **common))
    for p in model.parameters():  # Qwen MoE routers start at zeros: give them some signal
        if p.dim() == 2 and not p.any():
            torch.nn.init.normal_(p, std=0.2)
    return model.to(dtype).eval()


def hf_by_hooks(model, st, ids):
    """The oracle for a transformers model: the un-attached model with plain forward hooks that
    call pocrand's ops on the flattened rows (b * seq + s): embedding, layers, final norm."""
    inner, n = model.model, ids.numel()
    m, g = st.mask[:n], st.row_group[:n]

    def embed_hook(mod, args, out):
        r = out.reshape(n, -1)
        dec = decode.step_normal(st.embed_base[:n], st.embed_step[:n], st.embed_prev_k[:n],
                                 gp.SALT_EMBED, r.shape[-1], r.dtype)
        poc = torch.where((st.embed_prev_k[:n] >= 0)[:, None], dec, st.embeds[:n])
        return torch.where(m[:, None], poc, r).view(out.shape)

    def layer_hook(i):
        return lambda mod, args, out: pr.reflect_rows(out.reshape(n, -1), st.table[i], g, m,
                                                      "stepwise").view(out.shape)

    snaps = []
    hooks = [inner.embed_tokens.register_forward_hook(embed_hook),
             inner.norm.register_forward_hook(
                 lambda mod, args, out: snaps.append(pr.snap(out.reshape(n, -1),
                                                             pick_seeds(st, n), st.codebook)))]
    hooks += [layer.register_forward_hook(layer_hook(i)) for i, layer in enumerate(inner.layers)]
    ids_in = torch.where(m, st.token_ids[:n], ids.reshape(-1)).view(ids.shape)
    try:
        return model(ids_in).logits, snaps[0]
    finally:
        for h in hooks:
            h.remove()


@pytest.mark.parametrize("backend", BACKENDS)
def test_llama_poc_rows_equal_the_hooked_model_and_chat_rows_kept(backend):
    model = hf_model("llama", torch.bfloat16)
    ids = torch.randint(0, 64, (2, 5), generator=torch.Generator().manual_seed(3))
    oracle = hf_model("llama", torch.bfloat16)  # the same weights, never attached
    st = make_state(2, 32, 0, torch.bfloat16)
    seq_mask = torch.tensor([False] * 5 + [True] * 5)  # sequence 0 chat, sequence 1 PoC
    fill(st, 10, mask=seq_mask)
    with torch.no_grad():
        plain = model(ids).logits
        want, snap = hf_by_hooks(oracle, st, ids)
        handle = attach(model, st, backend=backend_of(backend))
        assert handle.layout == "batch_seq"
        got = model(ids).logits
        snaps = [t.clone() for t in st.snap_outputs(10)]
        torch._dynamo.reset()
        counter, graphs = counting_backend()
        compiled = torch.compile(model, backend=counter, fullgraph=True, dynamic=True)
        assert_bits_equal(compiled(ids).logits, got)
        compiled_once = len(graphs)  # (dynamo may also hand over an empty preamble graph)
        fill(st, 10, seed=1, mask=seq_mask.flip(0))
        want1, snap1 = hf_by_hooks(oracle, st, ids)
        assert_bits_equal(compiled(ids).logits, want1)
        assert_bits_equal(st.snap_q[:10], snap1[3])
        assert len(graphs) == compiled_once  # new state values: no recompile
        handle.detach()
        assert_bits_equal(model(ids).logits, plain)
    assert_bits_equal(got, want)
    for a, b in zip(snaps, snap):
        assert_bits_equal(a, b)
    assert_bits_equal(got[0], plain[0])  # the chat sequence: every bit kept
    assert not torch.equal(got[1], plain[1])


# Chat rows keep the model's own routing: each gate's selection for them equals what the detached
# model's MoE block selects from the same input. (Not from the plain model's run end to end: the
# experts' matmuls on the host may round a row differently with the number of rows an expert
# gets, seen with torch's AVX-512 kernels, and the PoC rows change those numbers, so the chat rows'
# input to the second gate need not have the plain run's bits.)
@pytest.mark.parametrize("kind", ["mixtral", "qwen2_moe", "qwen3_moe"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_moe_router_logits_forced_before_the_engines_top_k(kind, backend):
    model = hf_model(kind)
    ids = torch.randint(0, 64, (2, 6), generator=torch.Generator().manual_seed(4))
    n = ids.numel()
    st = make_state(2, 32, 2, torch.float32)
    mask = fill(st, n, mask=torch.tensor([False] * 6 + [True] * 6))  # a chat and a PoC sequence
    blocks = [layer.mlp for layer in model.model.layers]
    experts = [block.experts for block in blocks]
    seen, block_in = [], []
    hooks = [e.register_forward_pre_hook(lambda mod, args: seen.append(args[1:3])) for e in experts]
    hooks += [b.register_forward_pre_hook(lambda mod, args: block_in.append(args[0].clone()))
              for b in blocks]
    with torch.no_grad():
        plain = model(ids).logits
        seen.clear()
        block_in.clear()
        handle = attach(model, st, backend=backend_of(backend))
        assert handle.num_gates == 2 and st.router_meta == [(4, 2), (4, 2)]
        got = model(ids).logits
        attached_sel, attached_in = list(seen), list(block_in)
        torch._dynamo.reset()
        compiled = torch.compile(model, backend="aot_eager", fullgraph=True, dynamic=True)
        assert_bits_equal(compiled(ids).logits, got)
        handle.detach()
        assert_bits_equal(model(ids).logits, plain)
        detached_sel = []
        for block, x in zip(blocks, attached_in):  # the model's own routing of the same inputs
            seen.clear()
            block(x)
            detached_sel.append(seen[0])
    for h in hooks:
        h.remove()
    from pocrand_ext import reference_gonka as ref
    assert len(attached_sel) == 2
    for gate, (index, weights) in enumerate(attached_sel):
        forced = ref.ref_forced(st.route_base[gate, :n], st.route_step[:n], 4, 2)
        want = torch.topk(forced, 2, dim=-1).indices
        assert torch.equal(index[mask].sort(-1).values, want[mask].sort(-1).values)
        own_index, own_weights = detached_sel[gate]
        assert torch.equal(index[~mask], own_index[~mask])     # chat rows: the model's
        assert_bits_equal(weights[~mask], own_weights[~mask])
        # the engine's own weights of the ladder (logits 102, 101, then -1e4)
        # (the other experts' exp(-1e4 - 102) is 0, so normalising or not gives these)
        top = torch.softmax(torch.tensor([102.0, 101.0, -1e4, -1e4]), -1)[:2]
        assert torch.allclose(weights[mask].sort(-1).values,
                              top.sort().values.expand(int(mask.sum()), 2))
    assert not torch.equal(got, plain)
