"""The C++ layout's promises, read from the sources: CPU kernels without torch, each topic's ops
bound in one file of csrc/bind/, and the known-answer driver (CMakeLists.txt and .ci/run's
contracted aarch64 build) linking every torch-free CPU kernel file, so that the three CI
toolchains check the CPU code that ships."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU = ROOT / "csrc" / "cpu"
TORCH_INCLUDE = re.compile(r'#include\s*[<"](ATen|torch|c10)/')


def test_cpu_kernels_include_no_torch():
    files = [p for p in sorted(CPU.iterdir()) if p.suffix in (".h", ".cpp")]
    assert len(files) > 20
    assert [p.name for p in files if TORCH_INCLUDE.search(p.read_text())] == []


def test_the_known_answer_driver_links_every_torch_free_kernel_file():
    free = {f"csrc/cpu/{p.name}" for p in sorted(CPU.glob("*.cpp"))
            if not TORCH_INCLUDE.search(p.read_text())}
    cmake = (ROOT / "CMakeLists.txt").read_text()
    listed = re.search(r"set\(POCRAND_CPU_KERNELS([^)]*)\)", cmake).group(1).split()
    assert set(listed) == free
    ci = (ROOT / ".ci" / "run").read_text()
    contracted = re.search(r"aarch64-linux-gnu-g\+\+ [^\n]*known_answers\.cpp \\\n(.*?)-o build/known_answers_contracted",
                           ci, re.S).group(1)
    assert set(contracted.replace("\\", " ").split()) == free


def test_each_bound_op_is_declared_in_its_topic_file():
    """A schema lives next to its implementations: every m.def in csrc/bind/<topic>.cpp has its
    CPU (or, for the host-only seed ops, CompositeExplicitAutograd) registration in the same file,
    and csrc/ops.cpp declares nothing but build_info."""
    blocks = r"TORCH_LIBRARY_IMPL\(pocrand, (?:CPU|CompositeExplicitAutograd), m\) \{(.*?)\n\}"
    for path in sorted((ROOT / "csrc" / "bind").glob("*.cpp")):
        text = path.read_text()
        defined = set(re.findall(r'm\.def\("(\w+)\(', text))
        cpu = set(re.findall(r'm\.impl\("(\w+)"', "".join(re.findall(blocks, text, re.S))))
        assert defined and defined <= cpu, path.name
    assert re.findall(r'm\.def\("(\w+)\(', (ROOT / "csrc" / "ops.cpp").read_text()) == ["build_info"]
