"""poc_graph: PoCState and attach/detach on a vLLM-style toy model. PoC rows get the transforms
(checked against the same model run by hand with pocrand's ops called explicitly), chat rows keep
every bit of the un-attached model, detach restores the model, torch.compile(fullgraph=True,
dynamic=True) equals eager and sees new state values without recompiling, the snap buffers are
written; on a GPU a captured CUDA graph replays with new state values as eager computes them.
The tiny random-init transformers models are in test_poc_graph_hf.py.

The "standin" backend (poc_graph_models.StandInBackend) runs now; "pocrand" needs
pocrand_ext.overrides and is skipped until that module is in the tree."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from conftest import assert_bits_equal, requires_cuda
from pocrand_ext.poc_graph import attach
from pocrand_ext.poc_graph.router_seam import SEAM
from poc_graph_models import StandInBackend, backend_of, codebook, needs_overrides, toy
from poc_graph_state import BACKENDS, counting_backend, fill, make_state, run, toy_by_hand


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_toy_poc_rows_transformed_chat_rows_kept(backend, dtype):
    model = toy(dtype)
    ids = torch.randint(0, 50, (10,), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        plain = run(model, ids)
        st = make_state(3, 32, 2, dtype)
        mask = fill(st, 10)
        handle = attach(model, st, backend=backend_of(backend))
        assert handle.num_layers == 3 and handle.num_gates == 2
        assert st.router_meta == [(6, 2), (6, 2)]
        got = run(model, ids)
        want, snap = toy_by_hand(model, st, ids)
    assert_bits_equal(got, want)
    assert_bits_equal(got[~mask], plain[~mask])             # chat rows: every bit kept
    assert not torch.equal(got[mask], plain[mask])          # PoC rows: transformed
    for buf, expect in zip(st.snap_outputs(10), snap):
        assert_bits_equal(buf, expect)
    handle.detach()


def test_toy_routing_forces_the_engines_selection():
    """The engine's own top-k runs on the forced logits: PoC rows pick the route's experts."""
    model = toy()
    st = make_state(3, 32, 2, torch.float32)
    mask = fill(st, 12)
    seen = []
    hook = model.model.layers[2].mlp.experts.register_forward_pre_hook(
        lambda mod, args: seen.append(args[1]))
    attach(model, st, backend=StandInBackend())
    with torch.no_grad():
        run(model, torch.arange(12))
    hook.remove()
    chosen = torch.topk(seen[0].float(), 2, dim=-1).indices.sort(-1).values
    from pocrand_ext import reference_gonka as ref
    forced = ref.ref_forced(st.route_base[1, :12], st.route_step[:12], 6, 2)  # gate ordinal 1
    want = torch.topk(forced, 2, dim=-1).indices.sort(-1).values
    assert torch.equal(chosen[mask], want[mask])


def test_detach_restores_the_model_exactly():
    model = toy(torch.bfloat16)
    ids = torch.arange(8)
    classes = [type(m) for m in model.modules()]
    params = dict(model.named_parameters())
    with torch.no_grad():
        plain = run(model, ids)
        st = make_state(3, 32, 2, torch.bfloat16)
        fill(st, 8)
        handle = attach(model, st, backend=StandInBackend())
        assert dict(model.named_parameters()).keys() == params.keys()  # names kept
        assert not torch.equal(run(model, ids), plain)
        handle.detach()
        after = run(model, ids)
    assert [type(m) for m in model.modules()] == classes
    assert all(SEAM not in m.__dict__ for m in model.modules())
    assert all(p is params[k] for k, p in model.named_parameters())
    assert_bits_equal(after, plain)
    attach(model, st, backend=StandInBackend()).detach()  # attachable again


@pytest.mark.parametrize("backend", BACKENDS)
def test_toy_compiled_equals_eager_and_sees_new_state(backend):
    model = toy(torch.bfloat16)
    st = make_state(3, 32, 2, torch.bfloat16)
    attach(model, st, backend=backend_of(backend))
    torch._dynamo.reset()
    counter, graphs = counting_backend()
    compiled = torch.compile(model, backend=counter, fullgraph=True, dynamic=True)
    with torch.no_grad():
        for seed, n in ((0, 10), (1, 10), (2, 7), (3, 13)):
            ids = torch.randint(0, 50, (n,), generator=torch.Generator().manual_seed(seed))
            fill(st, n, seed=seed, poc_every=2 + seed % 2)
            got = run(compiled, ids)
            snaps = [t.clone() for t in st.snap_outputs(n)]
            want, snap = toy_by_hand(model, st, ids)
            assert_bits_equal(got, want)
            for a, b in zip(snaps, snap):
                assert_bits_equal(a, b)
    assert len(graphs) == 1  # new mask, slots, chain, routes and row counts: no recompile


def test_a_model_compiled_before_attach_follows_attach_and_detach():
    """The class swap fails the compiled model's guards: it recompiles with the transforms on
    attach and without them on detach, never running a stale graph."""
    model = toy(torch.bfloat16)
    ids = torch.arange(10) % 50
    torch._dynamo.reset()
    counter, graphs = counting_backend()
    compiled = torch.compile(model, backend=counter, fullgraph=True, dynamic=True)
    st = make_state(3, 32, 2, torch.bfloat16)
    with torch.no_grad():
        plain = run(compiled, ids)
        assert_bits_equal(plain, run(model, ids))
        handle = attach(model, st, backend=StandInBackend())
        fill(st, 10)
        assert_bits_equal(run(compiled, ids), toy_by_hand(model, st, ids)[0])
        handle.detach()
        assert_bits_equal(run(compiled, ids), plain)
    assert len(graphs) >= 2


def test_toy_inductor_compiles_and_reads_the_state():
    """Inductor's fused kernels round the model's own float ops in their own way (so its bits
    are not eager's), but the PoC transforms are pocrand ops it does not fuse: the compiled
    model follows every state update (within float32 noise of eager's model math)."""
    model = toy(torch.float32)
    st = make_state(3, 32, 2, torch.float32)
    attach(model, st, backend=StandInBackend())
    ids = torch.arange(9) % 50
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    with torch.no_grad():
        outs = []
        for seed in (0, 1):
            fill(st, 9, seed=seed)
            st.snap_scores.zero_()
            got = run(compiled, ids)
            want, snap = toy_by_hand(model, st, ids)
            assert torch.allclose(got, want, rtol=1e-4, atol=1e-4)
            assert torch.allclose(st.snap_scores[:9], snap[2], rtol=1e-3, atol=1e-4)
            outs.append(got)
    assert not torch.allclose(outs[0], outs[1])


def test_attach_errors_are_clear():
    st = make_state(3, 32, 2, torch.float32)
    with pytest.raises(ValueError, match="no decoder layers"):
        attach(torch.nn.Linear(3, 3), st)
    model = toy()
    with pytest.raises(ValueError, match="n_layers"):
        attach(model, make_state(2, 32, 2, torch.float32))
    with pytest.raises(ValueError, match="MoE gates"):
        attach(model, make_state(3, 32, 1, torch.float32))
    with pytest.raises(ValueError, match="state"):
        attach(model, make_state(3, 32, 2, torch.bfloat16))
    with pytest.raises(TypeError, match="route"):
        attach(model, st, backend=object())
    with pytest.raises(ValueError, match="backend"):
        attach(model, st, backend="triton")
    with pytest.raises(ValueError, match="layout"):
        attach(model, st, layout="columns")
    handle = attach(model, st, backend=StandInBackend())
    with pytest.raises(ValueError, match="already attached"):
        attach(model, st, backend=StandInBackend())
    handle.detach()
    del model.model.norm
    with pytest.raises(ValueError, match="final norm"):
        attach(model, st)


def test_router_seam_refuses_a_router_without_one_logits_call():
    from pocrand_ext.poc_graph.router_seam import seamed_forward

    class TwoLinears(torch.nn.Module):
        def forward(self, x):
            a = torch.nn.functional.linear(x, self.w)
            return torch.topk(torch.nn.functional.linear(a, self.w), 2)

    class NoLinear(torch.nn.Module):
        def forward(self, x):
            return torch.topk(x @ self.w.t(), 2)

    for cls, count in ((TwoLinears, 2), (NoLinear, 0)):
        with pytest.raises(ValueError, match=f"has {count} F.linear calls"):
            seamed_forward(cls)


def test_layer_tuple_outputs_other_than_a_residual_pass_on():
    """(hidden, residual) is reflected as a pair; (hidden, something of another shape) keeps
    the second entry as it is."""
    from pocrand_ext.poc_graph.attach import _LayerSeam
    st = make_state(3, 32, 2, torch.float32)
    fill(st, 6)
    seam = _LayerSeam(st, StandInBackend(), "rows", 1)
    h, res, other = torch.randn(6, 32), torch.randn(6, 32), torch.randn(6, 4)
    a, b = seam.apply((h, res))
    want = pr.reflect_rows_pair(h, res, st.table[1], st.row_group[:6], st.mask[:6], "stepwise")
    assert_bits_equal(a, want[0])
    assert_bits_equal(b, want[1])
    a, o, extra = seam.apply((h, other, "extra"))
    assert_bits_equal(a, want[0])
    assert o is other and extra == "extra"
    assert seam.apply((h, None))[1] is None
    copies = torch.randn(6, 2, 32)  # a model that carries copies of a row: one vector for all
    assert_bits_equal(seam.apply(copies), pr.reflect_rows(copies, st.table[1], st.row_group[:6],
                                                          st.mask[:6], "stepwise"))


def test_state_setters_copy_in_place():
    st = make_state(3, 32, 2, torch.bfloat16)
    ptrs = {k: v.data_ptr() for k, v in vars(st).items() if isinstance(v, torch.Tensor)}
    fill(st, 10)
    st.set_mask(None)
    st.set_decode_chain()
    st.set_codebook(codebook() * -1)
    assert {k: v.data_ptr() for k, v in vars(st).items() if isinstance(v, torch.Tensor)} == ptrs
    assert not st.mask.any() and (st.embed_prev_k == -1).all()
    with pytest.raises(ValueError, match="max_rows"):
        st.set_mask(torch.ones(65, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask"):
        st.set_mask(torch.ones(3))
    with pytest.raises(ValueError, match="slot"):
        st.set_slot(0, st.table[:, 1])


@needs_overrides
def test_standin_equals_overrides():
    from pocrand_ext import overrides
    st = make_state(3, 32, 2, torch.bfloat16)
    fill(st, 12)
    out = torch.randn(12, 32).to(torch.bfloat16)
    logits = torch.randn(12, 6).to(torch.bfloat16)
    s = StandInBackend()
    args = (st.embed_base, st.embed_step, st.embed_prev_k, st.embeds, st.mask)
    assert_bits_equal(overrides.embed_synth(out, *args), s.embed(out, *[a[:12] for a in args]))
    assert_bits_equal(overrides.router_override(logits, st.route_base[0], st.route_step, st.mask,
                                                6, 2),
                      s.route(logits, st.route_base[0, :12], st.route_step[:12], st.mask[:12],
                              6, 2, 100))


def test_reference_backend_resolves_when_present():
    import importlib.util
    if importlib.util.find_spec("pocrand_ext.reference_gonka") is None:
        pytest.skip("pocrand_ext.reference_gonka is not in this tree")
    from pocrand_ext.poc_graph import resolve_backend
    b = resolve_backend("reference", "stepwise")
    assert all(callable(getattr(b, name)) for name in ("reflect", "embed", "route", "snap"))


# ---- GPU: a captured CUDA graph replays with new state values ----

@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_cuda_graph_replay_with_new_state_equals_eager(backend, compiled):
    """The attached model (eager, or compiled fullgraph with aot_eager, which runs eager's ops)
    captured once, replayed with new state values and input ids: each replay equals the model
    run by hand on those values, snap buffers included."""
    model = toy(torch.bfloat16, "cuda")
    st = make_state(3, 32, 2, torch.bfloat16, device="cuda")
    attach(model, st, backend=backend_of(backend))
    forward = model
    if compiled:
        torch._dynamo.reset()
        forward = torch.compile(model, backend="aot_eager", fullgraph=True, dynamic=False)
    n = 16
    ids = torch.randint(0, 50, (n,), device="cuda")
    pos = torch.arange(n, device="cuda")
    fill(st, n)
    with torch.no_grad():
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                forward(ids, pos)  # warm up (and compile) outside capture
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = forward(ids, pos)
        for seed in (1, 2, 3):
            fill(st, n, seed=seed, poc_every=2 + seed % 2)
            ids.copy_(torch.randint(0, 50, (n,), device="cuda"))
            graph.replay()
            torch.cuda.synchronize()
            snaps = [t.clone() for t in st.snap_outputs(n)]
            want, snap = toy_by_hand(model, st, ids)
            assert_bits_equal(out, want)
            for a, b in zip(snaps, snap):
                assert_bits_equal(a, b)



@pytest.mark.parametrize("n", [-1, 65, 2.0, True])
def test_snap_outputs_refuses_rows_outside_the_state(n):
    """snap_outputs(-1) once sliced from the end and returned max_rows - 1 rows."""
    st = make_state(2, 32, 0, torch.float32)
    with pytest.raises(ValueError, match="max_rows = 64"):
        st.snap_outputs(n)
    assert [t.shape[0] for t in st.snap_outputs(64)] == [64] * 4
    assert [t.shape[0] for t in st.snap_outputs(0)] == [0] * 4
