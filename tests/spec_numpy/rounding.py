"""SPEC.md section 6: output rounding to float16 and bfloat16.

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import U32


# ---------------------------------------------------------------------------------------------
# Section 6: output rounding
# ---------------------------------------------------------------------------------------------
def to_fp16_bits(x: np.ndarray) -> np.ndarray:
    u = np.asarray(x, dtype=np.float32).view(np.uint32)
    a = u & U32(0x7FFFFFFF)
    sign = (u >> U32(16)) & U32(0x8000)
    with np.errstate(over="ignore"):
        # normal fp16 range
        m = a - U32(0x38000000)
        normal_r = (m + U32(0x0FFF) + ((m >> U32(13)) & U32(1))) >> U32(13)
        # fp16 subnormal range (shift in 14..24 there); clip elsewhere to keep shifts defined
        e = (a >> U32(23)).astype(np.int64)
        shift = np.clip(126 - e, 1, 31).astype(np.uint32)
        mant = (a & U32(0x7FFFFF)) | U32(0x800000)
        k = mant >> shift
        rem = mant & ((U32(1) << shift) - U32(1))
        half = U32(1) << (shift - U32(1))
        up = (rem > half) | ((rem == half) & ((k & U32(1)) == U32(1)))
        sub_r = k + up.astype(np.uint32)
    res = np.where(
        a > U32(0x7F800000), U32(0x7E00),
        np.where(a >= U32(0x477FF000), U32(0x7C00),
                 np.where(a >= U32(0x38800000), normal_r,
                          np.where(a <= U32(0x33000000), U32(0), sub_r))))
    return (sign | res.astype(np.uint32)).astype(np.uint16)


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    u = np.asarray(x, dtype=np.float32).view(np.uint32)
    with np.errstate(over="ignore"):
        r = (u + U32(0x7FFF) + ((u >> U32(16)) & U32(1))) >> U32(16)
    res = np.where((u & U32(0x7FFFFFFF)) > U32(0x7F800000), U32(0x7FC0), r)
    return res.astype(np.uint16)


def _deliver(x: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "float32":
        return np.asarray(x, dtype=np.float32)
    if dtype == "float16":
        return to_fp16_bits(x).view(np.float16)
    if dtype == "bfloat16":
        return to_bf16_bits(x)
    raise ValueError(f"unknown dtype {dtype!r}")
