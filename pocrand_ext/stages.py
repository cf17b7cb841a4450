"""The core's scalar stages as elementwise tensor functions, for verification only.

These expose the exact functions the generators use (SPEC.md sections 2-6) so that accuracy and
CPU == GPU checks can sweep whole domains: `stages(hashes)` gives (u, r, cos θ, sin θ) of the
Box-Muller step for given 32-bit hashes; `log`, `sincos` and `round_to` the individual functions.
They are not part of the PoC API. All four are the one op torch.ops.pocrand.core_stage
(csrc/bind/stages.cpp), named by stage.
"""
from __future__ import annotations

import torch

from . import _C  # noqa: F401

__all__ = ["stages", "log", "sincos", "round_to"]


def _float32(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float32:
        raise TypeError(f"{name} must be a float32 tensor")
    return x.contiguous()


def stages(hashes: torch.Tensor):
    """(u, r, cos θ, sin θ) float32 for int64 hashes (low 32 bits): u = f32(h)·2^-32,
    r = √(−2·log(max(u, 1e-10))), θ = f32(2π)·u."""
    if not isinstance(hashes, torch.Tensor) or hashes.dtype != torch.int64:
        raise TypeError("hashes must be an int64 tensor")
    return tuple(torch.ops.pocrand.core_stage("box_muller", hashes.contiguous()))


_MIN_NORMAL = float.fromhex("0x1p-126")  # the smallest positive normal binary32


def _in_domain(name: str, t: torch.Tensor, inside: torch.Tensor, domain: str) -> torch.Tensor:
    """t unchanged when every element lies in the domain, else ValueError naming the first one
    outside (these are verification functions: reading the verdict back is allowed here)."""
    if t.numel() and not bool(inside.all()):
        at = int((~inside).reshape(-1).nonzero()[0])
        raise ValueError(f"{name}[{at}] = {t.reshape(-1)[at].item()!r} is outside the domain "
                         f"of {domain}")
    return t


def log(x: torch.Tensor) -> torch.Tensor:
    """pocrand's log (SPEC.md section 3), for positive normal finite floats (faithful there);
    any other element (0, a subnormal, a negative, Inf, NaN) raises ValueError."""
    x = _float32("x", x)
    _in_domain("x", x, (x >= _MIN_NORMAL) & (x < float("inf")),
               "log: positive normal finite floats [2^-126, FLT_MAX]")
    return torch.ops.pocrand.core_stage("log", x)[0]


def sincos(theta: torch.Tensor):
    """(sin θ, cos θ) by SPEC.md section 4, for θ in [0, 8) (faithful there); any other
    element raises ValueError."""
    theta = _float32("theta", theta)
    _in_domain("theta", theta, (theta >= 0) & (theta < 8), "sincos: [0, 8)")
    return tuple(torch.ops.pocrand.core_stage("sincos", theta))


def round_to(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float32 -> float16 / bfloat16 by the bit rules of SPEC.md section 6."""
    return torch.ops.pocrand.core_stage("round", _float32("x", x), dtype)[0]


_OUTPUTS = {"box_muller": 4, "log": 1, "sincos": 2, "round": 1}


@torch.library.register_fake("pocrand::core_stage")
def _stage_fake(stage, x, dtype=None):
    out_dtype = dtype if stage == "round" else torch.float32
    return [torch.empty_like(x, dtype=out_dtype) for _ in range(_OUTPUTS[stage])]
