"""PoCState.set_active, the per-step switch: off is the bare model's bits for every row whatever
stale state sits behind the zeroed mask, on brings the transforms back; eager, compiled and in
CUDA-graph replay, without a recompile."""
from __future__ import annotations

import pytest
import torch

from conftest import assert_bits_equal, requires_cuda
from pocrand_ext.poc_graph import attach
from poc_graph_models import backend_of, toy
from poc_graph_state import BACKENDS, counting_backend, fill, make_state, run


def _stale_state(dtype, device="cpu"):
    """A state full of PoC rows: row groups, tables, embeds, decode chains and route bases."""
    st = make_state(3, 32, 2, dtype, device=device)
    fill(st, 10, seed=3, poc_every=5)
    return st


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_inactive_is_the_bare_model_for_every_row(backend, dtype):
    model = toy(dtype)
    ids = torch.randint(0, 50, (10,), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        bare = run(model, ids)
        st = _stale_state(dtype)
        handle = attach(model, st, backend=backend_of(backend))
        active = run(model, ids)
        assert not torch.equal(active, bare)           # the state does transform rows
        st.set_active(False)
        assert_bits_equal(run(model, ids), bare)        # off: every row's bits are the bare model's
        assert not bool(st.mask.any())
        st.set_mask(torch.ones(10, dtype=torch.bool))   # kept for the next activation
        assert_bits_equal(run(model, ids), bare)
        st.set_active(True)
        assert bool(st.mask[:10].all())
        st.set_mask(fill(st, 10, seed=3, poc_every=5))
        assert_bits_equal(run(model, ids), active)      # on again: the transforms of before
    handle.detach()


def test_the_switch_needs_no_recompile():
    model = toy(torch.float32)
    ids = torch.arange(10)
    with torch.no_grad():
        bare = run(model, ids)
        st = _stale_state(torch.float32)
        handle = attach(model, st, backend=backend_of("pocrand"))
        compile_backend, graphs = counting_backend()
        compiled = torch.compile(model, backend=compile_backend, fullgraph=True)
        on = compiled(ids, torch.arange(10))
        st.set_active(False)
        assert_bits_equal(compiled(ids, torch.arange(10)), bare)
        st.set_active(True)
        assert_bits_equal(compiled(ids, torch.arange(10)), on)
    assert len(graphs) == 1
    handle.detach()


def test_set_active_takes_a_bool_only():
    st = _stale_state(torch.float32)
    with pytest.raises(TypeError, match="active"):
        st.set_active(0)


@pytest.mark.cuda
@requires_cuda
def test_cuda_graph_replay_follows_the_switch():
    model = toy(torch.bfloat16, device="cuda")
    ids = torch.arange(10, device="cuda")
    pos = torch.arange(10, device="cuda")
    with torch.no_grad():
        bare = run(model, ids).clone()
        st = _stale_state(torch.bfloat16, device="cuda")
        handle = attach(model, st, backend=backend_of("pocrand"))
        on = model(ids, pos).clone()
        g = torch.cuda.CUDAGraph()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            model(ids, pos)  # warm-up on the side stream
        torch.cuda.current_stream().wait_stream(s)
        with torch.cuda.graph(g):
            out = model(ids, pos)
        st.set_active(False)
        g.replay()
        assert_bits_equal(out, bare)
        st.set_active(True)
        g.replay()
        assert_bits_equal(out, on)
    handle.detach()
