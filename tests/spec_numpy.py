"""Independent NumPy implementation of SPEC.md (pocrand-v1), written from the spec text.

Rules followed throughout the computation path: every floating-point operation is a single
binary32 operation on np.float32 values (one RNE rounding each, no fused multiply-add, no
reassociation, no float64 intermediates, no numpy transcendental or reduction routines such as
np.sum/np.dot/np.log/np.sin); every constant is np.float32(float.fromhex(...)) of the spec's hex
float; all integer steps are u32 arithmetic on np.uint32 arrays (wraparound intended).  float64
appears only in the self-check under ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np

F32 = np.float32
U32 = np.uint32


def _hexf(s: str) -> np.float32:
    """A spec hex-float constant, checked to be exactly representable in binary32."""
    v = float.fromhex(s)
    f = np.float32(v)
    assert float(f) == v, f"constant {s} is not exact in binary32"
    return f


def _u(x: int) -> np.uint32:
    return np.uint32(x & 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------------
# Section 0: constants
# ---------------------------------------------------------------------------------------------
TWO_NEG32 = _hexf("0x1p-32")
MIN_U1 = _hexf("0x1.b7cdfep-34")
TWO_PI = _hexf("0x1.921fb6p+2")
CANONICAL_NAN_BITS = 0x7FC00000
CANONICAL_NAN = np.array([CANONICAL_NAN_BITS], dtype=np.uint32).view(np.float32)[0]

# small exact constants used by the formulas
_ZERO = F32(0.0)
_HALF = F32(0.5)
_ONE = F32(1.0)
_TWO = F32(2.0)
_MINUS_TWO = F32(-2.0)

# ---------------------------------------------------------------------------------------------
# Section 1: murmur3
# ---------------------------------------------------------------------------------------------
_C1 = _u(0xCC9E2D51)
_C2 = _u(0x1B873593)
_N = _u(0xE6546B64)
_FM1 = 0x85EBCA6B
_FM2 = 0xC2B2AE35
_FM1_INV = pow(_FM1, -1, 1 << 32)
_FM2_INV = pow(_FM2, -1, 1 << 32)
assert (_FM1 * _FM1_INV) & 0xFFFFFFFF == 1 and (_FM2 * _FM2_INV) & 0xFFFFFFFF == 1


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << U32(r)) | (x >> U32(32 - r))


def fmix32(h: np.ndarray) -> np.ndarray:
    h = np.asarray(h, dtype=np.uint32).copy()
    with np.errstate(over="ignore"):
        h ^= h >> U32(16)
        h = h * _u(_FM1)
        h ^= h >> U32(13)
        h = h * _u(_FM2)
        h ^= h >> U32(16)
    return h


def fmix32_inverse(h: np.ndarray) -> np.ndarray:
    """Inverse of fmix32 (each step undone in reverse order)."""
    h = np.asarray(h, dtype=np.uint32).copy()
    with np.errstate(over="ignore"):
        h ^= h >> U32(16)                       # x ^= x >> 16 is an involution on u32
        h = h * _u(_FM2_INV)
        h = h ^ (h >> U32(13)) ^ (h >> U32(26))  # inverse of x ^= x >> 13
        h = h * _u(_FM1_INV)
        h ^= h >> U32(16)
    return h


def _murmur3(keys: np.ndarray, seeds) -> np.ndarray:
    """hash(key, seed) with broadcasting between keys and seeds (both u32)."""
    k = np.asarray(keys, dtype=np.uint32)
    s = np.asarray(seeds, dtype=np.uint32)
    with np.errstate(over="ignore"):
        k = k * _C1
        k = _rotl(k, 15)
        k = k * _C2
        h = s ^ k
        h = _rotl(h, 13)
        h = h * U32(5) + _N
    return fmix32(h)


def murmur3(keys: np.ndarray, seed: int) -> np.ndarray:
    return _murmur3(np.asarray(keys, dtype=np.uint32), _u(int(seed)))


def murmur3_32(keys: np.ndarray, seed: int) -> np.ndarray:
    k = np.asarray(keys, dtype=np.int64)
    k32 = (k & np.int64(0xFFFFFFFF)).astype(np.uint32)
    return murmur3(k32, seed).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Section 2: uniform
# ---------------------------------------------------------------------------------------------
def _u32_to_f32(h: np.ndarray) -> np.ndarray:
    # numpy's uint32 -> float32 cast is a single correctly rounded (RNE) conversion; the
    # self-check verifies this against an integer-only RNE conversion.
    return np.asarray(h, dtype=np.uint32).astype(np.float32)


def uniform_from_hash(h: np.ndarray) -> np.ndarray:
    return _u32_to_f32(h) * TWO_NEG32


def uniform(seed: int, n: int) -> np.ndarray:
    idx = np.arange(n, dtype=np.uint32)
    return uniform_from_hash(murmur3(idx, seed))


# ---------------------------------------------------------------------------------------------
# Section 3: log
# ---------------------------------------------------------------------------------------------
LG1 = _hexf("0x1.555554p-1")
LG2 = _hexf("0x1.999c26p-2")
LG3 = _hexf("0x1.23d3dcp-2")
LG4 = _hexf("0x1.f13c4cp-3")
LN2_HI = _hexf("0x1.62e3p-1")
LN2_LO = _hexf("0x1.2fefa2p-17")


def log(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    ix = x.view(np.uint32)
    mant = ix & U32(0x007FFFFF)
    bump = (mant + U32(0x4AFB0D)) & U32(0x00800000)
    k = (ix >> U32(23)).astype(np.int32) - np.int32(127) + (bump >> U32(23)).astype(np.int32)
    m = (mant | (bump ^ U32(0x3F800000))).view(np.float32)
    f = m - _ONE
    s = f / (_TWO + f)
    dk = k.astype(np.float32)  # exact: |k| < 2^24
    z = s * s
    w = z * z
    t1 = w * (LG2 + (w * LG4))
    t2 = z * (LG1 + (w * LG3))
    R = t2 + t1
    hfsq = (_HALF * f) * f
    inn = (s * (hfsq + R)) + (dk * LN2_LO)
    return (dk * LN2_HI) - ((hfsq - inn) - f)


# ---------------------------------------------------------------------------------------------
# Section 4: sin and cos
# ---------------------------------------------------------------------------------------------
TWO_OVER_PI = _hexf("0x1.45f306p-1")
RINT_MAGIC = _hexf("0x1.8p23")
PIO2_C1 = _hexf("0x1.921fap+0")
PIO2_C2 = _hexf("0x1.54442p-20")
PIO2_C3 = _hexf("0x1.a308d4p-41")
S1 = _hexf("-0x1.555546p-3")
S2 = _hexf("0x1.11073cp-7")
S3 = _hexf("-0x1.9943f2p-13")
C1 = _hexf("0x1.55554ap-5")
C2 = _hexf("-0x1.6c0c34p-10")
C3 = _hexf("0x1.99eb9cp-16")


def _kernel_sin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = x * x
    v = z * x
    r = S2 + (z * S3)
    a = (_HALF * y) - (v * r)
    return x - (((z * a) - y) - (v * S1))


def _kernel_cos(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = x * x
    r = z * (C1 + (z * (C2 + (z * C3))))
    hz = _HALF * z
    w = _ONE - hz
    corr = ((_ONE - w) - hz) + ((z * r) - (x * y))
    return w + corr


def sincos(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    th = np.asarray(theta, dtype=np.float32)
    t = (th * TWO_OVER_PI) + RINT_MAGIC
    j = t - RINT_MAGIC
    q = t.view(np.uint32) & U32(3)
    a = th - (j * PIO2_C1)
    b = j * PIO2_C2
    hi = a - b
    bv = hi - a
    err = (a - (hi - bv)) + ((_ZERO - b) - bv)
    lo = err - (j * PIO2_C3)
    x = hi + lo
    y = lo - (x - hi)
    s = _kernel_sin(x, y)
    c = _kernel_cos(x, y)
    ns = _ZERO - s
    nc = _ZERO - c
    sin_out = np.select([q == 0, q == 1, q == 2], [s, c, ns], default=nc).astype(np.float32)
    cos_out = np.select([q == 0, q == 1, q == 2], [c, ns, nc], default=s).astype(np.float32)
    return sin_out, cos_out


# ---------------------------------------------------------------------------------------------
# Section 5: Box-Muller
# ---------------------------------------------------------------------------------------------
def box_muller(u1_raw: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u1_raw = np.asarray(u1_raw, dtype=np.float32)
    u2 = np.asarray(u2, dtype=np.float32)
    u1 = np.where(u1_raw < MIN_U1, MIN_U1, u1_raw).astype(np.float32)
    r = np.sqrt(_MINUS_TWO * log(u1))
    th = TWO_PI * u2
    s, c = sincos(th)
    return r * c, r * s


def normal(seed: int, n: int) -> np.ndarray:
    if n < 1:
        raise ValueError("normal: n must be >= 1")
    p = (n + 1) // 2
    u = uniform(seed, 2 * p)  # indices 0 .. 2p-1 (2p-1 == n for odd n: computed, then dropped)
    first, second = box_muller(u[:p], u[p:2 * p])
    out = np.empty(n, dtype=np.float32)
    out[:p] = first
    out[p:] = second[: n - p]
    return out


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


# ---------------------------------------------------------------------------------------------
# Section 7: reduction order
# ---------------------------------------------------------------------------------------------
CHUNK = 1024


def _tree_sum_rows(a: np.ndarray) -> np.ndarray:
    """Section 7 sum applied independently to every row of a 2-D float32 array [B, n], n >= 1."""
    v = np.asarray(a, dtype=np.float32)
    if v.ndim != 2 or v.shape[1] < 1:
        raise ValueError("tree sum needs n >= 1 terms per row")
    B = v.shape[0]
    while True:
        n = v.shape[1]
        nc = -(-n // CHUNK)
        if nc * CHUNK != n:
            padded = np.zeros((B, nc * CHUNK), dtype=np.float32)  # +0.0 padding
            padded[:, :n] = v
            v = padded
        c = v.reshape(B, nc, CHUNK)
        width = CHUNK // 2
        while width >= 1:
            c = c[:, :, :width] + c[:, :, width:2 * width]
            width //= 2
        v = c[:, :, 0]
        if nc == 1:
            return v[:, 0].copy()


def tree_sum(v: np.ndarray) -> np.float32:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return np.float32(_tree_sum_rows(v[None, :])[0])


def _sumsq_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return _tree_sum_rows(a * a)


def _norm_rows(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.sqrt(_sumsq_rows(a))


def sumsq(v: np.ndarray) -> np.float32:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return np.float32(_sumsq_rows(v[None, :])[0])


def norm(v: np.ndarray) -> np.float32:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return np.float32(_norm_rows(v[None, :])[0])


# ---------------------------------------------------------------------------------------------
# Section 8: operations
# ---------------------------------------------------------------------------------------------
def seed_from_string(s: str) -> int:
    return int.from_bytes(hashlib.sha256(s.encode("utf-8")).digest()[:4], "big")


def inputs_seed(block_hash: str, public_key: str, nonce: int) -> int:
    return seed_from_string(f"{block_hash}_{public_key}_nonce{int(nonce)}")


def permutations_seed(block_hash: str, public_key: str, nonce: int) -> int:
    return seed_from_string(f"{block_hash}_{public_key}_nonce_{int(nonce)}_permutations")


def target_seed(block_hash: str) -> int:
    return seed_from_string(f"{block_hash}_target")


def _check_nonce(nonce: int) -> None:
    if not (-(1 << 63) <= int(nonce) < (1 << 63)):
        raise ValueError("nonce outside the int64 range")


def generate_inputs(block_hash: str, public_key: str, nonces: list[int], dim: int,
                    seq_len: int, dtype: str) -> np.ndarray:
    n = seq_len * dim
    rows = []
    for nonce in nonces:
        _check_nonce(nonce)
        rows.append(normal(inputs_seed(block_hash, public_key, nonce), n))
    out = (np.stack(rows) if rows else np.zeros((0, n), dtype=np.float32))
    out = out.reshape(len(nonces), seq_len, dim)
    return _deliver(out, dtype)


def generate_permutations(block_hash: str, public_key: str, nonces: list[int],
                          vocab_size: int) -> np.ndarray:
    for nonce in nonces:
        _check_nonce(nonce)
    seeds = np.array([permutations_seed(block_hash, public_key, nc) for nc in nonces],
                     dtype=np.uint32)
    idx = np.arange(vocab_size, dtype=np.uint32)
    h = _murmur3(idx[None, :], seeds[:, None])            # [B, V]
    return np.argsort(h, axis=1, kind="stable").astype(np.int64)


def generate_target(block_hash: str, vocab_size: int, dtype: str = "float32") -> np.ndarray:
    t = normal(target_seed(block_hash), vocab_size)
    nt = norm(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        target = t / nt
    bits = target.view(np.uint32).copy()
    bits[np.isnan(target)] = U32(CANONICAL_NAN_BITS)  # zero norm: every element is CANONICAL_NAN
    return _deliver(bits.view(np.float32), dtype)


def _widen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint16:  # bfloat16 bit patterns (this module's bfloat16 convention)
        return (a.astype(np.uint32) << U32(16)).view(np.float32)
    return a.astype(np.float32)  # float32 unchanged, float16 widened exactly


def compute_distances(logits: np.ndarray, permutations: np.ndarray,
                      target: np.ndarray) -> np.ndarray:
    x = _widen(logits)
    tg = _widen(target)
    perm = np.asarray(permutations, dtype=np.int64)
    if x.ndim != 2 or perm.shape != x.shape or tg.shape != (x.shape[1],):
        raise ValueError("shapes must be logits [B, V], permutations [B, V], target [V]")
    V = x.shape[1]
    if perm.size and (perm.min() < 0 or perm.max() >= V):
        raise ValueError("permutation entries must lie in [0, V)")
    nx = _norm_rows(x)                                        # [B]
    bad = (nx == _ZERO) | ~np.isfinite(nx)
    xg = np.take_along_axis(x, perm, axis=1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d = (xg / nx[:, None]) - tg[None, :]
    dist = _norm_rows(d)
    bad = bad | np.isnan(dist)  # canonicalise every NaN (see report: NaN target entries)
    bits = dist.view(np.uint32).copy()
    bits[bad] = U32(CANONICAL_NAN_BITS)
    return bits.view(np.float32)


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

    print("SELF-CHECK", "PASSED" if ok else "FAILED")
    return ok


if __name__ == "__main__":
    sys.exit(0 if _self_check(exhaustive="--exhaustive" in sys.argv[1:]) else 1)
