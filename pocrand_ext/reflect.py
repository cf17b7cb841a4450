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
from ._checks import check_tensor, check_tensor_device, check_writes_apart, named_as, one_device

__all__ = ["reflect_rows", "reflect_rows_", "reflect_rows_pair", "reflect_rows_pair_",
           "fused_add_rms_norm_reflect"]

MODES = ("once", "stepwise")


def _dims(name: str, x, table, row_group, mask, mode) -> tuple[int, int, int]:
    """(n, copies, hidden) of x: what the op cannot check itself (argument types, the rank that
    the [n, copies, hidden] view needs, x's kind of device). Every other rule is the op's
    (csrc/bind/reflect.cpp), which names its arguments as this module's names do."""
    check_tensor(name, x)
    check_tensor("table", table)
    if row_group is not None:
        check_tensor("row_group", row_group)
    if mask is not None:
        check_tensor("mask", mask)
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str, got {type(mode).__name__}")
    if x.dim() not in (2, 3):
        raise ValueError(f"{name} must be [rows, hidden] or [rows, copies, hidden], got "
                         f"{list(x.shape)}")
    check_tensor_device(name, x)
    return x.shape[0], (x.shape[1] if x.dim() == 3 else 1), x.shape[-1]


def _c(t):
    return None if t is None else t.contiguous()


def reflect_into(out: torch.Tensor, x: torch.Tensor, table: torch.Tensor, row_group, mask,
                 mode: str, residual_out: torch.Tensor | None = None,
                 residual: torch.Tensor | None = None) -> None:
    """The op itself on contiguous [n, copies, hidden] tensors: out (x itself: in place) and
    residual_out (residual itself) written. The op checks every argument."""
    torch.ops.pocrand.reflect_rows.default(out, x, residual_out, residual, table.contiguous(),
                                           _c(row_group), _c(mask), mode)


def reflect_rows(x: torch.Tensor, table: torch.Tensor, row_group: torch.Tensor | None,
                 mask: torch.Tensor | None, mode: str = "once") -> torch.Tensor:
    """A new tensor of x's shape and dtype: row r of x ([n, hidden] or [n, copies, hidden],
    float32/fp16/bf16) reflected by table[row_group[r]] (table [slots, hidden] of x's dtype,
    row_group int64 [>= n]) where mask[r] (bool [>= n]) holds and the slot is in [0, slots), in
    the rounding `mode` ("once" or "stepwise"); every other row copied bit for bit. row_group
    None: a one-row table serves every row, an n-row table one row each; mask None: every row."""
    dims = _dims("x", x, table, row_group, mask, mode)
    x3 = x.reshape(dims).contiguous()
    out = torch.empty_like(x3)
    reflect_into(out, x3, table, row_group, mask, mode)
    return out.view(x.shape)


def reflect_rows_(x: torch.Tensor, table: torch.Tensor, row_group: torch.Tensor | None,
                  mask: torch.Tensor | None, mode: str = "once") -> torch.Tensor:
    """reflect_rows written into x itself (returns x). A strided x is computed through a
    contiguous copy and written back."""
    dims = _dims("x", x, table, row_group, mask, mode)
    if x.is_contiguous():
        x3 = x.view(dims)
        with named_as(out="x"):  # the op's out is x itself
            reflect_into(x3, x3, table, row_group, mask, mode)
    else:  # written back through a copy
        check_writes_apart({"x": x}, table=table, row_group=row_group, mask=mask)
        x.copy_(reflect_rows(x, table, row_group, mask, mode))
    return x


def _pair(hidden, residual, table, row_group, mask, mode) -> tuple[int, int, int]:
    dims = _dims("hidden", hidden, table, row_group, mask, mode)
    check_tensor("residual", residual)
    if residual.shape != hidden.shape:
        raise ValueError(f"hidden and residual must have one shape, got {list(hidden.shape)} and "
                         f"{list(residual.shape)}")
    return dims


def reflect_rows_pair(hidden: torch.Tensor, residual: torch.Tensor, table: torch.Tensor,
                      row_group: torch.Tensor | None, mask: torch.Tensor | None,
                      mode: str = "once"):
    """(reflect_rows(hidden, ...), reflect_rows(residual, ...)) in one launch: a layer's two
    outputs (one shape), each row reflected by its slot's vector."""
    dims = _pair(hidden, residual, table, row_group, mask, mode)
    h3, r3 = hidden.reshape(dims).contiguous(), residual.reshape(dims).contiguous()
    h, r = torch.empty_like(h3), torch.empty_like(r3)
    with named_as(x="hidden"):  # the op's x is the caller's hidden
        reflect_into(h, h3, table, row_group, mask, mode, r, r3)
    return h.view(hidden.shape), r.view(residual.shape)


def reflect_rows_pair_(hidden: torch.Tensor, residual: torch.Tensor, table: torch.Tensor,
                       row_group: torch.Tensor | None, mask: torch.Tensor | None,
                       mode: str = "once"):
    """reflect_rows_pair written into hidden and residual themselves (returns them)."""
    dims = _pair(hidden, residual, table, row_group, mask, mode)
    if hidden.is_contiguous() and residual.is_contiguous():
        h3, r3 = hidden.view(dims), residual.view(dims)
        with named_as(x="hidden", out="hidden", residual_out="residual"):  # written in place
            reflect_into(h3, h3, table, row_group, mask, mode, r3, r3)
    else:  # written back through copies
        check_writes_apart({"hidden": hidden, "residual": residual}, table=table,
                           row_group=row_group, mask=mask)
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
    check_tensor_device("x", x)
    if not (x.is_contiguous() and residual.is_contiguous()):
        raise ValueError("x and residual must be contiguous (the op writes them in place)")
    x3 = x if x.dim() == 3 else x.unsqueeze(1)
    r3 = residual if residual.dim() == 3 else residual.unsqueeze(1)
    torch.ops.pocrand.fused_add_rms_norm_reflect.default(x3, r3, weight, float(eps), table,
                                                         row_group, mask, mode)


@torch.library.register_fake("pocrand::fused_add_rms_norm_reflect")
def _fused_fake(x, residual, weight, eps, table, row_group, mask, rounding):
    one_device("x", x, residual=residual, weight=weight, table=table, row_group=row_group,
               mask=mask)


@torch.library.register_fake("pocrand::reflect_rows")
def _reflect_rows_fake(out, x, residual_out, residual, table, row_group, mask, rounding):
    one_device("x", x, residual=residual, table=table, row_group=row_group, mask=mask, out=out,
               residual_out=residual_out)  # the inputs first: a wrapper's outputs follow them
