"""Drop-in for the gonka-poc plugin's `gonka_poc.poc.fused` (the fused forms of the decode
wrappers' transforms): the same public names and signatures, computed by pocrand's ops.

What differs from the plugin's module (Triton kernels around a `torch.sum`):
  * bits are identical on every device (CPU and CUDA) and at every batch size: the reflection's
    dot is SPEC.md section 7's fixed-order sum of the rounded products, not torch's reduction,
    whose order depends on the device, the row length and the batch; every other step is
    rounded to x's dtype as the plugin's torch expression does ("stepwise", SPEC.md 10.10);
  * the decode embeddings use pocrand's portable log/sin/cos (SPEC.md 10.3; within 1 ulp of the
    plugin's libdevice values in fp16/bf16, so some elements differ in their last bit);
  * `usable` does not need CUDA (see there); `reflect_rows` copies a row whose slot lies outside
    the table instead of reading out of bounds; `embed_synth` refuses a mixing constant or a
    hidden size other than the scheme's (the op knows only the scheme's), with a ValueError.
Nothing reads a value back to the host: every function runs inside torch.compile(fullgraph=True)
and CUDA-graph capture. `GONKA_POC_FUSED=0` turns them off, as in the plugin.

The embedding and routing functions call pocrand_ext.overrides (imported when first called).
"""
from __future__ import annotations

import os

import torch

from ... import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from .. import gonka_poc as _gp
from ..._checks import check_int, check_no_grad, check_tensors, named_as
from ...reflect import reflect_rows as _reflect_rows

__all__ = ["enabled", "usable", "router_override", "reflect_rows", "householder", "embed_synth",
           "warmup"]

_FLOATS = (torch.float32, torch.float16, torch.bfloat16)


def enabled() -> bool:
    """False when the environment sets GONKA_POC_FUSED=0 (pocrand needs no Triton)."""
    return os.environ.get("GONKA_POC_FUSED", "1") != "0"


def usable(x: torch.Tensor) -> bool:
    """Whether the fused forms take x: enabled(), x a float32/float16/bfloat16 tensor on the CPU
    or on a CUDA device of a CUDA build of pocrand. Unlike the plugin's, neither CUDA nor a
    contiguous x is required (a strided x goes through a contiguous copy)."""
    if not enabled() or not isinstance(x, torch.Tensor) or x.dtype not in _FLOATS:
        return False
    if x.device.type == "cpu":
        return True
    return x.device.type == "cuda" and "cuda" in _ext.build_info()


def router_override(logits, base, step, mask, n_experts: int, top_k: int, ladder: int):
    """logits [n, n_experts] with the forced logits of route seed hash(step[r], base[r]) on the
    rows where mask[r] (SPEC.md 10.4, in logits' dtype) and logits[r] elsewhere: the plugin's
    torch.where(mask[:, None], expert_logits_from_base(base, step, ...), logits)."""
    from ... import overrides
    with named_as(route_seeds="base", ladder_base="ladder"):
        return overrides.router_override(logits, base, step, mask, n_experts, top_k, ladder)


def _rows3(x: torch.Tensor) -> torch.Tensor:
    """x [n, *pad, D] as [n, copies, D] (the pad dimensions flattened into copies of the row)."""
    if x.dim() < 2:
        raise ValueError(f"x must be [rows, ..., hidden], got {list(x.shape)}")
    return x if x.dim() <= 3 else x.reshape(x.shape[0], -1, x.shape[-1])


def reflect_rows(x, table, row_group, mask):
    """x [n, *pad, D] with row r reflected by table[row_group[r]] (cast to x's dtype when it
    is not) where mask[r], every copy of the row by the row's vector; other rows (and a slot
    outside the table) copied bit for bit. The plugin's arithmetic step by step in x's dtype,
    with the dot summed in the fixed order (pocrand's reflect_rows, mode "stepwise")."""
    check_tensors(x=x, table=table)
    if isinstance(table, torch.Tensor) and isinstance(x, torch.Tensor) and table.dtype != x.dtype:
        table = table.to(x.dtype)
    return _reflect_rows(_rows3(x), table, row_group, mask, "stepwise").view(x.shape)


def householder(x, v):
    """x - 2 (x . v) v over x's last dimension (x [..., D], v [D] in x's dtype), every step
    rounded to x's dtype as the plugin's expression is, the dot in the fixed order: all the rows
    of x are the copies of one row of reflect_rows, so they share v."""
    check_tensors(x=x, v=v)
    if x.dim() < 1:
        raise ValueError("x must be [..., D], got a 0-d tensor")
    if v.dim() != 1 or v.shape[0] != x.shape[-1]:
        raise ValueError(f"v must be [D] with D = x.shape[-1] = {x.shape[-1]}, got "
                         f"{list(v.shape)}")
    check_no_grad("x", x)
    check_no_grad("v", v)
    one = torch.zeros(1, dtype=torch.int64, device=x.device)
    y = _reflect_rows(x.reshape(1, -1, x.shape[-1]), v.view(1, -1), one, one == 0, "stepwise")
    return y.view(x.shape)


def embed_synth(out, base, step, prev_k, embeds, mask, hidden: int, salt: int, mix_a: int,
                mix_b: int):
    """The synthesis branch of the embedding wrapper: rows with mask and prev_k >= 0 get
    normal(step_seed(base, step, prev_k, salt), hidden) in out's dtype, rows with mask and
    prev_k < 0 the pre-filled embeds row, the others keep out. mix_a and mix_b must be the
    scheme's 0x9E3779B1 and 0x85EBCA77 and hidden out.shape[-1] (ValueError otherwise)."""
    for name, value, want in (("mix_a", mix_a, _gp.MIX_A), ("mix_b", mix_b, _gp.MIX_B)):
        if check_int(name, value) != want:
            raise ValueError(f"{name} must be the scheme's {want:#x}, got {value!r}")
    check_tensors(out=out)
    if out.dim() < 1:
        raise ValueError("out must be [rows, hidden], got a 0-d tensor")
    if check_int("hidden", hidden) != out.shape[-1]:
        raise ValueError(f"hidden must be out.shape[-1] = {out.shape[-1]}, got {hidden!r}")
    from ... import overrides
    return overrides.embed_synth(out, base, step, prev_k, embeds, mask, salt)


def warmup(state, dtype) -> None:
    """Run each op once on small tensors before any CUDA graph is captured (pocrand's ops need
    no compilation, but the first call loads and checks them; nothing waits on the device, as
    argument errors are raised on the host before any launch): the router per (n_experts,
    top_k) in `state.router_meta` for dtype and float32, the reflection on [2, hidden] and
    [2, 4, hidden], the embedding synthesis. Reads state.device, state.hidden_size and, when
    present, state.router_meta, state.table and state.embeds."""
    dev, h = torch.device(getattr(state, "device", "cpu")), int(state.hidden_size)
    mask = torch.ones(2, dtype=torch.bool, device=dev)
    ints = torch.zeros(2, dtype=torch.int64, device=dev)
    for n_exp, top_k in sorted(set(getattr(state, "router_meta", None) or ())):
        for ldt in (dtype, torch.float32):
            router_override(torch.zeros(2, n_exp, dtype=ldt, device=dev), ints, ints, mask,
                            n_exp, top_k, _gp.LADDER_BASE)
    table = getattr(state, "table", None)
    table = table[0] if table is not None and len(table) else None
    if table is None or table.dim() != 2:
        table = torch.zeros(1, h, dtype=dtype, device=dev)
    for shape in ((2, h), (2, 4, h)):
        reflect_rows(torch.zeros(*shape, dtype=dtype, device=dev), table, ints, mask)
    embeds = getattr(state, "embeds", None)
    edt = embeds.dtype if isinstance(embeds, torch.Tensor) else dtype
    embed_synth(torch.zeros(2, h, dtype=dtype, device=dev), ints, ints, ints,
                torch.zeros(2, h, dtype=edt, device=dev), mask, h, _gp.SALT_EMBED, _gp.MIX_A,
                _gp.MIX_B)
