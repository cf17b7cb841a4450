"""The committed known answers: reproduced by the kernels on every device, and a one-bit change in
any op's output is caught by the check that `pocrand check` runs.

The digests were written by tests/make_known_answers.py from the NumPy spec, so
test_numpy_spec_reproduces_the_file only shows that the file and the spec have not drifted apart;
the outside oracles are tests/test_spec_oracle.py (the spec against facts that owe nothing to
it) and test_reference_compat.py (the deployed code reproduces the digests of its exact ops).
"""
from __future__ import annotations

import hashlib
import random

import pytest
import torch

from pocrand_ext.cli import check as cli
from pocrand_ext import known_answers
import make_known_answers

CASES = known_answers.load_cases()
OPS = sorted({c.op for c in CASES})


def case_id(case: known_answers.Case) -> str:
    """Stable across processes (no hash() of objects): the op and a digest of its arguments."""
    return f"{case.op}-{hashlib.sha256(case.label().encode()).hexdigest()[:8]}"


def test_case_ids_are_unique():
    assert len({case_id(c) for c in CASES}) == len(CASES)


def test_file_covers_the_grid():
    grid = make_known_answers.grid()
    assert len(CASES) == len(grid) >= 40
    assert [(c.op, c.args) for c in CASES] == grid
    assert set(OPS) == {"seed_from_string", "murmur3_32", "uniform", "normal", "inputs",
                        "permutations", "target", "distances", "seed_words", "inputs_concat",
                        "unit_vectors", "target_v2", "householder", "pick_indices", "haar_rotate",
                        "artifacts", "step_seeds", "step_normal", "hash_mod", "forced_logits",
                        "pseudo_input_ids", "route_base_seeds", "decode_pick",
                        "decode_pick_string", "snap", "reflect_rows", "embed_synth",
                        "router_override", "fused_add_rms_norm_reflect"}


def test_numpy_spec_reproduces_the_file():
    """The file and the spec it was generated from have not drifted apart."""
    for case in CASES:
        out = make_known_answers.spec_output(case.op, case.args)
        assert hashlib.sha256(make_known_answers.le_bytes(out)).hexdigest() == case.digest, case.label()


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_kernels_reproduce_the_file(case, device):
    got = known_answers.digest(known_answers.compute(case.op, case.args, device))
    assert got == case.digest, case.label()


@pytest.fixture(scope="module")
def cpu_outputs():
    return {case.label(): known_answers.compute(case.op, case.args, "cpu") for case in CASES}


def flip_one_bit(t: torch.Tensor, rnd: random.Random) -> torch.Tensor:
    """A copy of t with one bit, at a position drawn from rnd, inverted."""
    out = t.clone().contiguous()
    raw = out.view(-1).view(torch.uint8)
    i = rnd.randrange(raw.numel())
    raw[i] ^= 1 << rnd.randrange(8)
    return out


@pytest.mark.parametrize("op", OPS)
def test_the_check_catches_one_flipped_bit_in_each_op(op, cpu_outputs, monkeypatch, capsys):
    """`pocrand check` (cli.check_known_answers) run over outputs in which one bit of every case
    of `op` is flipped: it fails, and it names exactly those cases."""
    rnd = random.Random(f"flip {op}")  # str seeds are hashed by SHA-512, not by hash()
    mutated = {case.label() for case in CASES if case.op == op}

    def compute(case_op, args, device):
        label = known_answers.Case(case_op, args, "").label()
        out = cpu_outputs[label]
        return flip_one_bit(out, rnd) if label in mutated else out

    monkeypatch.setattr(known_answers, "compute", compute)
    monkeypatch.setattr(cli, "devices", lambda: [torch.device("cpu")])
    assert cli.check_known_answers() is False
    report = capsys.readouterr().out
    named = {line.split("mismatch: ", 1)[1] for line in report.splitlines() if "mismatch: " in line}
    assert named == mutated
    assert f"{len(CASES) - len(mutated)}/{len(CASES)} known answers match  [MISMATCH]" in report


def test_the_check_passes_on_the_unchanged_outputs(cpu_outputs, monkeypatch, capsys):
    monkeypatch.setattr(known_answers, "compute",
                        lambda op, args, device: cpu_outputs[known_answers.Case(op, args, "").label()])
    monkeypatch.setattr(cli, "devices", lambda: [torch.device("cpu")])
    assert cli.check_known_answers() is True
    assert f"{len(CASES)}/{len(CASES)} known answers match  [OK]" in capsys.readouterr().out
