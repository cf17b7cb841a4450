"""scripts/kernel_sweep.py (the GPU verification's CPU == GPU sweep through the generating
kernels) run CPU against CPU at its tiny scale: it passes, its comparison sees every kind of bit
difference, and a single flipped bit in any op's output, in any section, fails the sweep."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import kernel_sweep as ks  # noqa: E402


def test_compare_sees_every_kind_of_bit_difference():
    x = torch.tensor([1.0, -0.0, float("nan"), 3.0])
    same = ks.Result()
    ks.compare(same, "same", x, x.clone())
    assert (same.checked, same.mismatched) == (4, 0)
    variants = [torch.tensor([1.0, 0.0, float("nan"), 3.0]),                   # -0 vs +0
                x.view(torch.int32).clone().index_fill_(0, torch.tensor([2]), 0x7FC00001).view(torch.float32),
                x.view(torch.int32).clone().index_fill_(0, torch.tensor([3]), 0x40400001).view(torch.float32)]
    for other in variants:
        res = ks.Result()
        ks.compare(res, "v", x, other)
        assert res.mismatched == 1 and res.first, other
    for got, want in ((x, x[:3]), (x, x.double()), (x.half(), x.bfloat16())):
        res = ks.Result()
        ks.compare(res, "shape or dtype", got, want)
        assert res.mismatched >= 1


def test_the_sweep_passes_cpu_against_cpu(capsys):
    assert ks.main(["--a", "cpu", "--b", "cpu", "--scale", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "KERNEL SWEEP PASSED" in out
    for section in ks.SECTIONS:
        assert f"{section}: " in out


class FlipOnA(ks.Sweep):
    """Flips one bit of the last element of every output computed on device `a`."""

    def call(self, device, op, *args):
        out = op(*args)
        if device is self.a:
            out = out.clone()
            raw = out.reshape(-1).view(torch.uint8)
            raw[-1] ^= 0x01
        return out


@pytest.mark.parametrize("section", ks.SECTIONS)
def test_a_flipped_bit_fails_the_section(section):
    report = ks.run(FlipOnA("cpu", "cpu", ks.SCALES["tiny"]), [section], out=lambda line: None)
    assert not report["ok"]
    assert report[section]["mismatched"] >= 1 and report[section]["first"]


def test_a_missing_gpu_is_reported_not_crashed(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert ks.main(["--scale", "tiny"]) == 2
    assert "needs a CUDA device" in capsys.readouterr().out
