"""POCRAND_REQUIRE_CUDA=1 turns every skip for want of CUDA into a failure, and adds the CUDA
parametrisation of the `device` fixture even where CUDA is missing (so that a GPU node whose
build came out CPU-only fails the suite instead of passing it by skipping)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HAS_CUDA

ROOT = Path(__file__).resolve().parent.parent


def run(require: str | None):
    env = {k: v for k, v in os.environ.items() if k != "POCRAND_REQUIRE_CUDA"}
    if require is not None:
        env["POCRAND_REQUIRE_CUDA"] = require
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           "-rfs", "tests/test_batched_murmur3.py", "-k", "cuda_equals_cpu or float_seeds"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(HAS_CUDA, reason="CUDA is here: there is no CUDA skip to turn into a failure")
def test_cuda_skips_fail_when_cuda_is_required():
    plain = run(None)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "1 passed, 1 skipped" in plain.stdout, plain.stdout
    required = run("1")
    assert required.returncode == 1, required.stdout + required.stderr
    out = required.stdout
    assert "POCRAND_REQUIRE_CUDA=1, but this CUDA test was skipped" in out, out
    assert "test_cuda_equals_cpu" in out and "test_float_seeds_are_refused[cuda]" in out, out
    summary = out.strip().splitlines()[-1]
    # a skip at setup (a skipif mark) is reported as an error, one in the test as a failure
    assert "skipped" not in summary and "1 passed" in summary, summary
