"""The decode scheme's snap (SPEC.md 10.6-10.8): NumPy spec == kernels bit for bit, batch
independence, the tie and non-finite rules, the codebook's digest check, the claimed margin,
torch.compile and CUDA-graph replay, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import HAS_CUDA, assert_bits_equal, requires_cuda  # noqa: F401
from pocrand_ext.snap import CODEBOOK_ENV

P, D = 16, 256
U32_EDGES = [0, 1, 2**31, 2**32 - 1]


def spec_codebook(P=P, d=D, base=1000):
    """A test codebook of unit rows from the NumPy spec's own unit vectors (not the network's)."""
    return spec.unit_vectors([base + j for j in range(P)], d)


def hidden(B, H, dtype, seed=7, nan_rows=(), inf_rows=(), zero_rows=(), big_rows=()):
    h = spec.normal(seed, B * H).reshape(B, H).copy()
    h[list(zero_rows)] = 0
    h[list(nan_rows), 3 % H] = np.nan
    h[list(inf_rows), H - 1] = np.inf
    h[list(big_rows)] = np.float32(3e19)  # finite elements whose sum of squares overflows
    t = torch.from_numpy(h)
    if dtype == torch.float32:
        return t
    if dtype == torch.float16:
        return t.to(torch.float16)  # RNE, as SPEC section 6 (3e19 -> Inf in fp16)
    return t.to(torch.bfloat16)


def _storage(t: torch.Tensor):
    if t.dtype == torch.float32:
        return t.numpy(), "float32"
    if t.dtype == torch.float16:
        return t.numpy(), "float16"
    return t.view(torch.int16).numpy().view(np.uint16), "bfloat16"


def check_against_spec(h, seeds, C):
    k, bad, scores, q = pr.snap(h, torch.tensor(seeds, dtype=torch.int64), torch.from_numpy(C))
    sk, sbad, sscores, sq = spec.snap(*_storage(h), seeds, C)
    assert np.array_equal(k.numpy(), sk)
    assert np.array_equal(bad.numpy(), sbad)
    assert np.array_equal(scores.numpy().view(np.uint32), sscores.view(np.uint32))
    assert np.array_equal(q.numpy().view(np.uint32), sq.view(np.uint32))
    return k, bad, scores, q


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("H", [256, 1025, 3072, 7168])
def test_cpu_equals_numpy_spec(dtype, H):
    B = 9
    h = hidden(B, H, dtype, seed=H, nan_rows=[1], inf_rows=[4], zero_rows=[6], big_rows=[8])
    seeds = [(H * 7919 + 104729 * b) % 2**32 for b in range(B)]
    seeds[0], seeds[2] = U32_EDGES[0], U32_EDGES[3]
    k, bad, scores, q = check_against_spec(h, seeds, spec_codebook())
    expect_bad = [False, True, False, False, True, False, False, False, True]
    assert bad.tolist() == expect_bad
    assert (k[bad] == -1).all() and (scores[bad] == 0).all() and (q[bad] == 0).all()
    assert ((k[~bad] >= 0) & (k[~bad] < P)).all()
    assert k[6].item() == 0 and not bad[6]  # a zero row: all scores are signed zeros, k = 0


@pytest.mark.parametrize("P_, d, H", [(1, 1, 1), (3, 5, 5), (2, 7, 1000), (1024, 1024, 1024),
                                      (17, 300, 2049)])
def test_cpu_equals_numpy_spec_other_shapes(P_, d, H):
    C = spec_codebook(P_, d, base=d)
    h = hidden(3, H, torch.float32, seed=d + H)
    check_against_spec(h, [11, 2**32 - 1, 5], C)


def test_row_bits_never_depend_on_the_batch():
    B, H = 64, 3072
    h = hidden(B, H, torch.bfloat16, seed=3, nan_rows=[5])
    seeds = torch.arange(B, dtype=torch.int64) * 2654435761 % 2**32
    C = torch.from_numpy(spec_codebook())
    full = pr.snap(h, seeds, C)
    for size in (1, 7):
        for b0 in range(0, B, size):
            part = pr.snap(h[b0:b0 + size], seeds[b0:b0 + size], C)
            for a, b in zip(part, full):
                assert_bits_equal(a, b[b0:b0 + size])
    perm = torch.randperm(B, generator=torch.Generator().manual_seed(0))
    shuffled = pr.snap(h[perm].contiguous(), seeds[perm].contiguous(), C)
    for a, b in zip(shuffled, full):
        assert_bits_equal(a, b[perm])


def test_k_is_the_float64_argmax_except_near_ties():
    B, H = 4096, 3072
    h = hidden(B, H, torch.float32, seed=11)
    seeds = torch.arange(B, dtype=torch.int64) * 40503 % 2**32
    C = torch.from_numpy(spec_codebook())
    k, bad, scores, q = pr.snap(h, seeds, C)
    assert not bad.any()
    # float64 reference of the same math on the same picks
    idx = torch.ops.pocrand.pick(seeds, H, D)
    h64 = h.double()
    lh = h64 / (h64.norm(dim=1, keepdim=True) + 1e-8)
    g = lh.gather(1, idx)
    q64 = g / (g.norm(dim=1, keepdim=True) + 1e-8)
    s64 = q64 @ C.double().T
    top2 = s64.topk(2, dim=1).values
    near = (top2[:, 0] - top2[:, 1]) < 1e-6
    differ = k != s64.argmax(dim=1)
    assert not (differ & ~near).any()
    assert (q.double() - q64).abs().max() < 1e-6
    assert (scores.double() - s64).abs().max() < 1e-5
    print(f"near ties (top-2 float64 gap < 1e-6): {int(near.sum())} of {B}; "
          f"k differs from float64 argmax: {int(differ.sum())}")
    assert near.sum() <= 4  # the gap is a difference of two O(1/16) cosines: rare below 1e-6


def test_tie_rule_lowest_index_wins():
    C = spec_codebook(8, 64)
    C = np.concatenate([C, C[::-1]])       # row j and row 15 - j are equal: every max is tied
    h = hidden(32, 512, torch.float32, seed=5)
    k, bad, scores, _ = check_against_spec(h, list(range(32)), C)
    assert (k < 8).all()                   # the lower copy always wins
    assert torch.equal(scores[:, :8], scores[:, 8:].flip(1))


def test_claimed_margin():
    C = torch.from_numpy(spec_codebook())
    h = hidden(50, 1024, torch.float32, seed=9, nan_rows=[3])
    k, bad, scores, _ = pr.snap(h, torch.arange(50, dtype=torch.int64), C)
    own = pr.claimed_margin(scores, k)
    assert (own[~bad] == 0).all()
    claimed = torch.tensor([(j * 5) % 19 - 1 for j in range(50)])  # -1 .. 17: some outside
    m = pr.claimed_margin(scores, claimed)
    assert np.array_equal(m.numpy().view(np.uint32),
                          spec.claimed_margin(scores.numpy(), claimed.numpy()).view(np.uint32))
    outside = (claimed < 0) | (claimed >= P)
    assert (m[outside] == 2.0).all() and (m[~outside] >= 0).all()
    best = scores.max(dim=1).values
    inside = ~outside
    assert torch.equal(m[inside], best[inside] - scores[inside, claimed[inside]])


def test_snap_into_writes_the_same_bits_in_place():
    B, H = 10, 2048
    h = hidden(B, H, torch.float16, seed=21, inf_rows=[2])
    seeds = torch.arange(B, dtype=torch.int64) + 77
    C = torch.from_numpy(spec_codebook())
    k = torch.full((B,), 99, dtype=torch.int64)
    bad = torch.zeros(B, dtype=torch.bool)
    scores = torch.full((B, P), 7.0)
    q = torch.full((B, D), 7.0)
    ptrs = [t.data_ptr() for t in (k, bad, scores, q)]
    pr.snap(h, seeds, C, out=(k, bad, scores, q))
    assert ptrs == [t.data_ptr() for t in (k, bad, scores, q)]
    for a, b in zip((k, bad, scores, q), pr.snap(h, seeds, C)):
        assert_bits_equal(a, b)


def test_torch_compile_fullgraph_equals_eager():
    B, H = 6, 1024
    h = hidden(B, H, torch.float32, seed=2, nan_rows=[1])
    seeds = torch.arange(B, dtype=torch.int64) * 3
    C = torch.from_numpy(spec_codebook())

    def f(h, seeds, C, claimed):
        k, bad, scores, q = pr.snap(h, seeds, C)
        return k, bad, scores, q, pr.claimed_margin(scores, claimed)

    claimed = torch.arange(B) % 18 - 1
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(h, seeds, C, claimed), f(h, seeds, C, claimed)):
        assert_bits_equal(a, b)


def test_opcheck():
    h = hidden(3, 300, torch.bfloat16, seed=1)
    seeds = torch.tensor([1, 2, 3])
    C = torch.from_numpy(spec_codebook(4, 20))
    outs = (torch.empty(3, dtype=torch.int64), torch.empty(3, dtype=torch.bool),
            torch.empty(3, 4), torch.empty(3, 20))
    torch.library.opcheck(torch.ops.pocrand.snap.default, (h, seeds, C) + outs)


def _good():
    return (hidden(2, 300, torch.float32), torch.tensor([1, 2]),
            torch.from_numpy(spec_codebook(4, 20)))


@pytest.mark.parametrize("change, exc, word", [
    (lambda h, s, c: (h[0], s, c), ValueError, "h must be 2-D"),
    (lambda h, s, c: (h.int(), s, c), ValueError, "h.dtype"),
    (lambda h, s, c: ([1.0], s, c), TypeError, "h must be a torch.Tensor"),
    (lambda h, s, c: (h, s.int(), c), TypeError, "seeds must be int64"),
    (lambda h, s, c: (h, s[:1], c), ValueError, "seeds must be [batch]"),
    (lambda h, s, c: (h, s, c.double()), TypeError, "codebook must be float32"),
    (lambda h, s, c: (h, s, c[0]), ValueError, "codebook must be 2-D"),
    (lambda h, s, c: (h, s, torch.zeros(4, 301)), ValueError, "codebook dim"),
    (lambda h, s, c: (h, s, torch.zeros(1025, 20)), ValueError, "codebook points"),
    (lambda h, s, c: (h, torch.tensor([1, -1]), c), ValueError, "seeds"),
    (lambda h, s, c: (h, torch.tensor([1, 2**32]), c), ValueError, "seeds"),
    (lambda h, s, c: (h, s, c.to("meta")), ValueError, "one device"),
])
def test_bad_inputs(change, exc, word):
    with pytest.raises(exc, match=None) as e:
        pr.snap(*change(*_good()))
    assert word in str(e.value)


def _outs(B=2, P=4, d=20):
    return (torch.empty(B, dtype=torch.int64), torch.empty(B, dtype=torch.bool), torch.empty(B, P),
            torch.empty(B, d))


def test_raw_op_bad_inputs_are_value_errors():
    h, s, c = _good()
    with pytest.raises(ValueError, match="codebook dim"):
        torch.ops.pocrand.snap(h, s, torch.zeros(4, 301), *_outs(d=301))
    with pytest.raises(TypeError, match="seeds must be int64"):
        torch.ops.pocrand.snap(h, s.int(), c, *_outs())
    with pytest.raises(ValueError, match="scores must have shape"):
        torch.ops.pocrand.snap(h, s, c, *_outs(P=5)[:2], torch.empty(2, 5), torch.empty(2, 20))
    with pytest.raises(TypeError, match=r"out\[1\] \(bad\) must be torch.bool"):
        pr.snap(h, s, c, out=(torch.empty(2, dtype=torch.int64), torch.empty(2),
                              torch.empty(2, 4), torch.empty(2, 20)))


# ---- the codebook ----
def test_codebook_digest_is_of_the_float32_le_bytes():
    C = spec_codebook()
    import hashlib
    assert pr.codebook_sha256(torch.from_numpy(C)) == hashlib.sha256(
        C.astype("<f4").tobytes()).hexdigest()


def test_load_codebook_from_path_env_and_tensor(tmp_path, monkeypatch):
    C = torch.from_numpy(spec_codebook())
    digest = pr.codebook_sha256(C)
    path = tmp_path / "cb.pt"
    torch.save(C.clone(), path)
    assert torch.equal(pr.load_codebook(str(path), expected_sha256=digest), C)
    assert torch.equal(pr.load_codebook(path, expected_sha256=digest.upper(), shape=(P, D)), C)
    monkeypatch.setenv(CODEBOOK_ENV, str(path))
    assert torch.equal(pr.load_codebook(expected_sha256=digest), C)
    assert torch.equal(pr.load_codebook(C.double().double(), expected_sha256=digest), C)
    wrong = C.clone()
    wrong[3, 7] = torch.nextafter(wrong[3, 7], torch.tensor(2.0))  # one ulp: another codebook
    with pytest.raises(ValueError, match="sha256 .* != expected"):
        pr.load_codebook(wrong, expected_sha256=digest)
    torch.save(wrong, path)
    with pytest.raises(ValueError, match="GONKA_POC_SPHERE_CODEBOOK=.*sha256"):
        pr.load_codebook(expected_sha256=digest)
    with pytest.raises(ValueError, match="shape"):
        pr.load_codebook(C, expected_sha256=digest, shape=(16, 128))
    bad = C.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        pr.load_codebook(bad, expected_sha256=digest)
    with pytest.raises(ValueError, match="64 hex digits"):
        pr.load_codebook(C, expected_sha256="abc")
    with pytest.raises(ValueError, match="no such file"):
        pr.load_codebook(tmp_path / "missing.pt", expected_sha256=digest)
    monkeypatch.delenv(CODEBOOK_ENV)
    with pytest.raises(ValueError, match="no codebook given"):
        pr.load_codebook(expected_sha256=digest)
    with pytest.raises(TypeError, match="codebook source"):
        pr.load_codebook(3, expected_sha256=digest)


# ---- GPU (run on the device) ----
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


# ---- properties (Hypothesis) ----
from hypothesis import given, settings, strategies as st  # noqa: E402

_f32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@settings(max_examples=40, deadline=None)
@given(H=st.integers(1, 40), data=st.data(), seed=st.integers(0, 2**32 - 1),
       P_=st.integers(1, 6), dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]))
def test_property_cpu_equals_spec_on_any_row(H, data, seed, P_, dtype):
    d = data.draw(st.integers(1, H))
    row = data.draw(st.lists(_f32, min_size=H, max_size=H))
    h = torch.tensor([row], dtype=torch.float32).to(dtype)
    C = spec_codebook(P_, d, base=seed % 1000)
    k, bad, scores, q = check_against_spec(h, [seed], C)
    if not torch.isfinite(h.float()).all():
        assert bad[0]                                  # a NaN or Inf element: bad
    elif (h.double() ** 2).sum() < 1e38:
        assert not bad[0]                              # finite and far from overflow: not bad
    if not bad[0]:
        s = scores[0]
        assert 0 <= k[0] < P_ and s[k[0]] == s.max() and not (s[: k[0]] == s.max()).any()


@settings(max_examples=25, deadline=None)
@given(seeds=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12),
       start=st.integers(0, 11))
def test_property_a_row_is_independent_of_its_batch(seeds, start):
    B, H = len(seeds), 300
    h = hidden(B, H, torch.float16, seed=len(seeds))
    t = torch.tensor(seeds, dtype=torch.int64)
    C = torch.from_numpy(spec_codebook(5, 30))
    full = pr.snap(h, t, C)
    r = start % B
    one = pr.snap(h[r:r + 1], t[r:r + 1], C)
    for a, b in zip(one, full):
        assert_bits_equal(a, b[r:r + 1])


def test_overlapping_outputs_are_refused():
    """Output buffers that share memory would give some of them wrong values (k written through
    bad's bytes): the op compares the outputs' memory ranges and refuses, naming both."""
    h, s, c = hidden(3, 300, torch.float32, seed=2), torch.tensor([1, 2, 3]), torch.from_numpy(spec_codebook(4, 20))
    k = torch.empty(3, dtype=torch.int64)
    with pytest.raises(ValueError, match="k and bad share memory"):
        pr.snap(h, s, c, out=(k, k.view(torch.bool)[:3], torch.empty(3, 4), torch.empty(3, 20)))
    buf = torch.empty(70)  # scores [3, 4] and q [3, 20] over one buffer, two elements shared
    with pytest.raises(ValueError, match="scores and q share memory"):
        torch.ops.pocrand.snap(h, s, c, k, torch.empty(3, dtype=torch.bool), buf[:12].view(3, 4),
                               buf[10:70].view(3, 20))
