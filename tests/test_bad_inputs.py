"""Bad input raises TypeError or ValueError naming the argument (never a crash, hang, garbage or
another exception type), from every public function and every raw op; and every op passes
torch.library.opcheck (schema, fake kernel, dispatch)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import stages  # noqa: F401  (registers the fake kernels of the core_* ops)
from conftest import randn

OK = dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=8, seq_len=4)
LOGITS = randn(2, 16)
PERMS = pr.generate_permutations("bh", "pk", [0, 1], 16)
TARGET = pr.generate_target("bh", 16)
LONE = "bh\ud800"      # a lone surrogate: a str that has no UTF-8 encoding


def inputs(**kw):
    return lambda: pr.generate_inputs(**{**OK, **kw})


def inputs_slice(**kw):
    return lambda: pr.generate_inputs_slice(**{**OK, "start": 0, "end": 4, **kw})


def permutations(**kw):
    return lambda: pr.generate_permutations(**{"block_hash": "bh", "public_key": "pk",
                                               "nonces": [0], "vocab_size": 16, **kw})


def distances(logits=LOGITS, perms=PERMS, target=TARGET):
    return lambda: pr.compute_distances(logits, perms, target)


UNORDERED = [("set", {0, 1}), ("frozenset", frozenset({0, 1})), ("dict", {0: 1, 1: 2}),
             ("dict keys", {0: 1}.keys()), ("dict values", {0: 1}.values()),
             ("dict items", {0: 1}.items())]

# (id "function: what", call, exception, words the message must contain)
CATALOGUE = [
    ("generate_inputs: block_hash int", inputs(block_hash=123), TypeError, "block_hash"),
    ("generate_inputs: public_key bytes", inputs(public_key=b"pk"), TypeError, "public_key"),
    ("generate_inputs: block_hash lone surrogate", inputs(block_hash=LONE), ValueError, "block_hash"),
    ("generate_inputs: public_key lone surrogate", inputs(public_key=LONE), ValueError, "public_key"),
    ("generate_inputs: nonces empty", inputs(nonces=[]), ValueError, "nonces"),
    ("generate_inputs: nonces not a sequence", inputs(nonces=5), TypeError, "nonces"),
    ("generate_inputs: nonces str", inputs(nonces="012"), TypeError, "nonces"),
    ("generate_inputs: nonce float", inputs(nonces=[0, 1.5]), TypeError, "nonces[1]"),
    ("generate_inputs: nonce bool", inputs(nonces=[True]), TypeError, "nonces[0]"),
    ("generate_inputs: nonce past int64", inputs(nonces=[2**63]), ValueError, "nonces[0]"),
    ("generate_inputs: nonces float tensor", inputs(nonces=torch.tensor([0.0, 1.0])), TypeError, "nonces"),
    ("generate_inputs: nonces 2-D tensor", inputs(nonces=torch.zeros(2, 2, dtype=torch.int64)), TypeError, "nonces"),
    *[(f"generate_inputs: nonces {name}", inputs(nonces=v), TypeError, "nonces") for name, v in UNORDERED],
    ("generate_inputs: dim zero", inputs(dim=0), ValueError, "dim"),
    ("generate_inputs: seq_len negative", inputs(seq_len=-3), ValueError, "seq_len"),
    ("generate_inputs: dim float", inputs(dim=8.0), TypeError, "dim"),
    ("generate_inputs: seq_len*dim oversize", inputs(dim=2**16, seq_len=2**15), ValueError, "seq_len * dim"),
    ("generate_inputs: dim oversize", inputs(dim=2**31), ValueError, "dim"),
    ("generate_inputs: dtype int", inputs(dtype=torch.int32), ValueError, "dtype"),
    ("generate_inputs: dtype str", inputs(dtype="float16"), TypeError, "dtype"),
    ("generate_inputs: device bogus", inputs(device="tpu:0"), ValueError, "device"),
    ("generate_inputs: device wrong type", inputs(device=3.0), TypeError, "device"),
    ("generate_inputs: cuda without CUDA or index past the last GPU", inputs(device="cuda:99"), ValueError, "device"),
    # torch.device keeps 8 bits of an index: "cuda:256" is cuda:0 and "cuda:128" cuda:65408 to it.
    ("generate_inputs: device index 256", inputs(device="cuda:256"), ValueError, "device"),
    ("generate_inputs: device index 128", inputs(device="cuda:128"), ValueError, "device"),
    ("generate_inputs: device int past 2^32", inputs(device=3663059584), ValueError, "device"),
    ("generate_inputs: device int negative", inputs(device=-1), ValueError, "device"),
    ("generate_inputs_slice: end past n", inputs_slice(end=33), ValueError, "end"),
    ("generate_inputs_slice: empty", inputs_slice(start=3, end=3), ValueError, "start"),
    ("generate_inputs_slice: start float", inputs_slice(start=1.0), TypeError, "start"),
    ("generate_inputs_slice: nonces set", inputs_slice(nonces={0, 1}), TypeError, "nonces"),
    ("generate_inputs_slice: block_hash lone surrogate", inputs_slice(block_hash=LONE), ValueError, "block_hash"),
    ("generate_permutations: vocab_size zero", permutations(vocab_size=0), ValueError, "vocab_size"),
    ("generate_permutations: nonces set", permutations(nonces={0, 1}), TypeError, "nonces"),
    ("generate_permutations: nonces dict keys", permutations(nonces={0: 0}.keys()), TypeError, "nonces"),
    ("generate_permutations: public_key lone surrogate", permutations(public_key=LONE), ValueError, "public_key"),
    ("generate_target: vocab_size oversize", lambda: pr.generate_target("bh", 2**31), ValueError, "vocab_size"),
    ("generate_target: dtype float64", lambda: pr.generate_target("bh", 8, dtype=torch.float64), ValueError, "dtype"),
    ("generate_target: block_hash lone surrogate", lambda: pr.generate_target(LONE, 8), ValueError, "block_hash"),
    ("seed_from_string: not a str", lambda: pr.seed_from_string(b"x"), TypeError, "s"),
    ("seed_from_string: lone surrogate", lambda: pr.seed_from_string(LONE), ValueError, "s is not"),
    ("inputs_seed: block_hash lone surrogate", lambda: pr.inputs_seed(LONE, "pk", 0), ValueError, "block_hash"),
    ("inputs_seed: nonce float", lambda: pr.inputs_seed("bh", "pk", 1.5), TypeError, "nonce"),
    ("permutations_seed: public_key lone surrogate", lambda: pr.permutations_seed("bh", LONE, 0), ValueError, "public_key"),
    ("permutations_seed: nonce past int64", lambda: pr.permutations_seed("bh", "pk", 2**63), ValueError, "nonce"),
    ("target_seed: block_hash lone surrogate", lambda: pr.target_seed(LONE), ValueError, "block_hash"),
    ("target_seed: block_hash None", lambda: pr.target_seed(None), TypeError, "block_hash"),
    ("uniform: seed negative", lambda: pr.uniform(-1, 4), ValueError, "seed"),
    ("normal: seed past uint32", lambda: pr.normal(2**32, 4), ValueError, "seed"),
    ("normal: n zero", lambda: pr.normal(0, 0), ValueError, "n"),
    ("murmur3_32: keys float", lambda: pr.murmur3_32(torch.zeros(3), 0), TypeError, "keys"),
    ("murmur3_32: keys list", lambda: pr.murmur3_32([1, 2], 0), TypeError, "keys"),
    ("murmur3_32: seed past uint32", lambda: pr.murmur3_32(torch.arange(3), 2**32), ValueError, "seed"),
    ("compute_distances: logits 1-D", distances(logits=randn(16)), ValueError, "logits"),
    ("compute_distances: logits int", distances(logits=torch.ones(2, 16, dtype=torch.int64)), ValueError, "logits"),
    ("compute_distances: logits not a tensor", distances(logits=[[1.0] * 16] * 2), TypeError, "logits"),
    ("compute_distances: logits requires grad", distances(logits=LOGITS.clone().requires_grad_()), ValueError, "logits"),
    ("compute_distances: target requires grad", distances(target=TARGET.clone().requires_grad_()), ValueError, "target"),
    ("compute_distances: permutations int32", distances(perms=PERMS.int()), TypeError, "permutations"),
    ("compute_distances: permutations float", distances(perms=PERMS.float()), TypeError, "permutations"),
    ("compute_distances: permutations shape", distances(perms=PERMS[:1]), ValueError, "permutations shape"),
    ("compute_distances: permutations out of range", distances(perms=PERMS + 1), ValueError, "permutations["),
    ("compute_distances: permutations negative", distances(perms=PERMS - 1), ValueError, "permutations["),
    ("compute_distances: target length", distances(target=TARGET[:8]), ValueError, "target"),
    ("compute_distances: target 2-D", distances(target=TARGET.view(1, 16)), ValueError, "target"),
    ("compute_distances: target dtype", distances(target=TARGET.double()), ValueError, "target.dtype"),
    ("compute_distances: empty batch", distances(logits=LOGITS[:0], perms=PERMS[:0]), ValueError, "logits"),
    ("compute_distances: devices differ", distances(logits=LOGITS.to("meta")), ValueError, "one device"),
    ("compute_distances: check not a bool", lambda: pr.compute_distances(LOGITS, PERMS, TARGET, check=1), TypeError, "check"),
]


@pytest.mark.parametrize("call,exc,words", [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE])
def test_bad_input_raises_naming_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    assert words in str(info.value), str(info.value)


def test_every_public_function_is_in_the_catalogue():
    covered = {c[0].split(":")[0] for c in CATALOGUE}
    assert set(pr.__all__) - {"SPEC_VERSION", "build_info"} <= covered


def test_device_indices_are_never_wrapped(monkeypatch):
    """torch.device keeps 8 bits of an index ("cuda:256" is cuda:0, "cuda:128" cuda:65408); on a
    machine with GPUs the check must refuse such an index instead of using another GPU. Two GPUs
    are simulated here, so that the CUDA branch runs on any machine."""
    from pocrand_ext import _checks
    monkeypatch.setattr(_checks, "build_info", lambda: "cpu+cuda:9.0")
    monkeypatch.setattr(_checks, "_checked_devices", {})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    for device in ("cuda:256", "cuda:257", "cuda:128", "cuda:2", torch.device("cuda", 2)):
        with pytest.raises(ValueError, match="device"):
            _checks.check_device(device)
    assert _checks.check_device("cuda:1") == torch.device("cuda", 1)


def test_unencodable_strings_give_one_message_everywhere():
    """The same ValueError, naming the argument and the position, whichever function sees it."""
    messages = set()
    for call in (inputs(block_hash=LONE), inputs_slice(block_hash=LONE), permutations(block_hash=LONE),
                 lambda: pr.generate_target(LONE, 8), lambda: pr.inputs_seed(LONE, "pk", 0),
                 lambda: pr.permutations_seed(LONE, "pk", 0), lambda: pr.target_seed(LONE)):
        with pytest.raises(ValueError) as info:
            call()
        messages.add(str(info.value))
    assert messages == {"block_hash is not encodable as UTF-8: lone surrogate '\\ud800' at index 2"}


# The raw ops check their arguments too (a direct torch.ops call cannot read out of bounds, and a
# seed outside [0, 2^32) is refused rather than cut to its low 32 bits). Arguments of the wrong
# Python type never reach them: torch's dispatcher refuses those itself, with a RuntimeError.
CPU = torch.device("cpu")
I64 = dict(dtype=torch.int64)
OPS = torch.ops.pocrand
RAW = [
    # (id "op: what", call, exception, words)
    ("uniform: seeds int32", lambda: OPS.uniform(torch.zeros(1, dtype=torch.int32), 4), TypeError, "seeds"),
    ("uniform: seeds non-contiguous", lambda: OPS.uniform(torch.zeros(4, **I64)[::2], 4), ValueError, "seeds"),
    ("uniform: seed negative", lambda: OPS.uniform(torch.tensor([5, -1]), 4), ValueError, "seeds[1] = -1"),
    ("normal: seeds 2-D", lambda: OPS.normal(torch.zeros(1, 1, **I64), 4, torch.float32), ValueError, "seeds"),
    ("normal: n oversize", lambda: OPS.normal(torch.zeros(1, **I64), 2**31, torch.float32), ValueError, "n"),
    ("normal: seed past uint32", lambda: OPS.normal(torch.tensor([2**32]), 4, torch.float32), ValueError, "seeds[0] = 4294967296"),
    ("normal_range: empty range", lambda: OPS.normal_range(torch.tensor([1]), 10, 4, 2, torch.float32), ValueError, "start"),
    ("normal_range: seed negative", lambda: OPS.normal_range(torch.tensor([-(2**63)]), 10, 0, 2, torch.float32), ValueError, "seeds[0]"),
    ("normal_nonces: nonces empty", lambda: OPS.normal_nonces("p", [], "", 4, torch.float16, CPU), ValueError, "nonces"),
    ("normal_nonces: n zero", lambda: OPS.normal_nonces("p", [1], "", 0, torch.float16, CPU), ValueError, "n must"),
    ("normal_nonces: dtype int8", lambda: OPS.normal_nonces("p", [1], "", 4, torch.int8, CPU), ValueError, "dtype"),
    ("normal_nonces: meta device", lambda: OPS.normal_nonces("p", [1], "", 4, torch.float16, torch.device("meta")), ValueError, "device"),
    ("unit_normal_seed: seed negative", lambda: OPS.unit_normal_seed(-1, 4, torch.float32, CPU), ValueError, "seed"),
    ("unit_normal_seed: seed oversize", lambda: OPS.unit_normal_seed(2**32, 4, torch.float32, CPU), ValueError, "seed"),
    ("unit_normal_seed: vocab zero", lambda: OPS.unit_normal_seed(1, 0, torch.float32, CPU), ValueError, "vocab_size"),
    ("permutations: seeds empty", lambda: OPS.permutations(torch.zeros(0, **I64), 4), ValueError, "seeds"),
    ("permutations: seed past uint32", lambda: OPS.permutations(torch.tensor([0, 2**40]), 4), ValueError, "seeds[1]"),
    ("unit_normal: dtype int", lambda: OPS.unit_normal(torch.zeros(1, **I64), 4, torch.int32), ValueError, "dtype"),
    ("unit_normal: seed negative", lambda: OPS.unit_normal(torch.tensor([-5]), 4, torch.float32), ValueError, "seeds[0]"),
    ("distances: logits non-contiguous", lambda: OPS.distances(randn(16, 2).t(), PERMS, TARGET), ValueError, "logits"),
    ("distances: permutations int32", lambda: OPS.distances(LOGITS, PERMS.int(), TARGET), TypeError, "permutations"),
    ("distances: permutation out of range", lambda: OPS.distances(LOGITS, PERMS + 1, TARGET), ValueError, "permutations["),
    ("murmur3: keys non-contiguous", lambda: OPS.murmur3(torch.arange(8)[::2], 0), ValueError, "keys"),
    ("murmur3: keys float", lambda: OPS.murmur3(torch.zeros(3), 0), TypeError, "keys"),
    ("murmur3: seed negative", lambda: OPS.murmur3(torch.arange(3), -1), ValueError, "seed"),
    ("murmur3: seed past uint32", lambda: OPS.murmur3(torch.arange(3), 2**32), ValueError, "seed"),
    ("core_stages: hashes float", lambda: OPS.core_stages(torch.zeros(3)), TypeError, "hashes"),
    ("core_log: x float64", lambda: OPS.core_log(torch.ones(3, dtype=torch.float64)), TypeError, "x"),
    ("core_sincos: theta non-contiguous", lambda: OPS.core_sincos(torch.zeros(6)[::2]), ValueError, "theta"),
    ("core_round: dtype int16", lambda: OPS.core_round(torch.zeros(3), torch.int16), ValueError, "dtype"),
]


@pytest.mark.parametrize("call,exc,words", [c[1:] for c in RAW], ids=[c[0] for c in RAW])
def test_raw_op_rejects(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    assert words in str(info.value), str(info.value)


def pocrand_ops() -> set[str]:
    return {name.split("::")[1] for name in torch._C._dispatch_get_all_op_names()
            if name.startswith("pocrand::")}


def test_every_raw_op_is_in_the_catalogue():
    # build_info takes no argument; derive_seeds accepts every value its schema admits (any str,
    # any int64 list, empty too); permutations_bucketed is CUDA-only (tests/test_cuda.py).
    covered = {c[0].split(":")[0] for c in RAW}
    assert pocrand_ops() - {"build_info", "derive_seeds", "permutations_bucketed"} == covered


def test_the_dispatcher_refuses_what_no_schema_admits():
    """Documented above: these never reach pocrand's checks (the Python API refuses them first)."""
    for call in (lambda: OPS.derive_seeds(LONE, [0], "", False),
                 lambda: OPS.derive_seeds("p", [2**63], "", False),
                 lambda: OPS.murmur3(torch.arange(3), 1.5)):
        with pytest.raises(RuntimeError):
            call()


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


def test_nonces_accept_ordered_sequences_tensors_and_numpy_ints():
    want = pr.generate_inputs(**{**OK, "nonces": [3, 4]})
    for nonces in (range(3, 5), torch.tensor([3, 4]), np.array([3, 4]), (np.int64(3), 4),
                   iter([3, 4]), (n for n in (3, 4))):
        assert torch.equal(pr.generate_inputs(**{**OK, "nonces": nonces}), want)


def test_outputs_never_require_grad():
    """Inputs that require grad are refused (above); under no_grad / inference mode the tensors
    are plain and the results too."""
    with torch.inference_mode():
        d = pr.compute_distances(LOGITS, PERMS, TARGET)
    assert not d.requires_grad
    for out in (pr.generate_inputs(**OK), PERMS, TARGET, pr.normal(1, 8)):
        assert not out.requires_grad


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
