"""fused_add_rms_norm_reflect (SPEC.md 10.14): vLLM's fused residual add + RMSNorm with the PoC
reflection folded in, in place. Against the NumPy spec bit for bit (both roundings, every dtype,
odd and multi-chunk rows, copies, masked rows, slots out of range); with no row masked it is the
plain add + norm (checked against a float64 RMSNorm within the roundings); a row's bits are the
same alone and in a batch; torch.compile, opcheck; CPU == GPU and CUDA-graph replay."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal, requires_cuda
from test_pocv2_spec import spec_tensor, storage
from test_reflect_rows import DTYPES, MODES, case, normals

HIDDEN = [1, 7, 1023, 1025, 4097]
EPS = 1e-6


def weight_of(hidden, dtype, device="cpu"):
    return (1.0 + 0.25 * normals(hidden + 5, (hidden,), 1.0)).to(dtype).to(device)


def want(x, r, w, table, g, m, mode, eps=EPS):
    name = {v: k for k, v in DTYPES.items()}[x.dtype]
    y, s = spec.fused_add_rms_norm_reflect(storage(x), storage(r), storage(w), eps, storage(table),
                                           g.cpu().numpy(), m.cpu().numpy(), name, mode)
    return spec_tensor(y, name).view(x.shape), spec_tensor(s, name).view(x.shape)


def run(x, r, w, table, g, m, mode, eps=EPS):
    x, r = x.clone(), r.clone()
    assert pr.fused_add_rms_norm_reflect(x, r, w, eps, table, g, m, mode) is None
    return x, r


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("copies", [None, 3])
def test_equals_the_spec(copies, hidden, dtype, mode, device):
    x, table, g, m = case(9, hidden, copies, DTYPES[dtype], seed=hidden % 5, device=device)
    r = normals(hidden + 99, x.shape, 3.0).to(DTYPES[dtype]).to(device)
    w = weight_of(hidden, DTYPES[dtype], device)
    got_x, got_r = run(x, r, w, table, g, m, mode)
    want_x, want_r = want(x, r, w, table, g, m, mode)
    assert_bits_equal(got_r, want_r)
    assert_bits_equal(got_x, want_x)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_the_residual_is_reflect_rows_then_add(dtype):
    """residual <- reflect(x) + reflect(residual), as reflect_rows_pair then torch's add."""
    x, table, g, m = case(12, 300, None, DTYPES[dtype], seed=2)
    r = normals(7, x.shape, 3.0).to(DTYPES[dtype])
    w = weight_of(300, DTYPES[dtype])
    h, rr = pr.reflect_rows_pair(x, r, table, g, m, "stepwise")
    _, got_r = run(x, r, w, table, g, m, "stepwise")
    assert_bits_equal(got_r, h + rr)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_no_row_masked_is_the_plain_rms_norm(dtype):
    """Every row off: x + residual and its RMSNorm, within the dtype's roundings of a float64
    evaluation (one rounding of s * inv, one of * weight: 2 units in the last place)."""
    x, table, g, _ = case(16, 513, None, DTYPES[dtype], seed=1)
    r = normals(3, x.shape, 3.0).to(DTYPES[dtype])
    w = weight_of(513, DTYPES[dtype])
    off = torch.zeros(18, dtype=torch.bool)
    got_x, got_r = run(x, r, w, table, g, off, "once")
    assert_bits_equal(got_r, x + r)
    s = got_r.double()
    ref = s * torch.rsqrt((s * s).mean(-1, keepdim=True) + np.float32(EPS)) * w.double()
    ulp = {"float32": 2**-23, "float16": 2**-10, "bfloat16": 2**-7}[dtype]
    assert torch.allclose(got_x.double(), ref, rtol=3 * ulp, atol=0)


def test_a_rows_bits_do_not_depend_on_its_batch():
    x, table, g, m = case(777, 1100, None, torch.bfloat16, seed=3)
    r = normals(11, x.shape, 3.0).to(torch.bfloat16)
    w = weight_of(1100, torch.bfloat16)
    all_x, all_r = run(x, r, w, table, g, m, "stepwise")
    for i in (0, 5, 776):
        one_x, one_r = run(x[i:i + 1], r[i:i + 1], w, table, g[i:i + 1], m[i:i + 1], "stepwise")
        assert_bits_equal(one_x[0], all_x[i])
        assert_bits_equal(one_r[0], all_r[i])


def test_compile_and_opcheck():
    x, table, g, m = case(6, 64, None, torch.float16, seed=4)
    r = normals(5, x.shape, 3.0).to(torch.float16)
    w = weight_of(64, torch.float16)
    want_x, want_r = run(x, r, w, table, g, m, "stepwise")

    def f(a, b):
        pr.fused_add_rms_norm_reflect(a, b, w, EPS, table, g, m, "stepwise")
        return a, b
    a, b = x.clone(), r.clone()
    torch.compile(f, fullgraph=True)(a, b)
    assert_bits_equal(a, want_x)
    assert_bits_equal(b, want_r)
    torch.library.opcheck(torch.ops.pocrand.fused_add_rms_norm_reflect.default,
                          (x.clone().unsqueeze(1), r.clone().unsqueeze(1), w, EPS, table, g, m,
                           "stepwise"))


@pytest.mark.parametrize("call, error, text", [
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r[:, :5], w, EPS, t, g, m),
     ValueError, "one shape"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r, w[:5], EPS, t, g, m),
     ValueError, "weight must be"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r, w.float(), EPS, t, g, m),
     TypeError, "weight must have x's dtype"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r, w, -1.0, t, g, m),
     ValueError, "eps must be"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r, w, float("nan"), t, g, m),
     ValueError, "eps must be"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r, w, "1e-6", t, g, m),
     TypeError, "eps must be a float"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r, w, EPS, t, g, m, "twice"),
     ValueError, "rounding"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, x, w, EPS, t, g, m),
     ValueError, "residual"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r, w, EPS, t, g[:2], m),
     ValueError, "row_group"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x, r, w, EPS, t, g, m.long()),
     TypeError, "mask"),
    (lambda x, r, w, t, g, m: pr.fused_add_rms_norm_reflect(x.t(), r.t(), w, EPS, t, g, m),
     ValueError, "contiguous"),
])
def test_refusals(call, error, text):
    x, table, g, m = case(4, 8, None, torch.float16)
    r = normals(1, x.shape).to(torch.float16)
    with pytest.raises(error, match=text):
        call(x, r, weight_of(8, torch.float16), table, g, m)


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", [7, 3072, 7168])
def test_cuda_equals_cpu(hidden, dtype, mode):
    x, table, g, m = case(33, hidden, None, DTYPES[dtype], seed=2)
    r = normals(hidden, x.shape, 3.0).to(DTYPES[dtype])
    w = weight_of(hidden, DTYPES[dtype])
    cpu_x, cpu_r = run(x, r, w, table, g, m, mode)
    gpu_x, gpu_r = run(x.cuda(), r.cuda(), w.cuda(), table.cuda(), g.cuda(), m.cuda(), mode)
    assert_bits_equal(gpu_x.cpu(), cpu_x)
    assert_bits_equal(gpu_r.cpu(), cpu_r)


@pytest.mark.cuda
@requires_cuda
def test_cuda_graph_replay_with_new_values():
    x, table, g, m = (t.cuda() for t in case(64, 3072, None, torch.bfloat16, seed=6))
    r = normals(9, x.shape, 3.0).to(torch.bfloat16).cuda()
    w = weight_of(3072, torch.bfloat16, "cuda")
    bx, br = x.clone(), r.clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        pr.fused_add_rms_norm_reflect(bx, br, w, EPS, table, g, m, "stepwise")  # warm-up
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        pr.fused_add_rms_norm_reflect(bx, br, w, EPS, table, g, m, "stepwise")
    for seed in (1, 2):
        nx, _, ng, nm = case(64, 3072, None, torch.bfloat16, seed=seed)
        nr = normals(seed + 50, x.shape, 3.0).to(torch.bfloat16)
        bx.copy_(nx)
        br.copy_(nr)
        g.copy_(ng)
        m.copy_(nm)
        graph.replay()
        want_x, want_r = run(nx, nr, w.cpu(), table.cpu(), ng, nm, "stepwise")
        assert_bits_equal(bx.cpu(), want_x)
        assert_bits_equal(br.cpu(), want_r)


# The GPU's one-pass kernel (cuda/fused_norm_chunk.cuh) takes fp16/bf16 rows of whole 16-byte
# vectors at aligned addresses, up to 16384 elements; the shapes below walk its edges (one chunk,
# a part chunk, 8 and 16 warps, copies, more units than resident blocks: 777 rows of 3072 take
# most of an H100's 1056 blocks of 3 warps, 2100 take two rounds, 6000 units of 1024 several)
# and the CPU kernel is the oracle (itself equal to the NumPy spec above).
@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("n, hidden, copies", [(40, 8, None), (40, 1024, 3), (40, 2056, None),
                                               (777, 3072, None), (2100, 3072, None),
                                               (3000, 1024, 2), (40, 8192, 2), (12, 8200, None),
                                               (12, 16384, None), (6, 16392, None)])
def test_cuda_one_pass_shapes_equal_cpu(n, hidden, copies, dtype, mode):
    x, table, g, m = case(n, hidden, copies, DTYPES[dtype], seed=hidden % 7)
    r = normals(hidden + 1, x.shape, 3.0).to(DTYPES[dtype])
    w = weight_of(hidden, DTYPES[dtype])
    cpu_x, cpu_r = run(x, r, w, table, g, m, mode)
    gpu_x, gpu_r = run(x.cuda(), r.cuda(), w.cuda(), table.cuda(), g.cuda(), m.cuda(), mode)
    assert_bits_equal(gpu_r.cpu(), cpu_r)
    assert_bits_equal(gpu_x.cpu(), cpu_x)


def special_rows(dtype, hidden):
    """Rows of x and residual with NaNs of odd payloads, infinities of both signs, sums that
    overflow, an all-zero row (its norm 0 * inf with eps 0) and plain rows between them."""
    x, _, _, _ = case(10, hidden, None, dtype, seed=5)
    r = normals(hidden + 3, x.shape, 3.0).to(dtype)
    big = torch.finfo(dtype).max
    x[1, 5], r[1, 9] = float("inf"), float("-inf")
    x[2, :] = big
    r[2, :] = big  # every sum overflows to inf
    x[3, 7], r[3, 7] = float("inf"), float("-inf")  # inf - inf: NaN
    x[4].zero_()
    r[4].zero_()
    x[6, 100] = big
    bits = x.view(torch.int16)
    bits[0, 3] = 0x7F81 if dtype == torch.bfloat16 else 0x7C01  # NaN payloads the core never makes
    bits[8, 0] = -1  # 0xFFFF: a negative NaN
    r.view(torch.int16)[8, hidden - 1] = 0x7FFF
    return x, r


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("eps", [EPS, 0.0])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("hidden", [1024, 3072])
def test_cuda_special_values_equal_cpu(hidden, dtype, mode, eps):
    x, r = special_rows(DTYPES[dtype], hidden)
    _, table, g, m = case(10, hidden, None, DTYPES[dtype], seed=5)
    m[:10] = True  # reflect every row whose slot is in range (and plain add the others)
    w = weight_of(hidden, DTYPES[dtype])
    cpu_x, cpu_r = run(x, r, w, table, g, m, mode, eps)
    gpu_x, gpu_r = run(x.cuda(), r.cuda(), w.cuda(), table.cuda(), g.cuda(), m.cuda(), mode, eps)
    assert cpu_x.isnan().any() and cpu_r.isinf().any()  # the specials reached the outputs
    assert_bits_equal(gpu_r.cpu(), cpu_r)
    assert_bits_equal(gpu_x.cpu(), cpu_x)


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cuda_unaligned_rows_equal_cpu(dtype):
    """Tensors starting 2 bytes past a 16-byte boundary (the generic kernel's case)."""
    x, table, g, m = case(20, 3072, None, DTYPES[dtype], seed=1)
    r = normals(4, x.shape, 3.0).to(DTYPES[dtype])
    w = weight_of(3072, DTYPES[dtype])
    cpu_x, cpu_r = run(x, r, w, table, g, m, "stepwise")

    def unaligned(t):
        return torch.empty(t.numel() + 1, dtype=t.dtype, device="cuda")[1:].view(t.shape).copy_(t)
    gx, gr = unaligned(x), unaligned(r)
    assert gx.data_ptr() % 16 == 2
    pr.fused_add_rms_norm_reflect(gx, gr, w.cuda(), EPS, table.cuda(), g.cuda(), m.cuda(), "stepwise")
    assert_bits_equal(gr.cpu(), cpu_r)
    assert_bits_equal(gx.cpu(), cpu_x)


@pytest.mark.parametrize("eps", [EPS, 0.0])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_special_values_equal_the_spec(dtype, mode, eps, device):
    x, r = special_rows(DTYPES[dtype], 1024)
    _, table, g, m = case(10, 1024, None, DTYPES[dtype], seed=5)
    m[:10] = True
    w = weight_of(1024, DTYPES[dtype])
    got_x, got_r = run(*(t.to(device) for t in (x, r, w, table, g, m)), mode, eps)
    want_x, want_r = want(x, r, w, table, g, m, mode, eps)
    assert want_x.isnan().any() and want_r.isinf().any()
    assert_bits_equal(got_r.cpu(), want_r)
    assert_bits_equal(got_x.cpu(), want_x)
