"""PoC v2 (SPEC.md section 9): every op equals the independent NumPy implementation of the spec bit
for bit, on every device (the CPU always, CUDA when present), at odd and even sizes."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal, randn

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
STRINGS = ["", "a", "0" * 64, "blöck-π-ハッシュ", "emoji-🦀", "with space_and_underscore", "\x00nul"]
NONCES = [0, -1, 1, I64_MAX, I64_MIN, 2**31, -(2**31), 123456789]
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def spec_tensor(x: np.ndarray, dtype: str) -> torch.Tensor:
    """spec_numpy's storage array as a torch tensor of the same bits."""
    if dtype == "bfloat16":
        return torch.from_numpy(np.ascontiguousarray(x).view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(x))


def storage(t: torch.Tensor) -> np.ndarray:
    """A torch tensor as spec_numpy's storage array (bf16 as uint16 bit patterns)."""
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def cases(count: int, seed: int):
    rnd = random.Random(seed)
    for _ in range(count):
        yield rnd.choice(STRINGS), rnd.choice(STRINGS), rnd.sample(NONCES, rnd.randint(1, 4)), rnd


def test_seed_words_match_hashlib_through_the_cpp_path():
    nonces = NONCES + list(range(-20, 20))
    for prefix in ["", "x" * 55, "y" * 64, "blöck-π_pk_nonce"]:
        got = torch.ops.pocrand.derive_seeds(prefix, nonces, "", False, words=True).tolist()
        assert got == [spec.seed_words(f"{prefix}{n}") for n in nonces]
        assert [w[0] for w in got] == [spec.seed_from_string(f"{prefix}{n}") for n in nonces]


def test_haar_seed_grid_and_string_seeds_match_hashlib():
    nonces = [0, -5, I64_MAX]
    grid = torch.ops.pocrand.derive_seeds("bh_pk_nonce_", nonces, "_haar_hh_12_", False, 11)
    assert grid.tolist() == [[spec.haar_seed("bh", "pk", n, 12, j) for j in range(11)] for n in nonces]
    strings = STRINGS + ["é" * 70]
    got = torch.ops.pocrand.derive_seeds_of_strings(strings, False).tolist()
    assert got == [spec.seed_from_string(s) for s in strings]
    assert pr.seed_words("abc") == spec.seed_words("abc")
    assert pr.pick_seed("b", "p", -3, 12) == spec.pick_seed("b", "p", -3, 12)
    assert pr.haar_seed("b", "p", 7, 12, 10) == spec.haar_seed("b", "p", 7, 12, 10)
    assert pr.layer_seed("b", 79) == spec.layer_seed("b", 79)
    assert pr.target_v2_seed("b", "p") == spec.target_v2_seed("b", "p")


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_generate_inputs_concat(dtype, device):
    for bh, pk, nonces, rnd in cases(8, 11 + len(dtype)):
        dim, seq_len = rnd.choice([1, 3, 7, 64, 127]), rnd.choice([1, 2, 5, 9, 16])
        got = pr.generate_inputs_concat(bh, pk, nonces, dim, seq_len, device, DTYPES[dtype])
        want = spec.generate_inputs_concat(bh, pk, nonces, dim, seq_len, dtype)
        assert_bits_equal(got, spec_tensor(want, dtype))


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 17, 49, 1000, 4099])
def test_concat_slices_equal_the_whole(n, device):
    whole = pr.generate_inputs_concat("bh", "pk", [3, -3], n, 1, device, torch.float32).view(2, n)
    rnd = random.Random(n)
    for _ in range(6):
        a = rnd.randrange(n)
        b = rnd.randrange(a + 1, n + 1)
        part = pr.generate_inputs_concat_slice("bh", "pk", [3, -3], n, 1, a, b, device, torch.float32)
        assert_bits_equal(part, whole[:, a:b])


@pytest.mark.parametrize("dim", [1, 2, 3, 1000, 1024, 1025, 8192, 2**20 + 1])
def test_unit_vectors(dim, device):
    seeds = [0, 1, 6925118, 58668268, 0xFFFFFFFF] if dim <= 2 else [0, 7, 0xFFFFFFFF]
    got = torch.ops.pocrand.unit_vectors(torch.tensor(seeds, device=device), dim, torch.float32)
    assert_bits_equal(got, torch.from_numpy(spec.unit_vectors(seeds, dim)))
    strings = [f"bh_layer_{i}_householder" for i in range(3)]
    assert_bits_equal(pr.unit_vectors(strings, dim, device),
                      torch.from_numpy(spec.unit_vectors([spec.seed_from_string(s) for s in strings], dim)))


def test_householder_vectors_are_the_layer_seeds_unit_vectors(device):
    got = pr.householder_vectors("blockhash", 80, 257, device)
    assert_bits_equal(got, torch.from_numpy(spec.layer_vectors("blockhash", 80, 257)))


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("dim", [1, 2, 1000, 8192])
def test_generate_target_v2(dim, dtype, device):
    for bh, pk in (("", ""), ("0" * 64, "pk"), ("0" * 64, "pk-zero-87929097")):
        got = pr.generate_target_v2(bh, pk, dim, device, DTYPES[dtype])
        assert_bits_equal(got, spec_tensor(spec.generate_target_v2(bh, pk, dim, dtype), dtype))


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("rows,dim", [(1, 1), (3, 2), (5, 7), (4, 1000), (3, 1025), (2, 8192),
                                      (1, 2**21 + 3)])
def test_apply_householder(rows, dim, dtype, device):
    torch.manual_seed(rows * 7919 + dim)
    x = (randn(rows, dim, seed=rows * dim) * 3).to(DTYPES[dtype]).to(device)
    v_one = pr.unit_vectors(["v"], dim, device)[0].to(DTYPES[dtype])
    v_rows = pr.unit_vectors([f"v{r}" for r in range(rows)], dim, device).to(DTYPES[dtype])
    for v in (v_one, v_rows):
        got = pr.apply_householder(x, v)
        want = spec.householder(storage(x), storage(v), dtype)
        assert_bits_equal(got, spec_tensor(want, dtype))


def test_apply_householder_keeps_leading_shape_and_nan_rows(device):
    x = randn(2, 3, 5, 16, device=device)
    x[1, 2, 4, 3] = float("nan")
    v = pr.unit_vectors(["v"], 16, device)[0]
    y = pr.apply_householder(x, v)
    assert y.shape == x.shape
    want = spec.householder(storage(x.reshape(-1, 16)), storage(v), "float32")
    assert_bits_equal(y.reshape(-1, 16), torch.from_numpy(want))
    assert torch.isnan(y[1, 2, 4]).all() and not torch.isnan(y[1, 2, 3]).any()
    assert (y[1, 2, 4].view(torch.int32) == 0x7FC00000).all()


@pytest.mark.parametrize("dim,k", [(1, 1), (2, 1), (2, 2), (100, 1), (100, 12), (100, 100),
                                   (8192, 12), (8192, 8191), (100003, 37), (2**21 + 5, 1000)])
def test_pick_indices(dim, k, device):
    nonces = [0, 1, -1, I64_MAX]
    got = pr.pick_indices("bh", "pk", nonces, dim, k, device)
    assert got.dtype == torch.int64 and got.shape == (4, k)
    assert torch.equal(got.cpu(), torch.from_numpy(spec.pick_indices("bh", "pk", nonces, dim, k)))


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("k", [1, 2, 3, 12, 32, 33, 100, 1025, 4096])
def test_haar_rotate(k, dtype, device):
    nonces = [0, 5, -7]
    torch.manual_seed(k)
    x = randn(3, k, seed=k).to(DTYPES[dtype]).to(device)
    got = pr.haar_rotate("bh", "pk", nonces, x)
    want = spec.haar_rotate(storage(x), spec.haar_seeds("bh", "pk", nonces, k), dtype)
    assert_bits_equal(got, spec_tensor(want, dtype))


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden,k", [(1, 1), (12, 12), (513, 12), (8192, 12), (3000, 100)])
def test_artifacts(hidden, k, dtype, device):
    nonces = [0, 1, 2, 3]
    torch.manual_seed(hidden + k)
    h = randn(4, hidden, seed=hidden)
    h[1] = 0.0                  # a zero row: zeros, not flagged
    h[2, hidden // 2] = float("inf")  # flagged
    h = h.to(DTYPES[dtype]).to(device)
    out, flags = pr.artifacts(h, "bh", "pk", nonces, k)
    want, want_flags = spec.artifacts(storage(h), dtype, "bh", "pk", nonces, k)
    assert_bits_equal(out, torch.from_numpy(want))
    assert flags.cpu().tolist() == want_flags.tolist() == [False, False, True, False]


def test_batch_invariance(device):
    """A nonce's rows never depend on the other nonces of the batch."""
    nonces = [4, -9, 2**40, 0]
    x = randn(4, 12, device=device)
    h = randn(4, 300, seed=1, device=device)
    whole = (pr.generate_inputs_concat("bh", "pk", nonces, 9, 3, device),
             pr.pick_indices("bh", "pk", nonces, 300, 12, device),
             pr.haar_rotate("bh", "pk", nonces, x),
             pr.artifacts(h, "bh", "pk", nonces, 12)[0])
    for b, n in enumerate(nonces):
        one = (pr.generate_inputs_concat("bh", "pk", [n], 9, 3, device),
               pr.pick_indices("bh", "pk", [n], 300, 12, device),
               pr.haar_rotate("bh", "pk", [n], x[b:b + 1]),
               pr.artifacts(h[b:b + 1], "bh", "pk", [n], 12)[0])
        for w, o in zip(whole, one):
            assert_bits_equal(w[b:b + 1], o)
