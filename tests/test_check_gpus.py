"""`pocrand check` on GPU nodes: which kernel image each card runs, and a non-zero exit when a GPU
is visible but cannot run pocrand's CUDA kernels. The GPU is faked by monkeypatching torch.cuda, so
these run on any machine."""
from __future__ import annotations

import pytest
import torch

from pocrand_ext import cli
from pocrand_ext.cli import check
from pocrand_ext import known_answers

DEFAULT = "cpu+cuda:7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX"
OLD_DOCS = "cpu+cuda:8.0;9.0"  # the README's former example: no PTX


@pytest.mark.parametrize("info,cap,want", [
    (DEFAULT, (9, 0), "sm_90 cubin"),
    (DEFAULT, (7, 5), "sm_75 cubin"),
    (DEFAULT, (8, 7), "sm_86 cubin"),               # a cubin runs on later minors
    (DEFAULT, (10, 3), "sm_100 cubin"),
    (DEFAULT, (12, 1), "sm_120 cubin"),
    (DEFAULT, (13, 0), "compute_120 PTX, JIT-compiled by the driver"),
    ("cpu+cuda:8.0;9.0+PTX", (12, 0), "compute_90 PTX, JIT-compiled by the driver"),
    ("cpu+cuda:8.0+PTX;9.0", (8, 9), "sm_80 cubin"),
    ("cpu+cuda:8.0+PTX;9.0", (10, 0), "compute_80 PTX, JIT-compiled by the driver"),
    ("cpu+cuda:9.0a", (9, 0), "sm_90a cubin"),
    (OLD_DOCS, (12, 0), None),                      # the RTX 50 case: "no kernel image"
    (OLD_DOCS, (7, 5), None),                       # T4: older than every entry
    ("cpu+cuda:9.0a+PTX", (10, 0), None),           # arch-specific PTX runs on 9.0 only
    ("cpu", (9, 0), None),
])
def test_kernel_image(info, cap, want):
    assert check.kernel_image(cap, info) == want


class FakeGpu:
    """torch.cuda as one visible card of compute capability `cap`."""

    def __init__(self, monkeypatch, cap, name="Fake GPU"):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: name)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: cap)


@pytest.fixture
def few_cases(monkeypatch):
    """Three known answers instead of all, to keep the CPU part of the check short."""
    cases = known_answers.load_cases()[:3]
    monkeypatch.setattr(known_answers, "load_cases", lambda: cases)


def test_check_fails_when_a_gpu_is_visible_and_the_build_is_cpu_only(monkeypatch, capsys,
                                                                    few_cases):
    FakeGpu(monkeypatch, (9, 0), "NVIDIA H200")
    monkeypatch.setattr(check.api, "build_info", lambda: "cpu")
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "1 CUDA GPU(s) visible (NVIDIA H200)" in out and "no CUDA kernels" in out
    assert "cpu (CPU): 3/3 known answers match" in out  # the CPU is still checked
    assert out.rstrip().endswith("FAILED: a visible GPU cannot run this build's kernels (see above)")


def test_check_fails_on_a_card_without_a_kernel_image(monkeypatch, capsys, few_cases):
    FakeGpu(monkeypatch, (12, 0), "NVIDIA GeForce RTX 5090")
    monkeypatch.setattr(check.api, "build_info", lambda: OLD_DOCS)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "cuda:0 (NVIDIA GeForce RTX 5090): sm_120, FAILED: no kernel image" in out
    assert "12.0" in out and "+PTX" in out  # names the fix
    assert check.devices() == [torch.device("cpu")]  # the card is not used


def test_check_reports_the_image_a_card_runs(monkeypatch, capsys):
    FakeGpu(monkeypatch, (12, 0), "NVIDIA GeForce RTX 5090")
    monkeypatch.setattr(check.api, "build_info", lambda: "cpu+cuda:8.0;9.0+PTX")
    assert check.check_gpus()
    assert "sm_120, runs the compute_90 PTX, JIT-compiled by the driver" in capsys.readouterr().out


def test_check_without_a_gpu_passes_on_a_cpu_build(monkeypatch, capsys, few_cases):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(check.api, "build_info", lambda: "cpu")
    assert cli.main(["check"]) == 0
    assert "all known answers match" in capsys.readouterr().out
