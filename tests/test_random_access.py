"""Random access for tensor parallelism: any element range of a nonce's inputs, and any row
range of a batch, bit-identical to the same slice of the full tensor."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal

DTYPES = [torch.float16, torch.bfloat16, torch.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seq_len,dim", [(1, 1), (3, 5), (16, 64), (7, 1001)])
def test_input_slices_equal_the_full_tensor(device, dtype, seq_len, dim):
    nonces = [0, -1, 2**63 - 1]
    n = seq_len * dim
    full = pr.generate_inputs("bh", "pk", nonces, dim, seq_len, device, dtype).view(len(nonces), n)
    p = (n + 1) // 2
    rnd = random.Random(n)
    ranges = {(0, n), (0, 1), (n - 1, n), (max(0, p - 1), min(n, p + 1)), (p, n) if p < n else (0, n)}
    ranges |= {tuple(sorted(rnd.sample(range(n + 1), 2))) for _ in range(6) if n > 1}
    for start, end in ranges:
        if start == end:
            continue
        part = pr.generate_inputs_slice("bh", "pk", nonces, dim, seq_len, start, end, device, dtype)
        assert_bits_equal(part, full[:, start:end])


def test_row_ranges_are_nonce_slices(device):
    nonces = list(range(-5, 11))
    full_x = pr.generate_inputs("bh", "pk", nonces, 32, 4, device)
    full_p = pr.generate_permutations("bh", "pk", nonces, 1000, device)
    for r0, r1 in [(0, 1), (3, 9), (15, 16), (0, 16)]:
        assert_bits_equal(pr.generate_inputs("bh", "pk", nonces[r0:r1], 32, 4, device), full_x[r0:r1])
        assert torch.equal(pr.generate_permutations("bh", "pk", nonces[r0:r1], 1000, device),
                           full_p[r0:r1])


def spec_elements(seed: int, n: int, idx: np.ndarray) -> np.ndarray:
    """Elements idx of the spec's normal(seed, n), from its pair formula (SPEC.md section 5)."""
    p = (n + 1) // 2
    second = idx >= p
    j = np.where(second, idx - p, idx).astype(np.uint32)
    u1 = spec.uniform_from_hash(spec.murmur3(j, seed))
    u2 = spec.uniform_from_hash(spec.murmur3(j + np.uint32(p), seed))
    first, sec = spec.box_muller(u1, u2)
    return np.where(second, sec, first).astype(np.float32)


@pytest.mark.parametrize("n", [2**31 - 1, 2**31 - 2, 3_000_000_001 // 2])
def test_far_end_elements_match_the_numpy_spec(device, n):
    """Rows of the largest allowed size: the last elements (and ones around the pair boundary)
    through random access, against the NumPy spec."""
    seed = pr.inputs_seed("bh", "pk", 7)
    p = (n + 1) // 2
    for start, end in [(n - 64, n), (p - 32, p + 32), (0, 16)]:
        got = torch.ops.pocrand.normal_range(torch.tensor([seed], device=device), n, start, end,
                                             torch.float32)[0].cpu().numpy()
        want = spec_elements(seed, n, np.arange(start, end, dtype=np.int64))
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_slice_arguments_are_checked():
    with pytest.raises(ValueError, match="start"):
        pr.generate_inputs_slice("bh", "pk", [0], 4, 4, 5, 5)
    with pytest.raises(ValueError, match="start"):
        pr.generate_inputs_slice("bh", "pk", [0], 4, 4, -1, 3)
    with pytest.raises(ValueError, match="end"):
        pr.generate_inputs_slice("bh", "pk", [0], 4, 4, 0, 17)
    with pytest.raises(TypeError, match="start"):
        pr.generate_inputs_slice("bh", "pk", [0], 4, 4, 0.0, 3)
    with pytest.raises(ValueError, match="start"):
        torch.ops.pocrand.normal_range(torch.tensor([1]), 10, 4, 2, torch.float32)
