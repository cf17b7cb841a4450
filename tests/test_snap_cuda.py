"""The decode scheme's snap on the GPU (run on the device): the CUDA kernels equal the CPU's bit for
bit over hidden sizes, code dimensions, points, batch sizes and dtypes, the pick order read back
from q, CUDA-graph replay with new inputs, torch.compile and opcheck."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from conftest import assert_bits_equal, requires_cuda
from snap_helpers import D, P, U32_EDGES, spec_codebook


# The CUDA kernels (csrc/cuda/snap.cu): the row kernel (four warps a row) for H <= 16384 stored as
# whole 16-byte vectors and d <= 512; otherwise blocks of 256 threads holding 8, 16 or 28 pick
# scores each up to H = 2048, 4096 and 7168, up to 1024 threads of 16 up to H = 16384, and the
# kernel that re-hashes every index in each pass beyond. The shapes below straddle each limit:
# d = 1024 and the odd H (257, 2049, 4097, 7169, 16385: not a whole number of vectors) take the
# block kernels, the others the row kernel.
GPU_HIDDEN = [256, 257, 1000, 2048, 2049, 3072, 4096, 4097, 7168, 7169, 8192, 16384, 16385]


def gpu_equals_cpu(h, seeds, C):
    cpu = pr.snap(h, seeds, C)
    gpu = pr.snap(h.cuda(), seeds.cuda(), C.cuda())
    for name, a, b in zip(("k", "bad", "scores", "q"), gpu, cpu):
        try:
            assert_bits_equal(a.cpu(), b)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None
    return cpu


def randn_rows(B, H, dtype, seed):
    return torch.randn(B, H, generator=torch.Generator().manual_seed(seed)).to(dtype)


def u32_seeds(B, seed):
    s = torch.randint(0, 2**32, (B,), generator=torch.Generator().manual_seed(seed))
    s[:min(B, 4)] = torch.tensor(U32_EDGES[:min(B, 4)])
    return s


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("d", [1, 7, 256, 1024])
@pytest.mark.parametrize("H", GPU_HIDDEN)
def test_gpu_equals_cpu_hidden_and_dim(H, d, dtype):
    if d > H:
        pytest.skip("d <= H")
    B = 64
    h = randn_rows(B, H, dtype, seed=H * 31 + d)
    h[5, H // 2] = float("nan")
    h[9, H - 1] = float("inf")
    h[11, 0] = float("-inf")
    h[13] = 0                                 # a zero row: not bad, k = 0
    h[17] = 3e19 if dtype != torch.float16 else 6e4  # finite, sum of squares overflows: bad
    h[19, :] = h[19, 0]                       # a constant row
    C = torch.from_numpy(spec_codebook(16, d, base=d))
    k, bad, _, _ = gpu_equals_cpu(h, u32_seeds(B, H + d), C)
    assert bad[[5, 9, 11]].all() and not bad[13] and k[13] == 0
    assert bad[17] == (dtype != torch.float16)  # fp16's largest value cannot overflow the sum
    assert (k[~bad] >= 0).all()


@requires_cuda
@pytest.mark.parametrize("P_, d, H", [(1, 1, 1), (3, 5, 5), (2, 1, 31), (5, 32, 32), (4, 33, 33),
                                      (1024, 1024, 1024), (17, 300, 2049)])
def test_gpu_equals_cpu_small_shapes(P_, d, H):
    C = torch.from_numpy(spec_codebook(P_, d, base=d))
    h = randn_rows(33, H, torch.float32, seed=H)
    gpu_equals_cpu(h, torch.arange(33, dtype=torch.int64) * 977, C)


@requires_cuda
@pytest.mark.parametrize("P_", [1, 16, 1024])
@pytest.mark.parametrize("H, d", [(257, 7), (1000, 1000), (7168, 256), (8192, 1024), (16384, 256),
                                  (16385, 1024)])
def test_gpu_equals_cpu_points(P_, H, d):
    B = 7
    h = randn_rows(B, H, torch.bfloat16, seed=P_ + H)
    h[3, 1] = float("nan")
    C = torch.from_numpy(spec_codebook(P_, d, base=P_))
    if P_ == 1024:
        C[512:] = C[:512].clone()             # every maximum tied with a later copy
    k, bad, _, _ = gpu_equals_cpu(h, u32_seeds(B, d), C)
    if P_ == 1024:
        assert (k[~bad] < 512).all()          # the lower copy wins


@requires_cuda
@pytest.mark.parametrize("B", [1, 7, 64, 1024, 4096])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("H", [1000, 7168, 16384])
def test_gpu_equals_cpu(B, dtype, H):
    h = randn_rows(B, H, dtype, seed=B)
    h[B // 2, 5] = float("nan")
    h[-1] = 0
    seeds = torch.randint(0, 2**32, (B,), generator=torch.Generator().manual_seed(1))
    C = torch.from_numpy(spec_codebook())
    cpu = gpu_equals_cpu(h, seeds, C)
    # the same rows inside a larger batch of other rows give the same bits
    if B <= 64:
        other = randn_rows(1000, H, dtype, seed=99)
        big = pr.snap(torch.cat([other, h]).cuda(), torch.cat([torch.arange(1000), seeds]).cuda(),
                      C.cuda())
        for a, b in zip(big, cpu):
            assert_bits_equal(a[1000:].cpu(), b)


# Which dimensions did the GPU's snap pick, in which order? With h[i] = i + 1 (float32, exact)
# q[m] = (idx[m] + 1) / (d1 d2) up to a few roundings, and d1 d2 = ||h[idx]|| up to the same: so
# q[m] ||h[ref]|| rounds to idx[m] + 1 when idx is the reference pick ref (an error below 0.04
# for H <= 16385), and a different index anywhere moves that position by at least 1 - 0.04.
# Independent of the CPU kernel: the reference is pick_from_seeds (SPEC 9.4, the CUDA topk order).
# d = 1 is left out: q is +1 whatever the index.
@requires_cuda
@pytest.mark.parametrize("d", [7, 256, 1024])
@pytest.mark.parametrize("H", [257, 1000, 2049, 4096, 7168, 8192, 16384, 16385])
def test_gpu_pick_order_read_back_from_q(H, d):
    if d > H:
        pytest.skip("d <= H")
    B = 1024
    h = torch.arange(1, H + 1, dtype=torch.float32).expand(B, H).contiguous()
    seeds = u32_seeds(B, H * d)
    C = torch.from_numpy(spec_codebook(16, d, base=3)).cuda()
    k, bad, scores, q = pr.snap(h.cuda(), seeds.cuda(), C)
    ref = pr.decode.pick_from_seeds(seeds, H, d)
    assert not bad.any()
    norm = (ref + 1).double().pow(2).sum(dim=1, keepdim=True).sqrt()
    est = q.cpu().double() * norm
    assert (est - est.round()).abs().max() < 0.1
    assert torch.equal(est.round().long() - 1, ref)


@requires_cuda
def test_cuda_graph_replay_with_new_inputs_equals_eager():
    B, H = 512, 7168
    C = torch.from_numpy(spec_codebook()).cuda()
    h = torch.randn(B, H, device="cuda", dtype=torch.bfloat16)
    seeds = torch.randint(0, 2**32, (B,), device="cuda")
    outs = (torch.empty(B, dtype=torch.int64, device="cuda"),
            torch.empty(B, dtype=torch.bool, device="cuda"),
            torch.empty(B, P, device="cuda"), torch.empty(B, D, device="cuda"))
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        pr.snap(h, seeds, C, out=outs)  # warm-up outside capture
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        pr.snap(h, seeds, C, out=outs)
    for trial in range(3):
        h.copy_(torch.randn(B, H, device="cuda", dtype=torch.bfloat16))
        h[trial, 0] = float("inf")
        seeds.copy_(torch.randint(0, 2**32, (B,), device="cuda"))
        g.replay()
        torch.cuda.synchronize()
        for a, b in zip(outs, pr.snap(h, seeds, C)):
            assert_bits_equal(a, b)


@requires_cuda
def test_gpu_torch_compile_equals_eager():
    C = torch.from_numpy(spec_codebook()).cuda()
    h = torch.randn(64, 3072, device="cuda", dtype=torch.float16)
    seeds = torch.arange(64, device="cuda", dtype=torch.int64)
    f = lambda h, s: pr.snap(h, s, C)  # noqa: E731
    for a, b in zip(torch.compile(f, fullgraph=True)(h, seeds), f(h, seeds)):
        assert_bits_equal(a, b)


@requires_cuda
def test_gpu_opcheck():
    C = torch.from_numpy(spec_codebook(4, 20)).cuda()
    h = torch.randn(3, 300, device="cuda")
    outs = tuple(t.cuda() for t in (torch.empty(3, dtype=torch.int64), torch.empty(3, dtype=torch.bool),
                                     torch.empty(3, 4), torch.empty(3, 20)))
    torch.library.opcheck(torch.ops.pocrand.snap.default, (h, torch.tensor([1, 2, 3]).cuda(), C) + outs)
