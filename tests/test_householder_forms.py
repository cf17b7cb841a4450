"""apply_householder's forms (SPEC.md 9.3): out of place, in place and the (hidden, residual) pair,
equal to the NumPy spec bit for bit on every device, for row lengths that take the GPU's chunk
kernel (a shared v, a multiple of 16 bytes, at most 16384 elements, aligned) and its generic
kernel (any other row)."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal
from test_pocv2_spec import spec_tensor, storage

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# 8 .. 16384: the chunk kernel (1024: one whole chunk; 1032 and 3000: a partial last chunk, so the
# last tree level meets +0.0 padding; 10248 and 16384: blocks of 16 warps); 7 and 1001: not a
# vector multiple (the generic kernel). A v per row takes the fused kernel (test_pocv2_spec).
DIMS = [1, 7, 8, 64, 1001, 1024, 1032, 3000, 8192, 10248, 16384]


def rows(seed: int, shape, dtype, device) -> torch.Tensor:
    n = 1
    for s in shape:
        n *= s
    return (pr.normal(seed, n).view(shape) * 2).to(DTYPES[dtype]).to(device)


def want(x: torch.Tensor, v: torch.Tensor, dtype: str) -> torch.Tensor:
    dim = x.shape[-1]
    out = spec.householder(storage(x.reshape(-1, dim)), storage(v), dtype)
    return spec_tensor(out, dtype).view(x.shape)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("dim", DIMS)
def test_forms_equal_the_spec(dim, dtype, device):
    x = rows(dim, (3, 5, dim), dtype, device)
    r = rows(dim + 1, (15, dim), dtype, device)
    v = pr.unit_vectors([f"v{dim}"], dim, device)[0].to(DTYPES[dtype])
    assert_bits_equal(pr.apply_householder(x, v), want(x, v, dtype))
    y = x.clone()
    assert pr.apply_householder_(y, v) is y
    assert_bits_equal(y, want(x, v, dtype))
    h2, r2 = pr.apply_householder_pair(x, r, v)
    assert_bits_equal(h2, want(x, v, dtype))
    assert_bits_equal(r2, want(r, v, dtype))
    hx, rx = x.clone(), r.clone()
    pr.apply_householder_pair_(hx, rx, v)
    assert_bits_equal(hx, want(x, v, dtype))
    assert_bits_equal(rx, want(r, v, dtype))


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_many_rows_each_block_walks(dtype, device):
    """More rows than any grid holds: the chunk kernel's blocks walk many rows each, loading the
    next while they finish the current one, and the chunk sums of alternate rows share slots."""
    dim = 1032
    x = rows(11, (2500, dim), dtype, device)
    r = rows(12, (700, dim), dtype, device)
    v = pr.unit_vectors(["many rows"], dim, device)[0].to(DTYPES[dtype])
    assert_bits_equal(pr.apply_householder(x, v), want(x, v, dtype))
    h2, r2 = pr.apply_householder_pair(x, r, v)
    assert_bits_equal(h2, want(x, v, dtype))
    assert_bits_equal(r2, want(r, v, dtype))


def every_fp16_pattern(device) -> torch.Tensor:
    """All 65536 fp16 bit patterns as [64, 1024]: rows 31 and 63 hold the infinities and NaNs,
    the other rows every finite value (zeros and subnormals in rows 0 and 32)."""
    bits = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    return bits.view(torch.float16).view(64, 1024).roll(32, 0).to(device)


def test_every_fp16_value(device):
    """Each finite fp16 value widens exactly (the GPU kernels widen by the device's conversion):
    with a v that is zero except at index 0, every other element comes back unchanged or, in a
    row holding an infinity or NaN, as the canonical NaN; a dense v mixes them through the dot."""
    x = every_fp16_pattern(device)
    sparse = torch.zeros(1024, dtype=torch.float16, device=device)
    sparse[0] = 1.0
    dense = pr.unit_vectors(["every fp16"], 1024, device)[0].half()
    for v in (sparse, dense):
        y = pr.apply_householder(x, v)
        assert_bits_equal(y, want(x, v, "float16"))
    y = pr.apply_householder(x, sparse)
    finite_rows = [i for i in range(64) if i not in (31, 63)]
    assert torch.equal(y[finite_rows, 1:].view(torch.int16), x[finite_rows, 1:].view(torch.int16))


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_strided_and_misaligned_rows(dtype, device):
    """A transposed view, a column slice and a view that starts one element into its storage
    (not 16-byte aligned) all give the spec's bits, in and out of place."""
    dim = 64
    base = rows(3, (dim * 9 + 1,), dtype, device)
    v = pr.unit_vectors(["strided"], dim, device)[0].to(DTYPES[dtype])
    views = [base[1:].view(9, dim),                       # misaligned start
             rows(4, (dim, 6), dtype, device).t(),        # transposed: strided rows
             rows(5, (6, 2 * dim), dtype, device)[:, ::2]]  # every other column
    for x in views:
        expected = want(x.contiguous(), v, dtype)
        assert_bits_equal(pr.apply_householder(x, v), expected)
        y = x.clone() if x.is_contiguous() else x
        before = y.clone()
        pr.apply_householder_(y, v)
        assert_bits_equal(y, expected)
        y.copy_(before)


def test_pair_rejects_mismatched_tensors():
    v = torch.ones(8) / 8**0.5
    with pytest.raises(TypeError, match="residual must have hidden's dtype"):
        pr.apply_householder_pair(torch.zeros(2, 8), torch.zeros(2, 8).half(), v)
    with pytest.raises(ValueError, match=r"v must be \[4\]"):
        pr.apply_householder_pair(torch.zeros(2, 8), torch.zeros(2, 4), v)
    with pytest.raises(ValueError, match=r"v must be \[8\]"):
        pr.apply_householder_pair(torch.zeros(2, 8), torch.zeros(2, 8), torch.ones(2, 8))


def test_opcheck_of_the_op_under_every_form():
    """apply_householder's forms are the one reflection op: out of place, in place (out is x)
    and the pair of two tensors, in float32 and bf16."""
    x, r = torch.randn(5, 1, 64), torch.randn(5, 1, 64)
    v = pr.unit_vectors(["v"], 64)
    op = torch.ops.pocrand.reflect_rows.default
    torch.library.opcheck(op, (torch.empty_like(x), x, None, None, v, None, None, "once"))
    y = x.clone()
    torch.library.opcheck(op, (y, y, None, None, v, None, None, "once"))
    torch.library.opcheck(op, (torch.empty_like(x), x, torch.empty_like(r), r, v, None, None, "once"))
    xb, rb = x.bfloat16(), r.bfloat16()
    torch.library.opcheck(op, (xb, xb, rb, rb, v.bfloat16(), None, None, "once"))
