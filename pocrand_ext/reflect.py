"""reflect_rows (SPEC.md 10.10): the masked row-group reflection. Row r of x ([n, hidden] or
[n, copies, hidden]) is reflected by the table row table[row_group[r]] when mask[r] holds (every
copy of the row by the same vector), in one of two roundings: "once" (9.3's arithmetic, as
apply_householder) or "stepwise" (the deployed torch expression's roundings in x's dtype). Rows
whose mask is False, or whose slot lies outside [0, slots), are copied bit for bit. Nothing is
read back to the host: the ops run under torch.compile(fullgraph=True) and in CUDA-graph capture,
with new mask and row_group values written into the same buffers between replays.

Every form is one op, torch.ops.pocrand.reflect_rows (csrc/bind/reflect.cpp), which writes its
`out` (x itself in place); apply_householder (householder.py) is the same op with one slot and no
mask."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import (check_count, check_tensor_device, check_dtype, check_no_grad,
                      check_no_overlap, check_no_self_overlap, check_tensor)

__all__ = ["reflect_rows", "reflect_rows_", "reflect_rows_pair", "reflect_rows_pair_",
           "fused_add_rms_norm_reflect"]

MODES = ("once", "stepwise")


def _check(name: str, x, table, row_group, mask, mode) -> tuple[int, int, int]:
    """(n, copies, hidden) of x after checking every argument; raises naming the argument.
    row_group and mask may be None (every row reflected by a one-row table, or by table row r)."""
    check_no_grad(name, check_tensor(name, x))
    check_no_grad("table", check_tensor("table", table))
    if row_group is not None:
        check_tensor("row_group", row_group)
    if mask is not None:
        check_tensor("mask", mask)
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str, got {type(mode).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be \"once\" or \"stepwise\", got {mode!r}")
    if x.dim() not in (2, 3):
        raise ValueError(f"{name} must be [rows, hidden] or [rows, copies, hidden], got "
                         f"{list(x.shape)}")
    check_dtype(f"{name}.dtype", x.dtype)
    hidden = check_count(f"hidden size ({name}.shape[-1])", x.shape[-1])
    n = x.shape[0]
    copies = x.shape[1] if x.dim() == 3 else 1
    if table.dtype != x.dtype:
        raise TypeError(f"table must have {name}'s dtype {x.dtype}, got {table.dtype} (cast it: "
                        f"table.to({name}.dtype))")
    if table.dim() != 2 or table.shape[0] < 1 or table.shape[1] != hidden:
        raise ValueError(f"table must be [slots, hidden] = [slots >= 1, {hidden}], got "
                         f"{list(table.shape)}")
    if row_group is None:
        if table.shape[0] not in (1, n):
            raise ValueError(f"without row_group, table must have 1 row (for every row) or {n} "
                             f"(one per row of {name}), got {list(table.shape)}")
    else:
        if row_group.dtype != torch.int64:
            raise TypeError(f"row_group must be int64, got {row_group.dtype}")
        if row_group.dim() != 1 or row_group.shape[0] < n:
            raise ValueError(f"row_group must be 1-D with at least {n} entries (one per row of "
                             f"{name}), got {list(row_group.shape)}")
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be bool, got {mask.dtype}")
        if mask.dim() != 1 or mask.shape[0] < n:
            raise ValueError(f"mask must be 1-D with at least {n} entries (one per row of {name}), "
                             f"got {list(mask.shape)}")
    for other, t in (("table", table), ("row_group", row_group), ("mask", mask)):
        if t is not None and t.device != x.device:
            raise ValueError(f"{name} and {other} must be on one device, got {x.device} and "
                             f"{t.device}")
    check_tensor_device(name, x)
    return n, copies, hidden


def _view3(x: torch.Tensor, n: int, copies: int, hidden: int) -> torch.Tensor:
    return x.reshape(n, copies, hidden)


def _c(t):
    return None if t is None else t.contiguous()


def reflect_into(out: torch.Tensor, x: torch.Tensor, table: torch.Tensor, row_group, mask,
                 mode: str, residual_out: torch.Tensor | None = None,
                 residual: torch.Tensor | None = None) -> None:
    """The op itself on checked, contiguous [n, copies, hidden] tensors: out (x itself: in place)
    and residual_out (residual itself) written."""
    torch.ops.pocrand.reflect_rows.default(out, x, residual_out, residual, table.contiguous(),
                                           _c(row_group), _c(mask), mode)


def _inputs_apart(name: str, x, table, row_group, mask) -> None:
    check_no_self_overlap(name, x)
    for other, t in (("table", table), ("row_group", row_group), ("mask", mask)):
        if t is not None:
            check_no_overlap(name, x, other, t)


def reflect_rows(x: torch.Tensor, table: torch.Tensor, row_group: torch.Tensor | None,
                 mask: torch.Tensor | None, mode: str = "once") -> torch.Tensor:
    """A new tensor of x's shape and dtype: row r of x ([n, hidden] or [n, copies, hidden],
    float32/fp16/bf16) reflected by table[row_group[r]] (table [slots, hidden] of x's dtype,
    row_group int64 [>= n]) where mask[r] (bool [>= n]) holds and the slot is in [0, slots), in
    the rounding `mode` ("once" or "stepwise"); every other row copied bit for bit. row_group
    None: a one-row table serves every row, an n-row table one row each; mask None: every row."""
    n, copies, hidden = _check("x", x, table, row_group, mask, mode)
    x3 = _view3(x, n, copies, hidden).contiguous()
    out = torch.empty_like(x3)
    reflect_into(out, x3, table, row_group, mask, mode)
    return out.view(x.shape)


def reflect_rows_(x: torch.Tensor, table: torch.Tensor, row_group: torch.Tensor | None,
                  mask: torch.Tensor | None, mode: str = "once") -> torch.Tensor:
    """reflect_rows written into x itself (returns x). A strided x is computed through a
    contiguous copy and written back."""
    n, copies, hidden = _check("x", x, table, row_group, mask, mode)
    _inputs_apart("x", x, table, row_group, mask)
    if x.is_contiguous():
        x3 = _view3(x, n, copies, hidden)
        reflect_into(x3, x3, table, row_group, mask, mode)
    else:
        x.copy_(reflect_rows(x, table, row_group, mask, mode))
    return x


def _pair(hidden, residual, table, row_group, mask, mode) -> tuple[int, int, int]:
    dims = _check("hidden", hidden, table, row_group, mask, mode)
    _check("residual", residual, table, row_group, mask, mode)
    if residual.shape != hidden.shape:
        raise ValueError(f"hidden and residual must have one shape, got {list(hidden.shape)} and "
                         f"{list(residual.shape)}")
    return dims


def reflect_rows_pair(hidden: torch.Tensor, residual: torch.Tensor, table: torch.Tensor,
                      row_group: torch.Tensor | None, mask: torch.Tensor | None,
                      mode: str = "once"):
    """(reflect_rows(hidden, ...), reflect_rows(residual, ...)) in one launch: a layer's two
    outputs (one shape), each row reflected by its slot's vector."""
    n, copies, dim = _pair(hidden, residual, table, row_group, mask, mode)
    h3 = _view3(hidden, n, copies, dim).contiguous()
    r3 = _view3(residual, n, copies, dim).contiguous()
    h, r = torch.empty_like(h3), torch.empty_like(r3)
    reflect_into(h, h3, table, row_group, mask, mode, r, r3)
    return h.view(hidden.shape), r.view(residual.shape)


def reflect_rows_pair_(hidden: torch.Tensor, residual: torch.Tensor, table: torch.Tensor,
                       row_group: torch.Tensor | None, mask: torch.Tensor | None,
                       mode: str = "once"):
    """reflect_rows_pair written into hidden and residual themselves (returns them)."""
    n, copies, dim = _pair(hidden, residual, table, row_group, mask, mode)
    _inputs_apart("hidden", hidden, table, row_group, mask)
    _inputs_apart("residual", residual, table, row_group, mask)
    check_no_overlap("hidden", hidden, "residual", residual)
    if hidden.is_contiguous() and residual.is_contiguous():
        h3, r3 = _view3(hidden, n, copies, dim), _view3(residual, n, copies, dim)
        reflect_into(h3, h3, table, row_group, mask, mode, r3, r3)
    else:
        h, r = reflect_rows_pair(hidden, residual, table, row_group, mask, mode)
        hidden.copy_(h)
        residual.copy_(r)
    return hidden, residual


def fused_add_rms_norm_reflect(x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor,
                               eps: float, table: torch.Tensor, row_group: torch.Tensor,
                               mask: torch.Tensor, mode: str = "stepwise") -> None:
    """vLLM's fused_add_rms_norm with the PoC reflection folded in (SPEC.md 10.14), in place on x
    and residual ([n, hidden] or [n, copies, hidden], one shape, float32/fp16/bf16): rows where
    mask[r] holds and table's slot row_group[r] exists have x and residual reflected first, as
    reflect_rows(..., mode) does; then residual <- x + residual (fp32, rounded once) and
    x <- RMSNorm(residual) * weight (weight [hidden]; eps as a float32), the sum of squares in the
    fixed order of SPEC.md section 7: a row's bits depend on nothing but the row. Returns None,
    like vLLM's op. The op checks every tensor (csrc/bind/reflect.cpp)."""
    for name, t in (("x", x), ("residual", residual), ("weight", weight), ("table", table),
                    ("row_group", row_group), ("mask", mask)):
        check_tensor(name, t)  # the op's own type check would be a RuntimeError
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a float, got {type(eps).__name__}")
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str, got {type(mode).__name__}")
    if x.dim() not in (2, 3):
        raise ValueError(f"x must be [rows, hidden] or [rows, copies, hidden], got {list(x.shape)}")
    if residual.shape != x.shape:
        raise ValueError(f"x and residual must have one shape, got {list(x.shape)} and "
                         f"{list(residual.shape)}")
    if not (x.is_contiguous() and residual.is_contiguous()):
        raise ValueError("x and residual must be contiguous (the op writes them in place)")
    x3 = x if x.dim() == 3 else x.unsqueeze(1)
    r3 = residual if residual.dim() == 3 else residual.unsqueeze(1)
    torch.ops.pocrand.fused_add_rms_norm_reflect.default(x3, r3, weight, float(eps), table,
                                                         row_group, mask, mode)


@torch.library.register_fake("pocrand::fused_add_rms_norm_reflect")
def _fused_fake(x, residual, weight, eps, table, row_group, mask, rounding):
    return None


@torch.library.register_fake("pocrand::reflect_rows")
def _reflect_rows_fake(out, x, residual_out, residual, table, row_group, mask, rounding):
    return None
