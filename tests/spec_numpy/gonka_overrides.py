"""SPEC.md section 10.11 and 10.12: masked forward-pass overrides (synthetic
embeddings, router logits).

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .rounding import _deliver
from .operations import _widen
from .pocv2 import _check_storage
from .gonka_streams import LADDER_BASE, SALT_EMBED, forced_logits, step_normal


# --- 10.11 / 10.12 Masked forward-pass overrides ---------------------------------------------
def embed_synth(x: np.ndarray, dtype: str, base_seeds, step, prev_k, embeds: np.ndarray,
                embeds_dtype: str, mask, salt: int = SALT_EMBED) -> np.ndarray:
    """10.11: x [n, hidden] storage of dtype; base_seeds, step, prev_k ints [>= n]; embeds
    [>= n, hidden] storage of embeds_dtype; mask bool [>= n]. Returns storage of x's shape: a
    masked row with prev_k >= 0 is normal(step seed, hidden) delivered in dtype, a masked row with
    prev_k < 0 is embeds' row (its bits when the dtypes agree, else widened exactly and delivered
    in dtype), any other row x's bits."""
    x = _check_storage(x, dtype)
    embeds = _check_storage(embeds, embeds_dtype)
    if x.ndim != 2 or embeds.ndim != 2 or embeds.shape[1] != x.shape[1] or embeds.shape[0] < x.shape[0]:
        raise ValueError("embed_synth: x [n, hidden] and embeds [>= n, hidden]")
    n, hidden = x.shape
    base = np.asarray(base_seeds, dtype=np.int64)[:n]
    t = np.asarray(step, dtype=np.int64)[:n]
    prev = np.asarray(prev_k, dtype=np.int64)[:n]
    m = np.asarray(mask, dtype=bool)[:n]
    out = x.copy()                                                  # other rows: bit for bit
    decode = np.nonzero(m & (prev >= 0))[0]
    if decode.size:
        out[decode] = step_normal(base[decode], t[decode], prev[decode], salt, hidden, dtype)
    prefill = np.nonzero(m & (prev < 0))[0]
    if prefill.size:
        if embeds_dtype == dtype:
            out[prefill] = embeds[prefill]                          # bit for bit
        else:
            widened = _widen(embeds[prefill])                       # exact
            out[prefill] = widened if dtype == "float32" else _deliver(widened, dtype)
    return out


def router_override(logits: np.ndarray, dtype: str, route_seeds, step, mask, n_experts: int,
                    top_k: int, ladder_base: int = LADDER_BASE) -> np.ndarray:
    """10.12: logits [n, E] storage of dtype; route_seeds, step ints [>= n]; mask bool [>= n].
    A masked row is 10.4's row of route seed hash(u32(step), u32(route seed)) in dtype, any other
    row logits' bits."""
    logits = _check_storage(logits, dtype)
    if logits.ndim != 2 or logits.shape[1] != n_experts:
        raise ValueError("router_override: logits [n, n_experts]")
    if not 1 <= top_k <= min(n_experts, 2**23) or not -(2**23) <= ladder_base <= 2**23:
        raise ValueError("router_override: top_k or ladder_base out of 10.4's range")
    n = logits.shape[0]
    m = np.asarray(mask, dtype=bool)[:n]
    out = logits.copy()
    rows = np.nonzero(m)[0]
    if rows.size:
        seeds = np.asarray(route_seeds, dtype=np.int64)[:n][rows]
        steps = np.asarray(step, dtype=np.int64)[:n][rows]
        out[rows] = forced_logits(seeds, n_experts, top_k, ladder_base, steps, dtype)
    return out
