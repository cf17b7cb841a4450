"""Shared fixtures: the devices to test on (the CPU always, every CUDA device when present)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import pocrand_ext

sys.path.insert(0, str(Path(__file__).resolve().parent))

HAS_CUDA = torch.cuda.is_available() and "cuda" in pocrand_ext.build_info()
requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device and a CUDA build")

DEVICES = ["cpu"] + (["cuda"] if HAS_CUDA else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def randn(*shape, seed: int = 0, device="cpu") -> torch.Tensor:
    """Reproducible standard normals from a private generator: the global RNG's state depends on
    which tests ran before in the process, and that differs between runs and xdist workers."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(device)


def as_bits(t: torch.Tensor) -> torch.Tensor:
    """Integer view of a tensor, so equality means bit equality (NaN == NaN, -0 != +0)."""
    view = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}
    t = t.detach().cpu().contiguous()
    return t.view(view[t.dtype]) if t.dtype in view else t


def assert_bits_equal(a: torch.Tensor, b: torch.Tensor):
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    ba, bb = as_bits(a), as_bits(b)
    if not torch.equal(ba, bb):
        bad = (ba != bb).nonzero()
        at = tuple(bad[0].tolist())
        raise AssertionError(f"{bad.shape[0]} of {ba.numel()} elements differ; first at {at}: "
                             f"{a.detach().cpu()[at].item()!r} vs {b.detach().cpu()[at].item()!r}")
