"""The self-check of sections 0-8 (`python tests/spec_numpy`). float64 appears here
only as the reference for error measurement, never in the computation path.
"""
from __future__ import annotations

import numpy as np

from .constants import F32, MIN_U1, TWO_PI, U32
from .hashing import fmix32, fmix32_inverse, _murmur3
from .uniforms import _u32_to_f32, uniform_from_hash
from .logarithm import log
from .trig import sincos
from .gaussian import normal
from .rounding import to_fp16_bits
from .operations import seed_from_string
from .selfcheck_v2 import _self_check_v2


# ---------------------------------------------------------------------------------------------
# Self-check (float64 is used here only, as the reference for error measurement)
# ---------------------------------------------------------------------------------------------
def _ulp_err(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in binary32 ulps of the exact value (float64 reference)."""
    ex = exact.astype(np.float64)
    _, e = np.frexp(ex)                       # |ex| in [2^(e-1), 2^e)
    ulp_exp = np.maximum(e - 1, -126) - 23
    ulp_exp = np.where(ex == 0.0, -149, ulp_exp)
    return np.abs(got.astype(np.float64) - ex) / np.ldexp(1.0, ulp_exp)


def _f32_range_bits(lo: np.float32, hi: np.float32) -> tuple[int, int]:
    return int(np.float32(lo).view(np.uint32)), int(np.float32(hi).view(np.uint32))


def _max_err_over_bits(fn, refs, b_lo: int, b_hi: int, exhaustive: bool, rng) -> list[float]:
    worst = [0.0] * len(refs)
    if exhaustive:
        step = 1 << 24
        starts = range(b_lo, b_hi + 1, step)
        chunks = (np.arange(s, min(s + step, b_hi + 1), dtype=np.uint32) for s in starts)
    else:
        lo_f = float(np.uint32(b_lo).view(np.float32))
        hi_f = float(np.uint32(b_hi).view(np.float32))
        a = rng.integers(b_lo, b_hi + 1, size=1 << 23, dtype=np.int64).astype(np.uint32)
        b = np.float32(rng.uniform(lo_f, hi_f, size=1 << 23)).view(np.uint32)
        edges = np.concatenate([np.arange(b_lo, b_lo + 4096), np.arange(b_hi - 4095, b_hi + 1)])
        chunks = [a, b, edges.astype(np.uint32)]
    for bits in chunks:
        x = bits.view(np.float32)
        outs = fn(x)
        for i, (out, ref) in enumerate(zip(outs, refs)):
            err = _ulp_err(out, ref(x.astype(np.float64)))
            worst[i] = max(worst[i], float(err.max()))
    return worst


def _u32_to_f32_integer_rne(h: np.ndarray) -> np.ndarray:
    """Reference u32 -> binary32 RNE conversion using integer operations only."""
    h = np.asarray(h, dtype=np.uint32).astype(np.uint64)
    one = np.uint64(1)
    # bit length by binary search
    nbits = np.zeros(h.shape, dtype=np.uint64)
    t = h.copy()
    for s in (16, 8, 4, 2, 1):
        big = (t >> np.uint64(s)) != 0
        nbits = np.where(big, nbits + np.uint64(s), nbits)
        t = np.where(big, t >> np.uint64(s), t)
    nbits = nbits + (t != 0).astype(np.uint64)          # 0 for h == 0
    e = nbits.astype(np.int64) - 1                       # exponent of the leading bit
    sh = np.maximum(nbits.astype(np.int64) - 24, 0).astype(np.uint64)
    k = h >> sh
    rem = h & ((one << sh) - one)
    half = np.where(sh > 0, one << np.maximum(sh.astype(np.int64) - 1, 0).astype(np.uint64), 0)
    up = (sh > 0) & ((rem > half) | ((rem == half) & ((k & one) == one)))
    k = k + up.astype(np.uint64)
    carry = k == (one << np.uint64(24))
    k = np.where(carry, k >> one, k)
    e = np.where(carry, e + 1, e)
    # k has its leading bit at position min(e, 23); move it to bit 23
    kpos = np.where(sh > 0, 23, np.maximum(e, 0))
    k = k << (np.uint64(23) - kpos.astype(np.uint64))
    bits = (((e + 127).astype(np.uint64) << np.uint64(23)) | (k & np.uint64(0x7FFFFF)))
    bits = np.where(h == 0, np.uint64(0), bits)
    return bits.astype(np.uint32).view(np.float32)


def _self_check(exhaustive: bool = False) -> bool:
    ok = True
    rng = np.random.default_rng(12345)
    mode = "exhaustive" if exhaustive else "sampled"

    # u32 -> f32 conversion is RNE
    h = np.concatenate([
        rng.integers(0, 1 << 32, size=1 << 22, dtype=np.int64),
        np.arange(0, 1 << 16),
        np.arange((1 << 32) - (1 << 16), 1 << 32),
        *[np.arange((1 << p) - 300, (1 << p) + 300) for p in range(24, 32)],
    ]).astype(np.uint32)
    conv_ok = np.array_equal(_u32_to_f32(h).view(np.uint32), _u32_to_f32_integer_rne(h).view(np.uint32))
    print(f"u32->f32 cast equals integer RNE conversion: {conv_ok}")
    ok &= conv_ok
    edge = uniform_from_hash(np.array([0, (1 << 32) - 129, (1 << 32) - 128, (1 << 32) - 1], dtype=np.uint32))
    edge_ok = edge.tolist() == [0.0, float.fromhex("0x1.fffffep-1"), 1.0, 1.0]
    print(f"uniform endpoints (0, 2^32-129, 2^32-128, 2^32-1) -> {edge.tolist()}: {edge_ok}")
    ok &= edge_ok

    # log on [MIN_U1, 1]
    b_lo, b_hi = _f32_range_bits(MIN_U1, F32(1.0))
    (e_log,) = _max_err_over_bits(lambda x: (log(x),), [np.log], b_lo, b_hi, exhaustive, rng)
    print(f"log   max error over [MIN_U1, 1] ({mode}): {e_log:.4f} ulp")
    ok &= e_log <= 1.0
    l1 = log(np.array([1.0], dtype=np.float32))
    print(f"log(1) bits = {int(l1.view(np.uint32)[0]):#010x} (expect +0)")
    ok &= int(l1.view(np.uint32)[0]) == 0

    # sin / cos on [0, TWO_PI]
    b_lo, b_hi = _f32_range_bits(F32(0.0), TWO_PI)
    e_sin, e_cos = _max_err_over_bits(lambda x: sincos(x), [np.sin, np.cos], b_lo, b_hi,
                                      exhaustive, rng)
    print(f"sin   max error over [0, TWO_PI] ({mode}): {e_sin:.4f} ulp")
    print(f"cos   max error over [0, TWO_PI] ({mode}): {e_cos:.4f} ulp")
    ok &= e_sin <= 1.0 and e_cos <= 1.0

    # mmh3 identity of section 1
    try:
        import mmh3  # type: ignore
    except ImportError:
        print("mmh3 not importable: identity check skipped")
    else:
        keys = np.concatenate([rng.integers(0, 1 << 32, size=20000, dtype=np.int64),
                               [0, 1, 4, 0xFFFFFFFF, 0x80000000]]).astype(np.uint32)
        seeds = rng.integers(0, 1 << 32, size=keys.size, dtype=np.int64)
        seeds[:5] = [0, 0xFFFFFFFF, 1, 42, 0x9747B28C]
        ref = np.array([mmh3.hash(int(k).to_bytes(4, "little"), int(s), signed=False)
                        for k, s in zip(keys, seeds)], dtype=np.uint32)
        lhs = _murmur3(keys, seeds.astype(np.uint32))
        rhs = fmix32(fmix32_inverse(ref) ^ U32(4))
        inv_ok = np.array_equal(fmix32_inverse(fmix32(keys)), keys)
        mm_ok = bool(np.array_equal(lhs, rhs)) and inv_ok
        print(f"mmh3 identity hash(key,seed) == fmix32(fmix32^-1(mmh3) ^ 4) on {keys.size} pairs: {mm_ok}")
        ok &= mm_ok

    # fp16 rule vs numpy's RNE float32->float16 on non-NaN values
    bits = np.concatenate([rng.integers(0, 1 << 32, size=1 << 22, dtype=np.int64),
                           np.arange(0x33000000 - 10, 0x38800000 + 10, 97),
                           np.arange(0x477FE000, 0x47801000)]).astype(np.uint32)
    xf = bits.view(np.float32)
    nn = ~np.isnan(xf)
    with np.errstate(over="ignore"):
        f16_ok = np.array_equal(to_fp16_bits(xf[nn]), xf[nn].astype(np.float16).view(np.uint16))
    nan_ok = bool(np.all((to_fp16_bits(xf[~nn]) & 0x7FFF) == 0x7E00))
    print(f"fp16 bit rule equals numpy float16 RNE (non-NaN): {f16_ok}; NaN -> 0x7e00: {nan_ok}")
    ok &= f16_ok and nan_ok

    # normal: finite, |out| < 6.8
    z = normal(seed_from_string("self-check"), 1_000_001)
    nrm_ok = bool(np.all(np.isfinite(z)) and np.all(np.abs(z) < 6.8))
    print(f"normal(n=1000001) finite and |out| < 6.8: {nrm_ok}")
    ok &= nrm_ok

    ok &= _self_check_v2(rng)

    print("SELF-CHECK", "PASSED" if ok else "FAILED")
    return ok
