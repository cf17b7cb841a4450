"""The CPU kernels take memory in proportion to their tensors, not to a float32 copy of each row
per thread: a long 16-bit row is reflected without row-sized float buffers, and a permutation row
is sorted in its own output row. Measured as the peak resident memory a subprocess gains while
the op runs (its inputs allocated before)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MEASURE = """
import resource, sys, torch
import pocrand_ext as pr
torch.set_num_threads(2)
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
what, n = sys.argv[1], int(sys.argv[2])
if what == "householder":
    x = torch.ones(1, n, dtype=torch.float16)
    v = torch.zeros(n, dtype=torch.float16); v[0] = 1
    before = peak()
    pr.apply_householder_(x, v)
    assert x[0, 0].item() == -1 and x[0, 1].item() == 1
else:
    before = peak()
    p = pr.generate_permutations("bh", "pk", [0], n)
    assert p.shape == (1, n)
print(peak() - before)
"""


def gained(what: str, n: int) -> int:
    r = subprocess.run([sys.executable, "-c", MEASURE, what, str(n)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return int(r.stdout.split()[-1])


def test_a_long_fp16_row_is_reflected_without_float_copies():
    n = 1 << 26  # 128 MB of fp16; a float32 copy of x, of v or of the products is 256 MB each
    assert gained("householder", n) < 64 << 20


def test_a_permutation_row_is_sorted_in_place():
    n = 1 << 24  # the output is 128 MB; a uint64 buffer beside it would be another 128 MB
    assert gained("permutations", n) < (128 << 20) + (48 << 20)
