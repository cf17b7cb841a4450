"""CUDA kernels equal the CPU reference bit for bit (skipped without a CUDA device and build).

Outputs are compared as integers (torch.equal on bit views), for every op and dtype, odd and even
sizes, batches up to 256, vocabularies up to 262144, on a non-default stream, and on cuda:1 when a
second GPU is present. Outputs are pre-filled by the allocator with whatever was there; a poison
fill before each call makes an element the kernel never wrote fail the comparison.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import stages
from conftest import CUDA_SKIP_REASON, HAS_CUDA, assert_bits_equal, randn

pytestmark = pytest.mark.skipif(not HAS_CUDA, reason=CUDA_SKIP_REASON)

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
NONCES_256 = list(range(-128, 128))


def poison_cache(device="cuda"):
    """Fill freed cached blocks with 0xFF bytes so unwritten outputs read as NaN/-1."""
    junk = torch.empty(64 << 20, dtype=torch.uint8, device=device).fill_(0xFF)
    del junk


def gpu_devices():
    return [f"cuda:{i}" for i in range(torch.cuda.device_count())] if HAS_CUDA else []


@pytest.mark.parametrize("n", [1, 2, 3, 1023, 1024, 1025, 65537])
def test_uniform_normal_murmur3(n):
    for seed in (0, 1, 0xFFFFFFFF):
        poison_cache()
        assert_bits_equal(pr.uniform(seed, n, "cuda"), pr.uniform(seed, n, "cpu"))
        assert_bits_equal(pr.normal(seed, n, "cuda"), pr.normal(seed, n, "cpu"))
    keys = torch.arange(-n, 3 * n, dtype=torch.int64)
    assert torch.equal(pr.murmur3_32(keys.cuda(), 7).cpu(), pr.murmur3_32(keys, 7))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 33), (64, 64), (17, 1000)])
def test_inputs(dtype, shape):
    seq_len, dim = shape
    poison_cache()
    gpu = pr.generate_inputs("bh", "pk", NONCES_256, dim, seq_len, "cuda", dtype)
    cpu = pr.generate_inputs("bh", "pk", NONCES_256, dim, seq_len, "cpu", dtype)
    assert_bits_equal(gpu, cpu)


# Bucket sort: up to 3072 one bucket a row, 3073 two; 4096/4097/8193: tile edges of the count and
# scatter passes; 196609: 128 buckets, just over the 64 of 196608; 2^21: the largest V that takes
# the bucket sort; 2^21 + 1: the smallest that takes the radix sort.
@pytest.mark.parametrize("vocab_size", [1, 2, 3, 1000, 1024, 1025, 3072, 3073, 4096, 4097, 8193,
                                        151936, 196608, 196609, 2**21, 2**21 + 1])
def test_permutations(vocab_size):
    nonces = NONCES_256 if vocab_size <= 1025 else NONCES_256[:24 if vocab_size < 2**20 else 3]
    poison_cache()
    gpu = pr.generate_permutations("bh", "pk", nonces, vocab_size, "cuda")
    assert torch.equal(gpu.cpu(), pr.generate_permutations("bh", "pk", nonces, vocab_size, "cpu"))


@pytest.mark.parametrize("batch", [1, 128, 129, 300])
def test_inputs_with_seeds_by_value(batch):
    """normal_nonces passes at most 128 seeds per launch: 129 and 300 rows take several."""
    nonces = [n * 7919 - 1000 for n in range(batch)]
    gpu = torch.ops.pocrand.normal_nonces("bh_pk_nonce", nonces, "", 333, torch.bfloat16,
                                          torch.device("cuda"))
    seeds = torch.ops.pocrand.derive_seeds("bh_pk_nonce", nonces, "", False)
    assert_bits_equal(gpu, torch.ops.pocrand.normal(seeds, 333, torch.bfloat16))


# rows * V <= 2^22 and V <= 2^20 take the two-launch path that recomputes the normals; the
# others store the row and reduce it level by level.
@pytest.mark.parametrize("rows,vocab_size", [(1, 1), (3, 1025), (2, 2**20), (4, 2**20),
                                             (1, 2**20 + 1), (5, 10**6)])
def test_unit_normal_both_paths(rows, vocab_size):
    seeds = torch.tensor([pr.target_seed(f"bh{r}") for r in range(rows)])
    for dtype in DTYPES:
        gpu = torch.ops.pocrand.unit_normal(seeds.cuda(), vocab_size, dtype)
        assert_bits_equal(gpu, torch.ops.pocrand.unit_normal(seeds, vocab_size, dtype))
        one = torch.ops.pocrand.unit_normal_seed(int(seeds[0]), vocab_size, dtype, torch.device("cuda"))
        assert_bits_equal(one, gpu[0])


def test_seed_ops_follow_the_device_argument():
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    x = torch.ops.pocrand.unit_normal_seed(5, 100, torch.float32, torch.device("cuda:1"))
    assert x.device == torch.device("cuda:1")
    y = torch.ops.pocrand.normal_nonces("p", [1, 2], "", 10, torch.float16, torch.device("cuda:1"))
    assert y.device == torch.device("cuda:1")


def test_pocv2_ops_on_the_second_gpu():
    """The PoC v2 ops run on the tensors' own device, cuda:1 included (the Householder launcher
    keeps its occupancy per device), with the CPU's bits."""
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    dev = torch.device("cuda:1")
    v = pr.householder_vectors("bh", 2, 1032, dev)
    assert v.device == dev
    assert_bits_equal(v, pr.householder_vectors("bh", 2, 1032, "cpu"))
    x = randn(600, 1032, seed=21).bfloat16()
    r = randn(300, 1032, seed=22).bfloat16()
    vb = v[0].bfloat16()
    for dtype in DTYPES:  # cuda:0 first, then cuda:1: each device's launch shape is its own
        h0, r0 = pr.apply_householder_pair(x.to(dtype).cuda(), r.to(dtype).cuda(), vb.to(dtype).cuda())
        h1, r1 = pr.apply_householder_pair(x.to(dtype).to(dev), r.to(dtype).to(dev), vb.to(dtype).to(dev))
        assert h1.device == dev
        hc, rc = pr.apply_householder_pair(x.to(dtype), r.to(dtype), vb.to(dtype).cpu())
        for got in (h0, h1):
            assert_bits_equal(got, hc)
        for got in (r0, r1):
            assert_bits_equal(got, rc)
    hidden = randn(32, 1032, seed=23)
    a1, f1 = pr.artifacts(hidden.to(dev), "bh", "pk", list(range(32)), 12)
    a0, f0 = pr.artifacts(hidden, "bh", "pk", list(range(32)), 12)
    assert a1.device == dev
    assert_bits_equal(a1, a0)
    assert torch.equal(f1.cpu(), f0)


def _permutation_seeds(nonces):
    return torch.tensor([pr.permutations_seed("bh", "pk", n) for n in nonces], device="cuda")


# (V, bucket_bits, capacity): capacity 0 sends every non-empty bucket to the rank-by-counting
# fallback, bucket_bits 0 puts a whole row in one bucket, 11 bits over a tiny V leaves most
# buckets empty. Every choice must give the permutation the CPU gives.
@pytest.mark.parametrize("vocab_size,bucket_bits,capacity", [
    (1, 11, 4096), (3, 11, 0), (1000, 11, 4096), (9000, 0, 4096), (5000, 0, 0), (20000, 1, 4096),
    (151936, 9, 0), (151936, 9, 4096), (151936, 11, 1), (151936, 5, 4096), (4097, 3, 600),
    (151936, 7, 1100)])
def test_bucket_sort_paths(vocab_size, bucket_bits, capacity):
    nonces = [0, -1, 7, 2**40]
    gpu = torch.ops.pocrand.permutations(_permutation_seeds(nonces), vocab_size, bucket_bits, capacity)
    assert torch.equal(gpu.cpu(), pr.generate_permutations("bh", "pk", nonces, vocab_size, "cpu"))


def test_bucket_sort_rejects_bad_parameters():
    seeds = _permutation_seeds([0])
    with pytest.raises(ValueError, match=r"bucket_bits must be in \[0, 11\], got 12"):
        torch.ops.pocrand.permutations(seeds, 100, 12, 4096)
    with pytest.raises(ValueError, match=r"capacity must be in \[0, 4096\], got 4097"):
        torch.ops.pocrand.permutations(seeds, 100, 3, 4097)
    with pytest.raises(ValueError, match="give both or neither"):
        torch.ops.pocrand.permutations(seeds, 100, 3)
    torch.library.opcheck(torch.ops.pocrand.permutations.default, (seeds, 100, 3, 50))


def test_cuda_seeds_tensors_use_their_low_32_bits():
    """Documented in csrc/op_checks.h: a CUDA seeds tensor is not read back to check its values
    (that would synchronise); its kernels use each value's low 32 bits. On the CPU such a seed is
    a ValueError (tests/test_bad_inputs.py)."""
    wide = torch.tensor([5 + 2**32, -1], device="cuda")
    low = torch.tensor([5, 2**32 - 1])
    assert_bits_equal(torch.ops.pocrand.uniform(wide, 100), torch.ops.pocrand.uniform(low, 100))
    assert torch.equal(torch.ops.pocrand.permutations(wide, 100).cpu(),
                       torch.ops.pocrand.permutations(low, 100))
    with pytest.raises(ValueError, match="seed"):
        torch.ops.pocrand.murmur3(torch.arange(4, device="cuda"), 2**32)


def test_permutations_with_more_rows_than_a_grid_dimension():
    """65543 rows: the bucket sort's kernels walk rows beyond the grid's 65535 in a loop."""
    nonces = list(range(65543))
    gpu = pr.generate_permutations("rows", "pk", nonces, 5, "cuda")
    assert torch.equal(gpu.cpu(), pr.generate_permutations("rows", "pk", nonces, 5, "cpu"))


def test_permutations_with_many_rows():
    """1024 rows of 4096 in one bucket sort (2 buckets a row, 2048 sort blocks)."""
    nonces = list(range(1024))
    gpu = pr.generate_permutations("ties", "pk", nonces, 4096, "cuda")
    assert torch.equal(gpu.cpu(), pr.generate_permutations("ties", "pk", nonces, 4096, "cpu"))


def test_permutations_of_a_large_vocabulary():
    """V = 2^21 + 3 over 3 rows: the radix sort, with 2 row bits in the key and so about 2000
    truncated-hash ties per row that the fix-up must order by the full hash."""
    V = 2**21 + 3
    gpu = pr.generate_permutations("big", "pk", [0, 1, 2], V, "cuda")
    assert torch.equal(gpu.cpu(), pr.generate_permutations("big", "pk", [0, 1, 2], V, "cpu"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("vocab_size", [1, 2, 3, 1023, 1025, 1024 * 1024 + 1, 151936, 262144])
def test_target(dtype, vocab_size):
    poison_cache()
    for bh in ("", "abc", "blöck"):
        assert_bits_equal(pr.generate_target(bh, vocab_size, "cuda", dtype),
                          pr.generate_target(bh, vocab_size, "cpu", dtype))


@pytest.mark.parametrize("logits_dtype", DTYPES)
@pytest.mark.parametrize("target_dtype", DTYPES)
# V <= 2^20 finishes the sums in the pass kernels (one chunk: 1, 2; up to 1024 chunks: ... 2^20);
# 2^20 + 1 takes the level-by-level path.
@pytest.mark.parametrize("batch,vocab_size", [(1, 1), (3, 2), (5, 1025), (256, 4099), (64, 151936),
                                              (4, 262144), (3, 2**20), (3, 2**20 + 1)])
def test_distances(logits_dtype, target_dtype, batch, vocab_size):
    g = torch.Generator().manual_seed(batch * vocab_size)
    logits = (torch.randn(batch, vocab_size, generator=g) * 4).to(logits_dtype)
    if batch > 2:
        logits[1] = 0
        logits[2, 0] = float("nan")
    perms = pr.generate_permutations("bh", "pk", range(batch), vocab_size)
    target = pr.generate_target("bh", vocab_size, dtype=target_dtype)
    poison_cache()
    gpu = pr.compute_distances(logits.cuda(), perms.cuda(), target.cuda())
    assert_bits_equal(gpu, pr.compute_distances(logits, perms, target))


@pytest.mark.parametrize("vocab_size", [100, 2**20 + 1])
def test_distances_reject_out_of_range_permutations_on_gpu(vocab_size):
    V = vocab_size
    perms = pr.generate_permutations("bh", "pk", range(3), V, "cuda")
    perms[2, 17] = V
    perms[1, 50] = -5
    logits, target = randn(3, V, device="cuda"), pr.generate_target("bh", V, "cuda")
    with pytest.raises(ValueError, match=r"permutations\[1, 50\] = -5 is out of range"):
        pr.compute_distances(logits, perms, target)
    # check=False: those rows are the canonical NaN, the other row a number; twice, so a stale
    # flag from the first call would show.
    for _ in range(2):
        d = pr.compute_distances(logits, perms, target, check=False).cpu()
        assert d[1:].view(torch.int32).tolist() == [0x7FC00000] * 2 and d[0].isfinite()
    perms[1, 50], perms[2, 17] = 0, 1
    assert pr.compute_distances(logits, perms, target, check=False).isfinite().all()
    # The process stays usable.
    assert pr.normal(1, 10, "cuda").isfinite().all()


def test_scalar_stages_and_rounding_sample():
    gen = torch.Generator().manual_seed(0)
    h = torch.randint(0, 2**32, (1 << 22,), dtype=torch.int64, generator=gen)
    for g, c in zip(stages.stages(h.cuda()), stages.stages(h)):
        assert_bits_equal(g, c)
    x = torch.randint(-(2**31), 2**31, (1 << 22,), dtype=torch.int32, generator=gen).view(torch.float32)
    for dtype in (torch.float16, torch.bfloat16):
        assert_bits_equal(stages.round_to(x.cuda(), dtype), stages.round_to(x, dtype))
    t = torch.rand(1 << 20, generator=gen) * 6.2831855
    for g, c in zip(stages.sincos(t.cuda()), stages.sincos(t)):
        assert_bits_equal(g, c)
    u = torch.rand(1 << 20, generator=gen).clamp(min=1e-10)
    assert_bits_equal(stages.log(u.cuda()), stages.log(u))


def test_non_default_stream():
    s = torch.cuda.Stream()
    cpu = pr.generate_inputs("bh", "pk", range(8), 64, 16, "cpu")
    with torch.cuda.stream(s):
        gpu = pr.generate_inputs("bh", "pk", range(8), 64, 16, "cuda")
        perms = pr.generate_permutations("bh", "pk", range(8), 5000, "cuda")
        target = pr.generate_target("bh", 5000, "cuda")
        logits = randn(8, 5000, device="cuda")
        d = pr.compute_distances(logits, perms, target)
    s.synchronize()
    assert_bits_equal(gpu, cpu)
    assert torch.equal(perms.cpu(), pr.generate_permutations("bh", "pk", range(8), 5000))
    assert_bits_equal(d, pr.compute_distances(logits.cpu(), perms.cpu(), target.cpu()))


@pytest.mark.parametrize("dev", gpu_devices())
def test_every_gpu(dev):
    """Each visible GPU (cuda:1 included when present) gives the CPU's bits, with its output on it."""
    x = pr.generate_inputs("bh", "pk", range(4), 128, 8, dev)
    assert x.device == torch.device(dev)
    assert_bits_equal(x, pr.generate_inputs("bh", "pk", range(4), 128, 8, "cpu"))
    t = pr.generate_target("bh", 151936, dev)
    assert_bits_equal(t, pr.generate_target("bh", 151936, "cpu"))
    p = pr.generate_permutations("bh", "pk", range(2), 151936, dev)
    assert torch.equal(p.cpu(), pr.generate_permutations("bh", "pk", range(2), 151936, "cpu"))
    d = pr.compute_distances(torch.ones(2, 151936, device=dev), p, t)
    assert d.device == torch.device(dev)
    assert_bits_equal(d, pr.compute_distances(torch.ones(2, 151936), p.cpu(), t.cpu()))


def test_numpy_spec_on_gpu_outputs():
    """Closing the loop: GPU output against the independent NumPy spec directly."""
    import spec_numpy as spec
    got = pr.generate_inputs("bh", "pk", [0, -1, 2**63 - 1], 33, 3, "cuda", torch.float16)
    want = spec.generate_inputs("bh", "pk", [0, -1, 2**63 - 1], 33, 3, "float16")
    assert np.array_equal(got.cpu().view(torch.int16).numpy(), want.view(np.int16))
