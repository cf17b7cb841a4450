"""The decode scheme's snap (SPEC.md 10.6-10.8): NumPy spec == kernels bit for bit, batch
independence, the tie and non-finite rules, the codebook's digest check, the claimed margin,
torch.compile, bad inputs. The GPU's kernels against the CPU's are in test_snap_cuda.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal
from pocrand_ext.snap import CODEBOOK_ENV
from snap_helpers import D, P, U32_EDGES, check_against_spec, hidden, spec_codebook


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
    (lambda h, s, c: (h.int(), s, c), ValueError, "h dtype"),
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
    with pytest.raises(ValueError, match=r"out\[2\] \(scores\) must have shape"):
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


# ---- properties (Hypothesis) ----
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
    with pytest.raises(ValueError, match=r"out\[0\] \(k\) and out\[1\] \(bad\) share memory"):
        pr.snap(h, s, c, out=(k, k.view(torch.bool)[:3], torch.empty(3, 4), torch.empty(3, 20)))
    buf = torch.empty(70)  # scores [3, 4] and q [3, 20] over one buffer, two elements shared
    with pytest.raises(ValueError, match=r"out\[2\] \(scores\) and out\[3\] \(q\) share memory"):
        torch.ops.pocrand.snap(h, s, c, k, torch.empty(3, dtype=torch.bool), buf[:12].view(3, 4),
                               buf[10:70].view(3, 20))
