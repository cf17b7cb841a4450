"""SPEC.md sections 10.10 (masked row-group reflection) and 10.14 (the fused add + RMSNorm).

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import _TWO
from .rounding import _deliver
from .reduction import _sumsq_rows, _tree_sum_rows
from .operations import _widen
from .pocv2 import _check_storage, _deliver_canonical, _householder_f32


# --- 10.10 Masked row-group reflection ------------------------------------------------------
def _through_storage(a: np.ndarray, dtype: str) -> np.ndarray:
    """st(a) of 10.10: a float32 array delivered in the storage type (NaN made canonical first)
    and widened back to float32."""
    return _widen(_deliver_canonical(a, dtype))


def _reflect_stepwise_f32(x: np.ndarray, v: np.ndarray, dtype: str) -> np.ndarray:
    """10.10's stepwise steps over rows x [R, hidden] by v [R, hidden] (binary32, exact widenings)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        p = _through_storage(x * v, dtype)                          # p[i] = st(x[i] ⊗ v[i])
        d = _through_storage(_tree_sum_rows(p), dtype)              # d = st(sum(p)), section 7
        c = _through_storage(_TWO * d, dtype)                       # c = st(2 ⊗ d)
        t = _through_storage(c[:, None] * v, dtype)                 # st(c ⊗ v[i])
        return _through_storage(x - t, dtype)                       # y[i] = st(x[i] ⊖ t[i])


def reflect_rows(x: np.ndarray, table: np.ndarray, row_group, mask, dtype: str,
                 mode: str = "once") -> np.ndarray:
    """10.10: x [n, hidden] or [n, copies, hidden] storage, table [slots, hidden] storage,
    row_group int [>= n], mask bool [>= n]. Returns storage of x's shape: row r reflected by
    table[row_group[r]] where mask[r] and the slot is in range, else x[r] bit for bit."""
    x = _check_storage(x, dtype)
    table = _check_storage(table, dtype)
    if mode not in ("once", "stepwise"):
        raise ValueError(f"unknown mode {mode!r}")
    if x.ndim not in (2, 3) or table.ndim != 2 or table.shape[1] != x.shape[-1]:
        raise ValueError("reflect_rows: x [n, (copies,) hidden] and table [slots, hidden]")
    n, hidden = x.shape[0], x.shape[-1]
    x3 = x.reshape(n, -1, hidden)
    copies = x3.shape[1]
    g = np.asarray(row_group, dtype=np.int64)[:n]
    m = np.asarray(mask, dtype=bool)[:n]
    slots = table.shape[0]
    active = m & (g >= 0) & (g < slots)
    out = x3.copy()                                                 # every other row: bit for bit
    rows = np.nonzero(active)[0]
    if rows.size:
        xr = _widen(x3[rows]).reshape(-1, hidden)                   # [rows * copies, hidden]
        vr = np.repeat(_widen(table)[g[rows]], copies, axis=0)      # a row's vector on each copy
        if mode == "once":
            y = _deliver_canonical(_householder_f32(xr, vr), dtype)
        else:
            y = _deliver(_reflect_stepwise_f32(xr, vr, dtype), dtype)
        out[rows] = y.reshape(rows.size, copies, hidden)
    return out.reshape(x.shape)


# --- 10.14 Fused residual add + RMSNorm with the reflection folded in -----------------------
def fused_add_rms_norm_reflect(x: np.ndarray, residual: np.ndarray, weight: np.ndarray, eps: float,
                               table: np.ndarray, row_group, mask, dtype: str,
                               mode: str = "stepwise") -> tuple[np.ndarray, np.ndarray]:
    """10.14: (new x, new residual) in storage of x's shape. The rows 10.10 reflects are
    reflected in both tensors; s = deliver(a + b); inv = 1 / sqrt(sumsq(s) / H + eps) per row;
    y = deliver(deliver(s * inv) * weight)."""
    x = _check_storage(x, dtype)
    residual = _check_storage(residual, dtype)
    weight = _check_storage(weight, dtype)
    if residual.shape != x.shape or weight.shape != (x.shape[-1],):
        raise ValueError("fused_add_rms_norm_reflect: x, residual of one shape, weight [hidden]")
    hidden = x.shape[-1]
    a = _widen(reflect_rows(x, table, row_group, mask, dtype, mode)).reshape(-1, hidden)
    b = _widen(reflect_rows(residual, table, row_group, mask, dtype, mode)).reshape(-1, hidden)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        s_store = _deliver_canonical(a + b, dtype)                    # s[i] = deliver(a ⊕ b)
        s = _widen(s_store)
        ss = _sumsq_rows(s)                                           # section 7 over stored s
        e = np.float32(eps)                                           # eps as binary32 (RNE)
        inv = np.float32(1.0) / np.sqrt(ss / np.float32(hidden) + e)  # one rounding each
        t = _through_storage(s * inv[:, None], dtype)                 # deliver(s ⊗ inv)
        y = _deliver_canonical(t * _widen(weight)[None, :], dtype)    # deliver(t ⊗ w)
    return y.reshape(x.shape), s_store.reshape(x.shape)
