"""apply_householder's rows of 8193 .. 16384 elements (a shared v): the reflection's 16-warp chunk
kernel for fp16/bf16, its generic kernel for float32. With more rows than the grid has blocks,
every block walks several rows (and loads the next one while it sums the current), out of place,
in place and in the pair form. GPU == CPU bit for bit.
Skipped without a CUDA device and a CUDA build (a failure under POCRAND_REQUIRE_CUDA=1)."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from conftest import CUDA_SKIP_REASON, HAS_CUDA, assert_bits_equal, randn

pytestmark = pytest.mark.skipif(not HAS_CUDA, reason=CUDA_SKIP_REASON)

# Far more rows than 16-warp blocks fit on any GPU at once (at most 2048 threads, so 4 such
# blocks, a multiprocessor; 4 x 144 multiprocessors = 576 blocks on the largest cards).
ROWS = 2400


@pytest.mark.parametrize("dim, dtype", [(8200, torch.float16), (12288, torch.bfloat16),
                                        (16384, torch.float32), (16384, torch.float16)])
def test_blocks_walk_rows_of_the_wide_chunk_kernel(dim, dtype):
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    assert ROWS > 4 * sms, "too few rows for every block to walk several"
    x = randn(ROWS, dim, seed=dim).to(dtype)
    v = pr.householder_vectors("wide", 1, dim, "cpu")[0].to(dtype)
    want = pr.apply_householder(x, v)
    xc, vc = x.cuda(), v.cuda()
    assert_bits_equal(pr.apply_householder(xc, vc), want)
    pr.apply_householder_(xc, vc)
    assert_bits_equal(xc, want)
    r = randn(ROWS // 2, dim, seed=dim + 1).to(dtype)
    h_want, r_want = pr.apply_householder_pair(x, r, v)
    h, rr = x.cuda(), r.cuda()
    pr.apply_householder_pair_(h, rr, vc)
    assert_bits_equal(h, h_want)
    assert_bits_equal(rr, r_want)
