"""In-place and out= writes refuse tensors that share memory (issue: an overlapping in-place
reflection reads what it has already written, so on a GPU its result depends on block timing and
differs from the CPU's). ATen's overlap checks decide in the Python API, memory ranges in the raw op; the
refusal is a ValueError naming both arguments."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from conftest import randn

OPS = torch.ops.pocrand


def unit(dim, seed=1):
    v = randn(dim, seed=seed)
    return v / v.norm()


def test_pair_of_one_tensor_is_refused(device):
    h = randn(4, 8, device=device)
    with pytest.raises(ValueError, match="hidden.*residual"):
        pr.apply_householder_pair_(h, h, unit(8).to(device))
    h3, t = h.view(4, 1, 8), unit(8).to(device).view(1, 8)
    with pytest.raises(ValueError, match="out and residual share memory"):
        OPS.reflect_rows(h3, h3, h3, h3, t, None, None, "once")


def test_pair_of_overlapping_views_is_refused(device):
    buf = randn(5, 8, device=device)
    with pytest.raises(ValueError, match="hidden.*residual"):
        pr.apply_householder_pair_(buf[:4], buf[1:], unit(8).to(device))
    a, b, t = buf[:4].view(4, 1, 8), buf[1:].view(4, 1, 8), unit(8).to(device).view(1, 8)
    with pytest.raises(ValueError, match="out and residual share memory"):
        OPS.reflect_rows(a, a, b, b, t, None, None, "once")


def test_v_inside_x_is_refused(device):
    y = randn(4, 8, device=device)
    with pytest.raises(ValueError, match="x.*v"):
        pr.apply_householder_(y, y[0])
    y3 = y.view(4, 1, 8)
    with pytest.raises(ValueError, match="out and table share memory"):
        OPS.reflect_rows(y3, y3, None, None, y[:1], None, None, "once")
    with pytest.raises(ValueError, match="hidden.*v"):
        pr.apply_householder_pair_(y, randn(4, 8, device=device), y[2])
    h3 = randn(4, 1, 8, device=device)
    with pytest.raises(ValueError, match="residual_out and table share memory"):
        OPS.reflect_rows(h3, h3, y3, y3, y[3:], None, None, "once")


def test_strided_x_overlapping_v_is_refused(device):
    buf = randn(4, 16, device=device)
    with pytest.raises(ValueError, match="x.*v"):
        pr.apply_householder_(buf[:, :8], buf[1, 2:10])


def test_strided_reflect_rows_inputs_inside_x_are_refused(device):
    # a strided x is reflected through a copy and written back: the write-back must not land on
    # the table, row groups or mask it read, in the one-tensor and the pair form
    buf = randn(4, 16, device=device)
    x, table = buf[:, ::2], buf[:1, :8]  # x every other column; the table the first row's start
    with pytest.raises(ValueError, match="x and table share memory"):
        pr.reflect_rows_(x, table, None, None)
    with pytest.raises(ValueError, match="residual and table share memory"):
        pr.reflect_rows_pair_(randn(4, 16, seed=2, device=device)[:, ::2], x, table, None, None)


def test_self_overlapping_x_is_refused(device):
    x = randn(8, device=device).expand(3, 8)
    with pytest.raises(ValueError, match="x"):
        pr.apply_householder_(x, unit(8).to(device))


def test_disjoint_views_of_one_buffer_are_accepted(device):
    buf = randn(8, 8, device=device)
    v = unit(8).to(device)
    h, r = buf[:4].clone(), buf[4:].clone()
    pr.apply_householder_pair_(buf[:4], buf[4:], v)
    eh, er = pr.apply_householder_pair(h, r, v)
    assert torch.equal(buf[:4], eh) and torch.equal(buf[4:], er)
    # interleaved halves of one buffer: strided, disjoint
    buf2 = randn(4, 16, device=device)
    a, b = buf2[:, :8].clone(), buf2[:, 8:].clone()
    pr.apply_householder_pair_(buf2[:, :8], buf2[:, 8:], v)
    ea, eb = pr.apply_householder_pair(a, b, v)
    assert torch.equal(buf2[:, :8], ea) and torch.equal(buf2[:, 8:], eb)


def test_self_overlapping_out_is_refused(device):
    o = torch.zeros(40, dtype=torch.half, device=device).as_strided((2, 2, 8), (12, 8, 1))
    kw = dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=8, seq_len=2,
              device=device, dtype=torch.half)
    with pytest.raises(ValueError, match="out"):
        pr.generate_inputs(**kw, out=o)
    with pytest.raises(ValueError, match="out"):
        pr.generate_inputs_concat(**kw, out=o)
    with pytest.raises(ValueError, match="out"):
        OPS.normal_nonces_into("bh", [0, 1], "", o)
    with pytest.raises(ValueError, match="out"):
        OPS.normal_nonces_into("bh", [0, 1], "", o, True)
    expanded = torch.zeros(1, 2, 8, dtype=torch.half, device=device).expand(2, 2, 8)
    with pytest.raises(ValueError, match="out"):
        pr.generate_inputs(**kw, out=expanded)


def test_strided_disjoint_out_is_accepted(device):
    big = torch.zeros(2, 2, 16, dtype=torch.half, device=device)
    kw = dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=8, seq_len=2,
              device=device, dtype=torch.half)
    pr.generate_inputs(**kw, out=big[:, :, 4:12])
    assert torch.equal(big[:, :, 4:12], pr.generate_inputs(**kw))


def test_views_of_one_numpy_buffer_are_refused():
    """Two tensors made from one NumPy buffer have storages of their own: the op compares memory
    ranges, so overlapping views are refused (storage identity would pass them, and both results
    would be wrong)."""
    np = pytest.importorskip("numpy")
    buf = np.arange(40, dtype=np.float32) / 40
    h, r = torch.from_numpy(buf[:32]).view(4, 8), torch.from_numpy(buf[8:]).view(4, 8)
    with pytest.raises(ValueError, match="share memory"):
        pr.apply_householder_pair_(h, r, unit(8))
    h3, r3 = h.view(4, 1, 8), r.view(4, 1, 8)
    with pytest.raises(ValueError, match="out and residual share memory"):
        OPS.reflect_rows(h3, h3, r3, r3, unit(8).view(1, 8), None, None, "once")
    assert torch.equal(torch.from_numpy(buf), torch.arange(40, dtype=torch.float32) / 40)  # untouched
