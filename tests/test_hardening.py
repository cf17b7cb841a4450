"""Inputs that used to give a silent wrong answer, a hang or a late failure: each is refused up
front with an exception that names the caller's argument."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from pocrand_ext.poc_graph import PoCState


def _snap_args(points=4, dim=3, hidden=8, rows=2):
    h = torch.arange(rows * hidden, dtype=torch.float32).view(rows, hidden) + 1
    seeds = torch.arange(rows, dtype=torch.int64)
    codebook = torch.eye(points, dim)
    return h, seeds, codebook


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_snap_refuses_a_codebook_that_is_not_finite(bad):
    h, seeds, codebook = _snap_args()
    codebook[2, 1] = bad
    with pytest.raises(ValueError, match=r"codebook\[2, 1\]"):
        pr.snap(h, seeds, codebook)


def test_snap_sees_a_codebook_changed_in_place_after_a_good_call():
    h, seeds, codebook = _snap_args()
    pr.snap(h, seeds, codebook)  # finite: accepted (and remembered)
    codebook[0, 0] = float("nan")
    with pytest.raises(ValueError, match="codebook"):
        pr.snap(h, seeds, codebook)


def test_poc_state_refuses_a_codebook_that_is_not_finite():
    codebook = torch.eye(4, 16)
    codebook[3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"codebook\[3, 3\]"):
        PoCState(max_rows=4, hidden=16, n_layers=2, slots=3, codebook=codebook)
    st = PoCState(max_rows=4, hidden=16, n_layers=2, slots=3, codebook=torch.eye(4, 16))
    with pytest.raises(ValueError, match=r"codebook\[3, 3\]"):
        st.set_codebook(codebook)
    assert torch.equal(st.codebook, torch.eye(4, 16))  # the refused codebook was not copied in


def _grad(t):
    return t.float().requires_grad_()


@pytest.mark.parametrize("name, call", [
    ("logits", lambda: torch.ops.pocrand.distances(_grad(torch.ones(2, 5)), torch.arange(5).repeat(2, 1),
                                                   torch.ones(5))),
    ("x", lambda: torch.ops.pocrand.haar_rotate(_grad(torch.ones(2, 4)), torch.zeros(2, 3, dtype=torch.int64))),
    ("hidden", lambda: torch.ops.pocrand.artifacts(_grad(torch.ones(2, 8)), torch.zeros(2, 4, dtype=torch.int64), 4)),
    ("hidden", lambda: torch.ops.pocrand.artifacts_nonces(_grad(torch.ones(2, 8)), "p_", [1, 2], 4, "_a", "_b_")),
    ("scores", lambda: pr.claimed_margin(_grad(torch.ones(2, 4)), torch.zeros(2, dtype=torch.int64))),
])
def test_ops_refuse_inputs_that_require_grad(name, call):
    """pocrand's outputs are constants of the protocol: an input that requires grad would get a
    grad_fn whose backward leaves its .grad None."""
    with pytest.raises(ValueError, match=f"{name} requires grad"):
        call()


@pytest.mark.parametrize("device, error", [("meta", ValueError), (True, TypeError),
                                           ("cuda:7" if not torch.cuda.is_available() else "cuda:99", ValueError)])
def test_decode_random_refuses_a_device_its_tensors_are_not_on(device, error):
    from pocrand_ext.gonka_poc import decode_random as dr
    base, prev = torch.tensor([1, 2]), torch.tensor([-1, 3])
    with pytest.raises(error, match="device"):
        dr.generate_decode_inputs_gpu(base, prev, 0, 8, device)
    with pytest.raises(error, match="device"):
        dr.random_pick_indices_gpu(base, prev, 0, 8, 4, device)
    with pytest.raises(error, match="device"):
        dr.expert_logits_from_base(base, torch.tensor([0, 1]), 8, 2, device)
    assert dr.generate_decode_inputs_gpu(base, prev, 0, 8, "cpu").device.type == "cpu"


def test_poc_state_refuses_buffers_larger_than_the_device_up_front():
    with pytest.raises(ValueError, match="max_rows=2147483647"):
        PoCState(max_rows=2**31 - 1, hidden=4096, n_layers=2, slots=3, codebook=torch.eye(4, 16))


def test_a_seed_grid_too_large_is_refused_before_allocating():
    with pytest.raises(ValueError, match="count"):
        torch.ops.pocrand.derive_seeds("p", [1, 2], "_x_", False, 2**31)
    with pytest.raises(ValueError, match="count"):
        pr.seeds.seed_grid("p", [1, 2], "_x_", 2**31, torch.device("cpu"))


@pytest.mark.parametrize("args, error, name", [((2**31, 4, 5), ValueError, "n_points"),
                                                ((8, 2**40, 5), ValueError, "dim"),
                                                ((8, 4, 2**31), ValueError, "n_steps"),
                                                ((8.0, 4, 5), TypeError, "n_points"),
                                                ((8, 4, 5, float("nan")), ValueError, "lr")])
def test_build_equidistant_codebook_refuses_sizes_that_would_never_finish(args, error, name):
    from pocrand_ext.gonka_poc import sphere
    with pytest.raises(error, match=name):
        sphere.build_equidistant_codebook(*args)
    assert sphere.build_equidistant_codebook(8, 4, 2).shape == (8, 4)


@pytest.mark.parametrize("call, error, name", [
    (lambda gp: gp.decode_embeddings(torch.tensor([1]), 0, torch.tensor([-1]), 0), ValueError, "hidden"),
    (lambda gp: gp.decode_pseudo_token_ids(torch.tensor([1]), 0, torch.tensor([-1]), 0), ValueError, "vocab"),
])
def test_gonka_poc_errors_name_the_callers_argument(call, error, name):
    from pocrand_ext.protocols import gonka_poc as gp
    with pytest.raises(error, match=f"^{name} "):
        call(gp)


def test_fused_householder_names_v_when_it_requires_grad():
    from pocrand_ext.gonka_poc import fused
    with pytest.raises(ValueError, match="^v requires grad"):
        fused.householder(torch.ones(2, 4), torch.ones(4).requires_grad_())


def test_set_slot_refuses_a_bool():
    st = PoCState(max_rows=4, hidden=16, n_layers=2, slots=3, codebook=torch.eye(4, 16))
    with pytest.raises(ValueError, match="slot"):
        st.set_slot(True, torch.ones(2, 16))


@pytest.mark.parametrize("op, args", [
    ("normal_nonces", ("p", [1], "", 4, torch.qint8, torch.device("cpu"))),
    ("unit_normal_seed", (1, 4, torch.qint8, torch.device("cpu"))),
    ("unit_vectors_by_value", ([1], 4, torch.qint8, torch.device("cpu"))),
])
def test_ops_without_a_tensor_refuse_a_dtype_before_choosing_a_backend(op, args):
    """A quantized dtype would select the quantized backend, where no kernel is registered."""
    with pytest.raises(ValueError, match="dtype"):
        getattr(torch.ops.pocrand, op)(*args)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("hidden, error", [
    (lambda: torch.ones(2, 8, dtype=torch.float64, device="cuda"), ValueError),
    (lambda: torch.ones(8, 2, device="cuda").t(), ValueError),
])
def test_artifacts_nonces_checks_hidden_on_the_gpu_too(hidden, error):
    with pytest.raises(error, match="hidden"):
        torch.ops.pocrand.artifacts_nonces(hidden(), "p_", [1, 2], 4, "_pick_4", "_haar_hh_4_")
