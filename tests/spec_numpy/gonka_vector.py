"""SPEC.md 9.4's host order and 10.13, the vector channel: the host-side pick (torch's CPU topk
order, restated from libstdc++'s std::nth_element and std::partial_sort), the slices and their
encoding. Integer and bit work only; the slices are the input's own values rounded once to fp16."""
from __future__ import annotations

import base64

import numpy as np

from .hashing import murmur3
from .operations import seed_from_string


def _lg(n: int) -> int:
    return n.bit_length() - 1


def host_order(scores, k: int) -> list[int]:
    """The indices of the k smallest of `scores` (integers), in the order libstdc++ leaves them:
    pairs (score, index) in index order, "a before b" when a's score is smaller; k * 64 <= n:
    partial_sort (heap select, sort heap), else nth_element at k - 1 (introselect)."""
    q = [(int(s), i) for i, s in enumerate(scores)]
    n = len(q)
    if not 1 <= k <= n:
        raise ValueError("host_order: need 1 <= k <= len(scores)")

    def before(a, b):
        return a[0] < b[0]

    def swap(x, y):
        q[x], q[y] = q[y], q[x]

    def adjust(first, hole, length, value):
        top = child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if before(q[first + child], q[first + child - 1]):
                child -= 1
            q[first + hole] = q[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            q[first + hole] = q[first + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and before(q[first + parent], value):
            q[first + hole] = q[first + parent]
            hole, parent = parent, (parent - 1) // 2
        q[first + hole] = value

    def pop(first, last, result):
        value, q[result] = q[result], q[first]
        adjust(first, 0, last - first, value)

    def heap_select(first, middle, last):
        length = middle - first
        for parent in range((length - 2) // 2, -1, -1) if length >= 2 else ():
            adjust(first, parent, length, q[first + parent])
        for i in range(middle, last):
            if before(q[i], q[first]):
                pop(first, middle, i)

    if k * 64 <= n:
        heap_select(0, k, n)
        for last in range(k - 1, 0, -1):
            pop(0, last, last)
        return [i for _, i in q[:k]]

    first, last, nth, depth = 0, n, k - 1, 2 * _lg(n)
    while last - first > 3:
        if depth == 0:
            heap_select(first, nth + 1, last)
            swap(first, nth)
            return [i for _, i in q[:k]]
        depth -= 1
        a, b, c = first + 1, first + (last - first) // 2, last - 1
        if before(q[a], q[b]):
            m = b if before(q[b], q[c]) else (c if before(q[a], q[c]) else a)
        else:
            m = a if before(q[a], q[c]) else (c if before(q[b], q[c]) else b)
        swap(first, m)
        lo, hi = first + 1, last
        while True:
            while before(q[lo], q[first]):
                lo += 1
            hi -= 1
            while before(q[first], q[hi]):
                hi -= 1
            if not lo < hi:
                break
            swap(lo, hi)
            lo += 1
        if lo <= nth:
            first = lo
        else:
            last = lo
    for i in range(first + 1, last):  # insertion sort of what is left
        value, j = q[i], i
        while j > first and before(value, q[j - 1]):
            q[j] = q[j - 1]
            j -= 1
        q[j] = value
    return [i for _, i in q[:k]]


def host_pick(seed: int, dim: int, k: int) -> np.ndarray:
    """int64 [k]: pick(seed, dim, k)'s indices (9.4) in the host order."""
    s = murmur3(np.arange(dim, dtype=np.uint32), seed)
    return np.array(host_order(s.tolist(), k), dtype=np.int64)


def vector_pick_seed(block_hash: str, public_key: str, nonce: int, k_dim: int, step: int) -> int:
    return seed_from_string(f"{block_hash}_{public_key}_nonce_{int(nonce)}_pick_{int(k_dim)}"
                            f"_decode{int(step)}")


def encode_fp16(values: np.ndarray) -> str:
    """base64 of the values rounded to fp16 (nearest even), little-endian."""
    return base64.b64encode(np.asarray(values).astype("<f2").tobytes()).decode("ascii")


def sph_slices(q: np.ndarray, block_hash: str, public_key: str, nonce: int, k_dim: int = 12,
               dim: int = 256) -> list[str]:
    """One string per row of q [steps, dim]: row t at step t's host-order pick."""
    return [encode_fp16(q[t][host_pick(vector_pick_seed(block_hash, public_key, nonce, k_dim, t),
                                       dim, k_dim)])
            for t in range(q.shape[0])]
