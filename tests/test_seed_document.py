"""The 13 determinism tests of the PoC 2.0 seed document, against pocrand.

The CPU/GPU match tests compare bits exactly (torch.equal on integer views), not allclose.
"""
from __future__ import annotations

import torch

import pocrand_ext as pr
from conftest import as_bits, requires_cuda

BH, PK = "block_0123456789abcdef", "node_public_key_A"
NONCES = [0, 1, 2, 3, 4, 5, 6, 7]
DIM, SEQ, VOCAB = 64, 16, 4096


def test_inputs_are_deterministic(device):
    a = pr.generate_inputs(BH, PK, NONCES, DIM, SEQ, device)
    b = pr.generate_inputs(BH, PK, NONCES, DIM, SEQ, device)
    assert torch.equal(as_bits(a), as_bits(b))


def test_different_nonces_give_different_inputs(device):
    x = pr.generate_inputs(BH, PK, NONCES, DIM, SEQ, device)
    for i in range(len(NONCES)):
        for j in range(i + 1, len(NONCES)):
            assert not torch.equal(x[i], x[j])


def test_different_block_hash_gives_different_inputs(device):
    a = pr.generate_inputs(BH, PK, NONCES, DIM, SEQ, device)
    b = pr.generate_inputs(BH + "x", PK, NONCES, DIM, SEQ, device)
    assert (a != b).float().mean() > 0.99


def test_different_public_key_gives_different_inputs(device):
    a = pr.generate_inputs(BH, PK, NONCES, DIM, SEQ, device)
    b = pr.generate_inputs(BH, "node_public_key_B", NONCES, DIM, SEQ, device)
    assert (a != b).float().mean() > 0.99


def test_permutations_are_deterministic(device):
    a = pr.generate_permutations(BH, PK, NONCES, VOCAB, device)
    assert torch.equal(a, pr.generate_permutations(BH, PK, NONCES, VOCAB, device))


def test_different_public_key_gives_different_permutations(device):
    a = pr.generate_permutations(BH, PK, NONCES, VOCAB, device)
    b = pr.generate_permutations(BH, "node_public_key_B", NONCES, VOCAB, device)
    assert (a != b).float().mean() > 0.99


def test_permutations_are_valid(device):
    p = pr.generate_permutations(BH, PK, NONCES, VOCAB, device)
    assert p.dtype == torch.int64 and p.shape == (len(NONCES), VOCAB)
    expected = torch.arange(VOCAB, device=p.device).expand(len(NONCES), VOCAB)
    assert torch.equal(p.sort(dim=1).values, expected)


def test_target_is_a_unit_vector(device):
    t = pr.generate_target(BH, 151936, device)
    assert t.dtype == torch.float32 and t.shape == (151936,)
    assert abs(t.double().norm().item() - 1.0) < 1e-6


def test_distances_are_in_range(device):
    b = len(NONCES)
    logits = torch.randn(b, VOCAB, generator=torch.Generator().manual_seed(0)).to(device)
    perms = pr.generate_permutations(BH, PK, NONCES, VOCAB, device)
    target = pr.generate_target(BH, VOCAB, device)
    d = pr.compute_distances(logits, perms, target)
    assert d.shape == (b,) and d.dtype == torch.float32
    assert bool(((d >= 0) & (d <= 2)).all())
    # The extremes: the target itself (aligned, after undoing the permutation) and its negation.
    aligned = torch.empty_like(target).scatter_(0, perms[0], target).expand(2, VOCAB).clone()
    aligned[1] *= -1
    d = pr.compute_distances(aligned, perms[0].expand(2, VOCAB).contiguous(), target)
    assert d[0] < 1e-6 and abs(d[1] - 2) < 1e-6


def test_different_block_hash_gives_different_targets(device):
    a = pr.generate_target(BH, VOCAB, device)
    b = pr.generate_target(BH + "x", VOCAB, device)
    assert (a != b).float().mean() > 0.99


@requires_cuda
def test_cpu_gpu_inputs_match():
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        cpu = pr.generate_inputs(BH, PK, NONCES, DIM, SEQ, "cpu", dtype)
        gpu = pr.generate_inputs(BH, PK, NONCES, DIM, SEQ, "cuda", dtype)
        assert torch.equal(as_bits(cpu), as_bits(gpu))


@requires_cuda
def test_cpu_gpu_permutations_match():
    cpu = pr.generate_permutations(BH, PK, NONCES, 151936, "cpu")
    assert torch.equal(cpu, pr.generate_permutations(BH, PK, NONCES, 151936, "cuda").cpu())


@requires_cuda
def test_cpu_gpu_targets_match():
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        cpu = pr.generate_target(BH, 151936, "cpu", dtype)
        assert torch.equal(as_bits(cpu), as_bits(pr.generate_target(BH, 151936, "cuda", dtype)))
