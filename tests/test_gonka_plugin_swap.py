"""The vllm.general_plugins entry point that swaps an installed gonka-poc plugin's functions for
pocrand's drop-ins (issue: adoption without editing the plugin), on a stand-in package laid out
like the plugin: gonka_poc/poc/{gpu_random,decode_random,sphere,fused,data,validation}.py,
gonka_poc/mixed/runtime.py and a gonka_poc-<version>.dist-info."""
from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest

import pocrand_ext.gonka_poc as dropins
from pocrand_ext.integrate import gonka_plugin

ROOT = Path(__file__).resolve().parent.parent

STAND_IN = {
    "gonka_poc/__init__.py": "",
    "gonka_poc/poc/__init__.py": "",
    "gonka_poc/mixed/__init__.py": "",
    "gonka_poc/poc/gpu_random.py": "def generate_inputs(*a, **k):\n    return 'plugin'\n",
    "gonka_poc/poc/decode_random.py": "def random_pick_indices_decode_steps(*a, **k):\n"
                                      "    return 'plugin'\n",
    "gonka_poc/poc/fused.py": "def enabled():\n    return 'plugin'\n",
    "gonka_poc/poc/sphere.py": "SPHERE_DIM = 256\n"
                               "def get_sphere_codebook(path=None):\n    return 'plugin'\n"
                               "def snap_with_scores(q, cb):\n    return 'plugin'\n",
    "gonka_poc/poc/data.py": "def encode_vector(v):\n    return 'plugin'\n"
                             "def decode_vector(b):\n    return 'plugin'\n"
                             "def fraud_test(*a):\n    return 'plugin'\n",
    "gonka_poc/poc/validation.py": "from .data import decode_vector\nVECTOR_STEP_TOL = 0.01\n"
                                   "def score_vector_channel(c, r):\n    return 'plugin'\n"
                                   "def run_validation():\n    return decode_vector('')\n",
    "gonka_poc/mixed/runtime.py": "def encode_sph_slices(*a):\n    return 'plugin'\n"
                                  "def keep_q_step(step, debug, va_on):\n    return 'plugin'\n",
}


def stand_in(tmp_path, monkeypatch, version):
    for rel, text in STAND_IN.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    if version is not None:
        meta = tmp_path / f"gonka_poc-{version}.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: gonka-poc\nVersion: {version}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n == "gonka_poc" or n.startswith("gonka_poc.")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.fixture(autouse=True)
def _forget_stand_in(monkeypatch):
    yield
    for name in [n for n in sys.modules if n == "gonka_poc" or n.startswith("gonka_poc.")]:
        del sys.modules[name]


def test_without_the_opt_in_nothing_is_imported_or_swapped(tmp_path, monkeypatch):
    stand_in(tmp_path, monkeypatch, "0.2.0")
    monkeypatch.delenv(gonka_plugin.ENV, raising=False)
    gonka_plugin.register()
    assert "gonka_poc" not in sys.modules
    from gonka_poc.poc import data
    assert data.encode_vector(None) == "plugin"


def test_a_verified_version_is_swapped_and_logged(tmp_path, monkeypatch, caplog):
    stand_in(tmp_path, monkeypatch, "0.2.0")
    monkeypatch.setenv(gonka_plugin.ENV, "1")
    from gonka_poc.poc import validation   # bound decode_vector at import, before the swap
    with caplog.at_level(logging.INFO, logger=gonka_plugin.__name__):
        gonka_plugin.register()
    from gonka_poc.mixed import runtime
    from gonka_poc.poc import data, decode_random, fused, gpu_random, sphere
    assert data.encode_vector is dropins.data.encode_vector
    assert data.decode_vector is dropins.data.decode_vector
    assert validation.decode_vector is dropins.data.decode_vector      # rebound in its importer
    assert validation.score_vector_channel is dropins.validation.score_vector_channel
    assert runtime.encode_sph_slices is dropins.runtime.encode_sph_slices
    assert decode_random.random_pick_indices_decode_steps is \
        dropins.decode_random.random_pick_indices_decode_steps
    assert gpu_random.generate_inputs is dropins.gpu_random.generate_inputs
    assert fused.enabled is dropins.fused.enabled
    assert sphere.snap_with_scores is dropins.sphere.snap_with_scores
    # what pocrand does not provide, and the codebook loader, stay the plugin's
    assert data.fraud_test() == runtime.keep_q_step(0, 0, 0) == "plugin"
    assert sphere.get_sphere_codebook() == "plugin" and validation.VECTOR_STEP_TOL == 0.01
    text = caplog.text
    assert "gonka_poc.poc.data: 2 functions now pocrand's: encode_vector, decode_vector" in text
    assert "swapped 8 functions of gonka-poc 0.2.0 in 7 modules" in text


def test_an_unverified_version_is_refused_loudly_and_nothing_changes(tmp_path, monkeypatch, caplog):
    stand_in(tmp_path, monkeypatch, "0.3.0")
    monkeypatch.setenv(gonka_plugin.ENV, "1")
    with caplog.at_level(logging.INFO, logger=gonka_plugin.__name__):
        gonka_plugin.register()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "REFUSING" in errors[0].getMessage()
    assert "0.3.0" in errors[0].getMessage() and "0.2.0" in errors[0].getMessage()
    from gonka_poc.poc import data
    assert data.encode_vector(None) == "plugin"


def test_no_plugin_installed_is_a_warning(tmp_path, monkeypatch, caplog):
    stand_in(tmp_path, monkeypatch, None)
    monkeypatch.setenv(gonka_plugin.ENV, "1")
    with caplog.at_level(logging.INFO, logger=gonka_plugin.__name__):
        gonka_plugin.register()
    assert "not installed: nothing swapped" in caplog.text and "gonka_poc" not in sys.modules


def test_the_entry_point_is_declared_in_vllms_group():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = meta["project"]["entry-points"]["vllm.general_plugins"]["pocrand"]
    module, func = target.split(":")
    assert getattr(__import__(module, fromlist=[func]), func) is gonka_plugin.register
