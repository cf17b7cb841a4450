"""Property-based tests (Hypothesis): random shapes, seeds, nonces (int64 edges included), dtypes,
slices and strings. The CPU kernels equal the NumPy spec bit for bit, a slice equals the same
part of the whole, rows follow their nonces, and random bad arguments raise only TypeError or
ValueError.

Every test runs a fixed number of examples drawn deterministically (derandomize=True: the same
examples on every run and machine, no example database), so the suite's time is bounded and a
failure reproduces by its test id.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pocrand_ext as pr
import spec_numpy as spec
from test_random_access import spec_elements

I64_MIN, I64_MAX, U32_MAX, MAX_COUNT = -(2**63), 2**63 - 1, 2**32 - 1, 2**31 - 1
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def budget(n: int):
    return settings(max_examples=n, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


seeds = st.one_of(st.sampled_from([0, 1, 2**31 - 1, 2**31, U32_MAX]), st.integers(0, U32_MAX))
nonce = st.one_of(st.sampled_from([0, -1, 1, I64_MIN, I64_MAX, I64_MIN + 1, I64_MAX - 1,
                                   2**31, -(2**31), 2**32]), st.integers(I64_MIN, I64_MAX))
nonce_lists = st.lists(nonce, min_size=1, max_size=4)
# Any str with a UTF-8 encoding (surrogates, category Cs, have none): NUL, emoji, CJK, ...
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
dtypes = st.sampled_from(list(DTYPES))


def bits(x) -> np.ndarray:
    """Bit patterns of a torch tensor or a spec array (bf16 comes from the spec as uint16)."""
    if isinstance(x, torch.Tensor):
        x = x.contiguous()
        view = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}
        x = (x.view(view[x.dtype]) if x.dtype in view else x).numpy()
    x = np.ascontiguousarray(x)
    return x.view({4: np.uint32, 2: np.uint16, 8: np.int64}[x.dtype.itemsize])


# --- CPU == NumPy spec, bit for bit --------------------------------------------------------------

@budget(150)
@given(bh=text, pk=text, nonces=nonce_lists, dim=st.integers(1, 40), seq_len=st.integers(1, 6),
       dtype=dtypes)
def test_inputs_equal_the_spec(bh, pk, nonces, dim, seq_len, dtype):
    got = pr.generate_inputs(bh, pk, nonces, dim, seq_len, "cpu", DTYPES[dtype])
    want = spec.generate_inputs(bh, pk, nonces, dim, seq_len, dtype)
    assert got.shape == want.shape and np.array_equal(bits(got), bits(want))


@budget(150)
@given(seed=seeds, n=st.integers(1, 3000))
def test_uniform_and_normal_equal_the_spec(seed, n):
    assert np.array_equal(bits(pr.uniform(seed, n)), bits(spec.uniform(seed, n)))
    assert np.array_equal(bits(pr.normal(seed, n)), bits(spec.normal(seed, n)))


@budget(100)
@given(keys=st.lists(nonce, min_size=1, max_size=50), seed=seeds)
def test_murmur3_equals_the_spec(keys, seed):
    k = np.array(keys, dtype=np.int64)
    got = pr.murmur3_32(torch.from_numpy(k), seed)
    assert np.array_equal(got.numpy(), spec.murmur3_32(k, seed))


@budget(100)
@given(bh=text, pk=text, nonces=nonce_lists, vocab_size=st.integers(1, 3000))
def test_permutations_equal_the_spec(bh, pk, nonces, vocab_size):
    got = pr.generate_permutations(bh, pk, nonces, vocab_size)
    assert np.array_equal(got.numpy(), spec.generate_permutations(bh, pk, nonces, vocab_size))


@budget(100)
@given(bh=text, vocab_size=st.integers(1, 3000), dtype=dtypes)
def test_target_equals_the_spec(bh, vocab_size, dtype):
    got = pr.generate_target(bh, vocab_size, "cpu", DTYPES[dtype])
    assert np.array_equal(bits(got), bits(spec.generate_target(bh, vocab_size, dtype)))


def widened(x: torch.Tensor) -> np.ndarray:
    return x.float().numpy()  # float16/bfloat16 -> float32 is exact


logit_values = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True),
                         st.sampled_from([0.0, -0.0, 1e-45, 3e38, -3e38]))


@budget(150)
@given(data=st.data(), batch=st.integers(1, 3), vocab_size=st.integers(1, 1500),
       logits_dtype=dtypes, target_dtype=dtypes)
def test_distances_equal_the_spec(data, batch, vocab_size, logits_dtype, target_dtype):
    """Any logits (NaN, Inf, subnormals, zero rows), any in-range entries (not only permutations),
    any target dtype."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="data seed"))
    logits = torch.from_numpy(rng.standard_normal((batch, vocab_size), dtype=np.float32) * 4)
    for _ in range(data.draw(st.integers(0, 4), label="special values")):
        logits[data.draw(st.integers(0, batch - 1)), data.draw(st.integers(0, vocab_size - 1))] = \
            data.draw(logit_values)
    if data.draw(st.booleans(), label="a zero row"):
        logits[0] = 0.0
    logits = logits.to(DTYPES[logits_dtype])
    perms = torch.from_numpy(rng.integers(0, vocab_size, (batch, vocab_size)))
    target = pr.generate_target(data.draw(text, label="block_hash"), vocab_size, "cpu",
                                DTYPES[target_dtype])
    got = pr.compute_distances(logits, perms, target)
    want = spec.compute_distances(widened(logits), perms.numpy(), widened(target))
    assert np.array_equal(bits(got), bits(want))


# --- a slice equals the same part of the whole ---------------------------------------------------

@budget(150)
@given(data=st.data(), bh=text, nonces=nonce_lists, dim=st.integers(1, 40),
       seq_len=st.integers(1, 6), dtype=dtypes)
def test_a_slice_equals_the_same_part_of_the_whole(data, bh, nonces, dim, seq_len, dtype):
    n = dim * seq_len
    start = data.draw(st.integers(0, n - 1), label="start")
    end = data.draw(st.integers(start + 1, n), label="end")
    whole = pr.generate_inputs(bh, "pk", nonces, dim, seq_len, "cpu", DTYPES[dtype])
    part = pr.generate_inputs_slice(bh, "pk", nonces, dim, seq_len, start, end, "cpu",
                                    DTYPES[dtype])
    assert np.array_equal(bits(part), bits(whole.view(len(nonces), n)[:, start:end]))


@budget(200)
@given(data=st.data(), seed=seeds, n=st.one_of(st.integers(1, 5000), st.integers(1, MAX_COUNT),
                                               st.sampled_from([MAX_COUNT, MAX_COUNT - 1])))
def test_a_slice_of_any_row_size_equals_the_spec(data, seed, n):
    """Rows up to 2^31 - 1 elements, far too long to build whole: a window through random access
    against the spec's pair formula (SPEC.md section 5)."""
    start = data.draw(st.integers(0, n - 1), label="start")
    end = data.draw(st.integers(start + 1, min(n, start + 64)), label="end")
    got = torch.ops.pocrand.normal_range(torch.tensor([seed]), n, start, end, torch.float32)[0]
    want = spec_elements(seed, n, np.arange(start, end, dtype=np.int64))
    assert np.array_equal(bits(got), bits(want))


@budget(60)
@given(nonces=st.lists(nonce, min_size=1, max_size=5, unique=True), data=st.data())
def test_rows_follow_their_nonces(nonces, data):
    """Row b depends on nonces[b] alone: reordering the nonces reorders the rows."""
    order = data.draw(st.permutations(range(len(nonces))), label="order")
    x = pr.generate_inputs("bh", "pk", nonces, 8, 3)
    y = pr.generate_inputs("bh", "pk", [nonces[i] for i in order], 8, 3)
    assert torch.equal(y.view(torch.int16), x[list(order)].view(torch.int16))
    p = pr.generate_permutations("bh", "pk", nonces, 50)
    q = pr.generate_permutations("bh", "pk", [nonces[i] for i in order], 50)
    assert torch.equal(q, p[list(order)])


# --- random bad arguments raise only TypeError / ValueError --------------------------------------

def small_tensors() -> st.SearchStrategy:
    kinds = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32,
             torch.bool, torch.complex64]
    return st.builds(lambda shape, dtype, grad: _tensor(shape, dtype, grad),
                     st.lists(st.integers(0, 4), max_size=3), st.sampled_from(kinds), st.booleans())


def _tensor(shape, dtype, grad):
    t = torch.ones(shape, dtype=dtype)
    return t.requires_grad_() if grad and dtype.is_floating_point else t


# Junk of every kind, but never a valid large count (that would allocate gigabytes, not fail).
junk = st.one_of(
    st.none(), st.booleans(), st.floats(), st.complex_numbers(), st.binary(max_size=4),
    st.text(max_size=4), st.just("\ud800"), st.integers(-(2**70), 0), st.integers(2**31, 2**70),
    st.integers(1, 16), st.lists(st.integers(-5, 5), max_size=3),
    st.sets(st.integers(0, 3), max_size=3),
    st.dictionaries(st.integers(0, 3), st.integers(0, 3), max_size=2), st.sampled_from(
        [torch.float64, torch.int8, torch.float16, "float16", "cpu", "cuda:7", "meta", "tpu",
         torch.device("meta"), {0: 1}.keys(), range(0), range(3), object(), float("nan")]),
    small_tensors())

GOOD = {"block_hash": "bh", "public_key": "pk", "nonces": [0, 1], "dim": 8, "seq_len": 4,
        "vocab_size": 16, "dtype": torch.float16, "device": "cpu", "seed": 5, "n": 8, "s": "x",
        "nonce": 3, "start": 0, "end": 8, "keys": torch.arange(4),
        "logits": torch.ones(2, 16),
        "permutations": pr.generate_permutations("bh", "pk", [0, 1], 16),
        "target": pr.generate_target("bh", 16), "check": True, "out": None, "k": 4, "j": 1,
        "layer": 3, "num_layers": 2, "seed_strings": ["a", "b"], "x": torch.ones(2, 4),
        "v": torch.ones(4), "hidden": torch.ones(2, 16), "residual": torch.ones(3, 4),
        "model": torch.nn.Linear(4, 4), "h": torch.ones(2, 16), "seeds": torch.tensor([1, 2]),
        "codebook": torch.ones(3, 4), "scores": torch.zeros(1, 2, 16),
        "claimed_k": torch.tensor([[0, 3]]), "validator_k": torch.tensor([[0, 5]]),
        "source": torch.ones(3, 4), "expected_sha256": "0" * 64, "shape": None, "tau": 0.05,
        "p_mismatch": 0.01, "fraud_threshold": 0.01, "requested": None, "flagged": 1, "total": 3,
        "p": 0.1, "n_requested": 10, "base_seeds": torch.tensor([1, 2]), "step": 3,
        "prev_k": torch.tensor([0, 15]), "salt": 0x0D, "n_experts": 8, "top_k": 2,
        "ladder_base": 100, "modulus": 151936, "table": torch.ones(2, 4), "weight": torch.ones(4),
        "eps": 1e-6,
        "row_group": torch.tensor([0, 1]), "mask": torch.tensor([True, False]), "mode": "once"}
API = {  # function: its parameters, all filled from GOOD
    pr.generate_inputs: ["block_hash", "public_key", "nonces", "dim", "seq_len", "device", "dtype"],
    pr.generate_inputs_slice: ["block_hash", "public_key", "nonces", "dim", "seq_len", "start",
                               "end", "device", "dtype"],
    pr.generate_permutations: ["block_hash", "public_key", "nonces", "vocab_size", "device"],
    pr.generate_target: ["block_hash", "vocab_size", "device", "dtype"],
    pr.compute_distances: ["logits", "permutations", "target", "check"],
    pr.murmur3_32: ["keys", "seed"], pr.uniform: ["seed", "n", "device"],
    pr.normal: ["seed", "n", "device"], pr.seed_from_string: ["s"],
    pr.inputs_seed: ["block_hash", "public_key", "nonce"],
    pr.permutations_seed: ["block_hash", "public_key", "nonce"], pr.target_seed: ["block_hash"],
    # PoC v2
    pr.generate_inputs_concat: ["block_hash", "public_key", "nonces", "dim", "seq_len", "device",
                                "dtype", "out"],
    pr.generate_inputs_concat_slice: ["block_hash", "public_key", "nonces", "dim", "seq_len",
                                      "start", "end", "device", "dtype"],
    pr.unit_vectors: ["seed_strings", "dim", "device"],
    pr.householder_vectors: ["block_hash", "num_layers", "dim", "device"],
    pr.generate_target_v2: ["block_hash", "public_key", "dim", "device", "dtype"],
    pr.pick_indices: ["block_hash", "public_key", "nonces", "dim", "k", "device"],
    pr.apply_householder: ["x", "v"], pr.apply_householder_: ["x", "v"],
    pr.apply_householder_pair: ["hidden", "residual", "v"],
    pr.apply_householder_pair_: ["hidden", "residual", "v"],
    pr.install_householder_hooks: ["model", "block_hash"], pr.haar_rotate: ["block_hash", "public_key", "nonces", "x"],
    pr.artifacts: ["hidden", "block_hash", "public_key", "nonces", "k"],
    pr.seed_words: ["s"], pr.pick_seed: ["block_hash", "public_key", "nonce", "k"],
    pr.haar_seed: ["block_hash", "public_key", "nonce", "k", "j"],
    pr.layer_seed: ["block_hash", "layer"], pr.target_v2_seed: ["block_hash", "public_key"],
    pr.snap: ["h", "seeds", "codebook", "out"], pr.claimed_margin: ["scores", "claimed_k"],
    pr.load_codebook: ["source", "expected_sha256", "shape"], pr.codebook_sha256: ["codebook"],
    pr.decode_validation: ["claimed_k", "validator_k", "scores", "tau", "p_mismatch",
                           "fraud_threshold", "requested"],
    pr.binomial_upper_tail: ["flagged", "total", "p"], pr.missing_nonce_cap: ["n_requested"],
    # gonka-poc decode streams
    pr.step_seeds: ["base_seeds", "step", "prev_k", "salt"],
    pr.step_normal: ["base_seeds", "step", "prev_k", "salt", "n", "dtype"],
    pr.normal_from_seeds: ["seeds", "n", "dtype"], pr.pick_from_seeds: ["seeds", "dim", "k"],
    pr.hash_mod: ["seeds", "n", "modulus"],
    pr.forced_logits: ["seeds", "n_experts", "top_k", "ladder_base", "step", "dtype"],
    # the masked row-group reflection
    pr.reflect_rows: ["x", "table", "row_group", "mask", "mode"],
    pr.reflect_rows_: ["x", "table", "row_group", "mask", "mode"],
    pr.reflect_rows_pair: ["hidden", "residual", "table", "row_group", "mask", "mode"],
    pr.reflect_rows_pair_: ["hidden", "residual", "table", "row_group", "mask", "mode"],
    pr.fused_add_rms_norm_reflect: ["x", "residual", "weight", "eps", "table", "row_group", "mask",
                                    "mode"],
    # the masked forward-pass overrides
    pr.embed_synth: ["out", "base_seeds", "step", "prev_k", "embeds", "mask", "salt"],
    pr.embed_synth_: ["out", "base_seeds", "step", "prev_k", "embeds", "mask", "salt"],
    pr.router_override: ["logits", "route_seeds", "step", "mask", "n_experts", "top_k", "ladder_base"],
    pr.router_override_: ["logits", "route_seeds", "step", "mask", "n_experts", "top_k", "ladder_base"],
}
# Where a function's valid value of a parameter differs from GOOD's (a per-row step tensor, an
# out that is an input, logits as wide as n_experts).
OVERRIDE_GOOD = {"out": torch.ones(2, 4), "step": torch.tensor([3, 4]), "embeds": torch.ones(2, 4),
                 "logits": torch.ones(2, 8), "route_seeds": torch.tensor([1, 2])}
GOOD_FOR = {fn: OVERRIDE_GOOD for fn in (pr.embed_synth, pr.embed_synth_, pr.router_override,
                                         pr.router_override_)}


def test_the_api_table_names_every_public_function():
    assert {f.__name__ for f in API} == set(pr.__all__) - {"SPEC_VERSION", "build_info"}


@budget(1000)
@given(fn=st.sampled_from(sorted(API, key=lambda f: f.__name__)), data=st.data())
def test_random_bad_arguments_raise_only_type_or_value_errors(fn, data):
    params = API[fn]
    good = {**GOOD, **GOOD_FOR.get(fn, {})}
    kwargs = {p: good[p] for p in params}
    for p in data.draw(st.lists(st.sampled_from(params), min_size=1, max_size=2, unique=True)):
        kwargs[p] = data.draw(junk, label=p)
    try:
        fn(**kwargs)
    except (TypeError, ValueError):
        pass


OPS = torch.ops.pocrand
ints = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 40),
                 st.sampled_from([-1, 0, 2**32, 2**31, MAX_COUNT + 1]))
seed_tensors = st.one_of(small_tensors(),
                         st.lists(ints, max_size=3).map(lambda v: torch.tensor(v, dtype=torch.int64)))
word_tensors = st.lists(st.lists(ints, min_size=8, max_size=8), min_size=1, max_size=2).map(
    lambda rows: torch.tensor(rows, dtype=torch.int64))
scalar_types = st.sampled_from([torch.float32, torch.float16, torch.bfloat16, torch.int32,
                                torch.float64, torch.bool])
modes = st.sampled_from(["once", "stepwise", "", "Once"])
RAW = [  # (op, strategies of its arguments): every value admitted by the schema, most invalid
    (OPS.uniform, (seed_tensors, ints)),
    (OPS.normal, (seed_tensors, ints, scalar_types)),
    (OPS.normal_range, (seed_tensors, ints, ints, ints, scalar_types)),
    (OPS.permutations, (seed_tensors, ints)),
    (OPS.unit_normal, (seed_tensors, ints, scalar_types)),
    (OPS.unit_normal_seed, (ints, ints, scalar_types, st.just(torch.device("cpu")))),
    (OPS.normal_nonces, (text, st.lists(ints, max_size=3), text, ints, scalar_types,
                         st.sampled_from([torch.device("cpu"), torch.device("meta")]))),
    (OPS.murmur3, (small_tensors(), ints)),
    (OPS.murmur3, (small_tensors(), ints, small_tensors() | st.none())),
    (OPS.distances, (small_tensors(), small_tensors(), small_tensors(), st.booleans())),
    (OPS.core_stage, (st.sampled_from(["box_muller", "log", "sincos", "round", "exp"]), small_tensors(),
                      scalar_types | st.none())),
    # PoC v2
    (OPS.derive_seeds, (text, st.lists(ints, max_size=3), text, st.just(False), st.integers(-3, 5),
                        st.booleans())),
    (OPS.concat_normal, (small_tensors() | word_tensors, ints, ints, ints, scalar_types)),
    (OPS.normal_nonces, (text, st.lists(ints, max_size=3), text, ints, scalar_types,
                         st.sampled_from([torch.device("cpu"), torch.device("meta")]), st.booleans())),
    (OPS.normal_nonces_into, (text, st.lists(ints, max_size=3), text, small_tensors(), st.booleans())),
    (OPS.unit_vectors, (seed_tensors, ints, scalar_types)),
    (OPS.unit_vectors_by_value, (st.lists(ints, max_size=3), ints, scalar_types,
                                 st.just(torch.device("cpu")))),
    (OPS.pick, (seed_tensors, ints, ints)),
    (OPS.haar_rotate, (small_tensors(), small_tensors() | seed_tensors.map(lambda t: t.view(1, -1)))),
    (OPS.artifacts, (small_tensors(), small_tensors() | seed_tensors.map(lambda t: t.view(1, -1)),
                     ints)),
    (OPS.snap, (small_tensors(), seed_tensors, small_tensors(), small_tensors(),
                     small_tensors(), small_tensors(), small_tensors())),
    (OPS.reflect_rows, (small_tensors(), small_tensors(), small_tensors() | st.none(),
                        small_tensors() | st.none(), small_tensors(), seed_tensors | st.none(),
                        small_tensors() | st.none(), modes)),
    (OPS.embed_synth, (small_tensors(), small_tensors(), seed_tensors, seed_tensors, seed_tensors,
                       small_tensors(), small_tensors(), ints)),
    (OPS.router_override, (small_tensors(), small_tensors(), seed_tensors, seed_tensors,
                           small_tensors(), ints, ints, ints)),
]


def too_big(op, args) -> bool:
    """A valid request for gigabytes (a count near 2^31): allowed, but not something to run here."""
    counts = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
    return op is not OPS.murmur3 and any(4096 < c <= MAX_COUNT for c in counts)


@budget(1000)
@given(which=st.integers(0, len(RAW) - 1), data=st.data())
def test_raw_ops_raise_only_type_or_value_errors(which, data):
    op, strategies = RAW[which]
    args = [data.draw(s) for s in strategies]
    if too_big(op, args):
        return
    try:
        op(*args)
    except (TypeError, ValueError):
        pass
