"""What the source distribution carries and how the package describes itself: the sdist ships
the test suite's helpers (so that `pytest tests` runs in it), the license is an SPDX string, and
the sources name only files that exist."""
from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None


@pytest.fixture(scope="module")
def sdist_members(tmp_path_factory):
    out = tmp_path_factory.mktemp("sdist")
    code = f"from setuptools import build_meta; build_meta.build_sdist({str(out)!r})"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (archive,) = out.glob("pocrand-*.tar.gz")
    with tarfile.open(archive) as tar:
        return {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}


def test_sdist_ships_the_test_helpers(sdist_members):
    for helper in ("conftest.py", "spec_numpy/__init__.py", "reference_torch.py",
                   "make_known_answers.py"):
        assert f"tests/{helper}" in sdist_members, helper
    tracked = subprocess.run(["git", "ls-files", "tests", "csrc"], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    if tracked:  # in a git checkout: every tracked test and source file still in the tree
        assert {f for f in tracked if (ROOT / f).is_file()} - sdist_members == set()


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_license_is_an_spdx_string():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "Apache-2.0"
    setuptools_req = [r for r in meta["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools_req == ["setuptools>=77"]  # the first to read an SPDX license string


def test_sources_name_only_files_that_exist():
    for path in sorted((ROOT / "csrc").rglob("*")):
        if path.suffix not in (".cpp", ".cu", ".h", ".cuh"):
            continue
        for ref in re.findall(r"(?<![/<\w])((?:cpu|cuda|core)/\w+\.(?:cpp|cu|cuh|h))\b",
                              path.read_text()):
            assert (ROOT / "csrc" / ref).exists(), f"{path.relative_to(ROOT)} names csrc/{ref}"
