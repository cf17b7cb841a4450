"""pocrand against the deployed PoC v2 functions (a torch-ops restatement of the vLLM fork's
vllm/poc/gpu_random.py at 5110f7fcf, pocrand_ext/reference_pocv2.py): integers equal, floats
within the figures SPEC.md 9.3 and docs/integration.md state, artifacts far inside the 0.02
threshold."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import reference_pocv2 as ref
from conftest import requires_cuda

BH, PK = "f" * 64, "pubkey-v2"
NONCES = [0, 1, 2, 7, -5, 2**40]


def bit_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|difference of the integer views|: ulps apart for same-signed values."""
    view = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}
    return (a.view(view[a.dtype]).long() - b.view(view[b.dtype]).long()).abs()


def test_seed_strings_and_picked_sets_equal_the_reference():
    for dim, k in ((100, 12), (8192, 12), (8192, 1), (333, 333)):
        got = pr.pick_indices(BH, PK, NONCES, dim, k)
        want = ref.pick_indices(BH, PK, NONCES, dim, k, "cpu")
        assert torch.equal(got.sort(dim=1).values, want.sort(dim=1).values)
    assert pr.generate_target_v2(BH, PK, 1).item() in (1.0, -1.0)


def test_pick_order_is_the_cuda_rule_on_the_cpu():
    """SPEC 9.4: below-T indices ascending, then T's index (on a GPU the reference gives exactly
    this order, see test_pick_order_matches_the_reference_on_cuda)."""
    for dim, k in ((100, 12), (8192, 12), (4096, 4000)):
        got = pr.pick_indices(BH, PK, NONCES, dim, k)
        scores = ref.murmur3_rows(torch.arange(dim).expand(len(NONCES), -1), torch.tensor(
            [[ref.seed(f"{BH}_{PK}_nonce_{n}_pick_{k}")] for n in NONCES]))
        for b in range(len(NONCES)):
            T = scores[b, got[b, -1]]
            below = (scores[b] < T).nonzero().flatten()
            assert torch.equal(got[b, :-1], below) and (scores[b] <= T).sum() == k


@requires_cuda
@pytest.mark.parametrize("dim,k", [(100, 12), (8192, 12), (8192, 1), (8192, 8192), (70000, 999),
                                   (2**20, 12)])
def test_pick_order_matches_the_reference_on_cuda(dim, k):
    got = pr.pick_indices(BH, PK, NONCES, dim, k, "cuda")
    assert torch.equal(got, ref.pick_indices(BH, PK, NONCES, dim, k, "cuda"))


def test_concat_inputs_within_stated_ulps():
    """fp16: identical on >= 99.99% and never more than 1 ulp apart; bf16 identical on >= 99.99%
    and never more than 1 ulp apart; fp32 within 3 ulp (docs/integration.md)."""
    for dtype, max_ulp in ((torch.float16, 1), (torch.bfloat16, 1), (torch.float32, 3)):
        got = pr.generate_inputs_concat(BH, PK, NONCES[:4], 512, 64, "cpu", dtype)
        want = ref.generate_inputs_concat(BH, PK, NONCES[:4], 512, 64, "cpu", dtype)
        d = bit_distance(got, want)
        assert d.max() <= max_ulp
        if dtype != torch.float32:
            assert (d == 0).double().mean() >= 0.9999


def test_unit_vectors_within_stated_ulps():
    """Householder, Haar and target vectors: within 8 ulp of the reference's (its norm is summed
    in another order; measured: at most 7 ulp, 1.2e-8 apart, at dim 8192)."""
    strings = [f"{BH}_layer_{i}_householder" for i in range(8)]
    for dim in (2, 12, 8192):
        got = pr.unit_vectors(strings, dim)
        want = torch.stack([ref.householder_vector(s, dim, "cpu") for s in strings])
        assert bit_distance(got, want).max() <= 8
        assert (got - want).abs().max() <= 1e-7
    assert bit_distance(pr.generate_target_v2(BH, PK, 4096), ref.generate_target(BH, PK, 4096, "cpu")).max() <= 8


def _rows(dtype, rows=256, dim=8192):
    """Deterministic rows on every machine: pocrand's own normals."""
    return pr.normal(12345, rows * dim).view(rows, dim).to(dtype)


@pytest.mark.parametrize("dtype,ours,theirs", [(torch.float16, 0.61, 800.0),
                                               (torch.bfloat16, 0.55, 4000.0)])
def test_householder_against_the_torch_expression(dtype, ours, theirs):
    """SPEC 9.3's measurement: pocrand rounds once, the torch expression four times. On 256 x 8192
    rows: identical on >= 96.5% of elements; against the exact (float64) result, pocrand is the
    correctly rounded value on >= 99.99% of elements and its worst error is below `ours` ulp of the
    output, while the torch expression is correctly rounded on <= 97% and its worst error exceeds
    `theirs` ulp (where the result cancels to far below x)."""
    x = _rows(dtype)
    v = pr.unit_vectors(["v"], x.shape[1])[0].to(dtype)
    got, want = pr.apply_householder(x, v).double(), ref.apply_householder(x, v).double()
    xd, vd = x.double(), v.double()
    exact = xd - 2 * (xd @ vd)[:, None] * vd
    mant, emin = (10, -14) if dtype == torch.float16 else (7, -126)
    ulp = torch.pow(2.0, torch.floor(torch.log2(exact.abs().clamp(min=1e-38))).clamp(min=emin) - mant)
    err_ours, err_theirs = (got - exact).abs() / ulp, (want - exact).abs() / ulp
    assert (got == want).double().mean() >= 0.965
    assert (err_ours <= 0.5).double().mean() >= 0.9999 and err_ours.max() < ours
    assert (err_theirs <= 0.5).double().mean() <= 0.97 and err_theirs.max() > theirs


def test_householder_float32_matches_within_rounding():
    x = _rows(torch.float32, 64)
    v = pr.unit_vectors(["v"], x.shape[1])[0]
    got, want = pr.apply_householder(x, v), ref.apply_householder(x, v)
    assert (got - want).abs().max() <= 5e-7


def test_haar_rotation_matches_the_reference_in_float32():
    for k in (2, 12, 100):
        x = _rows(torch.float32, len(NONCES), k)
        got, want = pr.haar_rotate(BH, PK, NONCES, x), ref.haar_rotate(BH, PK, NONCES, x)
        assert (got - want).abs().max() <= 2e-6


def test_artifacts_far_inside_the_threshold():
    """The deployed validator flags a nonce at L2 > 0.02; pocrand's artifacts and the reference's
    (its pick order fixed to SPEC 9.4's, the CUDA order) are within 1e-3 of each other (measured:
    at most one fp16 ulp on one element, L2 <= 2.5e-4, on two x86 hosts). With the reference's
    own CPU order instead, the same artifacts are about 1.5 apart: every nonce would fail."""
    for dtype in (torch.float32, torch.bfloat16):
        h = (pr.normal(7, len(NONCES) * 4096).view(len(NONCES), 4096) * 3).to(dtype)
        got, flags = pr.artifacts(h, BH, PK, NONCES, 12)
        pick = pr.pick_indices(BH, PK, NONCES, 4096, 12)
        want = ref.artifacts(h, BH, PK, NONCES, 12, pick=pick)
        l2 = (got.float() - want.float()).norm(dim=1)
        assert not flags.any() and l2.max() < 1e-3
        cpu_order = ref.artifacts(h, BH, PK, NONCES, 12)
        assert (got.float() - cpu_order.float()).norm(dim=1).min() > 0.02


@requires_cuda
def test_artifacts_against_the_reference_run_on_cuda():
    """The honest GPU prover runs the reference on CUDA; pocrand on the CPU (a validator) is far
    inside its threshold, and so is pocrand on the GPU."""
    h = pr.normal(9, len(NONCES) * 8192).view(len(NONCES), 8192)
    want = ref.artifacts(h.cuda(), BH, PK, NONCES, 12).float().cpu()
    for dev in ("cpu", "cuda"):
        got, _ = pr.artifacts(h.to(dev), BH, PK, NONCES, 12)
        assert (got.float().cpu() - want).norm(dim=1).max() < 1e-3
