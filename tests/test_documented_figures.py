"""Documented numbers equal tested numbers: every figure of docs/guarantees.md, SPEC.md,
VERIFICATION.md and docs/integration.md that a test checks is rebuilt here from the constant that
test asserts with, and must appear in the document as written (the guarantees, then in README,
once said 3 ulp while their test allowed 8)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import test_accuracy as accuracy
import test_edge_cases as edges
import test_reference_compat as compat

ROOT = Path(__file__).resolve().parent.parent


def doc(name: str) -> str:
    """The document with line breaks and runs of spaces collapsed, as it reads."""
    return " ".join((ROOT / name).read_text(encoding="utf-8").split())


def test_compatibility_figures():
    guarantees = doc("docs/guarantees.md")
    assert (f"fp16 inputs identical on {compat.FP16_IDENTICAL:.3%} of elements and bf16 on "
            f"{compat.BF16_IDENTICAL:.4%}, never more than 1 ulp apart") in guarantees
    assert (f"fp32 inputs within {compat.FP32_MAX_ULP} ulp, {compat.FP32_IDENTICAL:.1%} identical"
            in guarantees)
    assert f"identical on {compat.FP16_IDENTICAL:.3%} of elements" in doc("docs/integration.md")
    for commit in ("9320b42fb", "5110f7fcf"):   # the deployed reference's commits
        assert commit in guarantees
        assert commit in (ROOT / "tests" / "reference_torch.py").read_text()
        assert commit in (ROOT / "tests" / "test_reference_compat.py").read_text()


def test_accuracy_figures():
    log, sin, cos = (accuracy.STATED[k] for k in ("log", "sin", "cos"))
    assert f"max {log:.3f} / {sin:.3f} / {cos:.3f} ulp" in doc("docs/guarantees.md")
    spec = doc("SPEC.md")
    assert f"max {log:.3f} ulp)" in spec and f"max {sin:.3f} ulp for sin, {cos:.3f} ulp for cos" in spec
    verification = doc("VERIFICATION.md")
    (log_at, log4), (sin_at, sin4), (cos_at, cos4) = (accuracy.WORST[k] for k in ("log", "sin", "cos"))
    assert f"log: max {log4:.4f} ulp" in verification
    assert f"sin: {sin4:.4f} ulp, cos: {cos4:.4f} ulp" in verification
    assert f"at {log_at}, {sin_at} and {cos_at}" in verification
    # ... over every float of the domains, whose sizes VERIFICATION.md gives too.
    bits = lambda x: int(np.float32(x).view(np.uint32))  # noqa: E731
    assert f"{bits(1.0) - bits(accuracy.MIN_U1) + 1:,} floats of [f32(1e−10), 1]" in verification
    assert f"{bits(accuracy.TWO_PI) + 1:,} floats of [0, f32(2π)]" in verification


def test_normal_and_target_figures():
    assert f"normals are finite, |x| < {edges.NORMAL_BOUND}" in doc("docs/guarantees.md")
    spec = doc("SPEC.md")
    assert f"finite, |out| < {edges.NORMAL_BOUND}." in spec
    assert f"for V ≤ 2 this happens with probability 2^−{-edges.U_ONE_LOG2_PROB} per block hash" in spec
