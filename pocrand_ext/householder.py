"""apply_householder (SPEC.md 9.3, 9.8): x - 2 (x . v) v over the last dimension, products, dot
(fixed order) and update in float32, rounded once to x's dtype; out of place, in place, and the
pair form that reflects a layer's hidden states and residual in one launch. Each is the one
reflection op (reflect.py, csrc/bind/reflect.cpp) with v as a one-row table (or one row per row
of x), no mask and the "once" rounding."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from .reflect import reflect_into
from ._checks import check_count, check_tensor, check_tensor_device, check_writes_apart, named_as

__all__ = ["apply_householder", "apply_householder_", "apply_householder_pair",
           "apply_householder_pair_"]


def _rows(name: str, x, v, per_row_v: bool = True) -> tuple[int, int]:
    """(rows, dim) of x [..., dim]: what the op cannot check itself (argument types, the shapes
    that make x's rows and v's table, x's kind of device). The op (csrc/bind/reflect.cpp) checks the rest
    under its own names, x and table, which the callers below rename (_named)."""
    check_tensor(name, x)
    check_tensor("v", v)
    if x.dim() < 1:
        raise ValueError(f"{name} must have at least one dimension [..., dim]")
    dim = check_count(f"dim ({name}.shape[-1])", x.shape[-1])
    rows = x.numel() // dim
    shapes = ((dim,), (rows, dim), x.shape) if per_row_v else ((dim,),)
    if v.shape not in shapes:
        raise ValueError(f"v must be {' or '.join(dict.fromkeys(str(list(s)) for s in shapes))} "
                         f"for {name} of shape {list(x.shape)}, got {list(v.shape)}")
    check_tensor_device(name, x)
    return rows, dim


def _named(x_name: str = "x"):
    """The op's errors under this module's names: its x is the caller's x_name (the write, out,
    too: these forms write the tensor they read or a new one), its table is v."""
    return named_as(x=x_name, out=x_name, table="v")


def _table(v: torch.Tensor, rows: int, dim: int) -> torch.Tensor:
    """v as the op's table: [1, dim] (every row) or [rows, dim] (one vector per row)."""
    return (v.reshape(1, dim) if v.dim() == 1 else v.reshape(rows, dim)).contiguous()


def _rows3(x: torch.Tensor, rows: int, dim: int) -> torch.Tensor:
    return x.reshape(rows, 1, dim)


def apply_householder(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """x - 2 (x . v) v over x's last dimension, a new tensor of x's shape and dtype. x is
    [..., dim] (float32/fp16/bf16, any strides); v has x's dtype and is [dim] (every row) or one
    vector per row ([rows, dim] or x's shape)."""
    rows, dim = _rows("x", x, v)
    x3 = _rows3(x, rows, dim).contiguous()
    out = torch.empty_like(x3)
    with _named():
        reflect_into(out, x3, _table(v, rows, dim), None, None, "once")
    return out.view(x.shape)


def apply_householder_(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """apply_householder written into x itself (returns x): one read and one write of x. A
    strided x is computed through a contiguous copy and written back."""
    rows, dim = _rows("x", x, v)
    if x.is_contiguous():
        x3 = _rows3(x, rows, dim)
        with _named():
            reflect_into(x3, x3, _table(v, rows, dim), None, None, "once")
    else:  # written back through a copy
        check_writes_apart({"x": x}, v=v)
        x.copy_(apply_householder(x, v))
    return x


def _pair(hidden, residual, v) -> tuple[int, int]:
    """Row counts of hidden and residual; each is checked against the one v [dim]."""
    return (_rows("hidden", hidden, v, per_row_v=False)[0],
            _rows("residual", residual, v, per_row_v=False)[0])


def _reflect_pair(h_out, hidden, r_out, residual, rows, rows_r, v) -> None:
    """hidden into h_out and residual into r_out: one launch when the row counts agree."""
    dim = hidden.shape[-1]
    table = _table(v, 1, dim)
    if rows == rows_r:
        with named_as(x="hidden", out="hidden", residual_out="residual", table="v"):
            reflect_into(h_out, hidden, table, None, None, "once", r_out, residual)
        return
    for out, x, name in ((h_out, hidden, "hidden"), (r_out, residual, "residual")):
        with _named(name):
            reflect_into(out, x, table, None, None, "once")


def apply_householder_pair(hidden: torch.Tensor, residual: torch.Tensor, v: torch.Tensor):
    """(apply_householder(hidden, v), apply_householder(residual, v)) in one launch: a layer's
    two outputs, each row reflected by the layer's vector v [dim]."""
    rows, rows_r = _pair(hidden, residual, v)
    dim = hidden.shape[-1]
    h3 = _rows3(hidden, rows, dim).contiguous()
    r3 = _rows3(residual, rows_r, dim).contiguous()
    h, r = torch.empty_like(h3), torch.empty_like(r3)
    _reflect_pair(h, h3, r, r3, rows, rows_r, v)
    return h.view(hidden.shape), r.view(residual.shape)


def apply_householder_pair_(hidden: torch.Tensor, residual: torch.Tensor, v: torch.Tensor):
    """apply_householder_pair written into hidden and residual themselves (returns them)."""
    rows, rows_r = _pair(hidden, residual, v)
    dim = hidden.shape[-1]
    if hidden.is_contiguous() and residual.is_contiguous():
        h3, r3 = _rows3(hidden, rows, dim), _rows3(residual, rows_r, dim)
        _reflect_pair(h3, h3, r3, r3, rows, rows_r, v)
    else:  # written back through copies
        check_writes_apart({"hidden": hidden, "residual": residual}, v=v)
        h, r = apply_householder_pair(hidden, residual, v)
        hidden.copy_(h)
        residual.copy_(r)
    return hidden, residual
