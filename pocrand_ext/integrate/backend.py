"""The four transforms an attached model runs on its PoC rows, behind one small interface.

A backend is any object with these callables (rows are dimension 0; base, step, prev_k, mask,
embeds and row_group are the state's buffers sliced to the n rows of the call):

    reflect(x, table, row_group, mask) -> x reflected      # x [n, *pad, hidden], table [slots, hidden]
    embed(out, base, step, prev_k, embeds, mask) -> out'   # out [n, hidden]
    route(logits, base, step, mask, n_experts, top_k, ladder) -> logits'   # logits [n, E]
    snap(h, seeds, codebook, out) -> None                  # h [n, hidden]; writes out = (k, bad, scores, q)

and optionally reflect_pair(hidden, residual, table, row_group, mask) -> (hidden', residual')
for a layer's two outputs in one call, fused_add_rms_norm(x, residual, weight, eps, table,
row_group, mask) -> None, vLLM's fused add + RMSNorm in place on x and residual [n, hidden] with
the reflection folded in (attach then uses it on vLLM-style models: norm_seam.py), and pick_seeds(base, step, prev_k) -> int64 [n], the
snap's pick seeds of decode rows (default: pocrand's step_seed(step, prev_k, 0x91); rows with
prev_k < 0 take the state's prefill_pick either way). Every callable must run inside
torch.compile(fullgraph=True) and CUDA-graph capture: no host reads, no value-sized allocation.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from ..reflect import MODES, fused_add_rms_norm_reflect, reflect_rows, reflect_rows_pair
from ..snap import snap as _snap
from ..protocols import gonka_poc as _gp

__all__ = ["Backend", "PocrandBackend", "resolve_backend", "REQUIRED"]

REQUIRED = ("reflect", "embed", "route", "snap")


@runtime_checkable
class Backend(Protocol):
    def reflect(self, x, table, row_group, mask): ...
    def embed(self, out, base, step, prev_k, embeds, mask): ...
    def route(self, logits, base, step, mask, n_experts, top_k, ladder): ...
    def snap(self, h, seeds, codebook, out): ...


def _rows3(x: torch.Tensor) -> torch.Tensor:
    return x if x.dim() <= 3 else x.reshape(x.shape[0], -1, x.shape[-1])


class PocrandBackend:
    """pocrand's ops: reflect_rows(_pair) in `rounding` ("stepwise": the plugin's roundings,
    "once": SPEC.md 9.3), overrides.embed_synth and overrides.router_override, snap(out=...)
    and its pick seeds step_seed(step, prev_k, 0x91).
    Bits identical on every device and batch size."""

    def __init__(self, rounding: str = "stepwise"):
        if rounding not in MODES:
            raise ValueError(f"rounding must be \"stepwise\" or \"once\", got {rounding!r}")
        self.rounding = rounding

    def reflect(self, x, table, row_group, mask):
        return reflect_rows(_rows3(x), table, row_group, mask, self.rounding).view(x.shape)

    def reflect_pair(self, hidden, residual, table, row_group, mask):
        h, r = reflect_rows_pair(_rows3(hidden), _rows3(residual), table, row_group, mask,
                                          self.rounding)
        return h.view(hidden.shape), r.view(residual.shape)

    def fused_add_rms_norm(self, x, residual, weight, eps, table, row_group, mask):
        fused_add_rms_norm_reflect(_rows3(x), _rows3(residual), weight, eps, table, row_group,
                                   mask, self.rounding)

    def embed(self, out, base, step, prev_k, embeds, mask):
        from .. import overrides
        return overrides.embed_synth(out, base, step, prev_k, embeds, mask, _gp.SALT_EMBED)

    def route(self, logits, base, step, mask, n_experts, top_k, ladder):
        from .. import overrides
        return overrides.router_override(logits, base, step, mask, n_experts, top_k, ladder)

    def snap(self, h, seeds, codebook, out):
        _snap(h, seeds, codebook, out=out)

    def pick_seeds(self, base, step, prev_k):
        return _gp.decode_pick_seeds(base, step, prev_k)


def resolve_backend(backend, rounding: str):
    """The backend object for attach's `backend` argument: "pocrand" (PocrandBackend(rounding)),
    "reference" (protocols/gonka_poc/reference.py's BACKEND: the plugin's torch expressions,
    imported only when asked for), or any object with the four callables."""
    if isinstance(backend, str):
        if backend == "pocrand":
            return PocrandBackend(rounding)
        if backend == "reference":
            from ..protocols.gonka_poc.reference import BACKEND  # the plugin's, on request
            return _checked(BACKEND, "pocrand_ext.protocols.gonka_poc.reference")
        raise ValueError(f"backend must be \"pocrand\", \"reference\" or an object with "
                         f"{', '.join(REQUIRED)}, got {backend!r}")
    return _checked(backend, type(backend).__name__)


def _checked(obj, what: str):
    missing = [name for name in REQUIRED if not callable(getattr(obj, name, None))]
    if missing:
        raise TypeError(f"backend {what} lacks {', '.join(missing)} (a backend needs "
                        f"reflect, embed, route and snap)")
    return obj
