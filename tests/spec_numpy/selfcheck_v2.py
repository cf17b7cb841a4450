"""The self-check of section 9: facts independent of its formulas. float64 appears
here only as the reference for error measurement, never in the computation
path.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .constants import CANONICAL_NAN, _MINUS_TWO, TWO_PI, U32
from .hashing import _N, fmix32_inverse, murmur3
from .uniforms import uniform_from_hash
from .logarithm import log
from .trig import sincos
from .gaussian import normal
from .rounding import _deliver
from .reduction import norm
from .operations import seed_from_string, _widen
from .pocv2 import (
    EPS8, TINY, artifacts, concat_normal, concat_normal_element, concat_segments, haar_rotate,
    haar_seeds, householder, normal_elements, _normal_rows, pick, pick_seed, seed_words,
    unit_vector, unit_vectors,
)


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
