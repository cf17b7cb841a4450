"""The GPU verification scripts run what VERIFICATION.md says they run."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sanitize_runs_every_compute_sanitizer_tool():
    text = (ROOT / "scripts" / "sanitize.sh").read_text()
    tools = re.search(r"for tool in ([a-z ]+); do", text).group(1).split()
    assert tools == ["memcheck", "racecheck", "synccheck", "initcheck"]
    assert 'compute-sanitizer --tool "$tool"' in text


def test_gpu_verify_requires_cuda():
    text = (ROOT / "scripts" / "gpu_verify.sh").read_text()
    assert re.search(r"^export POCRAND_REQUIRE_CUDA=1\b", text, re.M)
