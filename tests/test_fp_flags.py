"""Flush-to-zero and fast-math are caught: the build flags (setup.py and CMakeLists.txt) keep
subnormals and separate multiply-adds on the host and the device, and the known answers include
Householder cases whose products are subnormal, so that a flushing build fails `pocrand check`
(its digests derived, like all of them, from the NumPy spec)."""
from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

import make_known_answers as mka
import spec_numpy as spec
from pocrand_ext import known_answers

ROOT = Path(__file__).resolve().parent.parent
FAST = re.compile(r"(?<!no-)fast-math|use_fast_math|-Ofast|--ftz=true|-fmad=true|ffp-contract=fast")
MIN_NORMAL = np.float32(2.0**-126)


def check_flags(host: list[str], nvcc: list[str]) -> None:
    assert "-ffp-contract=off" in host, host
    for f in ("--ftz=false", "-fmad=false", "--prec-div=true", "--prec-sqrt=true"):
        assert f in nvcc, (f, nvcc)
    joined = " ".join(nvcc)
    assert re.search(r"-Xcompiler[ =]-ffp-contract=off", joined), nvcc
    for flag in host + nvcc:
        assert not FAST.search(flag), flag


def test_setup_py_flags(monkeypatch):
    spec_ = importlib.util.spec_from_file_location("pocrand_setup_flags", ROOT / "setup.py")
    setup_py = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(setup_py)
    seen = {}
    monkeypatch.setattr(setup_py, "want_cuda", lambda: True)
    monkeypatch.setattr(setup_py, "cuda_arch_list", lambda: "9.0+PTX")
    monkeypatch.setattr(setup_py, "CUDAExtension", lambda *a, **k: seen.update(k))
    setup_py.extension()
    args = seen["extra_compile_args"]
    check_flags(args["cxx"], args["nvcc"])


def test_cmake_flags():
    text = (ROOT / "CMakeLists.txt").read_text()
    host = re.search(r"set\(POCRAND_HOST_FLAGS ([^)]*)\)", text).group(1).split()
    cuda = re.search(r"target_compile_options\(pocrand_cuda_kernels PRIVATE\s*"
                     r"\$<\$<COMPILE_LANGUAGE:CUDA>:([^>]*)>", text).group(1).split()
    check_flags(host, cuda)
    code = "\n".join(line.split("#")[0] for line in text.splitlines())  # without comments
    assert not FAST.search(code), FAST.search(code)


def test_the_flag_check_can_fail():
    good_host, good_nvcc = ["-O3", "-ffp-contract=off"], ["--ftz=false", "-fmad=false",
                                                           "--prec-div=true", "--prec-sqrt=true",
                                                           "-Xcompiler", "-ffp-contract=off"]
    check_flags(good_host, good_nvcc)
    for host, nvcc in ((good_host, good_nvcc + ["--use_fast_math"]),
                       (good_host + ["-ffast-math"], good_nvcc),
                       (good_host, [f for f in good_nvcc if f != "--ftz=false"]),
                       (good_host, [f for f in good_nvcc if f != "-fmad=false"]),
                       ([f for f in good_host if f != "-ffp-contract=off"], good_nvcc)):
        with pytest.raises(AssertionError):
            check_flags(host, nvcc)


def _ftz(a: np.ndarray) -> np.ndarray:
    """a with its subnormals flushed to (signed) zero, as FTZ/DAZ hardware does."""
    return np.where(np.abs(a) < MIN_NORMAL, np.copysign(np.float32(0), a), a).astype(np.float32)


def _householder_flushed(a: dict) -> np.ndarray:
    """SPEC.md 9.3 computed the way a flushing build computes it: every product's subnormal
    result (and subnormal input) flushed to zero."""
    x = _ftz(spec._widen(mka.householder_x(a)))
    if a["per_row"]:
        v = spec.unit_vectors([(a["v_seed"] + r) % 2**32 for r in range(a["rows"])], a["dim"])
    else:
        v = np.broadcast_to(spec.unit_vector(a["v_seed"], a["dim"]), x.shape)
    v = _ftz(spec._widen(mka._round(v, a["dtype"])))
    with np.errstate(under="ignore"):
        dot = spec._tree_sum_rows(_ftz(x * v))
        y = x - _ftz((np.float32(2) * dot)[:, None] * v)
    return spec._deliver_canonical(_ftz(y.astype(np.float32)), a["dtype"])


SUBNORMAL_CASES = [c for c in known_answers.load_cases() if "x_scale_exp" in c.args]


def test_there_are_subnormal_cases():
    assert {(c.args["dtype"], c.args["per_row"]) for c in SUBNORMAL_CASES} == {
        ("float32", False), ("bfloat16", False), ("float32", True)}


@pytest.mark.parametrize("case", SUBNORMAL_CASES, ids=lambda c: f"{c.args['dtype']}-{c.args['per_row']}")
def test_a_flushing_build_fails_the_subnormal_known_answers(case):
    a = case.args
    x = spec._widen(mka.householder_x(a))
    assert np.abs(x).min() >= MIN_NORMAL  # the inputs are normal floats ...
    v = spec.unit_vector(a["v_seed"], a["dim"])
    products = np.abs(x * v)
    assert (products < MIN_NORMAL).sum() >= 100  # ... and many of their products subnormal
    flushed = hashlib.sha256(mka.le_bytes(_householder_flushed(a))).hexdigest()
    assert flushed != case.digest
    # the spec itself reproduces the committed digest, so the difference is the flushing's
    assert hashlib.sha256(mka.le_bytes(mka.spec_output(case.op, a))).hexdigest() == case.digest
