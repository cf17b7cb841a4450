"""setup.py's decisions, without building: CUDA or not, the default arch list, the host
compiler check; and the arch examples of the docs (each keeps +PTX on its newest entry)."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NVCC_13 = {"7.5", "8.0", "8.6", "8.7", "8.8", "8.9", "9.0", "10.0", "10.3", "11.0", "12.0", "12.1"}
NVCC_12_4 = {"5.0", "5.2", "5.3", "6.0", "6.1", "6.2", "7.0", "7.2", "7.5", "8.0", "8.6", "8.7",
             "8.9", "9.0"}


@pytest.fixture
def setup_py(monkeypatch):
    """setup.py as a module (setup() itself only runs as __main__)."""
    monkeypatch.delenv("POCRAND_CUDA", raising=False)
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST", raising=False)
    spec = importlib.util.spec_from_file_location("pocrand_setup", ROOT / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cuda_torch(monkeypatch, setup_py, nvcc: str | None):
    monkeypatch.setattr(setup_py.torch.version, "cuda", "12.8")
    monkeypatch.setattr(setup_py, "nvcc_path", lambda: nvcc)


def test_cuda_torch_without_nvcc_fails_and_names_the_fix(monkeypatch, setup_py):
    cuda_torch(monkeypatch, setup_py, None)
    with pytest.raises(SystemExit) as e:
        setup_py.want_cuda()
    msg = str(e.value)
    assert "CUDA 12.8 build" in msg and "no CUDA compiler" in msg
    assert "CUDA toolkit 12.8" in msg and "CUDA_HOME" in msg and "POCRAND_CUDA=0" in msg


def test_cpu_only_on_request(monkeypatch, setup_py):
    cuda_torch(monkeypatch, setup_py, None)
    monkeypatch.setenv("POCRAND_CUDA", "0")
    assert setup_py.want_cuda() is False


def test_cuda_when_torch_and_nvcc_are_there(monkeypatch, setup_py):
    cuda_torch(monkeypatch, setup_py, "/usr/local/cuda/bin/nvcc")
    assert setup_py.want_cuda() is True


def test_forced_cuda_without_nvcc_fails(monkeypatch, setup_py):
    cuda_torch(monkeypatch, setup_py, None)
    monkeypatch.setenv("POCRAND_CUDA", "1")
    with pytest.raises(SystemExit, match="POCRAND_CUDA=1"):
        setup_py.want_cuda()


def test_cpu_torch_builds_cpu_only(monkeypatch, setup_py):
    monkeypatch.setattr(setup_py.torch.version, "cuda", None)
    assert setup_py.want_cuda() is False


@pytest.mark.parametrize("supported,want", [
    (NVCC_13, "7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX"),
    (NVCC_12_4, "7.5;8.0;8.6;8.9;9.0+PTX"),  # an nvcc without Blackwell: PTX on 9.0
])
def test_default_arch_list(setup_py, supported, want):
    assert setup_py.default_arch_list(supported) == want


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc here")
def test_default_arch_list_with_the_installed_nvcc(monkeypatch, setup_py):
    monkeypatch.setattr(setup_py, "CUDA_HOME", str(Path(shutil.which("nvcc")).parent.parent))
    archs = setup_py.default_arch_list(setup_py.nvcc_supported_archs()).split(";")
    assert archs[-1].endswith("+PTX") and sum(a.endswith("+PTX") for a in archs) == 1
    assert {"8.0", "9.0"} <= {a.removesuffix("+PTX") for a in archs}


def test_requested_arch_list_is_kept_and_warned_without_ptx(monkeypatch, setup_py, capsys):
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "8.0 9.0")
    assert setup_py.cuda_arch_list() == "8.0;9.0"
    assert "no +PTX" in capsys.readouterr().out
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "8.0;9.0+PTX")
    assert setup_py.cuda_arch_list() == "8.0;9.0+PTX"
    assert "no +PTX" not in capsys.readouterr().out


def test_host_compiler_check(setup_py, tmp_path):
    for cxx in ("c++", "g++", "clang++"):
        if shutil.which(cxx):
            setup_py.check_fp_contract_off(shutil.which(cxx))  # accepted
    fake = tmp_path / "oldcc"  # a compiler that knows no -ffp-contract
    fake.write_text("#!/bin/sh\necho \"oldcc: unrecognized option '-ffp-contract=off'\" >&2\n"
                    "exit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(SystemExit) as e:
        setup_py.check_fp_contract_off(str(fake))
    assert "oldcc" in str(e.value) and "rejects -ffp-contract=off" in str(e.value)


def test_doc_arch_examples_keep_ptx_on_the_newest_entry():
    """Every TORCH_CUDA_ARCH_LIST example in README.md and docs/ ends with +PTX, so a card newer
    than the list (an RTX 50 for an "8.0;9.0" build) JIT-compiles instead of failing."""
    found = 0
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for m in re.finditer(r"TORCH_CUDA_ARCH_LIST=[\"']?([0-9][0-9.;+ aPTX]*)", path.read_text()):
            entries = m.group(1).strip().replace(" ", ";").split(";")
            assert entries[-1].endswith("+PTX"), f"{path.name}: {m.group(0)}"
            found += 1
    assert found > 0


def test_sdist_manifest_carries_the_build_inputs():
    """MANIFEST.in takes every file under csrc/ (headers and .cu files are not listed by
    setuptools as sources), so a wheel can be built from the sdist."""
    text = (ROOT / "MANIFEST.in").read_text()
    assert re.search(r"^graft csrc$", text, re.M)
    for name in ("known_answers.txt", "SPEC.md"):
        assert name in text
    assert os.path.exists(ROOT / "csrc" / "core" / "sha256.h")


def test_build_stops_before_compiling_with_such_a_compiler(tmp_path):
    """The check is wired into build_ext: with CXX set to a compiler that rejects the flag, the
    build fails with the message, before any source is compiled."""
    fake = tmp_path / "oldc++"
    fake.write_text("#!/bin/sh\nfor a; do [ \"$a\" = -ffp-contract=off ] && exit 1; done\n"
                    "echo \"$@\" >> \"$(dirname \"$0\")/compiled\"\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "CXX": str(fake), "CC": str(fake), "POCRAND_CUDA": "0"}
    r = subprocess.run([sys.executable, "setup.py", "build_ext", "-b", str(tmp_path / "lib"),
                        "-t", str(tmp_path / "tmp")], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode != 0
    assert "rejects -ffp-contract=off" in r.stdout + r.stderr
    assert not (tmp_path / "compiled").exists()
