"""Bad input that used to fail with another library's message now names the argument: a meta
tensor or a 0-d array as nonces, and the verification stages outside their stated domains
(SPEC.md sections 3 and 4)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import stages

CALLS = {
    "generate_inputs": lambda n: pr.generate_inputs("bh", "pk", n, 4, 2),
    "generate_inputs_concat": lambda n: pr.generate_inputs_concat("bh", "pk", n, 4, 2),
    "generate_permutations": lambda n: pr.generate_permutations("bh", "pk", n, 8),
    "pick_indices": lambda n: pr.pick_indices("bh", "pk", n, 8, 2),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_meta_tensor_nonces(name):
    with pytest.raises(ValueError, match="nonces is a meta tensor"):
        CALLS[name](torch.tensor([0, 1], device="meta"))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_zero_dim_array_nonces(name):
    with pytest.raises(TypeError, match="nonces must be a 1-D sequence of ints, got a 0-d"):
        CALLS[name](np.array(5))
    # a 1-D array of ints stays accepted, and gives the rows of its values
    assert torch.equal(CALLS[name](np.array([5, 6])), CALLS[name]([5, 6]))


@pytest.mark.parametrize("value", [-1.0, 0.0, -0.0, float.fromhex("0x1p-127"), float("inf"),
                                   float("nan"), float("-inf")])
def test_log_outside_its_domain(value, device):
    x = torch.tensor([0.5, value, 2.0], device=device)
    with pytest.raises(ValueError, match=r"x\[1\] = .* is outside the domain of log"):
        stages.log(x)


def test_log_inside_its_domain(device):
    x = torch.tensor([float.fromhex("0x1p-126"), 1.0, float.fromhex("0x1.fffffep127")],
                     device=device)
    assert torch.isfinite(stages.log(x)).all()


@pytest.mark.parametrize("value", [-1e-30, -0.5, 8.0, 100.0, float("nan"), float("inf")])
def test_sincos_outside_its_domain(value, device):
    t = torch.tensor([0.0, 1.0, value], device=device)
    with pytest.raises(ValueError, match=r"theta\[2\] = .* is outside the domain of sincos"):
        stages.sincos(t)


def test_sincos_inside_its_domain(device):
    t = torch.tensor([0.0, -0.0, float.fromhex("0x1.fffffep2")], device=device)
    s, c = stages.sincos(t)
    assert s.abs().max() <= 1 and c.abs().max() <= 1
