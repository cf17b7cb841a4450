"""Bad input raises TypeError or ValueError naming the argument (never a crash, hang, garbage or
another exception type), from every public function (the raw ops: tests/test_raw_ops_refuse.py)."""
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
I64 = dict(dtype=torch.int64)


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
    ("compute_distances: target dtype", distances(target=TARGET.double()), ValueError, "target dtype"),
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
    ("fused_add_rms_norm_reflect: table on meta", lambda: pr.fused_add_rms_norm_reflect(X.clone(), X.clone(), X[0], 1e-6, X.to("meta"), ROW2, MASK2), ValueError, "x and table must be on one device"),
    ("reflect_rows_pair: residual on meta", lambda: pr.reflect_rows_pair(X, X.to("meta"), X, None, None), ValueError, "hidden and residual must be on one device"),
    ("apply_householder_: v on meta", lambda: pr.apply_householder_(X.clone(), X[0].to("meta")), ValueError, "x and v must be on one device"),
    ("fused_add_rms_norm_reflect: residual of another shape", lambda: pr.fused_add_rms_norm_reflect(X.clone(), X[:1].clone(), X[0], 1e-6, X, ROW2, MASK2), ValueError, "one shape"),
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
