"""The layout's promise: seed-string formats live in the protocol layers only.

The generic ops (pocrand_ext/seeds.py, streams.py, sort.py, householder.py, reduce.py, ...) take
seeds, sizes and tensors; which string seeds which tensor is written in one place per protocol
generation, pocrand_ext/protocols/, and C++ gets the strings' parts as arguments. These tests read the
sources and fail when a seed-string fragment ("_nonce{", "}_target", "_pick_", ...) appears
anywhere else, docstrings and comments included, so that a reader finds a format in one place.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pocrand_ext"

# The fragments the protocols' seed strings are made of, where they follow a formatted value or
# open a string: '}_nonce', '"_permutations"', '}_target', '}_layer_', '"_pick_', ... (an op or
# function name such as "pocrand::normal_nonces" or "generate_target" is not one: a letter comes
# first), and "_haar_hh_" anywhere.
_WORDS = r"_nonce|_target|_layer_|_householder|_permutations|_pick_"
SEED_FRAGMENT = re.compile(rf"""[}}"'](?:{_WORDS})|_haar_hh_""")


def _allowed_python(path: Path) -> bool:
    """protocols/<generation>/: the protocol layers, their drop-ins and their restatements of the
    deployed modules (reference.py). The old import paths of these (pocrand_ext/gpu_random.py,
    gonka_poc/, reference_gonka.py, ...) are re-exports, scanned like any other module."""
    return path.relative_to(PACKAGE).parts[0] == "protocols"


def _offences(paths) -> list[str]:
    found = []
    for path in paths:
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if SEED_FRAGMENT.search(line):
                found.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    return found


@pytest.mark.parametrize("text", [
    'f"{block_hash}_{public_key}_nonce{nonce}"', 'f"{bh}_{pk}_nonce_"', '"_permutations"',
    'f"{block_hash}_target"', 'f"{bh}_layer_{i}_householder"', 'f"_pick_{k}"',
    '"_haar_hh_" + str(k)', 'prefix + "_pick_" + std::to_string(k)', 's + "_target"',
])
def test_the_scan_sees_each_seed_format(text):
    assert SEED_FRAGMENT.search(text), text


@pytest.mark.parametrize("text", [
    '@torch.library.register_fake("pocrand::normal_nonces")', "check_nonces(nonces)",
    '"generate_target"', '"target_dtype"', 'torch.ops.pocrand.householder_.default(x, v)',
    '"pocrand::unit_vectors_nonces"', "def _nonces_one_by_one(nonces):", '"householder"',
])
def test_the_scan_passes_names_that_are_no_seed_format(text):
    assert not SEED_FRAGMENT.search(text), text


def test_python_seed_formats_live_in_the_protocol_layers():
    paths = [p for p in sorted(PACKAGE.rglob("*.py")) if not _allowed_python(p)]
    assert any(p.name == "streams.py" for p in paths)  # the scan covers the generic ops
    assert any(p.name == "round_decode.py" for p in paths)  # and the decode round (protocol calls)
    assert any(p.name == "reference_gonka.py" for p in paths)  # an old path: a re-export only
    assert not any(p.parts[-2:] == ("gonka_poc", "reference.py") for p in paths)  # the plugin's
    assert _offences(paths) == []


def test_cpp_holds_no_seed_format():
    """C++ is generic: every seed string reaches it as a prefix and suffixes built in Python."""
    csrc = ROOT / "csrc"
    paths = [p for p in sorted(csrc.rglob("*")) if p.suffix in (".h", ".cuh", ".cpp", ".cu")]
    assert any(p.name == "seeds.cpp" for p in paths)
    assert not (csrc / "protocols").exists()
    assert _offences(paths) == []


def test_protocols_package_lists_no_generation():
    """A new generation is one more module in protocols/: the package imports none of them."""
    text = (PACKAGE / "protocols" / "__init__.py").read_text()
    assert not re.search(r"^\s*(from|import)\s", text, re.M)


def test_every_subpackage_is_packaged():
    """A protocol layer or drop-in subpackage reaches the wheel without editing pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")
    setuptools = pytest.importorskip("setuptools")
    setuptools_table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    find = setuptools_table["packages"]["find"]
    packaged = set(setuptools.find_packages(str(ROOT), include=find["include"]))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert "pocrand_ext.protocols" in on_disk
    assert on_disk <= packaged
