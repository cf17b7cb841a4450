"""Shared fixtures: the devices to test on (the CPU always, every CUDA device when present)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import pocrand_ext

sys.path.insert(0, str(Path(__file__).resolve().parent))

import os

HAS_CUDA = torch.cuda.is_available() and "cuda" in pocrand_ext.build_info()
# Every skip for want of CUDA gives this reason. With POCRAND_REQUIRE_CUDA=1 (scripts/gpu_verify.sh
# sets it) such a skip is a failure, and the `device` fixture includes "cuda" even when CUDA is
# missing, so a GPU node whose build came out CPU-only (or whose GPU is not visible) cannot pass
# the suite by skipping its GPU half.
CUDA_SKIP_REASON = "needs a CUDA device and a CUDA build"
REQUIRE_CUDA = os.environ.get("POCRAND_REQUIRE_CUDA", "") == "1"
requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason=CUDA_SKIP_REASON)

DEVICES = ["cpu"] + (["cuda"] if HAS_CUDA or REQUIRE_CUDA else [])


def _why_no_cuda() -> str:
    return (f"torch.cuda.is_available() = {torch.cuda.is_available()}, pocrand build_info() = "
            f"{pocrand_ext.build_info()!r}")


def pytest_report_header(config):
    if REQUIRE_CUDA:
        return f"POCRAND_REQUIRE_CUDA=1: CUDA skips fail ({_why_no_cuda()})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_CUDA and report.skipped and not hasattr(report, "wasxfail") \
            and CUDA_SKIP_REASON in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = (f"POCRAND_REQUIRE_CUDA=1, but this CUDA test was skipped "
                           f"({CUDA_SKIP_REASON}): {_why_no_cuda()}")


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
