"""Shared by test_snap.py and test_snap_cuda.py: a codebook of the NumPy spec's unit vectors, hidden
rows with chosen non-finite, zero and overflowing rows, and the kernels checked against the spec."""
from __future__ import annotations

import numpy as np
import torch

import pocrand_ext as pr
import spec_numpy as spec


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
