"""Bad input raises a clear exception naming the argument (never a crash, hang or garbage), and
every op passes torch.library.opcheck (schema, fake kernel, dispatch)."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import stages  # noqa: F401  (registers the fake kernels of the core_* ops)
from conftest import randn

OK = dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=8, seq_len=4)
LOGITS = randn(2, 16)
PERMS = pr.generate_permutations("bh", "pk", [0, 1], 16)
TARGET = pr.generate_target("bh", 16)


def inputs(**kw):
    return lambda: pr.generate_inputs(**{**OK, **kw})


def distances(logits=LOGITS, perms=PERMS, target=TARGET):
    return lambda: pr.compute_distances(logits, perms, target)


CATALOGUE = [
    # (id, call, exception, words the message must contain)
    ("block_hash int", inputs(block_hash=123), TypeError, "block_hash"),
    ("public_key bytes", inputs(public_key=b"pk"), TypeError, "public_key"),
    ("nonces empty", inputs(nonces=[]), ValueError, "nonces"),
    ("nonces not a sequence", inputs(nonces=5), TypeError, "nonces"),
    ("nonces str", inputs(nonces="012"), TypeError, "nonces"),
    ("nonce float", inputs(nonces=[0, 1.5]), TypeError, "nonces[1]"),
    ("nonce bool", inputs(nonces=[True]), TypeError, "nonces[0]"),
    ("nonce past int64", inputs(nonces=[2**63]), ValueError, "nonces[0]"),
    ("nonces float tensor", inputs(nonces=torch.tensor([0.0, 1.0])), TypeError, "nonces"),
    ("nonces 2-D tensor", inputs(nonces=torch.zeros(2, 2, dtype=torch.int64)), TypeError, "nonces"),
    ("dim zero", inputs(dim=0), ValueError, "dim"),
    ("seq_len negative", inputs(seq_len=-3), ValueError, "seq_len"),
    ("dim float", inputs(dim=8.0), TypeError, "dim"),
    ("seq_len*dim oversize", inputs(dim=2**16, seq_len=2**15), ValueError, "seq_len * dim"),
    ("dim oversize", inputs(dim=2**31), ValueError, "dim"),
    ("dtype int", inputs(dtype=torch.int32), ValueError, "dtype"),
    ("dtype str", inputs(dtype="float16"), TypeError, "dtype"),
    ("device bogus", inputs(device="tpu:0"), ValueError, "device"),
    ("device wrong type", inputs(device=3.0), TypeError, "device"),
    ("vocab_size zero", lambda: pr.generate_permutations("bh", "pk", [0], 0), ValueError, "vocab_size"),
    ("vocab_size oversize", lambda: pr.generate_target("bh", 2**31), ValueError, "vocab_size"),
    ("target dtype float64", lambda: pr.generate_target("bh", 8, dtype=torch.float64), ValueError, "dtype"),
    ("seed negative", lambda: pr.uniform(-1, 4), ValueError, "seed"),
    ("seed past uint32", lambda: pr.normal(2**32, 4), ValueError, "seed"),
    ("n zero", lambda: pr.normal(0, 0), ValueError, "n"),
    ("keys float", lambda: pr.murmur3_32(torch.zeros(3), 0), TypeError, "keys"),
    ("keys list", lambda: pr.murmur3_32([1, 2], 0), TypeError, "keys"),
    ("logits 1-D", distances(logits=randn(16)), ValueError, "logits"),
    ("logits int", distances(logits=torch.ones(2, 16, dtype=torch.int64)), ValueError, "logits"),
    ("logits not a tensor", distances(logits=[[1.0] * 16] * 2), TypeError, "logits"),
    ("permutations int32", distances(perms=PERMS.int()), TypeError, "permutations"),
    ("permutations float", distances(perms=PERMS.float()), TypeError, "permutations"),
    ("permutations shape", distances(perms=PERMS[:1]), ValueError, "permutations shape"),
    ("permutations out of range", distances(perms=PERMS + 1), RuntimeError, "permutations["),
    ("permutations negative", distances(perms=PERMS - 1), RuntimeError, "permutations["),
    ("target length", distances(target=TARGET[:8]), ValueError, "target"),
    ("target 2-D", distances(target=TARGET.view(1, 16)), ValueError, "target"),
    ("target dtype", distances(target=TARGET.double()), ValueError, "target.dtype"),
    ("empty batch", distances(logits=LOGITS[:0], perms=PERMS[:0]), ValueError, "logits"),
    ("devices differ", distances(logits=LOGITS.to("meta")), ValueError, "one device"),
    ("check not a bool", lambda: pr.compute_distances(LOGITS, PERMS, TARGET, check=1), TypeError, "check"),
    ("slice end past n", lambda: pr.generate_inputs_slice("bh", "pk", [0], 4, 4, 0, 17), ValueError, "end"),
    ("slice empty", lambda: pr.generate_inputs_slice("bh", "pk", [0], 4, 4, 3, 3), ValueError, "start"),
    ("slice start float", lambda: pr.generate_inputs_slice("bh", "pk", [0], 4, 4, 1.0, 3), TypeError, "start"),
    ("cuda without CUDA or index past the last GPU", inputs(device="cuda:99"), ValueError, "device"),
]


@pytest.mark.parametrize("call,exc,words", [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE])
def test_bad_input_raises_naming_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value), str(info.value)


def test_catalogue_is_large():
    assert len(CATALOGUE) >= 20


# The raw ops check their arguments too (a direct torch.ops call cannot read out of bounds).
CPU = torch.device("cpu")
RAW = [
    ("seeds 2-D", lambda: torch.ops.pocrand.normal(torch.zeros(1, 1, dtype=torch.int64), 4, torch.float32), "seeds"),
    ("seeds int32", lambda: torch.ops.pocrand.uniform(torch.zeros(1, dtype=torch.int32), 4), "seeds"),
    ("seeds empty", lambda: torch.ops.pocrand.permutations(torch.zeros(0, dtype=torch.int64), 4), "seeds"),
    ("seeds non-contiguous", lambda: torch.ops.pocrand.uniform(torch.zeros(4, dtype=torch.int64)[::2], 4), "seeds"),
    ("n oversize", lambda: torch.ops.pocrand.normal(torch.zeros(1, dtype=torch.int64), 2**31, torch.float32), "n"),
    ("dtype int", lambda: torch.ops.pocrand.unit_normal(torch.zeros(1, dtype=torch.int64), 4, torch.int32), "dtype"),
    ("logits non-contiguous", lambda: torch.ops.pocrand.distances(randn(16, 2).t(), PERMS, TARGET), "logits"),
    ("keys non-contiguous", lambda: torch.ops.pocrand.murmur3(torch.arange(8)[::2], 0), "keys"),
    ("nonces empty", lambda: torch.ops.pocrand.normal_nonces("p", [], "", 4, torch.float16, CPU), "nonces"),
    ("n zero", lambda: torch.ops.pocrand.normal_nonces("p", [1], "", 0, torch.float16, CPU), "n must"),
    ("nonces dtype", lambda: torch.ops.pocrand.normal_nonces("p", [1], "", 4, torch.int8, CPU), "dtype"),
    ("nonces meta device", lambda: torch.ops.pocrand.normal_nonces("p", [1], "", 4, torch.float16,
                                                                   torch.device("meta")), "device"),
    ("seed negative", lambda: torch.ops.pocrand.unit_normal_seed(-1, 4, torch.float32, CPU), "seed"),
    ("seed oversize", lambda: torch.ops.pocrand.unit_normal_seed(2**32, 4, torch.float32, CPU), "seed"),
    ("seed vocab zero", lambda: torch.ops.pocrand.unit_normal_seed(1, 0, torch.float32, CPU), "vocab_size"),
]


@pytest.mark.parametrize("call,words", [c[1:] for c in RAW], ids=[c[0] for c in RAW])
def test_raw_op_rejects(call, words):
    with pytest.raises(RuntimeError) as info:
        call()
    assert words in str(info.value), str(info.value)


def test_api_accepts_non_contiguous_tensors():
    """The Python API makes strided inputs contiguous; the result equals the contiguous call."""
    wide = randn(2, 32, seed=1)[:, ::2]
    assert not wide.is_contiguous()
    assert torch.equal(pr.compute_distances(wide, PERMS, TARGET),
                       pr.compute_distances(wide.contiguous(), PERMS, TARGET))
    keys = torch.arange(20)[::2]
    assert torch.equal(pr.murmur3_32(keys, 3), pr.murmur3_32(keys.contiguous(), 3))


def test_nan_and_inf_logits_give_nan_distances():
    logits = randn(4, 16, seed=2)
    logits[0, 3] = float("nan")
    logits[1, 0] = float("inf")
    logits[2] = 3e38                    # finite but the sum of squares overflows
    perms = pr.generate_permutations("bh", "pk", range(4), 16)
    d = pr.compute_distances(logits, perms, TARGET)
    nan_bits = torch.tensor(0x7FC00000, dtype=torch.int32)
    assert torch.equal(d[:3].view(torch.int32), nan_bits.expand(3))
    assert torch.isfinite(d[3])


def test_nonces_accept_ranges_tensors_and_numpy_ints():
    import numpy as np
    want = pr.generate_inputs(**{**OK, "nonces": [3, 4]})
    for nonces in (range(3, 5), torch.tensor([3, 4]), np.array([3, 4]), (np.int64(3), 4)):
        assert torch.equal(pr.generate_inputs(**{**OK, "nonces": nonces}), want)


SEEDS = torch.tensor([0, 1, 2**32 - 1], dtype=torch.int64)
OPCHECK = [
    (torch.ops.pocrand.murmur3.default, (torch.arange(100), 7)),
    (torch.ops.pocrand.derive_seeds.default, ("bh_pk_nonce", [0, -1, 2**63 - 1], "", False)),
    (torch.ops.pocrand.uniform.default, (SEEDS, 33)),
    (torch.ops.pocrand.normal.default, (SEEDS, 33, torch.float16)),
    (torch.ops.pocrand.normal.default, (SEEDS, 32, torch.bfloat16)),
    (torch.ops.pocrand.normal_range.default, (SEEDS, 33, 5, 30, torch.float16)),
    (torch.ops.pocrand.normal_nonces.default, ("bh_pk_nonce", [0, -1, 2**63 - 1], "", 33,
                                               torch.float16, torch.device("cpu"))),
    (torch.ops.pocrand.unit_normal_seed.default, (2**32 - 1, 100, torch.bfloat16,
                                                  torch.device("cpu"))),
    (torch.ops.pocrand.permutations.default, (SEEDS, 100)),
    (torch.ops.pocrand.unit_normal.default, (SEEDS, 100, torch.float32)),
    (torch.ops.pocrand.distances.default, (LOGITS, PERMS, TARGET)),
    (torch.ops.pocrand.distances.default, (LOGITS, PERMS, TARGET, False)),
    (torch.ops.pocrand.core_stages.default, (torch.arange(100),)),
    (torch.ops.pocrand.core_log.default, (randn(100, seed=3).abs() + 0.1,)),
    (torch.ops.pocrand.core_sincos.default, (randn(100, seed=4).abs(),)),
    (torch.ops.pocrand.core_round.default, (randn(100, seed=5), torch.float16)),
]


@pytest.mark.parametrize("op,args", OPCHECK, ids=[str(o[0]) for o in OPCHECK])
def test_opcheck(op, args):
    torch.library.opcheck(op, args)
