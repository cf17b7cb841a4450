"""Edge cases whose results the spec fixes explicitly: exact 1.0 uniforms, zero-norm targets,
canonical NaNs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import stages
import spec_numpy as spec
from conftest import as_bits, randn

NAN_BITS = {torch.float32: 0x7FC00000, torch.float16: 0x7E00, torch.bfloat16: 0x7FC0}
NORMAL_BOUND = 6.8       # docs/guarantees.md and SPEC.md section 5: |out| < 6.8
U_ONE_LOG2_PROB = -25    # SPEC.md section 8: u1 = 1.0 with probability 2^-25


def seed_with_hash_of_key0(h: int) -> int:
    """The seed s with hash(0, s) == h: for key 0 the block step is h = rotl(s, 13)*5 + c, so
    invert fmix32, the affine step and the rotation."""
    x = int(spec.fmix32_inverse(np.array([h], dtype=np.uint32))[0])
    x = ((x - 0xE6546B64) * pow(5, -1, 2**32)) % 2**32
    return ((x >> 13) | (x << 19)) & 0xFFFFFFFF


SEED_U0_IS_ONE = seed_with_hash_of_key0(0xFFFFFFFF)


def test_constructed_seed_gives_u_equal_one():
    assert int(pr.murmur3_32(torch.tensor([0]), SEED_U0_IS_ONE)) == 0xFFFFFFFF
    assert pr.uniform(SEED_U0_IS_ONE, 1).item() == 1.0
    # r = sqrt(-2 * log(1)) = -0: both outputs of the first pair are zeros.
    assert pr.normal(SEED_U0_IS_ONE, 2).abs().max().item() == 0.0


def test_exactly_128_hashes_give_u_equal_one():
    """SPEC.md sections 2 and 8: u = 1.0 exactly for the 128 hashes >= 2^32 - 128 and for no other
    (u is monotone in the hash), so a pair's u1 is 1.0 with probability 128 / 2^32 = 2^-25 — the
    chance that a target of V <= 2 (one pair) is all NaN."""
    h = torch.arange(2**32 - 4096, 2**32, dtype=torch.int64)
    u = stages.stages(h)[0]
    assert int((u == 1.0).sum()) == 128 == 2**32 * 2.0**U_ONE_LOG2_PROB
    assert bool((u[h >= 2**32 - 128] == 1.0).all())


def test_normals_are_below_6_8():
    """SPEC.md section 5 and docs/guarantees.md: |out| < 6.8. The largest radius is the one of u1
    clamped to f32(1e-10) (hash 0; the next smallest u is 2^-32, far above), and |sin|, |cos| <= 1."""
    r = stages.stages(torch.tensor([0, 1], dtype=torch.int64))[1]
    assert r[1] < r[0] < NORMAL_BOUND
    assert abs(r[0].item() - math.sqrt(-2 * math.log(float.fromhex("0x1.b7cdfep-34")))) < 1e-5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("vocab_size", [1, 2])
def test_zero_norm_target_is_canonical_nan(device, dtype, vocab_size):
    seeds = torch.tensor([SEED_U0_IS_ONE], device=device)
    t = torch.ops.pocrand.unit_normal(seeds, vocab_size, dtype)
    bits = as_bits(t).to(torch.int64) & (0xFFFFFFFF if dtype == torch.float32 else 0xFFFF)
    assert bits.tolist() == [[NAN_BITS[dtype]] * vocab_size]


def test_target_with_a_zero_pair_is_still_a_unit_vector(device):
    seeds = torch.tensor([SEED_U0_IS_ONE], device=device)
    t = torch.ops.pocrand.unit_normal(seeds, 5, torch.float32)[0].cpu()
    assert t[0] == 0 and t[3] == 0 and torch.isfinite(t).all()   # pair 0 is (out[0], out[3])
    assert abs(t.double().norm().item() - 1) < 1e-6


def test_distance_nan_is_canonical_for_a_nan_target(device):
    logits = randn(2, 8, device=device)
    perms = pr.generate_permutations("bh", "pk", [0, 1], 8, device)
    target = pr.generate_target("bh", 8, device).clone()
    target[3] = float("nan")
    d = pr.compute_distances(logits, perms, target)
    assert as_bits(d).tolist() == [0x7FC00000, 0x7FC00000]
