"""attach's fused form (integrate/norm_seam.py): on a model whose layers call a vLLM-style
RMSNorm with a residual, each boundary's reflection runs inside the next norm
(fused_add_rms_norm_reflect). The toy's RMSNorm computes SPEC.md 10.14's add + norm by the NumPy
mirror, so the fused model must equal the same model attached with fuse_norm=False (reflect_rows,
then the toy's norm) bit for bit, snap buffers included; and its chat rows equal the un-attached
model's. Models without such norms, and backends without the fused op, keep the separate form and
say so; fuse_norm=True refuses them."""
from __future__ import annotations

import logging

import pytest
import torch

from conftest import assert_bits_equal, requires_cuda
from pocrand_ext.poc_graph import attach
from pocrand_ext.poc_graph.router_seam import SEAM
from poc_graph_models import RMSNorm, StandInBackend, backend_of, toy
from poc_graph_state import BACKENDS, fill, make_state, run


def toy_vllm(dtype=torch.float32, device="cpu"):
    return toy(dtype, device, vllm_norms=True)


def attached_run(dtype, backend, fuse_norm, n=10, device="cpu"):
    model = toy_vllm(dtype, device)
    ids = torch.randint(0, 50, (n,), generator=torch.Generator().manual_seed(1)).to(device)
    with torch.no_grad():
        plain = run(model, ids)
        st = make_state(3, 32, 2, dtype, device)
        mask = fill(st, n)
        handle = attach(model, st, backend=backend_of(backend), fuse_norm=fuse_norm)
        got = run(model, ids)
    return handle, got, plain, mask, [t.clone() for t in st.snap_outputs(n)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_equals_separate_and_keeps_chat_rows(backend, dtype):
    fused, got, plain, mask, snap = attached_run(dtype, backend, None)
    separate, want, _, _, want_snap = attached_run(dtype, backend, False)
    assert fused.reflection == "fused" and "3 boundaries" in fused.reflection_reason
    assert separate.reflection == "separate" and "fuse_norm=False" in separate.reflection_reason
    assert_bits_equal(got, want)
    for a, b in zip(snap, want_snap):
        assert_bits_equal(a, b)
    assert_bits_equal(got[~mask], plain[~mask])  # chat rows: the model's (here the spec's) norm
    assert not torch.equal(got[mask], plain[mask])


def test_the_choice_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="pocrand_ext.integrate"):
        attached_run(torch.float32, "standin", None)
    assert any("fused" in r.getMessage() for r in caplog.records)


def test_models_without_vllm_norms_keep_the_separate_form():
    model = toy()  # ToyNorm, layers without input_layernorm
    st = make_state(3, 32, 2, torch.float32)
    handle = attach(model, st, backend=StandInBackend())
    assert handle.reflection == "separate"
    assert "layer 1's input_layernorm (NoneType) is not a vLLM-style RMSNorm" in \
        handle.reflection_reason
    handle.detach()
    with pytest.raises(ValueError, match="fuse_norm=True: .*input_layernorm"):
        attach(model, st, backend=StandInBackend(), fuse_norm=True)
    assert all(SEAM not in m.__dict__ for m in model.modules())  # nothing left attached


class GemmaRMSNorm(torch.nn.Module):  # scales by 1 + weight: not vLLM's RMSNorm
    def __init__(self, hidden):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(hidden))
        self.variance_epsilon = 1e-6


def test_a_norm_of_another_kind_keeps_the_separate_form():
    model = toy_vllm()
    model.model.norm = GemmaRMSNorm(32)
    st = make_state(3, 32, 2, torch.float32)
    handle = attach(model, st, backend=StandInBackend())
    assert handle.reflection == "separate" and "the final norm (GemmaRMSNorm)" in \
        handle.reflection_reason


def test_a_backend_without_the_fused_op_keeps_the_separate_form():
    class NoFused(StandInBackend):
        fused_add_rms_norm = None
    st = make_state(3, 32, 2, torch.float32)
    handle = attach(toy_vllm(), st, backend=NoFused())
    assert handle.reflection == "separate" and "no fused_add_rms_norm" in handle.reflection_reason
    with pytest.raises(TypeError, match="fuse_norm must be"):
        attach(toy_vllm(), st, backend=StandInBackend(), fuse_norm="yes")


def test_a_norm_called_without_its_residual_is_an_error():
    model = toy_vllm()
    st = make_state(3, 32, 2, torch.float32)
    fill(st, 4)
    attach(model, st, backend=StandInBackend())
    with torch.no_grad(), pytest.raises(RuntimeError, match="without a residual.*fuse_norm=False"):
        model.model.layers[1].input_layernorm(torch.zeros(4, 32))


def test_detach_restores_the_norms():
    model = toy_vllm()
    classes = [type(m) for m in model.modules()]
    st = make_state(3, 32, 2, torch.float32)
    attach(model, st, backend=StandInBackend()).detach()
    assert [type(m) for m in model.modules()] == classes
    assert type(model.model.layers[1].input_layernorm) is RMSNorm


def test_compiled_fused_equals_eager():
    model = toy_vllm(torch.bfloat16)
    ids = torch.arange(8)
    st = make_state(3, 32, 2, torch.bfloat16)
    fill(st, 8)
    # the toy's own norm runs NumPy: only layer 0's (no residual) is left to the model's forward
    attach(model, st, backend=StandInBackend())
    with torch.no_grad():
        want = run(model, ids)
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        assert_bits_equal(compiled(ids, torch.arange(8)), want)


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("backend", BACKENDS)
def test_cuda_fused_equals_separate(backend):
    _, got, _, _, snap = attached_run(torch.bfloat16, backend, None, device="cuda")
    _, want, _, _, want_snap = attached_run(torch.bfloat16, backend, False, device="cuda")
    assert_bits_equal(got.cpu(), want.cpu())
    for a, b in zip(snap, want_snap):
        assert_bits_equal(a.cpu(), b.cpu())
