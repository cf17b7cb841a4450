"""The committed known answers: reproduced by the NumPy spec and by the kernels on every device."""
from __future__ import annotations

import hashlib

import pytest
import torch

from pocrand_ext import known_answers
import make_known_answers

CASES = known_answers.load_cases()


def test_file_covers_the_grid():
    grid = make_known_answers.grid()
    assert len(CASES) == len(grid) >= 40
    assert [(c.op, c.args) for c in CASES] == grid
    assert {c.op for c in CASES} == {"seed_from_string", "murmur3_32", "uniform", "normal",
                                     "inputs", "permutations", "target", "distances",
                                     "seed_words", "inputs_concat", "unit_vectors", "target_v2",
                                     "householder", "pick_indices", "haar_rotate", "artifacts"}


def test_numpy_spec_reproduces_the_file():
    """The digests are the spec's: the independent NumPy implementation gives each of them."""
    for case in CASES:
        out = make_known_answers.spec_output(case.op, case.args)
        assert hashlib.sha256(make_known_answers.le_bytes(out)).hexdigest() == case.digest, case.label()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.op}-{abs(hash(c.label())) % 10**6}")
def test_kernels_reproduce_the_file(case, device):
    got = known_answers.digest(known_answers.compute(case.op, case.args, device))
    assert got == case.digest, case.label()


def test_a_changed_bit_is_detected():
    case = next(c for c in CASES if c.op == "normal" and c.args["n"] > 1)
    out = known_answers.compute(case.op, case.args, "cpu").clone()
    out.view(torch.int32)[0] ^= 1
    assert known_answers.digest(out) != case.digest
