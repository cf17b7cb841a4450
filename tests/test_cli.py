"""The node operator's command line: pocrand check / digest / bench."""
from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pocrand_ext import cli
from pocrand_ext.cli import digest
from pocrand_ext import known_answers
import spec_numpy as spec


def run(*args):
    return subprocess.run([sys.executable, "-m", "pocrand_ext", *args], capture_output=True,
                          text=True, timeout=600)


def test_check_passes_and_names_devices():
    r = run("check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pocrand-v1" in r.stdout and "cpu: CPU" in r.stdout
    assert "known answers match  [OK]" in r.stdout


def test_check_fails_on_a_wrong_answer(monkeypatch, capsys):
    cases = known_answers.load_cases()[:3]
    bad = known_answers.Case(cases[0].op, cases[0].args, "0" * 64)
    monkeypatch.setattr(known_answers, "load_cases", lambda: [bad] + cases[1:])
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "expected " + "0" * 64 in out


def test_digest_equals_the_numpy_spec():
    r = run("digest", "--block-hash", "abc", "--public-key", "pk", "--nonces=-2-1",
            "--dim", "8", "--seq-len", "3", "--vocab-size", "1000", "--dtype", "bfloat16")
    assert r.returncode == 0, r.stderr
    got = {line.split()[0]: line.split()[1] for line in r.stdout.splitlines()}
    nonces = [-2, -1, 0, 1]

    def sha(a):
        return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()

    want = {"inputs": sha(spec.generate_inputs("abc", "pk", nonces, 8, 3, "bfloat16")),
            "permutations": sha(spec.generate_permutations("abc", "pk", nonces, 1000)),
            "target": sha(spec.generate_target("abc", 1000))}
    for name, d in want.items():
        assert got[name] == d, name
    combined = hashlib.sha256("".join(want[k] for k in ("inputs", "permutations", "target"))
                              .encode()).hexdigest()
    assert got["all"] == combined


@pytest.mark.parametrize("args,words", [
    (["--nonces", "x", "--dim", "2", "--seq-len", "2"], "--nonces"),
    (["--nonces", "5-1", "--dim", "2", "--seq-len", "2"], "--nonces"),
    (["--nonces", "0-3"], "--dim"),
    (["--nonces", "0", "--dim", "0", "--seq-len", "2"], "dim"),
    (["--nonces", "0", "--vocab-size", "10", "--device", "tpu"], "device"),
    (["--nonces", "0", "--vocab-size", "10", "--dtype", "int8"], "--dtype"),
])
def test_digest_rejects_bad_arguments(args, words):
    r = run("digest", "--block-hash", "b", "--public-key", "p", *args)
    assert r.returncode != 0
    assert words in r.stderr


def test_nonce_ranges_parse():
    assert digest.parse_nonces("0-3") == [0, 1, 2, 3]
    assert digest.parse_nonces("-3--1,7") == [-3, -2, -1, 7]
    assert digest.parse_nonces("5") == [5]


def test_bench_prints_a_line_per_device():
    r = run("bench")
    assert r.returncode == 0, r.stderr
    assert "M elements/s" in r.stdout


def test_console_script_and_help():
    try:
        dist = importlib.metadata.distribution("pocrand")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("pocrand is not pip-installed here (built in place), so it has no script")
    if shutil.which("pocrand") is None and dist.read_text("RECORD") is None:
        # metadata without pip's RECORD: the egg-info of an in-place build, which installs no script
        pytest.skip("pocrand's metadata comes from an in-place build, not pip: it has no script")
    exe = shutil.which("pocrand")
    assert exe, "pocrand is installed but its console script is not on PATH"
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "digest" in r.stdout and "check" in r.stdout
