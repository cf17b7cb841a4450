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


def concat(**kw):
    return lambda: pr.generate_inputs_concat(**{**OK, **kw})


def concat_slice(**kw):
    return lambda: pr.generate_inputs_concat_slice(**{**OK, "start": 0, "end": 4, **kw})


def pick(**kw):
    return lambda: pr.pick_indices(**{"block_hash": "bh", "public_key": "pk", "nonces": [0, 1],
                                      "dim": 16, "k": 4, **kw})


X = randn(2, 4, seed=6)
ROW2 = torch.tensor([3, -1])                 # per-row int64 values (seeds, steps, prev_k)
MASK2 = torch.tensor([True, True])
HIDDEN = randn(2, 16, seed=7)


def haar(**kw):
    return lambda: pr.haar_rotate(**{"block_hash": "bh", "public_key": "pk", "nonces": [0, 1],
                                     "x": X, **kw})


def artifacts(**kw):
    return lambda: pr.artifacts(**{"hidden": HIDDEN, "block_hash": "bh", "public_key": "pk",
                                   "nonces": [0, 1], "k": 4, **kw})


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
    # PoC v2
    ("generate_inputs: out requires grad", inputs(dtype=torch.float32, out=torch.zeros(2, 4, 8, requires_grad=True)), ValueError, "out"),
    ("generate_inputs: out shape", inputs(out=torch.zeros(2, 4, 7, dtype=torch.float16)), ValueError, "out"),
    ("generate_inputs_concat: nonces set", concat(nonces={0, 1}), TypeError, "nonces"),
    ("generate_inputs_concat: public_key lone surrogate", concat(public_key=LONE), ValueError, "public_key"),
    ("generate_inputs_concat: out requires grad", concat(dtype=torch.float32, out=torch.zeros(2, 4, 8, requires_grad=True)), ValueError, "out"),
    ("generate_inputs_concat_slice: end past n", concat_slice(end=33), ValueError, "end"),
    ("generate_inputs_concat_slice: nonces dict values", concat_slice(nonces={0: 1}.values()), TypeError, "nonces"),
    ("unit_vectors: a str, not a list", lambda: pr.unit_vectors("abc", 8), TypeError, "seed_strings"),
    ("unit_vectors: lone surrogate", lambda: pr.unit_vectors(["a", LONE], 8), ValueError, "seed_strings[1]"),
    ("unit_vectors: dim zero", lambda: pr.unit_vectors(["a"], 0), ValueError, "dim"),
    ("householder_vectors: num_layers zero", lambda: pr.householder_vectors("bh", 0, 8), ValueError, "num_layers"),
    ("householder_vectors: block_hash lone surrogate", lambda: pr.householder_vectors(LONE, 2, 8), ValueError, "block_hash"),
    ("generate_target_v2: dtype int", lambda: pr.generate_target_v2("bh", "pk", 8, dtype=torch.int32), ValueError, "dtype"),
    ("generate_target_v2: public_key lone surrogate", lambda: pr.generate_target_v2("bh", LONE, 8), ValueError, "public_key"),
    ("pick_indices: k past dim", pick(k=17), ValueError, "k"),
    ("pick_indices: nonces frozenset", pick(nonces=frozenset({0})), TypeError, "nonces"),
    ("pick_indices: block_hash lone surrogate", pick(block_hash=LONE), ValueError, "block_hash"),
    ("apply_householder: x requires grad", lambda: pr.apply_householder(X.clone().requires_grad_(), X[0]), ValueError, "x"),
    ("apply_householder: v requires grad", lambda: pr.apply_householder(X, X[0].clone().requires_grad_()), ValueError, "v"),
    ("apply_householder: v dtype", lambda: pr.apply_householder(X, X[0].half()), TypeError, "v"),
    ("apply_householder: v shape", lambda: pr.apply_householder(X, X[0, :3]), ValueError, "v"),
    ("apply_householder_: x requires grad", lambda: pr.apply_householder_(X.clone().requires_grad_(), X[0]), ValueError, "x"),
    ("apply_householder_: v per row of another count", lambda: pr.apply_householder_(X.clone(), X[:1].repeat(3, 1)), ValueError, "v"),
    ("apply_householder_pair: residual dtype", lambda: pr.apply_householder_pair(X, X.half(), X[0]), TypeError, "residual"),
    ("apply_householder_pair: v per row", lambda: pr.apply_householder_pair(X, X, X), ValueError, "v must be"),
    ("apply_householder_pair_: hidden a list", lambda: pr.apply_householder_pair_([1.0], X, X[0]), TypeError, "hidden"),
    ("install_householder_hooks: no layers", lambda: pr.install_householder_hooks(torch.nn.Linear(2, 2), "bh"), ValueError, "decoder layers"),
    ("install_householder_hooks: model a str", lambda: pr.install_householder_hooks("model", "bh"), TypeError, "model"),
    ("install_householder_hooks: block_hash int", lambda: pr.install_householder_hooks(torch.nn.Linear(2, 2), 5), TypeError, "block_hash"),
    ("haar_rotate: x requires grad", haar(x=X.clone().requires_grad_()), ValueError, "x"),
    ("haar_rotate: rows and nonces", haar(nonces=[0]), ValueError, "nonces"),
    ("haar_rotate: nonces set", haar(nonces={0, 1}), TypeError, "nonces"),
    ("artifacts: hidden requires grad", artifacts(hidden=HIDDEN.clone().requires_grad_()), ValueError, "hidden"),
    ("artifacts: k past hidden size", artifacts(k=17), ValueError, "k"),
    ("artifacts: public_key lone surrogate", artifacts(public_key=LONE), ValueError, "public_key"),
    ("seed_words: lone surrogate", lambda: pr.seed_words(LONE), ValueError, "s is not"),
    ("pick_seed: k float", lambda: pr.pick_seed("bh", "pk", 0, 2.0), TypeError, "k"),
    ("pick_seed: block_hash lone surrogate", lambda: pr.pick_seed(LONE, "pk", 0, 2), ValueError, "block_hash"),
    ("haar_seed: nonce past int64", lambda: pr.haar_seed("bh", "pk", 2**63, 3, 0), ValueError, "nonce"),
    ("haar_seed: j bool", lambda: pr.haar_seed("bh", "pk", 0, 3, True), TypeError, "j"),
    ("layer_seed: layer str", lambda: pr.layer_seed("bh", "1"), TypeError, "layer"),
    ("layer_seed: block_hash lone surrogate", lambda: pr.layer_seed(LONE, 1), ValueError, "block_hash"),
    ("target_v2_seed: public_key lone surrogate", lambda: pr.target_v2_seed("bh", LONE), ValueError, "public_key"),
    # gonka-poc decode streams (SPEC.md section 10)
    ("step_seeds: base_seeds list", lambda: pr.step_seeds([1], 0, torch.tensor([0]), 13), TypeError, "base_seeds"),
    ("step_seeds: prev_k length", lambda: pr.step_seeds(torch.tensor([1, 2]), 0, torch.tensor([0]), 13), ValueError, "prev_k"),
    ("step_seeds: salt past uint32", lambda: pr.step_seeds(torch.tensor([1]), 0, torch.tensor([0]), 2**32), ValueError, "salt"),
    ("step_normal: step float", lambda: pr.step_normal(torch.tensor([1]), 0.5, torch.tensor([0]), 13, 4), TypeError, "step"),
    ("normal_from_seeds: seeds float", lambda: pr.normal_from_seeds(torch.tensor([1.0]), 4), TypeError, "seeds"),
    ("pick_from_seeds: k past dim", lambda: pr.pick_from_seeds(torch.tensor([1]), 4, 5), ValueError, "k must be in"),
    ("hash_mod: modulus zero", lambda: pr.hash_mod(torch.tensor([1]), 4, 0), ValueError, "modulus"),
    ("forced_logits: top_k past n_experts", lambda: pr.forced_logits(torch.tensor([1]), 4, 5, 100), ValueError, "top_k"),
    ("snap: codebook dim past hidden", lambda: pr.snap(HIDDEN, torch.tensor([1, 2]), torch.ones(3, 17)), ValueError, "codebook dim"),
    ("snap: out not a tuple", lambda: pr.snap(HIDDEN, torch.tensor([1, 2]), torch.ones(3, 4), out=torch.ones(2)), TypeError, "out"),
    ("snap: out scores of another shape", lambda: pr.snap(HIDDEN, torch.tensor([1, 2]), torch.ones(3, 4), out=(
        torch.empty(2, **I64), torch.empty(2, dtype=torch.bool), torch.empty(2, 4), torch.empty(2, 4))), ValueError, "out[2] (scores)"),
    ("claimed_margin: claimed_k float", lambda: pr.claimed_margin(torch.ones(2, 4), torch.ones(2)), TypeError, "claimed_k"),
    ("load_codebook: digest mismatch", lambda: pr.load_codebook(torch.ones(2, 4), expected_sha256="0" * 64), ValueError, "sha256"),
    ("codebook_sha256: int tensor", lambda: pr.codebook_sha256(torch.ones(2, 4, **I64)), TypeError, "codebook"),
    ("decode_validation: tau NaN", lambda: pr.decode_validation(torch.zeros(1, 2, **I64), torch.zeros(1, 2, **I64), torch.zeros(1, 2, 4), tau=float("nan"), p_mismatch=0.1, fraud_threshold=0.01), ValueError, "tau"),
    ("binomial_upper_tail: p past 1", lambda: pr.binomial_upper_tail(1, 3, 1.5), ValueError, "p_mismatch"),
    ("missing_nonce_cap: negative", lambda: pr.missing_nonce_cap(-1), ValueError, "n_requested"),
    ("reflect_rows: row_group shorter than x", lambda: pr.reflect_rows(X, X, torch.tensor([0]), torch.ones(2, dtype=torch.bool)), ValueError, "row_group"),
    ("reflect_rows_: mask int", lambda: pr.reflect_rows_(X.clone(), X, torch.tensor([0, 1]), torch.ones(2, **I64)), TypeError, "mask"),
    ("reflect_rows_pair: table dtype", lambda: pr.reflect_rows_pair(X, X, X.half(), torch.tensor([0, 1]), torch.ones(2, dtype=torch.bool)), TypeError, "table"),
    ("reflect_rows_pair_: mode", lambda: pr.reflect_rows_pair_(X.clone(), X.clone(), X, torch.tensor([0, 1]), torch.ones(2, dtype=torch.bool), "exact"), ValueError, "mode"),
    ("embed_synth: embeds of another width", lambda: pr.embed_synth(X, ROW2, ROW2, ROW2, HIDDEN, MASK2), ValueError, "embeds"),
    ("embed_synth_: step int32", lambda: pr.embed_synth_(X.clone(), ROW2, ROW2.int(), ROW2, X, MASK2), TypeError, "step"),
    ("router_override: n_experts not logits' width", lambda: pr.router_override(X, ROW2, ROW2, MASK2, 5, 2), ValueError, "n_experts"),
    ("router_override_: mask shorter than logits", lambda: pr.router_override_(X.clone(), ROW2, ROW2, MASK2[:1], 4, 2), ValueError, "mask"),
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
                 lambda: pr.permutations_seed(LONE, "pk", 0), lambda: pr.target_seed(LONE),
                 concat(block_hash=LONE), concat_slice(block_hash=LONE), pick(block_hash=LONE),
                 haar(block_hash=LONE), artifacts(block_hash=LONE),
                 lambda: pr.householder_vectors(LONE, 2, 8), lambda: pr.generate_target_v2(LONE, "pk", 8),
                 lambda: pr.pick_seed(LONE, "pk", 0, 2), lambda: pr.haar_seed(LONE, "pk", 0, 3, 0),
                 lambda: pr.layer_seed(LONE, 0), lambda: pr.target_v2_seed(LONE, "pk")):
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
    ("murmur3: rows, keys 1-D", lambda: OPS.murmur3(torch.arange(3), seeds=torch.arange(1)), ValueError, "keys must be 2-D"),
    ("murmur3: rows, keys float", lambda: OPS.murmur3(torch.zeros(2, 3), seeds=torch.arange(2)), TypeError, "keys"),
    ("murmur3: rows, seeds float", lambda: OPS.murmur3(torch.zeros(2, 3, dtype=torch.long), seeds=torch.zeros(2)), TypeError, "seeds"),
    ("murmur3: rows, seeds of another length", lambda: OPS.murmur3(torch.zeros(2, 3, dtype=torch.long), seeds=torch.arange(3)), ValueError, "seeds must be [B] = [2]"),
    ("murmur3: rows, seed past uint32", lambda: OPS.murmur3(torch.zeros(2, 3, dtype=torch.long), seeds=torch.tensor([0, 2**32])), ValueError, "seeds[1]"),
    ("murmur3: seed and seeds", lambda: OPS.murmur3(torch.zeros(2, 3, dtype=torch.long), 5, torch.arange(2)), ValueError, "not both"),
    ("murmur3: keys non-contiguous", lambda: OPS.murmur3(torch.arange(8)[::2], 0), ValueError, "keys"),
    ("murmur3: keys float", lambda: OPS.murmur3(torch.zeros(3), 0), TypeError, "keys"),
    ("murmur3: seed negative", lambda: OPS.murmur3(torch.arange(3), -1), ValueError, "seed"),
    ("murmur3: seed past uint32", lambda: OPS.murmur3(torch.arange(3), 2**32), ValueError, "seed"),
    ("core_stage: box_muller hashes float", lambda: OPS.core_stage("box_muller", torch.zeros(3)), TypeError, "hashes"),
    ("core_stage: log x float64", lambda: OPS.core_stage("log", torch.ones(3, dtype=torch.float64)), TypeError, "x"),
    ("core_stage: sincos theta non-contiguous", lambda: OPS.core_stage("sincos", torch.zeros(6)[::2]), ValueError, "theta"),
    ("core_stage: round dtype int16", lambda: OPS.core_stage("round", torch.zeros(3), torch.int16), ValueError, "dtype"),
    ("core_stage: round without dtype", lambda: OPS.core_stage("round", torch.zeros(3)), ValueError, "dtype"),
    ("core_stage: unknown stage", lambda: OPS.core_stage("exp", torch.zeros(3)), ValueError, "stage"),
    # PoC v2
    ("derive_seeds: count negative", lambda: OPS.derive_seeds("p", [0], "_", False, -2), ValueError, "count"),
    ("derive_seeds: count and words", lambda: OPS.derive_seeds("p", [0], "_", False, 0, True), ValueError, "not both"),
    ("concat_normal: words [B, 7]", lambda: OPS.concat_normal(torch.zeros(1, 7, **I64), 8, 0, 8, torch.float32), ValueError, "words"),
    ("concat_normal: words int32", lambda: OPS.concat_normal(torch.zeros(1, 8, dtype=torch.int32), 8, 0, 8, torch.float32), TypeError, "words"),
    ("concat_normal: word past uint32", lambda: OPS.concat_normal(torch.tensor([[0] * 7 + [2**32]]), 8, 0, 8, torch.float32), ValueError, "words[0, 7]"),
    ("normal_nonces: concat, nonces empty", lambda: OPS.normal_nonces("p", [], "", 4, torch.float16, CPU, True), ValueError, "nonces"),
    ("normal_nonces: concat, dtype int8", lambda: OPS.normal_nonces("p", [1], "", 4, torch.int8, CPU, True), ValueError, "dtype"),
    ("normal_nonces_into: out too small for the nonces", lambda: OPS.normal_nonces_into("p", [1, 2, 3], "", torch.zeros(4)), ValueError, "out"),
    ("normal_nonces_into: nonces empty", lambda: OPS.normal_nonces_into("p", [], "", torch.zeros(4)), ValueError, "nonces"),
    ("normal_nonces_into: concat, out int64", lambda: OPS.normal_nonces_into("p", [1], "", torch.zeros(4, **I64), True), ValueError, "out"),
    ("unit_vectors: seed negative", lambda: OPS.unit_vectors(torch.tensor([-1]), 4, torch.float32), ValueError, "seeds[0]"),
    ("unit_vectors: dim zero", lambda: OPS.unit_vectors(torch.tensor([1]), 0, torch.float32), ValueError, "dim"),
    ("unit_vectors_by_value: seed past uint32", lambda: OPS.unit_vectors_by_value([1, 2**32], 4, torch.float32, CPU), ValueError, "seed"),
    ("unit_vectors_by_value: seeds empty", lambda: OPS.unit_vectors_by_value([], 4, torch.float32, CPU), ValueError, "seeds"),
    ("permutations: bucket parameters on the CPU", lambda: OPS.permutations(torch.tensor([1]), 8, 3, 50), ValueError, "bucket"),
    ("permutations: bucket_bits alone", lambda: OPS.permutations(torch.tensor([1]), 8, 3), ValueError, "give both"),
    ("pick: k past dim", lambda: OPS.pick(torch.tensor([1]), 4, 5), ValueError, "k"),
    ("pick: seed past uint32", lambda: OPS.pick(torch.tensor([2**32]), 4, 2), ValueError, "seeds[0]"),
    ("reflect_rows: table dtype", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), None, None, X[:1].half(), None, None, "once"), TypeError, "table"),
    ("reflect_rows: table width", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), None, None, X[:1, :3].contiguous(), None, None, "once"), ValueError, "table"),
    ("reflect_rows: three table rows without row_group", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), None, None, torch.ones(3, 4), None, None, "once"), ValueError, "without row_group"),
    ("haar_rotate: seeds shape", lambda: OPS.haar_rotate(X, torch.zeros(2, 4, **I64)), ValueError, "seeds"),
    ("haar_rotate: seeds float", lambda: OPS.haar_rotate(X, torch.zeros(2, 3)), TypeError, "seeds"),
    ("haar_rotate: seed negative", lambda: OPS.haar_rotate(X, torch.tensor([[0, 1, 2], [3, -4, 5]])), ValueError, "seeds[1, 1]"),
    ("artifacts: k past hidden size", lambda: OPS.artifacts(HIDDEN, torch.zeros(2, 17, **I64), 17), ValueError, "k"),
    ("artifacts: seeds shape", lambda: OPS.artifacts(HIDDEN, torch.zeros(2, 3, **I64), 4), ValueError, "seeds"),
    ("artifacts: seed past uint32", lambda: OPS.artifacts(HIDDEN, torch.full((2, 4), 2**32), 4), ValueError, "seeds[0, 0]"),
    ("reflect_rows: x int", lambda: OPS.reflect_rows(torch.zeros(2, 1, 4, **I64), torch.zeros(2, 1, 4, **I64), None, None, torch.zeros(1, 4, **I64), None, None, "once"), ValueError, "x dtype"),
    ("reflect_rows: residual without residual_out", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), None, X.view(2, 1, 4), X[:1], None, None, "once"), ValueError, "residual_out"),
    ("reflect_rows: residual dtype", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), torch.empty(2, 1, 4).half(), X.view(2, 1, 4).half(), X[:1], None, None, "once"), TypeError, "residual must have x's dtype"),
    ("reflect_rows: out of another shape", lambda: OPS.reflect_rows(torch.empty(2, 4), X.view(2, 1, 4), None, None, X[:1], None, None, "once"), ValueError, "out must have x's shape"),
    ("artifacts_nonces: nonces empty", lambda: OPS.artifacts_nonces(HIDDEN, "p_", [], 4, "_pick_4", "_haar_hh_4_"), ValueError, "nonces"),
    ("artifacts_nonces: rows differ from nonces", lambda: OPS.artifacts_nonces(HIDDEN, "p_", [1, 2, 3], 4, "_pick_4", "_haar_hh_4_"), ValueError, "hidden"),
    ("artifacts_nonces: k past hidden size", lambda: OPS.artifacts_nonces(HIDDEN, "p_", [1, 2], 17, "_pick_17", "_haar_hh_17_"), ValueError, "k"),
    ("snap: seeds int32", lambda: OPS.snap(HIDDEN, torch.tensor([1, 2], dtype=torch.int32), torch.ones(3, 4), torch.empty(2, **I64),
                                                   torch.empty(2, dtype=torch.bool), torch.empty(2, 3), torch.empty(2, 4)), TypeError, "seeds"),
    ("snap: q of another shape", lambda: OPS.snap(HIDDEN, torch.tensor([1, 2]), torch.ones(3, 4), torch.empty(2, **I64),
                                                            torch.empty(2, dtype=torch.bool), torch.empty(2, 3), torch.empty(2, 5)), ValueError, "q must have shape"),
    ("step_seeds: prev_k int32", lambda: OPS.step_seeds(torch.tensor([1]), torch.tensor([0], dtype=torch.int32), None, 0, 13), TypeError, "prev_k"),
    ("step_seeds: both steps and step", lambda: OPS.step_seeds(torch.tensor([1]), torch.tensor([0]), torch.tensor([0]), 0, 13), ValueError, "exactly one"),
    ("step_normal: base seed past uint32", lambda: OPS.step_normal(torch.tensor([2**32]), torch.tensor([0]), None, 0, 13, 4, torch.float32), ValueError, "seeds[0]"),
    ("hash_mod: n zero", lambda: OPS.hash_mod(torch.tensor([1]), 0, 5), ValueError, "n must"),
    ("forced_logits: ladder_base oversize", lambda: OPS.forced_logits(torch.tensor([1]), None, None, 8, 2, 2**24, torch.float32), ValueError, "ladder_base"),
    ("reflect_rows: x 2-D", lambda: OPS.reflect_rows(X.clone(), X, None, None, X, torch.tensor([0, 1]), torch.ones(2, dtype=torch.bool), "once"), ValueError, "x must be 3-D"),
    ("reflect_rows: mask shorter than x", lambda: OPS.reflect_rows(*[X.clone().view(2, 1, 4)] * 2, None, None, X, torch.tensor([0, 1]), torch.ones(1, dtype=torch.bool), "once"), ValueError, "mask"),
    ("reflect_rows: rounding", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), torch.empty(2, 1, 4), X.view(2, 1, 4), X, torch.tensor([0, 1]), torch.ones(2, dtype=torch.bool), "exact"), ValueError, "rounding"),
    ("reflect_rows: residual_out over table", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), X.view(2, 1, 4), X.clone().view(2, 1, 4), X, torch.tensor([0, 1]), torch.ones(2, dtype=torch.bool), "once"), ValueError, "share memory"),
    ("reflect_rows: out over part of x", lambda: (lambda b: OPS.reflect_rows(b[1:], b[:2], None, None, X, None, None, "once"))(torch.zeros(3, 1, 4)), ValueError, "out and x share memory"),
    ("embed_synth: salt past uint32", lambda: OPS.embed_synth(X.clone(), X, ROW2, ROW2, ROW2, X, MASK2, 2**32), ValueError, "salt"),
    ("embed_synth: in place over embeds", lambda: OPS.embed_synth(X, X, ROW2, ROW2, ROW2, X, MASK2, 13), ValueError, "out and embeds share memory"),
    ("router_override: top_k past n_experts", lambda: OPS.router_override(X.clone(), X, ROW2, ROW2, MASK2, 4, 5, 100), ValueError, "top_k"),
    ("router_override: route_seeds shorter than logits", lambda: (lambda y: OPS.router_override(y, y, ROW2[:1], ROW2, MASK2, 4, 2, 100))(X.clone()), ValueError, "route_seeds"),
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
    # build_info takes no argument; derive_seeds_of_strings accepts every value its schema
    # admits (any list of str, empty too); derive_seeds' refusals are its count's.
    # accept every value their schemas admit (any str, any int64 list, empty lists too);
    covered = {c[0].split(":")[0] for c in RAW}
    assert pocrand_ops() - {"build_info", "derive_seeds_of_strings"} == covered


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
    (torch.ops.pocrand.murmur3.default, (torch.arange(-50, 50).view(4, 25), 0,
                                              torch.tensor([0, 1, 2**32 - 1, 7]))),
    (torch.ops.pocrand.unit_normal.default, (SEEDS, 100, torch.float32)),
    (torch.ops.pocrand.distances.default, (LOGITS, PERMS, TARGET)),
    (torch.ops.pocrand.distances.default, (LOGITS, PERMS, TARGET, False)),
    (torch.ops.pocrand.core_stage.default, ("box_muller", torch.arange(100))),
    (torch.ops.pocrand.core_stage.default, ("log", randn(100, seed=3).abs() + 0.1)),
    (torch.ops.pocrand.core_stage.default, ("sincos", randn(100, seed=4).abs())),
    (torch.ops.pocrand.core_stage.default, ("round", randn(100, seed=5), torch.float16)),
    (torch.ops.pocrand.step_seeds.default, (SEEDS, torch.tensor([-1, 0, 15]), None, 3, 0x91)),
    (torch.ops.pocrand.step_normal.default, (SEEDS, torch.tensor([-1, 0, 15]), torch.arange(3), None, 0x0D, 33, torch.bfloat16)),
    (torch.ops.pocrand.hash_mod.default, (SEEDS, 17, 151936)),
    (torch.ops.pocrand.forced_logits.default, (SEEDS, torch.arange(3), None, 256, 8, 100, torch.float16)),
    (torch.ops.pocrand.reflect_rows.default, (torch.empty(3, 2, 33).half(), randn(3, 2, 33, seed=6).half(), None, None,
                                              randn(2, 33, seed=7).half(), torch.tensor([1, 0, -1]),
                                              torch.tensor([True, True, True]), "stepwise")),
    (torch.ops.pocrand.reflect_rows.default, (torch.empty(3, 1, 9), randn(3, 1, 9, seed=6), torch.empty(3, 1, 9),
                                              randn(3, 1, 9, seed=8), randn(2, 9, seed=7), torch.tensor([1, 1, 0, 5]),
                                              torch.tensor([True, False, True, True]), "once")),
    (torch.ops.pocrand.reflect_rows.default, (torch.empty(5, 1, 33), randn(5, 1, 33, seed=6), None, None,
                                              randn(5, 33, seed=7), None, None, "once")),
    (torch.ops.pocrand.embed_synth.default, (torch.empty(3, 9).bfloat16(), randn(3, 9, seed=6).bfloat16(), SEEDS, torch.tensor([0, -5, 2**33]),
                                             torch.tensor([4, -1, 0]), randn(4, 9, seed=8), torch.tensor([True, True, False, True]), 0x0D)),
    (torch.ops.pocrand.embed_synth.default, (torch.empty(3, 9), randn(3, 9, seed=6), SEEDS, torch.arange(3), torch.tensor([4, -1, 0]),
                                              randn(3, 9, seed=8).half(), torch.tensor([True, True, False]), 7)),
    (torch.ops.pocrand.router_override.default, (torch.empty(3, 16).half(), randn(3, 16, seed=6).half(), SEEDS, torch.arange(3),
                                                 torch.tensor([True, False, True]), 16, 4, 100)),
    (torch.ops.pocrand.router_override.default, (torch.empty(3, 16), randn(3, 16, seed=6), SEEDS, torch.arange(3),
                                                  torch.tensor([False, True, True]), 16, 4, -7)),
]


@pytest.mark.parametrize("op,args", OPCHECK, ids=[str(o[0]) for o in OPCHECK])
def test_opcheck(op, args):
    torch.library.opcheck(op, args)
