"""Independent NumPy implementation of SPEC.md (pocrand-v1), written from the spec text.

Rules followed throughout the computation path: every floating-point operation is a single
binary32 operation on np.float32 values (one RNE rounding each, no fused multiply-add, no
reassociation, no float64 intermediates, no numpy transcendental or reduction routines such as
np.sum/np.dot/np.log/np.sin); every constant is np.float32(float.fromhex(...)) of the spec's hex
float; all integer steps are u32 arithmetic on np.uint32 arrays (wraparound intended).  float64
appears only in the self-check under ``if __name__ == "__main__"``.  Sections 0-8 are the
Phase-2 pipeline; section 9 (PoC v2) and section 10 (gonka-poc) follow them, under the same
rules.
"""

from __future__ import annotations

import hashlib
import math
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
# Section 9: PoC v2 (the deployed pipeline)
#
# Written from SPEC.md section 9 alone, under the same rules as above (single binary32 ops,
# section 7 sums, u32 integer steps).  Storage conventions: "float32" -> np.float32,
# "float16" -> np.float16, "bfloat16" -> np.uint16 bit patterns.
# ---------------------------------------------------------------------------------------------
TINY = _hexf("0x1.4484cp-100")    # f32(1e-30), added to a unit vector's norm
EPS8 = _hexf("0x1.5798eep-27")    # f32(1e-8), added to an artifact's norms
FP16_NAN_BITS = 0x7E00
_MAX_DIM = (1 << 31) - 1
_BATCH_ELEMS = 1 << 22            # rows are processed in batches of about this many elements

_STORAGE = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}


def _check_storage(a: np.ndarray, dtype: str) -> np.ndarray:
    if dtype not in _STORAGE:
        raise ValueError(f"unknown dtype {dtype!r}")
    a = np.asarray(a)
    if a.dtype != _STORAGE[dtype]:
        raise ValueError(f"{dtype} storage must be a {np.dtype(_STORAGE[dtype]).name} array, "
                         f"got {a.dtype}")
    return a


def _canonicalize_nan(y: np.ndarray) -> np.ndarray:
    """Every NaN of a float32 array replaced by CANONICAL_NAN (bits 0x7fc00000)."""
    y = np.asarray(y, dtype=np.float32)
    bits = y.view(np.uint32).copy()
    bits[np.isnan(y)] = U32(CANONICAL_NAN_BITS)
    return bits.view(np.float32)


def _deliver_canonical(y: np.ndarray, dtype: str) -> np.ndarray:
    """9.3's delivery: NaN -> CANONICAL_NAN first, then section 6 rounding (one rounding)."""
    return _deliver(_canonicalize_nan(y), dtype)


def _seeds_u32(seeds) -> np.ndarray:
    s = [int(x) for x in np.asarray(seeds, dtype=object).reshape(-1)]
    if any(not (0 <= x < (1 << 32)) for x in s):
        raise ValueError("seeds must be u32 values in [0, 2^32)")
    return np.array(s, dtype=np.uint32)


# --- section 5 random access (used by 9.1's random access) -----------------------------------
def normal_elements(idx, n: int, seed: int) -> np.ndarray:
    """normal_element(i, n, seed) of section 5 for every i in idx (0 <= i < n)."""
    i = np.asarray(idx, dtype=np.int64)
    if n < 1 or (i.size and (i.min() < 0 or i.max() >= n)):
        raise ValueError("normal_element: need 0 <= i < n")
    p = (n + 1) // 2
    j = np.where(i < p, i, i - p)
    u1 = uniform_from_hash(murmur3(j.astype(np.uint32), seed))
    u2 = uniform_from_hash(murmur3((j + p).astype(np.uint32), seed))
    first, second = box_muller(u1, u2)
    return np.where(i < p, first, second).astype(np.float32)


def _normal_rows(seeds, n: int) -> np.ndarray:
    """Row r = normal(seeds[r], n) (section 5), float32 [len(seeds), n]; batched over seeds."""
    sd = _seeds_u32(seeds)
    if n < 1:
        raise ValueError("normal: n must be >= 1")
    p = (n + 1) // 2
    idx = np.arange(2 * p, dtype=np.uint32)   # 2p - 1 == n for odd n: computed, then dropped
    out = np.empty((sd.size, n), dtype=np.float32)
    step = max(1, _BATCH_ELEMS // (2 * p))
    for a in range(0, sd.size, step):
        u = uniform_from_hash(_murmur3(idx[None, :], sd[a:a + step, None]))
        first, second = box_muller(u[:, :p], u[:, p:])
        out[a:a + step, :p] = first
        out[a:a + step, p:] = second[:, : n - p]
    return out


# --- 9.1 concat segments ---------------------------------------------------------------------
def concat_segments(n: int) -> list[tuple[int, int]]:
    """[(start_j, len_j)] for the segments of 9.1: L = ceil(n/8), segment j iff j*L < n."""
    if not (1 <= n <= _MAX_DIM):
        raise ValueError("concat: n must be in [1, 2^31 - 1]")
    L = -(-n // 8)
    return [(j * L, min(L, n - j * L)) for j in range(8) if j * L < n]


def concat_normal(words: list[int], n: int) -> np.ndarray:
    w = [int(x) for x in words]
    if len(w) != 8:
        raise ValueError("concat_normal needs 8 seed words")
    _seeds_u32(w)
    out = np.empty(n, dtype=np.float32)
    for j, (start, length) in enumerate(concat_segments(n)):
        out[start:start + length] = normal(w[j], length)
    return out


def concat_normal_element(i, n: int, words: list[int]) -> np.ndarray:
    """9.1 random access: element(s) i of concat_normal(words, n), each computed alone."""
    i = np.asarray(i, dtype=np.int64)
    if i.size and (i.min() < 0 or i.max() >= n):
        raise ValueError("concat_normal_element: need 0 <= i < n")
    L = -(-n // 8)
    j = i // L
    out = np.empty(i.shape, dtype=np.float32)
    for seg in np.unique(j):
        sel = j == seg
        seg = int(seg)
        len_j = min(L, n - seg * L)
        out[sel] = normal_elements(i[sel] - seg * L, len_j, int(words[seg]))
    return out


# --- 9.2 unit vectors ------------------------------------------------------------------------
def unit_vectors(seeds: list[int], dim: int) -> np.ndarray:
    """float32 [len(seeds), dim]; row r = unit_vector(seeds[r], dim) (9.2, 9.7)."""
    if not (1 <= dim <= _MAX_DIM):
        raise ValueError("unit_vector: dim must be in [1, 2^31 - 1]")
    sd = _seeds_u32(seeds)
    out = np.empty((sd.size, dim), dtype=np.float32)
    step = max(1, _BATCH_ELEMS // dim)
    for a in range(0, sd.size, step):
        t = _normal_rows(sd[a:a + step], dim)
        d = _norm_rows(t) + TINY                   # norm(t) ⊕ TINY
        with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
            out[a:a + step] = t / d[:, None]       # t[i] ⊘ d
    return out


def unit_vector(seed: int, dim: int) -> np.ndarray:
    return unit_vectors([seed], dim)[0]


# --- 9.3 / 9.8 Householder reflection --------------------------------------------------------
def _householder_f32(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """9.3 in binary32 before delivery: x [R, dim], v [R, dim] or [1, dim] (broadcast)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        dot = _tree_sum_rows(np.broadcast_to(x * v, x.shape))   # sum(x[i] ⊗ v[i]), section 7
        c = _TWO * dot                                           # 2 ⊗ dot
        y = x - (c[:, None] * v)                                 # x[i] ⊖ (c ⊗ v[i])
    return y.astype(np.float32, copy=False)


def householder(x: np.ndarray, v: np.ndarray, dtype: str) -> np.ndarray:
    """apply_householder (9.8): x [..., dim] storage, v [dim] or [R, dim] storage (same dtype).

    Returns storage of x's shape and dtype: every row reflected (9.3), NaN canonicalised, then
    rounded once to the storage type.
    """
    x = _check_storage(x, dtype)
    v = _check_storage(v, dtype)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError("householder: x must be [..., dim] with dim >= 1")
    dim = x.shape[-1]
    x32 = _widen(x).reshape(-1, dim)
    R = x32.shape[0]
    v32 = _widen(v)
    if v32.ndim == 1:
        if v32.shape[0] != dim:
            raise ValueError("householder: v [dim] must match x's last dimension")
        v32 = v32[None, :]
    else:
        if v32.shape[-1] != dim or v32.size != R * dim:
            raise ValueError("householder: v must be [dim] or [R, dim]")
        v32 = v32.reshape(R, dim)
    y = _householder_f32(x32, v32)
    return _deliver_canonical(y, dtype).reshape(x.shape)


# --- 9.4 pick order --------------------------------------------------------------------------
def pick(seed: int, dim: int, k: int) -> np.ndarray:
    """int64 [k]: the k-1 indices scoring below the k-th smallest hash, ascending, then it."""
    if not (1 <= k <= dim <= _MAX_DIM):
        raise ValueError("pick: need 1 <= k <= dim <= 2^31 - 1")
    s = murmur3(np.arange(dim, dtype=np.uint32), seed)   # distinct (bijection)
    T = np.partition(s, k - 1)[k - 1]                     # the k-th smallest score
    below = np.flatnonzero(s < T)                         # ascending index order
    at = np.flatnonzero(s == T)
    if below.size != k - 1 or at.size != 1:
        raise AssertionError("pick: scores are not distinct")  # cannot happen (bijection)
    return np.concatenate([below, at]).astype(np.int64)


# --- 9.5 seeds -------------------------------------------------------------------------------
def seed_words(s: str) -> list[int]:
    d = hashlib.sha256(s.encode("utf-8")).digest()
    return [int.from_bytes(d[4 * j:4 * j + 4], "big") for j in range(8)]


def inputs_words(block_hash: str, public_key: str, nonce: int) -> list[int]:
    return seed_words(f"{block_hash}_{public_key}_nonce{int(nonce)}")


def target_v2_seed(block_hash: str, public_key: str) -> int:
    return seed_from_string(f"{block_hash}_{public_key}_target")


def layer_seed(block_hash: str, i: int) -> int:
    return seed_from_string(f"{block_hash}_layer_{int(i)}_householder")


def pick_seed(block_hash: str, public_key: str, nonce: int, k: int) -> int:
    return seed_from_string(f"{block_hash}_{public_key}_nonce_{int(nonce)}_pick_{int(k)}")


def haar_seed(block_hash: str, public_key: str, nonce: int, k: int, j: int) -> int:
    return seed_from_string(f"{block_hash}_{public_key}_nonce_{int(nonce)}_haar_hh_{int(k)}_{int(j)}")


# --- 9.6 / 9.7 operations --------------------------------------------------------------------
def generate_inputs_concat(block_hash: str, public_key: str, nonces: list[int], dim: int,
                           seq_len: int, dtype: str) -> np.ndarray:
    n = seq_len * dim
    out = np.empty((len(nonces), n), dtype=np.float32)
    for b, nonce in enumerate(nonces):
        _check_nonce(nonce)
        out[b] = concat_normal(inputs_words(block_hash, public_key, nonce), n)
    return _deliver(out.reshape(len(nonces), seq_len, dim), dtype)


def layer_vectors(block_hash: str, num_layers: int, hidden: int) -> np.ndarray:
    return unit_vectors([layer_seed(block_hash, i) for i in range(num_layers)], hidden)


def generate_target_v2(block_hash: str, public_key: str, dim: int,
                       dtype: str = "float32") -> np.ndarray:
    return _deliver(unit_vector(target_v2_seed(block_hash, public_key), dim), dtype)


# --- 9.9 / 9.10 / 9.11 -----------------------------------------------------------------------
def pick_indices(block_hash: str, public_key: str, nonces: list[int], dim: int,
                 k: int) -> np.ndarray:
    out = np.empty((len(nonces), k), dtype=np.int64)
    for b, nonce in enumerate(nonces):
        _check_nonce(nonce)
        out[b] = pick(pick_seed(block_hash, public_key, nonce, k), dim, k)
    return out


def haar_seeds(block_hash: str, public_key: str, nonces: list[int], k: int) -> list[list[int]]:
    for nonce in nonces:
        _check_nonce(nonce)
    return [[haar_seed(block_hash, public_key, nonce, k, j) for j in range(k - 1)]
            for nonce in nonces]


def haar_rotate(x: np.ndarray, seeds: list[list[int]], dtype: str) -> np.ndarray:
    """9.10: x [B, k] storage; seeds [B][k-1]; k-1 reflections, each delivered in dtype."""
    x = _check_storage(x, dtype)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError("haar_rotate: x must be [B, k] with k >= 1")
    B, k = x.shape
    sd = _seeds_u32(seeds) if B * (k - 1) else np.zeros(0, dtype=np.uint32)
    if sd.size != B * (k - 1):
        raise ValueError("haar_rotate: seeds must be [B, k - 1]")
    sd = sd.reshape(B, k - 1)
    if k == 1:                                # no reflection: x with any NaN made canonical
        return _deliver_canonical(_widen(x), dtype)
    y = _widen(x).copy()
    jstep = max(1, _BATCH_ELEMS // max(1, B * k))
    for j0 in range(0, k - 1, jstep):
        j1 = min(k - 1, j0 + jstep)
        # v = unit_vector(seeds[b][j], k), delivered in x's dtype and widened back
        vs = unit_vectors(sd[:, j0:j1].reshape(-1), k).reshape(B, j1 - j0, k)
        vs = _widen(_deliver(vs, dtype))
        for j in range(j1 - j0):
            y = _widen(_deliver_canonical(_householder_f32(y, vs[:, j, :]), dtype))
    return _deliver(y, dtype)                 # y already holds dtype values: exact


def artifacts(hidden: np.ndarray, dtype: str, block_hash: str, public_key: str,
              nonces: list[int], k: int) -> tuple[np.ndarray, np.ndarray]:
    """9.11: (fp16 [B, k], bool [B])."""
    hidden = _check_storage(hidden, dtype)
    if hidden.ndim != 2:
        raise ValueError("artifacts: hidden must be [B, H]")
    B, H = hidden.shape
    if B != len(nonces):
        raise ValueError("artifacts: B must equal len(nonces)")
    if not (1 <= k <= H <= _MAX_DIM):
        raise ValueError("artifacts: need 1 <= k <= H")
    for nonce in nonces:
        _check_nonce(nonce)
    h = _widen(hidden)
    nx = _norm_rows(h)
    flags = np.isnan(nx) | np.isinf(nx)
    out = np.full((B, k), FP16_NAN_BITS, dtype=np.uint16)
    good = np.flatnonzero(~flags)
    if good.size:
        g = np.empty((good.size, k), dtype=np.float32)
        for r, b in enumerate(good):
            d1 = nx[b] + EPS8                                        # nx ⊕ EPS8
            idx = pick(pick_seed(block_hash, public_key, nonces[b], k), H, k)
            with np.errstate(under="ignore"):
                g[r] = h[b, idx] / d1                                # h[idx[m]] ⊘ d1
        g = haar_rotate(g, haar_seeds(block_hash, public_key, [nonces[b] for b in good], k),
                        "float32")
        d2 = _norm_rows(g) + EPS8                                    # norm(g) ⊕ EPS8
        with np.errstate(under="ignore"):
            out[good] = to_fp16_bits(g / d2[:, None])
    return out.view(np.float16), flags.astype(np.bool_)


# ---------------------------------------------------------------------------------------------
# Section 10.6-10.9: the snap of the decode scheme and its validation statistics
# ---------------------------------------------------------------------------------------------
SNAP_MAX = 1024                   # d, P <= 1024 (10.6)


def snap_row(h: np.ndarray, seed: int, codebook: np.ndarray):
    """10.6 for one widened binary32 row h [H]: (k, bad, scores [P], q [d])."""
    h = np.asarray(h, dtype=np.float32).reshape(-1)
    C = np.asarray(codebook, dtype=np.float32)
    P, d = C.shape
    H = h.shape[0]
    if not (1 <= d <= H and d <= SNAP_MAX and 1 <= P <= SNAP_MAX):
        raise ValueError("snap: need 1 <= d <= H, d <= 1024, 1 <= P <= 1024")
    nh = norm(h)                                                     # √sumsq(h), section 7
    if np.isnan(nh) or np.isinf(nh):
        return -1, True, np.zeros(P, np.float32), np.zeros(d, np.float32)
    d1 = F32(nh + EPS8)                                              # nh ⊕ EPS8
    idx = pick(seed & 0xFFFFFFFF, H, d)                               # 9.4
    with np.errstate(under="ignore"):
        g = h[idx] / d1                                              # h[idx[m]] ⊘ d1
        d2 = F32(norm(g) + EPS8)                                     # norm(g) ⊕ EPS8
        q = g / d2                                                   # g[m] ⊘ d2
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        scores = _tree_sum_rows(q[None, :] * C)                      # row j: sum(q[m] ⊗ C[j][m])
    scores = _canonicalize_nan(scores.astype(np.float32))
    k = 0
    for j in range(1, P):                                            # strict: lowest index wins
        if scores[j] > scores[k]:
            k = j
    return k, False, scores, q.astype(np.float32)


def snap(h: np.ndarray, dtype: str, seeds, codebook: np.ndarray):
    """10.7: (k int64 [B], bad bool [B], scores float32 [B, P], q float32 [B, d]).
    h holds dtype's storage (float32, float16, or bfloat16 bit patterns as uint16)."""
    h = _widen(_check_storage(h, dtype))
    if h.ndim != 2:
        raise ValueError("snap: h must be [B, H]")
    B = h.shape[0]
    seeds = [int(s) for s in seeds]
    if len(seeds) != B:
        raise ValueError("snap: one seed a row")
    C = np.asarray(codebook, dtype=np.float32)
    P, d = C.shape
    k = np.empty(B, np.int64)
    bad = np.empty(B, np.bool_)
    scores = np.empty((B, P), np.float32)
    q = np.empty((B, d), np.float32)
    for b in range(B):
        k[b], bad[b], scores[b], q[b] = snap_row(h[b], seeds[b], C)
    return k, bad, scores, q


def claimed_margin(scores: np.ndarray, claimed) -> np.ndarray:
    """10.8: binary32 best ⊖ scores[claimed], or 2.0 for a claim outside [0, P)."""
    s = np.asarray(scores, dtype=np.float32)
    c = np.asarray(claimed, dtype=np.int64)
    P = s.shape[-1]
    out = np.full(c.shape, F32(2.0), dtype=np.float32)
    flat_s = s.reshape(-1, P)
    flat_c = c.reshape(-1)
    flat_o = out.reshape(-1)
    for r in range(flat_c.shape[0]):
        if 0 <= flat_c[r] < P:
            row = flat_s[r]
            best = row[0]
            for v in row[1:]:                                        # exact selection
                if v > best or np.isnan(v):
                    best = v
            flat_o[r] = F32(best - row[flat_c[r]])
    return out


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


def binomial_upper_tail(F: int, N: int, p: float) -> float:
    """P[X >= F], X ~ Binomial(N, p): exact rational sum, rounded once to float64 (10.9)."""
    from fractions import Fraction
    if N == 0 or F <= 0:
        return 1.0
    if F > N:
        return 0.0
    pf = Fraction(float(p))
    qf = 1 - pf
    total = Fraction(0)
    for i in range(F, N + 1):
        total += math.comb(N, i) * pf ** i * qf ** (N - i)
    return float(total)                      # Fraction -> float rounds to nearest


def validation_stats(claimed, k, scores, tau: float, p_mismatch: float, fraud_threshold: float,
                     requested=None) -> dict:
    """10.9 over per-nonce lists: claimed[n] [T_n], k[n] [T_n], scores[n] [T_n, P]."""
    N = len(claimed)
    mism, mmax, flagged = [], [], []
    for n in range(N):
        c = np.asarray(claimed[n], np.int64).reshape(-1)
        kk = np.asarray(k[n], np.int64).reshape(-1)
        s = np.asarray(scores[n], np.float32).reshape(c.shape[0], -1)
        dis = [t for t in range(c.shape[0]) if kk[t] >= 0 and kk[t] != c[t]]
        margins = claimed_margin(s, c)
        # a NaN margin counts as +inf: NaN never hides a disagreement
        m = max((math.inf if math.isnan(float(margins[t])) else float(margins[t]) for t in dis),
                default=0.0)
        mism.append(len(dis))
        mmax.append(m)
        flagged.append(len(dis) > 0 and m > tau)
    R = N if requested is None else int(requested)
    missing = R - N
    verdict = not (missing > max(1, R // 10))
    Fc = sum(flagged)
    p_value = binomial_upper_tail(Fc, N, p_mismatch) if verdict else None
    return {"mismatches": mism, "margin_max": mmax, "flagged": flagged, "n_flagged": Fc,
            "n_scored": N, "n_missing": missing, "verdict": verdict, "p_value": p_value,
            "fraud_detected": (p_value < fraud_threshold) if verdict else None}


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


# --- Section 9 self-checks: facts independent of 9's formulas (float64 only as a reference) ---
def _zero_normal_seeds() -> np.ndarray:
    """The seeds s with hash(0, s) >= 2^32 - 128 (so u(0, s) = 1.0), found by inverting hash in
    its seed (key 0 makes k = 0, so h = seed): s = rotr((fmix32^-1(H) - n) * 5^-1, 13)."""
    H = np.arange((1 << 32) - 128, 1 << 32, dtype=np.uint64).astype(np.uint32)
    with np.errstate(over="ignore"):
        h = (fmix32_inverse(H) - _N) * U32(pow(5, -1, 1 << 32))
    return np.sort((h >> U32(13)) | (h << U32(19)))


def _f64_ulp(y: np.ndarray, mant_bits: int, min_exp: int) -> np.ndarray:
    """ulp of |y| in a binary format with mant_bits significant bits and min normal exponent."""
    _, e = np.frexp(np.abs(y))
    return np.ldexp(1.0, np.maximum(e - 1, min_exp) - (mant_bits - 1))


_FMT = {"float32": (24, -126), "float16": (11, -14), "bfloat16": (8, -126)}


def _self_check_v2(rng) -> bool:
    import struct
    ok = True
    u = 2.0 ** -24

    def report(name: str, good: bool) -> None:
        nonlocal ok
        print(f"[9] {name}: {good}")
        ok &= bool(good)

    report("TINY == f32(1e-30) and EPS8 == f32(1e-8)",
           TINY == np.float32(1e-30) and EPS8 == np.float32(1e-8))

    # 9.5 seed words: the 8 big-endian u32 words of the digest; word 0 is seed_from_string
    good = True
    for s in ["", "abc", "blöck-π-ハッシュ", "a_b_nonce1"]:
        w = seed_words(s)
        good &= w == list(struct.unpack(">8I", hashlib.sha256(s.encode()).digest()))
        good &= w[0] == seed_from_string(s)
    report("seed_words == struct '>8I' of SHA-256, word 0 == seed_from_string", good)

    # 9.1 segments: exact cover of [0, n), lengths L (last one shorter or equal), at most 8
    good = True
    for n in list(range(1, 21)) + [49, 57, 1023, 1024, 1025, 4099, 10**6 + 3, 2**31 - 1]:
        seg = concat_segments(n)
        L = -(-n // 8)
        cover = np.zeros(min(n, 1 << 16), dtype=np.int64)
        pos = 0
        for st, ln in seg:
            good &= st == pos and 1 <= ln <= L
            if n <= 1 << 16:
                cover[st:st + ln] += 1
            pos += ln
        good &= pos == n and len(seg) == -(-n // L) and len(seg) <= 8
        good &= all(ln == L for _, ln in seg[:-1])
        if n <= 1 << 16:
            good &= bool(np.all(cover == 1))
    good &= len(concat_segments(9)) == 5 and concat_segments(9)[-1] == (8, 1)
    report("concat segments partition [0, n) exactly once (n=1..20 and large n), 9 -> 5 segs", good)

    # random access agrees with the whole vector, for normal() and concat_normal()
    good = True
    for n in list(range(1, 41)) + [1001, 4099]:
        sd = int(rng.integers(0, 1 << 32))
        good &= np.array_equal(normal_elements(np.arange(n), n, sd).view(np.uint32),
                               normal(sd, n).view(np.uint32))
        w = seed_words(f"self-check {n}")
        good &= np.array_equal(concat_normal_element(np.arange(n), n, w).view(np.uint32),
                               concat_normal(w, n).view(np.uint32))
    sds = [0, 1, 0xFFFFFFFF, 12345]
    for n in (1, 2, 3, 1000, 4097):
        rows = _normal_rows(sds, n)
        good &= all(np.array_equal(rows[r].view(np.uint32), normal(s, n).view(np.uint32))
                    for r, s in enumerate(sds))
    report("random access (normal_element, concat_normal_element) and batched normal agree", good)

    # 9.2 claims: t = 0 only for dim <= 2; nonzero normal() elements exceed 2^-43
    Z = _zero_normal_seeds()
    zu = np.array([uniform_from_hash(murmur3(np.zeros(1, np.uint32), int(s)))[0] for s in Z])
    z1 = np.array([uniform_from_hash(murmur3(np.ones(1, np.uint32), int(s)))[0] for s in Z])
    uz = unit_vectors(Z, 2)
    good = (Z.size == 128 and np.unique(Z).size == 128 and bool(np.all(zu == 1.0))
            and bool(np.all(unit_vectors(Z, 1) == 0.0)) and bool(np.all(uz == 0.0))
            and bool(np.all(np.isfinite(uz))) and bool(np.all(z1 < 1.0)))
    report(f"exactly {Z.size} seeds give t = 0 for dim 1 and 2 (v = 0, finite); none of them "
           f"has u(1) = 1, so t = 0 is impossible for dim >= 3 (first: {int(Z[0])})", good)
    r_min = np.sqrt(_MINUS_TWO * log(np.array([1.0 - 2.0 ** -24], dtype=np.float32)))[0]
    m = np.arange(0, 1 << 20, dtype=np.float64)                  # u2 = m 2^-32 near 0
    u2 = [np.float32(m * 2.0 ** -32)]
    for c in (0.25, 0.5, 0.75, 1.0):                              # every float near c
        cb = int(np.float32(c).view(np.uint32))
        bb = np.arange(cb - (1 << 20), min(cb + (1 << 20), int(np.float32(1).view(np.uint32)) + 1))
        u2.append(bb.astype(np.uint32).view(np.float32))
    sn, cs = sincos(TWO_PI * np.concatenate(u2))
    sc = np.abs(np.concatenate([sn, cs]))
    sc_min = sc[sc > 0].min()
    prod = np.float32(r_min) * np.float32(sc_min)
    report(f"min r = {float(r_min):.3e} >= 2^-12, min nonzero |sin|,|cos| = {float(sc_min):.3e} "
           f"> 2^-31, product {float(prod):.3e} > 2^-43",
           r_min >= 2.0 ** -12 and sc_min > 2.0 ** -31 and prod > 2.0 ** -43)

    # unit vectors: norm 1 to a few ulp, elements close to t / ||t|| computed in float64
    good = True
    worst_n = worst_e = 0.0
    for dim in (1, 2, 3, 1000, 8192, 1048577):
        seeds = [0, 1, 0xFFFFFFFF, 0x9747B28C] if dim < 10**6 else [12345]
        v = unit_vectors(seeds, dim).astype(np.float64)
        t = _normal_rows(seeds, dim).astype(np.float64)
        nv = np.sqrt(np.einsum("ij,ij->i", v, v))
        en = float(np.abs(nv - 1.0).max() / u)
        ref = t / np.sqrt(np.einsum("ij,ij->i", t, t))[:, None]
        ee = float((np.abs(v - ref) / _f64_ulp(ref, 24, -126)).max())
        worst_n, worst_e = max(worst_n, en), max(worst_e, ee)
        good &= en <= np.log2(dim) + 4 and ee <= 0.5 * np.log2(dim) + 2
        if dim == 1:
            good &= bool(np.all(np.abs(v) == 1.0))
    report(f"unit vectors: | ||v|| - 1 | <= {worst_n:.2f} x 2^-24, elements within "
           f"{worst_e:.2f} ulp of t/||t||_64, dim 1 gives +-1", good)

    # 9.4 pick: the k smallest scores as a set, k-1 ascending indices then the k-th smallest
    good = True
    for dim, k in ((1, 1), (2, 1), (2, 2), (100, 1), (100, 12), (100, 100), (8192, 12),
                   (8192, 8191), (1000003, 37)):
        for sd in (0, int(rng.integers(0, 1 << 32))):
            p = pick(sd, dim, k)
            s = murmur3(np.arange(dim, dtype=np.uint32), sd).astype(np.int64)
            ref = np.argsort(s, kind="stable")[:k]
            good &= p.dtype == np.int64 and p.shape == (k,)
            good &= set(p.tolist()) == set(ref.tolist())
            good &= bool(np.all(np.diff(p[:-1]) > 0)) and int(p[-1]) == int(ref[-1])
            good &= bool(np.all(s[p[:-1]] < s[p[-1]]))
            if k == dim:
                good &= sorted(p.tolist()) == list(range(dim))
    report("pick = the k smallest hashes; first k-1 ascending by index, last the k-th smallest",
           good)

    # 9.3 Householder vs float64 on the same inputs; twice ~ identity; v = 0; NaN rows
    good = True
    worst32 = worst16 = 0.0
    for dim in (1, 3, 1000, 8192, 100003):
        R = 4
        x32 = normal(int(rng.integers(0, 1 << 32)), R * dim).reshape(R, dim)
        x32[1] *= np.float32(1e4)
        for per_row in (False, True):
            vs = ([int(s) for s in rng.integers(0, 1 << 32, size=R)] if per_row
                  else [int(rng.integers(0, 1 << 32))])
            v32 = unit_vectors(vs, dim)
            for dtype in ("float32", "float16", "bfloat16"):
                xs, vsd = _deliver(x32, dtype), _deliver(v32 if per_row else v32[0], dtype)
                y = _widen(householder(xs, vsd, dtype)).astype(np.float64)
                x64 = _widen(xs).astype(np.float64)
                v64 = np.broadcast_to(_widen(vsd).astype(np.float64), x64.shape)
                c64 = 2.0 * np.einsum("ij,ij->i", x64, v64)
                y64 = x64 - c64[:, None] * v64
                nx = np.sqrt(np.einsum("ij,ij->i", x64, x64))[:, None]
                nb, me = _FMT[dtype]
                # binary32 error <= ~(log2(dim) + 6) u ||x||; then one rounding to the format
                e = np.abs(y - y64) / (0.5 * _f64_ulp(y64, nb, me) * (dtype != "float32")
                                       + (np.log2(dim) + 8) * u * nx)
                err = float(e.max())
                if dtype == "float32":
                    worst32 = max(worst32, float((np.abs(y - y64) / (u * nx)).max()))
                else:
                    worst16 = max(worst16, float((np.abs(y - y64) / _f64_ulp(y64, nb, me)).max()))
                good &= err <= 1.0
        v = unit_vector(int(rng.integers(0, 1 << 32)), dim)
        x = normal(7, dim)[None, :]
        yy = householder(householder(x, v, "float32"), v, "float32").astype(np.float64)
        good &= float(np.abs(yy - x).max()) <= 2 * (np.log2(dim) + 8) * u * float(norm(x))
    report(f"householder within (log2 dim + 8) u ||x|| of float64 (max {worst32:.2f} u ||x||); "
           f"16-bit within 1 ulp of float64 (max {worst16:.3f} ulp); reflecting twice ~ x", good)
    zs = int(Z[0])
    good = True
    for dtype in ("float32", "float16", "bfloat16"):
        x = _deliver(np.array([[1.5], [-0.0], [0.0], [-2.0]], dtype=np.float32), dtype)
        v = _deliver(unit_vector(zs, 1), dtype)
        y = householder(x, v, dtype)
        good &= bool(np.all(_widen(y) == _widen(x)))
        xn = normal(3, 3 * 5).reshape(3, 5)
        xn[1, 2] = np.array([0xFFC12345], dtype=np.uint32).view(np.float32)[0]  # NaN, sign set
        yn = householder(_deliver(xn, dtype), _deliver(unit_vector(9, 5), dtype), dtype)
        bits = yn.view(np.uint32 if dtype == "float32" else np.uint16)
        want = {"float32": 0x7FC00000, "float16": 0x7E00, "bfloat16": 0x7FC0}[dtype]
        good &= bool(np.all(bits[1] == want)) and not np.any(np.isnan(_widen(yn)[[0, 2]]))
    report("v = 0 (zero-vector seed) leaves finite x unchanged up to signed zeros; a NaN row "
           "becomes all canonical NaN (0x7fc00000 / 0x7e00 / 0x7fc0), other rows finite", good)

    # 9.10 Haar: composition of k-1 reflections is orthogonal with det (-1)^(k-1); preserves norms
    good = True
    worst_o = worst_h = 0.0
    for k in (1, 2, 3, 12, 100):
        seeds = [int(s) for s in rng.integers(0, 1 << 32, size=k - 1)]
        Q = haar_rotate(np.eye(k, dtype=np.float32), [seeds] * k, "float32").astype(np.float64)
        eo = float(np.abs(Q @ Q.T - np.eye(k)).max())
        worst_o = max(worst_o, eo / u)
        good &= eo <= 8 * k * (np.log2(k) + 4) * u
        good &= np.sign(np.linalg.det(Q)) == (-1.0) ** (k - 1)
        if k == 1:
            good &= np.array_equal(Q, np.eye(1))
        x = normal(int(rng.integers(0, 1 << 32)), 3 * k).reshape(3, k)
        sd3 = [[int(s) for s in rng.integers(0, 1 << 32, size=k - 1)] for _ in range(3)]
        for dtype in ("float32", "float16", "bfloat16"):
            xs = _deliver(x, dtype)
            y = haar_rotate(xs, sd3, dtype)
            # rows are independent
            good &= np.array_equal(_widen(y)[1], _widen(haar_rotate(xs[1:2], sd3[1:2], dtype))[0])
            nx = np.linalg.norm(_widen(xs).astype(np.float64), axis=1)
            ny = np.linalg.norm(_widen(y).astype(np.float64), axis=1)
            rel = float(np.abs(ny / nx - 1.0).max())
            nb, _ = _FMT[dtype]
            if dtype == "float32":
                worst_h = max(worst_h, rel / u)
            good &= rel <= (k + 1) * (np.log2(k) + 8) * 2.0 ** -nb
    report(f"haar_rotate: Q Q^T = I within {worst_o:.1f} u, det (-1)^(k-1), k = 1 identity, "
           f"norms kept (float32 max {worst_h:.1f} u), rows independent", good)

    # 9.11 artifacts against a float64 pipeline on the same picks and reflection vectors
    good = True
    worst_a = 0.0
    bh, pk = "self-check", "pk"
    for dtype in ("float32", "float16", "bfloat16"):
        for H, k in ((1, 1), (12, 12), (512, 12), (8192, 100)):
            nonces = [0, -1, 2**63 - 1, -(2**63), 5, 6]
            hid = normal(int(rng.integers(0, 1 << 32)), 6 * H).reshape(6, H)
            hid[1] = 0.0
            hid[2, 0] = CANONICAL_NAN
            hid[3, H - 1] = np.float32(np.inf)
            if dtype == "float32":
                hid[5] *= np.float32(1e25)                     # sum of squares overflows
            elif dtype == "float16":
                hid[5, 0] = np.float32(7e4)                    # rounds to fp16 Inf
            else:
                hid[5, 0] = np.float32(3e38)                   # bf16 rounds to Inf
            hs = _deliver(hid, dtype)
            out, flags = artifacts(hs, dtype, bh, pk, nonces, k)
            ob = out.view(np.uint16)
            good &= out.dtype == np.float16 and flags.dtype == np.bool_ and out.shape == (6, k)
            good &= flags.tolist() == [False, False, True, True, False, True]
            good &= bool(np.all(ob[[2, 3, 5]] == 0x7E00))
            good &= bool(np.all(out[1].astype(np.float64) == 0.0))
            h64 = _widen(hs).astype(np.float64)
            for b in (0, 4):
                idx = pick(pick_seed(bh, pk, nonces[b], k), H, k)
                g = h64[b, idx] / (np.linalg.norm(h64[b]) + 1e-8)
                for s in haar_seeds(bh, pk, [nonces[b]], k)[0]:
                    v = unit_vector(s, k).astype(np.float64)
                    g = g - 2.0 * np.dot(g, v) * v
                ref = g / (np.linalg.norm(g) + 1e-8)
                e = np.abs(out[b].astype(np.float64) - ref) / _f64_ulp(ref, 11, -14)
                worst_a = max(worst_a, float(e.max()))
                good &= float(e.max()) <= 1.0
    report(f"artifacts: within {worst_a:.3f} fp16 ulp of a float64 pipeline; zero row -> zeros "
           f"unflagged; NaN / Inf / overflow rows flagged with 0x7e00", good)
    return ok


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



# ---------------------------------------------------------------------------------------------
# Section 10: gonka-poc (the prefill scheme's pseudo ids, the decode scheme's streams)
#
# Written from SPEC.md section 10 alone: u32 steps on np.uint32 (wraparound intended), the one
# int -> binary32 conversion of 10.4 exact by its domain, section 5 and 6 reused as they are.
# ---------------------------------------------------------------------------------------------
MIX_A = 0x9E3779B1
MIX_B = 0x85EBCA77
SALT_EMBED, SALT_PICK, SALT_TOKEN_ID = 0x0D, 0x91, 0x57
LADDER_BASE = 100
EXPERT_FLOOR = _hexf("-0x1.388p+13")


def _u32s(x) -> np.ndarray:
    """u32(x) of every element of an integer array or int (its low 32 bits, two's complement)."""
    return (np.asarray(x, dtype=np.int64) & np.int64(0xFFFFFFFF)).astype(np.uint32)


def step_seeds(base_seeds, step, prev_k, salt: int) -> np.ndarray:
    """10.1: int64 [B]; step an int or one per row."""
    b, prev = _u32s(base_seeds), _u32s(prev_k)
    t = np.broadcast_to(_u32s(step), b.shape)
    with np.errstate(over="ignore"):
        key = prev * U32(MIX_A) + t * U32(MIX_B) + U32(salt)
    return _murmur3(key, b).astype(np.int64)


def hash_mod(seeds, n: int, m: int) -> np.ndarray:
    """10.2: int32 [B, n], hash(i, seed_b) mod m."""
    s = _u32s(seeds)[:, None]
    i = np.arange(n, dtype=np.uint32)[None, :]
    return (_murmur3(i, s) % U32(m)).astype(np.int32)


def step_normal(base_seeds, step, prev_k, salt: int, n: int, dtype: str = "float32") -> np.ndarray:
    """10.3: [B, n], row b = normal(step seed b, n) delivered in dtype."""
    seeds = step_seeds(base_seeds, step, prev_k, salt)
    return np.stack([_deliver(normal(int(s), n), dtype) for s in seeds])


def forced_logits(seeds, n_experts: int, top_k: int, ladder_base: int, step=None,
                  dtype: str = "float32") -> np.ndarray:
    """10.4: [B, E]; route seed hash(u32(step), seed) when a step is given, else the seed."""
    s = _u32s(seeds)
    r = s if step is None else _murmur3(np.broadcast_to(_u32s(step), s.shape), s)
    start = (r % U32(n_experts)).astype(np.int64)[:, None]
    e = np.arange(n_experts, dtype=np.int64)[None, :]
    off = np.where(e >= start, e - start, e + n_experts - start)
    ladder = (ladder_base + top_k - off).astype(np.float32)   # |value| <= 2^24: exact
    out = np.where(off < top_k, ladder, EXPERT_FLOOR).astype(np.float32)
    return _deliver(out, dtype)


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


def gonka_base_seeds(block_hash: str, public_key: str, nonces) -> np.ndarray:
    return np.array([seed_from_string(f"{block_hash}_{public_key}_nonce{n}") for n in nonces],
                    dtype=np.int64)


def gonka_route_base_seeds(block_hash: str, nonces, num_gates: int) -> np.ndarray:
    return np.array([[seed_from_string(f"{block_hash}_n{n}_route_layer_{l}")
                      for l in range(num_gates)] for n in nonces], dtype=np.int64)


def gonka_pseudo_input_ids(block_hash: str, public_key: str, nonces, seq_len: int,
                           vocab: int) -> np.ndarray:
    seeds = [seed_from_string(f"{block_hash}_{public_key}_nonce{n}_input_ids") for n in nonces]
    return hash_mod(seeds, seq_len, vocab).reshape(-1)


def gonka_decode_pick(base_seeds, step, prev_k, dim: int, k: int) -> np.ndarray:
    seeds = step_seeds(base_seeds, step, prev_k, SALT_PICK)
    return np.stack([pick(int(s), dim, k) for s in seeds])


def gonka_decode_pseudo_token_ids(base_seeds, step, prev_k, vocab: int) -> np.ndarray:
    return hash_mod(step_seeds(base_seeds, step, prev_k, SALT_TOKEN_ID), 1, vocab).reshape(-1)


def gonka_decode_pick_string(block_hash: str, public_key: str, nonce: int, k: int, step: int,
                             prev=None) -> str:
    tail = "" if prev is None else f"_k_{prev}"
    return f"{block_hash}_{public_key}_nonce_{nonce}_pick_{k}_decode{step}{tail}"


if __name__ == "__main__":
    sys.exit(0 if _self_check(exhaustive="--exhaustive" in sys.argv[1:]) else 1)
