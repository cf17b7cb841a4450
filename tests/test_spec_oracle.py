"""The NumPy spec (tests/spec_numpy/) against facts that owe nothing to it or to pocrand.

The kernels are tested against the spec, and the known answers were produced by the spec; this
file is what makes the spec itself trustworthy: published SHA-256 and MurmurHash3 test vectors,
the `mmh3` package, float64 libm (within the ulp figures SPEC.md states), and small cases derived
by hand with exact rational arithmetic (fractions.Fraction), never with float32 code.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import spec_numpy as spec

M32 = 0xFFFFFFFF

# --- exact helpers, in Python integers and fractions ---------------------------------------------


def f32(x: Fraction) -> Fraction:
    """x rounded to binary32, ties to even (normal range), exactly."""
    if x == 0:
        return Fraction(0)
    sign, a = (-1 if x < 0 else 1), abs(x)
    e = math.floor(math.log2(a))
    e += 1 if Fraction(2) ** (e + 1) <= a else 0   # repair log2's float rounding
    e -= 1 if Fraction(2) ** e > a else 0
    q = a / Fraction(2) ** (e - 23)                  # in [2^23, 2^24)
    n, r = divmod(q.numerator, q.denominator)
    if 2 * r > q.denominator or (2 * r == q.denominator and n % 2):
        n += 1
    return sign * n * Fraction(2) ** (e - 23)


def exact(x: np.float32) -> Fraction:
    return Fraction(float(x))


def fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def fmix32_inverse(h: int) -> int:
    def unshift(x: int, s: int) -> int:   # inverse of x ^= x >> s
        y = x
        for _ in range(32 // s + 1):
            y = x ^ (y >> s)
        return y
    h = unshift(h, 16)
    h = (h * pow(0xC2B2AE35, -1, 2**32)) & M32
    h = unshift(h, 13)
    h = (h * pow(0x85EBCA6B, -1, 2**32)) & M32
    return unshift(h, 16)


def textbook_to_pocrand(textbook: int) -> int:
    """SPEC.md section 1: hash(key, seed) = fmix32(fmix32^-1(MurmurHash3_x86_32(le32(key))) ^ 4)."""
    return fmix32(fmix32_inverse(textbook) ^ 4)


def spec_hash(key: int, seed: int) -> int:
    return int(spec.murmur3(np.array([key], dtype=np.uint32), seed)[0])


# --- seeds: SHA-256 ------------------------------------------------------------------------------

# FIPS 180-2 / NIST examples: the first 32 bits of SHA-256, big-endian.
@pytest.mark.parametrize("message,first_word", [
    ("", 0xE3B0C442), ("abc", 0xBA7816BF),
    ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0x248D6A61)])
def test_seed_is_the_first_word_of_published_sha256_digests(message, first_word):
    assert spec.seed_from_string(message) == first_word


# --- murmur3 -------------------------------------------------------------------------------------

# Published MurmurHash3_x86_32 vectors for one 4-byte block (input bytes, seed, hash); the key is
# the little-endian word of the bytes.
VECTORS = [(b"\x00\x00\x00\x00", 0, 0x2362F9DE), (b"\xff\xff\xff\xff", 0, 0x76293B50),
           (b"\x21\x43\x65\x87", 0, 0xF55B516B), (b"\x21\x43\x65\x87", 0x5082EDEE, 0x2362F9DE),
           (b"aaaa", 0x9747B28C, 0x5A97808A)]


@pytest.mark.parametrize("data,seed,textbook", VECTORS, ids=[v[0].hex() + f"-{v[1]:x}" for v in VECTORS])
def test_murmur3_against_published_vectors(data, seed, textbook):
    assert spec_hash(int.from_bytes(data, "little"), seed) == textbook_to_pocrand(textbook)


def test_murmur3_of_key_zero_by_hand():
    # key 0: k = 0 through the block step, so h = rotl(seed ^ 0, 13) * 5 + 0xe6546b64; for seed 0
    # that is 0xe6546b64, and the textbook hash adds `h ^= 4` (the length) before fmix32.
    assert spec_hash(0, 0) == fmix32(0xE6546B64)
    assert fmix32(0xE6546B64 ^ 4) == 0x2362F9DE       # the published vector above


def test_murmur3_against_mmh3():
    mmh3 = pytest.importorskip("mmh3")
    rng = np.random.default_rng(11)
    keys = np.concatenate([rng.integers(0, 2**32, 5000), [0, 1, 4, 2**31, M32]]).astype(np.uint32)
    seeds = np.concatenate([rng.integers(0, 2**32, 5000), [0, M32, 1, 42, 0x9747B28C]])
    for k, s in zip(keys.tolist(), seeds.tolist()):
        want = textbook_to_pocrand(mmh3.hash(k.to_bytes(4, "little"), s, signed=False))
        assert spec_hash(k, s) == want


def textbook_murmur(key: int, seed: int) -> int:
    """MurmurHash3_x86_32 of the 4 bytes le32(key), in Python integers (the public algorithm)."""
    k = (key * 0xCC9E2D51) & M32
    k = ((k << 15) | (k >> 17)) & M32
    k = (k * 0x1B873593) & M32
    h = seed ^ k
    h = ((h << 13) | (h >> 19)) & M32
    h = (h * 5 + 0xE6546B64) & M32
    return fmix32(h ^ 4)


def test_textbook_murmur_reproduces_the_published_vectors():
    for data, seed, textbook in VECTORS:
        assert textbook_murmur(int.from_bytes(data, "little"), seed) == textbook


def test_permutation_order_by_hand():
    """Section 8: indices 0 .. V-1 ordered by ascending hash, the hash from the textbook function
    in plain integers (distinct hashes: sorting is unambiguous)."""
    for seed in (0, 7, 0xDEADBEEF):
        by_hand = sorted(range(300), key=lambda i: textbook_to_pocrand(textbook_murmur(i, seed)))
        seeds = np.array([seed], dtype=np.uint32)
        assert len({textbook_murmur(i, seed) for i in range(300)}) == 300
        with np.errstate(over="ignore"):
            order = np.argsort(spec.murmur3(np.arange(300, dtype=np.uint32), seeds[0]), kind="stable")
        assert order.tolist() == by_hand


# --- uniform -------------------------------------------------------------------------------------

def test_uniform_endpoints_by_hand():
    # Above 2^31 the binary32 spacing is 256. 2^32 - 129 is 127 above 2^32 - 256 and 129 below
    # 2^32: it rounds down, to 1 - 2^-24. 2^32 - 128 is halfway; 2^32 - 256 = 0xffffff00 has an odd
    # significand, so the tie goes to 2^32: u = 1.0 exactly. Hash 0 gives 0.
    h = np.array([0, 2**32 - 256, 2**32 - 129, 2**32 - 128, M32], dtype=np.uint32)
    assert spec.uniform_from_hash(h).tolist() == [0.0, 1 - 2**-24, 1 - 2**-24, 1.0, 1.0]


# --- log, sin, cos -------------------------------------------------------------------------------

# SPEC.md sections 3 and 4: max 0.829 ulp (log), 0.795 (sin), 0.790 (cos) over every float, at
# these arguments (tests/cpp/accuracy_core.cpp, stride 1). A figure bounds what rounds to it.
LOG_ULP, SIN_ULP, COS_ULP = 0.829, 0.795, 0.790
WORST_LOG, WORST_SIN, WORST_COS = "0x1.67e436p-1", "0x1.f68978p+1", "0x1.922dc4p-1"
LN2_HI, LN2_LO = Fraction(float.fromhex("0x1.62e3p-1")), Fraction(float.fromhex("0x1.2fefa2p-17"))


def test_log_of_powers_of_two_by_hand():
    """x = 2^k has m = 1, f = 0, s = 0: the formula reduces to (k * LN2_HI) - (0 - f32(k * LN2_LO)),
    where k * LN2_HI is exact (17-bit constant): one rounding of an exact sum."""
    for k in range(-33, 1):                    # every power of two in [f32(1e-10), 1]
        got = exact(spec.log(np.array([2.0**k], dtype=np.float32))[0])
        assert got == f32(k * LN2_HI + f32(k * LN2_LO)), k
        if k:                                  # and within SPEC.md's 0.829 ulp of k ln 2
            ulp = 2.0 ** (math.frexp(k * math.log(2))[1] - 24)
            assert abs(float(got) - k * math.log(2)) < (LOG_ULP + 0.0005) * ulp, k
    assert spec.log(np.array([1.0], dtype=np.float32)).view(np.uint32)[0] == 0   # +0


def test_sincos_of_zero_by_hand():
    # theta = 0: j = 0, q = 0, x = y = 0; kernel_sin = 0, kernel_cos = 1 + ((1 - 1) - 0) = 1.
    s, c = spec.sincos(np.array([0.0], dtype=np.float32))
    assert s.view(np.uint32)[0] == 0 and c[0] == 1.0


def ulp_errors(got: np.ndarray, exact64: np.ndarray) -> np.ndarray:
    _, e = np.frexp(np.abs(exact64))
    return np.abs(got.astype(np.float64) - exact64) / np.ldexp(1.0, e - 24)


def bit_uniform(lo: float, hi: float, n: int, seed: int, *worst: str) -> np.ndarray:
    """n floats uniform over the bit patterns of [lo, hi], the 2000 at each end, then `worst`."""
    lo_b, hi_b = np.float32(lo).view(np.uint32), np.float32(hi).view(np.uint32)
    b = np.random.default_rng(seed).integers(lo_b, hi_b + 1, n)
    edges = np.concatenate([np.arange(lo_b, lo_b + 2000), np.arange(hi_b - 1999, hi_b + 1)])
    x = np.concatenate([b, edges]).astype(np.uint32).view(np.float32)
    return np.concatenate([x, np.array([float.fromhex(w) for w in worst], dtype=np.float32)])


def assert_max_rounds_to(err: np.ndarray, figure: float, at: np.ndarray):
    """The largest error rounds to `figure` (3 decimals) and is the one at the worst argument."""
    assert round(float(err.max()), 3) == figure and err.argmax() == err.size - 1 - at, \
        (err.max(), figure, err.argmax())


def test_log_within_the_stated_ulps_of_libm():
    x = bit_uniform(float.fromhex("0x1.b7cdfep-34"), 1.0, 1_000_000, 1, WORST_LOG)
    exact64 = np.log(x.astype(np.float64))
    nz = exact64 != 0
    assert_max_rounds_to(ulp_errors(spec.log(x)[nz], exact64[nz]), LOG_ULP, 0)


def test_sin_cos_within_the_stated_ulps_of_libm():
    t = bit_uniform(0.0, float.fromhex("0x1.921fb6p+2"), 1_000_000, 2, WORST_SIN, WORST_COS)
    s, c = spec.sincos(t)
    for got, fn, figure, at in ((s, np.sin, SIN_ULP, 1), (c, np.cos, COS_ULP, 0)):
        exact64 = fn(t.astype(np.float64))
        nz = exact64 != 0
        assert_max_rounds_to(ulp_errors(got[nz], exact64[nz]), figure, at)


# --- rounding to 16 bits -------------------------------------------------------------------------

# (float32 value, fp16 bits, bf16 bits), each derived by hand from round-half-to-even.
ROUNDING = [
    (1.0, 0x3C00, 0x3F80),
    (1 + 2**-11, 0x3C00, 0x3F80),          # fp16 tie -> even (1.0); bf16 keeps 7 bits: tie too
    (1 + 3 * 2**-11, 0x3C02, 0x3F80),      # fp16 tie between 0x3c01 and 0x3c02 -> even 0x3c02
    (1 + 3 * 2**-8, 0x3C0C, 0x3F82),       # exact in fp16; bf16 tie 0x3f81 / 0x3f82 -> even
    (65504.0, 0x7BFF, 0x4780),             # largest fp16
    (65519.99609375, 0x7BFF, 0x4780),      # just below the fp16 overflow threshold 65520
    (65520.0, 0x7C00, 0x4780),             # rounds to fp16 infinity
    (2.0**-24, 0x0001, 0x3380),            # smallest fp16 subnormal
    (2.0**-25, 0x0000, 0x3300),            # half of it: tie -> even (zero)
    (3 * 2.0**-25, 0x0002, 0x33C0),        # 1.5 subnormal steps: tie -> even (2)
    (-0.0, 0x8000, 0x8000),
]


@pytest.mark.parametrize("value,fp16,bf16", ROUNDING, ids=[f"{r[0]!r}" for r in ROUNDING])
def test_rounding_by_hand(value, fp16, bf16):
    x = np.array([value], dtype=np.float32)
    assert float(x[0]) == value                       # the test value itself is a binary32
    assert int(spec.to_fp16_bits(x)[0]) == fp16
    assert int(spec.to_bf16_bits(x)[0]) == bf16
    with np.errstate(over="ignore"):                # numpy's own conversion agrees
        assert int(x.astype(np.float16).view(np.uint16)[0]) == fp16


def test_nan_rounding():
    nans = np.array([0x7FC00000, 0xFFC00001, 0x7F800001], dtype=np.uint32).view(np.float32)
    assert spec.to_bf16_bits(nans).tolist() == [0x7FC0] * 3
    assert spec.to_fp16_bits(nans).tolist() == [0x7E00, 0xFE00, 0x7E00]   # sign kept in fp16


# --- the reduction order -------------------------------------------------------------------------

def test_tree_sum_order_by_hand():
    # [2^-24, 2^-24, 1] in one chunk: width 2 adds a[0] + a[2] = 1 + 2^-24, a tie that rounds to 1;
    # width 1 adds 1 + 2^-24 -> 1 again. Left to right it would be 2^-23 + 1 = 1 + 2^-23 (exact).
    v = np.array([2**-24, 2**-24, 1.0], dtype=np.float32)
    assert spec.tree_sum(v) == 1.0
    assert (np.float32(2**-24) + np.float32(2**-24)) + np.float32(1) == np.float32(1 + 2**-23)
    # 1025 terms take two levels: chunk sums 1024 * 2^-24 = 2^-14 (exact) and 1, then 1 + 2^-14.
    assert spec.tree_sum(np.array([2**-24] * 1024 + [1.0], dtype=np.float32)) == 1 + 2**-14
    assert spec.norm(np.array([3.0, 4.0], dtype=np.float32)) == 5.0


def test_distances_by_hand():
    target = np.array([1, 0, 0], dtype=np.float32)
    logits = np.array([[2, 0, 0], [0, 1, 0], [0, 0, 0], [0, 3, 4]], dtype=np.float32)
    perm = np.array([[0, 1, 2], [0, 1, 2], [0, 1, 2], [1, 0, 2]], dtype=np.int64)
    d = spec.compute_distances(logits, perm, target)
    # row 0: x/|x| = target -> 0. row 1: [-1, 1, 0] -> f32(sqrt 2). row 2: zero norm -> the
    # canonical NaN. row 3: x[perm] = [3, 0, 4], over its norm 5, minus the target: [3/5 - 1, 0,
    # 4/5], each step rounded to binary32; the tree adds the squares of items 0 and 2 first.
    assert d[0] == 0.0
    assert Fraction(float(d[1])) == f32(Fraction(math.sqrt(2)))
    assert d.view(np.uint32)[2] == 0x7FC00000
    a = np.float32(np.float32(3) / np.float32(5)) - np.float32(1)
    b = np.float32(4) / np.float32(5)
    assert d[3] == np.sqrt(np.float32(a * a) + np.float32(b * b))
