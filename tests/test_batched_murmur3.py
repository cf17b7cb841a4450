"""The drop-in's _batched_murmur3_32: integer seeds only (a float seed is refused, as murmur3_32
refuses one, never truncated), and one op that does not read the seeds back to the host."""
from __future__ import annotations

import pytest
import torch

from pocrand_ext import gpu_random_v2 as g
from conftest import CUDA_SKIP_REASON, HAS_CUDA

KEYS = torch.arange(12, dtype=torch.int64).reshape(2, 6)


def test_float_seeds_are_refused(device):
    with pytest.raises(TypeError, match="seeds must be an integer tensor"):
        g._batched_murmur3_32(KEYS.to(device), torch.tensor([[1.9], [2.5]], device=device))
    with pytest.raises(TypeError, match="keys must be an integer tensor"):
        g._batched_murmur3_32(KEYS.float().to(device), torch.tensor([[1], [2]], device=device))
    with pytest.raises(TypeError, match="seeds must be an integer tensor"):
        g._batched_murmur3_32(KEYS.to(device), torch.tensor([[True], [False]], device=device))


def test_rows_equal_murmur3_32_of_each_seed(device):
    keys = torch.arange(-5, 295, dtype=torch.int64).reshape(3, 100).to(device)
    seeds = torch.tensor([[0], [7], [2**32 - 1]], dtype=torch.int64,
                         device=device)
    rows = g._batched_murmur3_32(keys, seeds)
    for b, s in enumerate([0, 7, 2**32 - 1]):
        assert torch.equal(rows[b], g._murmur3_32(keys[b], s))


def test_one_op_without_a_host_read(device):
    """The whole batch is one torch.ops.pocrand call, and no tensor is read back (.tolist(),
    .item(), int()), so the function traces under torch.compile(fullgraph=True)."""
    calls = []
    from torch.overrides import TorchFunctionMode

    class Count(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            calls.append(getattr(func, "__name__", str(func)))
            return func(*args, **(kwargs or {}))

    keys, seeds = KEYS.to(device), torch.tensor([[3], [4]], device=device)
    with Count():
        g._batched_murmur3_32(keys, seeds)
    assert not {"tolist", "item", "__int__", "__index__", "__iter__", "unbind"} & set(calls), calls
    compiled = torch.compile(g._batched_murmur3_32, fullgraph=True, backend="eager")
    assert torch.equal(compiled(keys, seeds), g._batched_murmur3_32(keys, seeds))


@pytest.mark.skipif(not HAS_CUDA, reason=CUDA_SKIP_REASON)
def test_cuda_equals_cpu():
    keys = torch.randint(-2**40, 2**40, (5, 1000))
    seeds = torch.randint(0, 2**32, (5, 1))
    assert torch.equal(g._batched_murmur3_32(keys.cuda(), seeds.cuda()).cpu(),
                       g._batched_murmur3_32(keys, seeds))
