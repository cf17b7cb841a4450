"""PoCState's vector-channel trajectories (q_slots, q_steps): the snap keeps every step's pre-snap
q of a nonce on the device, in its (slot, step), with no host copy per step; eager, compiled and
in CUDA-graph replay. The oracle is the snap's own per-step output, copied out after each step."""
from __future__ import annotations

import pytest
import torch

from conftest import assert_bits_equal, requires_cuda
from pocrand_ext.poc_graph import PoCState, attach
from poc_graph_models import backend_of, codebook, toy
from poc_graph_state import make_state

N = 8  # rows a forward: PoC rows 0, 2, 4, 6 (slots 3, 0, 2, 1), chat rows in between
SLOTS = torch.tensor([3, -1, 0, -1, 2, -1, 1, -1])
MASK = SLOTS >= 0


def state(dtype=torch.float32, device="cpu", q_slots=4, q_steps=3):
    st = PoCState(max_rows=16, hidden=32, n_layers=3, slots=3, codebook=codebook(4, 16, device),
                  n_gates=2, device=device, dtype=dtype, q_slots=q_slots, q_steps=q_steps)
    st.set_block_slot(1, "traj-block")
    return st


def stage(st, step, device="cpu"):
    """Step `step` of 4 nonces: step 0 the prefill rows (prev_k -1), later steps decode rows."""
    g = torch.Generator().manual_seed(step)
    st.set_mask(MASK.to(device))
    st.set_row_group(MASK.long().to(device))
    st.set_routing(torch.randint(0, 2**32, (N, 2), generator=g).to(device),
                   torch.full((N,), step).to(device))
    st.set_prefill_pick(torch.randint(0, 2**32, (N,), generator=g).to(device))
    if step == 0:
        st.set_decode_chain()
        st.set_embeds(torch.randn(N, 32, generator=g).to(st.dtype).to(device))
    else:
        prev = torch.where(MASK, torch.randint(0, 4, (N,), generator=g), -1)
        st.set_decode_chain(torch.randint(0, 2**32, (N,), generator=g).to(device),
                            torch.full((N,), step).to(device), prev.to(device))
    st.set_q_slots(SLOTS.to(device))


def run_steps(forward, st, steps, device="cpu"):
    """Runs the steps; returns the snap's q of every row after each one (the oracle)."""
    seen = []
    for t in range(steps):
        stage(st, t, device)
        forward()
        seen.append(st.snap_q[:N].clone())
    return seen


def check(st, seen, steps):
    for t, q in enumerate(seen[:st.q_steps]):
        for r in range(N):
            if SLOTS[r] >= 0:
                assert_bits_equal(st.snap_q_steps[SLOTS[r], t], q[r])
    for slot in range(st.q_slots):
        traj = st.q_trajectory(slot, min(steps, st.q_steps))
        r = int((SLOTS == slot).nonzero())
        assert_bits_equal(traj, torch.stack([q[r] for q in seen[:st.q_steps]]).cpu())


@pytest.mark.parametrize("backend", ["standin", "pocrand"])
def test_every_step_lands_in_its_slot(backend):
    model = toy(torch.float32)
    ids, pos = torch.arange(N), torch.arange(N)
    st = state()
    with torch.no_grad():
        handle = attach(model, st, backend=backend_of(backend))
        seen = run_steps(lambda: model(ids, pos), st, 3)
    handle.detach()
    check(st, seen, 3)
    assert not torch.equal(seen[0], seen[1])           # the steps really differ


def test_rows_without_a_slot_and_steps_past_the_end_keep_nothing():
    model = toy(torch.float32)
    ids, pos = torch.arange(N), torch.arange(N)
    st = state(q_steps=2)
    with torch.no_grad():
        handle = attach(model, st, backend=backend_of("pocrand"))
        seen = run_steps(lambda: model(ids, pos), st, 3)   # step 2 is past q_steps
        before = st.snap_q_steps[:st.q_slots].clone()
        stage(st, 1)
        st.set_q_slots(torch.tensor([99, -1, -5, 7, 2**40, 0, 4, 1]))  # in range: masked-off rows
        st.set_mask(torch.tensor([True] * 5 + [False] * 3))           # rows 5 .. 7 masked off
        model(ids, pos)
    handle.detach()
    check_rows = st.snap_q_steps[:st.q_slots]
    assert_bits_equal(check_rows, before)             # masked-off rows 5, 7 and stray slots: nothing
    check(st, seen, 2)


def test_compiled_forward_keeps_the_trajectories_in_one_graph():
    model = toy(torch.float32)
    ids, pos = torch.arange(N), torch.arange(N)
    graphs = []

    def count(gm, example_inputs):
        graphs.append(gm)
        return gm.forward
    st = state()
    with torch.no_grad():
        handle = attach(model, st, backend=backend_of("pocrand"))
        compiled = torch.compile(model, backend=count, fullgraph=True)
        seen = run_steps(lambda: compiled(ids, pos), st, 3)
    handle.detach()
    check(st, seen, 3)
    assert len(graphs) == 1


def test_refusals():
    with pytest.raises(ValueError, match="q_slots and q_steps go together"):
        state(q_slots=4, q_steps=0)
    with pytest.raises(ValueError, match="q_steps must be an int"):
        state(q_slots=1, q_steps=-1)
    plain = make_state(2, 32, 0, torch.float32)
    with pytest.raises(ValueError, match="keeps no trajectories"):
        plain.set_q_slots(torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="keeps no trajectories"):
        plain.q_trajectory(0, 1)
    st = state()
    for slot, steps in ((4, 1), (-1, 1), (True, 1), (0, 0), (0, 4)):
        with pytest.raises(ValueError, match="slot|n_steps"):
            st.q_trajectory(slot, steps)
    with pytest.raises(TypeError, match="slots must be an integer"):
        st.set_q_slots(torch.zeros(2))


@pytest.mark.cuda
@requires_cuda
def test_cuda_graph_replay_keeps_the_trajectories():
    model = toy(torch.bfloat16, device="cuda")
    ids = torch.arange(N, device="cuda")
    pos = torch.arange(N, device="cuda")
    st = state(torch.bfloat16, device="cuda")
    with torch.no_grad():
        handle = attach(model, st, backend=backend_of("pocrand"))
        stage(st, 0, "cuda")
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            model(ids, pos)  # warm-up on the side stream
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            model(ids, pos)
        st.snap_q_steps.zero_()
        seen = run_steps(g.replay, st, 3, "cuda")
    handle.detach()
    check(st, seen, 3)
