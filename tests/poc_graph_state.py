"""The state and the oracles shared by test_poc_graph.py and test_poc_graph_hf.py: a filled
PoCState, the toy model's forward with pocrand's ops called by hand, and a torch.compile backend
that counts the graphs it is given."""
from __future__ import annotations

import torch

import pocrand_ext as pr
from pocrand_ext import decode
from pocrand_ext.poc_graph import PoCState
from pocrand_ext.protocols import gonka_poc as gp
from poc_graph_models import codebook

BACKENDS = ["standin", "pocrand"]
BH = "graph-block"


def make_state(n_layers, hidden, n_gates, dtype, device="cpu", max_rows=64, P=4, d=16):
    st = PoCState(max_rows=max_rows, hidden=hidden, n_layers=n_layers, slots=3,
                  codebook=codebook(P, d, device), n_gates=n_gates, device=device, dtype=dtype)
    st.set_block_slot(1, BH)
    st.set_block_slot(2, BH + "-other")
    return st


def fill(st, n, seed=0, poc_every=2, mask=None):
    """Rows r with r % poc_every == 1 are chat; the PoC rows alternate decode (prev_k >= 0) and
    prefill (prev_k < 0) rows and slots 1 and 2."""
    g = torch.Generator().manual_seed(seed)
    dev = st.device
    r = torch.arange(n)
    mask = (r % poc_every) != 1 if mask is None else mask
    st.set_mask(mask.to(dev))
    st.set_row_group((1 + (r + seed) % 2).to(dev))
    st.set_embeds(torch.randn(n, st.hidden_size, generator=g).to(st.dtype).to(dev))
    prev = torch.where(r % 4 == 0, torch.randint(0, 4, (n,), generator=g), torch.full((n,), -1))
    st.set_decode_chain(torch.randint(0, 2**32, (n,), generator=g).to(dev),
                        torch.full((n,), 1 + seed, dtype=torch.int64).to(dev), prev.to(dev))
    st.set_routing(torch.randint(0, 2**32, (n, st.n_gates), generator=g).to(dev),
                   torch.randint(0, 9, (n,), generator=g).to(dev))
    st.set_prefill_pick(torch.randint(0, 2**32, (n,), generator=g).to(dev))
    st.set_token_ids(torch.randint(0, 10, (n,), generator=g).to(dev))
    return mask.to(dev)


def pick_seeds(st, n):
    prev = st.embed_prev_k[:n]
    return torch.where(prev >= 0, gp.decode_pick_seeds(st.embed_base[:n], st.embed_step[:n], prev),
                       st.prefill_pick[:n])


def toy_by_hand(model, st, ids, rounding="stepwise"):
    """The toy model's forward with the transforms as explicit pocrand calls: the oracle."""
    inner, n = model.model, ids.shape[0]
    m, slots = st.mask[:n], st.row_group[:n]
    h = torch.nn.functional.embedding(torch.where(m, st.token_ids[:n], ids),
                                      inner.embed_tokens.weight)
    dec = decode.step_normal(st.embed_base[:n], st.embed_step[:n], st.embed_prev_k[:n],
                             gp.SALT_EMBED, h.shape[-1], h.dtype)
    poc = torch.where((st.embed_prev_k[:n] >= 0)[:, None], dec, st.embeds[:n])
    h, residual, gate = torch.where(m[:, None], poc, h), None, 0
    for i, layer in enumerate(inner.layers):
        residual = h if residual is None else h + residual
        h = layer.lin(residual)
        if layer.mlp is not None:
            logits = torch.nn.functional.linear(h, layer.mlp.gate.weight)
            forced = decode.forced_logits(st.route_base[gate, :n], logits.shape[-1],
                                          layer.mlp.experts.top_k, gp.LADDER_BASE,
                                          st.route_step[:n], logits.dtype)
            h = layer.mlp.experts(h, torch.where(m[:, None], forced, logits))
            gate += 1
        h, residual = pr.reflect_rows_pair(h, residual, st.table[i], slots, m, rounding)
    out = (h + residual) * inner.norm.weight
    snap = pr.snap(out, pick_seeds(st, n), st.codebook)
    return out, snap


def run(model, ids):
    return model(ids, torch.arange(ids.shape[0]))


def counting_backend():
    from torch._dynamo.backends.registry import lookup_backend
    aot_eager, graphs = lookup_backend("aot_eager"), []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return aot_eager(gm, example_inputs)
    return backend, graphs
