"""SPEC.md section 9: PoC v2, the deployed pipeline (concat normals, unit vectors,
Householder reflections, pick order, seeds, Haar rotations, artifacts).

Follows the rules in the package docstring (spec_numpy/__init__.py): single binary32
operations on np.float32 values, section 7 sums, u32 integer steps on np.uint32, no
float64 in the computation path.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .constants import CANONICAL_NAN_BITS, _TWO, U32, _hexf
from .hashing import _murmur3, murmur3
from .uniforms import uniform_from_hash
from .gaussian import box_muller, normal
from .rounding import _deliver, to_fp16_bits
from .reduction import _norm_rows, _tree_sum_rows
from .operations import _check_nonce, seed_from_string, _widen


# ---------------------------------------------------------------------------------------------
# Section 9: PoC v2 (the deployed pipeline)
#
# Written from SPEC.md section 9 alone, under the rules of sections 0-8 (single binary32 ops,
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
