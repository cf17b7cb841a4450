"""Shared by test_overrides.py and test_overrides_inputs.py: the dtypes by name, normal-valued
tensors, and an embed_synth case with every row kind in per-row buffers longer than the rows."""
from __future__ import annotations

import torch

import pocrand_ext as pr


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
NAMES = {v: k for k, v in DTYPES.items()}
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
ops = torch.ops.pocrand


def normals(seed: int, shape, scale: float = 3.0) -> torch.Tensor:
    n = 1
    for s in shape:
        n *= s
    return pr.normal(seed, n).view(shape) * scale


def embed_case(n: int, hidden: int, dtype: torch.dtype, embeds_dtype: torch.dtype, seed: int = 0,
               extra: int = 3, device="cpu"):
    """out [n, hidden], and per-row buffers of n + extra entries: every row kind (decode with
    prev 0, small and huge, prefill with prev -1 and I64_MIN, masked off with either sign),
    base seeds beyond u32, steps negative and beyond 2^32."""
    g = torch.Generator().manual_seed(seed * 1000 + hidden)
    rows = n + extra
    prev_choices = torch.tensor([0, 3, 15, I64_MAX, 2**32 + 1, -1, -7, I64_MIN])
    prev = prev_choices[torch.randint(0, len(prev_choices), (rows,), generator=g)]
    prev[:3] = torch.tensor([2, -1, 5])[: min(3, rows)]     # every kind present, whatever the draw
    mask = torch.rand(rows, generator=g) < 0.7
    mask[:3] = torch.tensor([True, True, False])[: min(3, rows)]
    base = torch.randint(-(2**40), 2**40, (rows,), generator=g)
    step = torch.randint(-(2**35), 2**35, (rows,), generator=g)
    step[0] = I64_MIN
    out = normals(seed + 11 * hidden, (n, hidden)).to(dtype)
    embeds = normals(seed + 13 * hidden + 1, (rows, hidden), 2.0).to(embeds_dtype)
    return tuple(t.to(device) for t in (out, base, step, prev, embeds, mask))
