"""The CPU kernels equal the independent NumPy implementation of SPEC.md, bit for bit."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import stages
import spec_numpy as spec

from conftest import assert_bits_equal

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
STRINGS = ["", "a", "0" * 64, "blöck-π-ハッシュ", "emoji-🦀", "with space_and_underscore", "\x00nul",
           "long-" + "é" * 300]
NONCES = [0, -1, 1, I64_MAX, I64_MIN, 2**31, -(2**31), 123456789]
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def spec_tensor(x: np.ndarray, dtype: str) -> torch.Tensor:
    """spec_numpy's result as a torch tensor of the same bits."""
    if dtype == "bfloat16":
        return torch.from_numpy(x.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(x))


def test_seeds_through_the_cpp_path_match():
    """The seeds the API's kernels get come from the C++ op derive_seeds (its own SHA-256), not
    from Python: they must equal the spec's hashlib seeds, for strings that stress the encoding."""
    for s in STRINGS:
        for nonce_text, suffix, seed_of in (("nonce", "", spec.inputs_seed),
                                            ("nonce_", "_permutations", spec.permutations_seed)):
            got = torch.ops.pocrand.derive_seeds(f"{s}_{s}_{nonce_text}", NONCES, suffix, False)
            assert got.tolist() == [seed_of(s, s, n) for n in NONCES], (s, suffix)
    assert pr.target_seed("bh") == spec.target_seed("bh")


@pytest.mark.parametrize("seed", [0, 1, 0xDEADBEEF, 0xFFFFFFFF])
def test_murmur3_32(seed):
    g = torch.Generator().manual_seed(seed & 0xFFFF)
    keys = torch.cat([torch.arange(-1000, 5000), torch.randint(-(2**40), 2**40, (20000,), generator=g)])
    assert torch.equal(pr.murmur3_32(keys, seed),
                       torch.from_numpy(spec.murmur3_32(keys.numpy(), seed)))


@pytest.mark.parametrize("n", [1, 2, 3, 999, 1000, 4097])
def test_uniform_and_normal(n):
    for seed in (0, 42, 0xFFFFFFFF):
        assert_bits_equal(pr.uniform(seed, n), torch.from_numpy(spec.uniform(seed, n)))
        assert_bits_equal(pr.normal(seed, n), torch.from_numpy(spec.normal(seed, n)))


def test_scalar_stages_on_random_hashes():
    rng = np.random.default_rng(1)
    h = np.concatenate([rng.integers(0, 2**32, 200_000), [0, 1, 2**32 - 1, 2**32 - 128, 2**32 - 129]])
    u, r, c, s = stages.stages(torch.from_numpy(h.astype(np.int64)))
    su = spec.uniform_from_hash(h.astype(np.uint32))
    assert_bits_equal(u, torch.from_numpy(su))
    min_u1, two_pi = np.float32(float.fromhex("0x1.b7cdfep-34")), np.float32(float.fromhex("0x1.921fb6p+2"))
    sr = np.sqrt(np.float32(-2) * spec.log(np.maximum(su, min_u1)))
    assert_bits_equal(r, torch.from_numpy(sr))
    sc_s, sc_c = spec.sincos(two_pi * su)
    assert_bits_equal(s, torch.from_numpy(sc_s))
    assert_bits_equal(c, torch.from_numpy(sc_c))


def test_log_and_sincos_on_random_floats():
    rng = np.random.default_rng(2)
    lo, hi = np.float32(float.fromhex("0x1.b7cdfep-34")).view(np.uint32), np.float32(1).view(np.uint32)
    x = rng.integers(lo, hi + 1, 300_000).astype(np.uint32).view(np.float32)
    assert_bits_equal(stages.log(torch.from_numpy(x)), torch.from_numpy(spec.log(x)))
    theta = rng.integers(0, np.float32(float.fromhex("0x1.921fb6p+2")).view(np.uint32) + 1,
                         300_000).astype(np.uint32).view(np.float32)
    s, c = stages.sincos(torch.from_numpy(theta))
    ss, sc = spec.sincos(theta)
    assert_bits_equal(s, torch.from_numpy(ss))
    assert_bits_equal(c, torch.from_numpy(sc))


def test_rounding_on_random_bit_patterns():
    rng = np.random.default_rng(3)
    bits = np.concatenate([rng.integers(0, 2**32, 1_000_000),
                           [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001,
                            0x477FF000, 0x477FEFFF, 0x33000000, 0x33000001, 0x38800000, 0x387FFFFF]])
    x = bits.astype(np.uint32).view(np.float32)
    xt = torch.from_numpy(x)
    assert_bits_equal(stages.round_to(xt, torch.float16),
                      torch.from_numpy(spec.to_fp16_bits(x).view(np.float16)))
    assert_bits_equal(stages.round_to(xt, torch.bfloat16),
                      torch.from_numpy(spec.to_bf16_bits(x).view(np.int16)).view(torch.bfloat16))
    # ...and both agree with torch's own RNE conversions (NaN payloads aside).
    finite = torch.from_numpy(np.isfinite(x))
    assert_bits_equal(stages.round_to(xt, torch.float16)[finite], xt.to(torch.float16)[finite])
    assert_bits_equal(stages.round_to(xt, torch.bfloat16)[finite], xt.to(torch.bfloat16)[finite])


def random_cases(count: int, seed: int):
    rnd = random.Random(seed)
    for _ in range(count):
        bh, pk = rnd.choice(STRINGS), rnd.choice(STRINGS)
        nonces = rnd.sample(NONCES, rnd.randint(1, 4))
        yield bh, pk, nonces, rnd


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_generate_inputs(dtype):
    # A fixed seed per dtype: hash(dtype) changed with PYTHONHASHSEED, and so did the cases.
    for bh, pk, nonces, rnd in random_cases(12, list(DTYPES).index(dtype)):
        dim, seq_len = rnd.choice([1, 3, 8, 64, 127]), rnd.choice([1, 2, 5, 16])
        got = pr.generate_inputs(bh, pk, nonces, dim, seq_len, "cpu", DTYPES[dtype])
        want = spec_tensor(spec.generate_inputs(bh, pk, nonces, dim, seq_len, dtype), dtype)
        assert_bits_equal(got, want)


@pytest.mark.parametrize("vocab_size", [1, 2, 1000, 151936])
def test_generate_permutations(vocab_size):
    for bh, pk, nonces, _ in random_cases(3, vocab_size):
        got = pr.generate_permutations(bh, pk, nonces, vocab_size)
        want = torch.from_numpy(spec.generate_permutations(bh, pk, nonces, vocab_size))
        assert torch.equal(got, want)


@pytest.mark.parametrize("vocab_size", [1, 2, 1000, 1025, 151936])
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_generate_target(vocab_size, dtype):
    for bh in ("", "abc", STRINGS[3]):
        got = pr.generate_target(bh, vocab_size, "cpu", DTYPES[dtype])
        assert_bits_equal(got, spec_tensor(spec.generate_target(bh, vocab_size, dtype), dtype))


@pytest.mark.parametrize("vocab_size", [1, 2, 1000, 4099, 151936])
@pytest.mark.parametrize("logits_dtype", list(DTYPES))
def test_compute_distances(vocab_size, logits_dtype):
    nonces = [0, 1, -1]
    g = torch.Generator().manual_seed(vocab_size)
    logits = (torch.randn(len(nonces), vocab_size, generator=g) * 3).to(DTYPES[logits_dtype])
    logits[1] = 0  # a zero row: NaN by the spec
    perms = pr.generate_permutations("bh", "pk", nonces, vocab_size)
    target = pr.generate_target("bh", vocab_size)
    got = pr.compute_distances(logits, perms, target)
    want = spec.compute_distances(logits.float().numpy(), perms.numpy(), target.numpy())
    assert_bits_equal(got, torch.from_numpy(want))
    assert np.isnan(want[1]) and want.view(np.uint32)[1] == 0x7FC00000


def test_batched_seed_derivation_matches_hashlib():
    """The C++ seed op (prefix hashed once, SHA-256 in csrc/core/sha256.h) equals hashlib on
    prefixes across the 64-byte block boundary, non-ASCII text and int64 extremes."""
    nonces = NONCES + list(range(-70, 70))
    for prefix in ["", "a", "x" * 55, "y" * 56, "z" * 63, "w" * 64, "v" * 119, "blöck-π_pk_nonce"]:
        for suffix in ["", "_permutations", "é" * 40]:
            got = torch.ops.pocrand.derive_seeds(prefix, nonces, suffix, False).tolist()
            assert got == [spec.seed_from_string(f"{prefix}{n}{suffix}") for n in nonces]
