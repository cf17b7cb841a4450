"""Every raw op (torch.ops.pocrand.*) refuses bad input with a TypeError or ValueError naming
the argument before any allocation, and passes torch.library.opcheck (schema, fake kernel,
dispatch). The Python API's refusals are tests/test_bad_inputs.py's."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import stages  # noqa: F401  (registers the fake kernels of the core_* ops)
from conftest import randn
from test_bad_inputs import HIDDEN, LOGITS, LONE, MASK2, PERMS, ROW2, TARGET, X

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
    ("fused_add_rms_norm_reflect: x 2-D", lambda: OPS.fused_add_rms_norm_reflect(X.clone(), X.clone(), X[0], 1e-6, X, ROW2, MASK2, "stepwise"), ValueError, "x must be 3-D"),
    ("fused_add_rms_norm_reflect: weight width", lambda: OPS.fused_add_rms_norm_reflect(X.clone().view(2, 1, 4), X.clone().view(2, 1, 4), X[0, :3].contiguous(), 1e-6, X, ROW2, MASK2, "stepwise"), ValueError, "weight must be"),
    ("fused_add_rms_norm_reflect: residual is x", lambda: (lambda b: OPS.fused_add_rms_norm_reflect(b, b, X[0].clone(), 1e-6, X, ROW2, MASK2, "once"))(X.clone().view(2, 1, 4)), ValueError, "x and residual share memory"),
    ("fused_add_rms_norm_reflect: eps inf", lambda: OPS.fused_add_rms_norm_reflect(X.clone().view(2, 1, 4), X.clone().view(2, 1, 4), X[0].clone(), float("inf"), X, ROW2, MASK2, "once"), ValueError, "eps"),
    # a meta tensor among real ones sends the call to the op's meta function, which must refuse it
    ("reflect_rows: table on meta", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), None, None, X[:1].to("meta"), None, None, "once"), ValueError, "x and table must be on one device"),
    ("reflect_rows: mask on meta", lambda: OPS.reflect_rows(torch.empty(2, 1, 4), X.view(2, 1, 4), None, None, X[:1], None, MASK2.to("meta"), "once"), ValueError, "x and mask must be on one device"),
    ("fused_add_rms_norm_reflect: weight on meta", lambda: OPS.fused_add_rms_norm_reflect(X.clone().view(2, 1, 4), X.clone().view(2, 1, 4), X[0].to("meta"), 1e-6, X, ROW2, MASK2, "once"), ValueError, "x and weight must be on one device"),
    ("fused_add_rms_norm_reflect: row_group on meta", lambda: OPS.fused_add_rms_norm_reflect(X.clone().view(2, 1, 4), X.clone().view(2, 1, 4), X[0].clone(), 1e-6, X, ROW2.to("meta"), MASK2, "once"), ValueError, "x and row_group must be on one device"),
    ("murmur3: seeds on meta", lambda: OPS.murmur3(torch.arange(4), 0, torch.arange(4).to("meta")), ValueError, "keys and seeds must be on one device"),
    ("haar_rotate: seeds on meta", lambda: OPS.haar_rotate(HIDDEN, torch.tensor([1, 2]).to("meta")), ValueError, "x and seeds must be on one device"),
    ("artifacts: seeds on meta", lambda: OPS.artifacts(HIDDEN, torch.tensor([1, 2]).to("meta"), 4), ValueError, "hidden and seeds must be on one device"),
    ("distances: target on meta", lambda: OPS.distances(LOGITS, PERMS, TARGET.to("meta")), ValueError, "logits and target must be on one device"),
    ("step_seeds: prev_k on meta", lambda: OPS.step_seeds(torch.tensor([1]), torch.tensor([0]).to("meta"), None, 0, 13), ValueError, "base_seeds and prev_k must be on one device"),
    ("step_normal: steps on meta", lambda: OPS.step_normal(torch.tensor([1]), torch.tensor([0]), torch.tensor([3]).to("meta"), None, 13, 4, torch.float32), ValueError, "base_seeds and steps must be on one device"),
    ("forced_logits: steps on meta", lambda: OPS.forced_logits(torch.tensor([1]), torch.tensor([3]).to("meta"), None, 8, 2, 100, torch.float32), ValueError, "seeds and steps must be on one device"),
    ("embed_synth: embeds on meta", lambda: OPS.embed_synth(X.clone(), X, ROW2, ROW2, ROW2, X.to("meta"), MASK2, 13), ValueError, "x and embeds must be on one device"),
    ("router_override: mask on meta", lambda: OPS.router_override(X.clone(), X, ROW2, ROW2, MASK2.to("meta"), 4, 2, 100), ValueError, "logits and mask must be on one device"),
    ("snap: codebook on meta", lambda: OPS.snap(HIDDEN, torch.tensor([1, 2]), torch.ones(3, 4).to("meta"), torch.empty(2, **I64),
                                                 torch.empty(2, dtype=torch.bool), torch.empty(2, 3), torch.empty(2, 4)), ValueError, "h and codebook must be on one device"),
    ("fused_add_rms_norm_reflect: mask int", lambda: OPS.fused_add_rms_norm_reflect(X.clone().view(2, 1, 4), X.clone().view(2, 1, 4), X[0].clone(), 1e-6, X, ROW2, ROW2, "once"), TypeError, "mask"),
    ("artifacts_nonces: nonces empty", lambda: OPS.artifacts_nonces(HIDDEN, "p_", [], 4, "_pick_4", "_haar_hh_4_"), ValueError, "nonces"),
    ("artifacts_nonces: rows differ from nonces", lambda: OPS.artifacts_nonces(HIDDEN, "p_", [1, 2, 3], 4, "_pick_4", "_haar_hh_4_"), ValueError, "hidden"),
    ("artifacts_nonces: k past hidden size", lambda: OPS.artifacts_nonces(HIDDEN, "p_", [1, 2], 17, "_pick_17", "_haar_hh_17_"), ValueError, "k"),
    ("snap: seeds int32", lambda: OPS.snap(HIDDEN, torch.tensor([1, 2], dtype=torch.int32), torch.ones(3, 4), torch.empty(2, **I64),
                                                   torch.empty(2, dtype=torch.bool), torch.empty(2, 3), torch.empty(2, 4)), TypeError, "seeds"),
    ("snap: q of another shape", lambda: OPS.snap(HIDDEN, torch.tensor([1, 2]), torch.ones(3, 4), torch.empty(2, **I64),
                                                            torch.empty(2, dtype=torch.bool), torch.empty(2, 3), torch.empty(2, 5)), ValueError, "out[3] (q) must have shape"),
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


def test_every_op_of_several_tensors_refuses_one_on_meta():
    # a meta tensor among real ones sends a call to the op's fake function, past the op's own
    # device checks: each such op's fake must refuse it, and RAW must show that it does
    several = set()
    for name in pocrand_ops():
        packet = getattr(OPS, name)
        for overload in packet.overloads():
            args = getattr(packet, overload)._schema.arguments
            if sum("Tensor" in str(a.type) for a in args) >= 2:
                several.add(name)
    shown = {c[0].split(":")[0] for c in RAW if c[0].endswith("on meta")}
    assert several - shown == set(), f"no 'on meta' case in RAW for {sorted(several - shown)}"


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
    (torch.ops.pocrand.fused_add_rms_norm_reflect.default, (randn(3, 2, 33, seed=6).half(), randn(3, 2, 33, seed=9).half(),
                                                            randn(33, seed=10).half(), 1e-6, randn(2, 33, seed=7).half(),
                                                            torch.tensor([1, 0, -1]), torch.tensor([True, False, True]), "stepwise")),
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


@pytest.mark.parametrize("op, args", OPCHECK, ids=lambda v: str(v) if not isinstance(v, tuple) else "")
def test_a_required_tensor_given_none_is_named(op, args):
    """torch.ops.pocrand.<op>(..., None, ...) where the schema wants a tensor: a TypeError naming
    the argument (the dispatcher alone would raise NotImplementedError, "There were no tensor
    arguments", when no other argument is a tensor)."""
    schema = op._schema.arguments
    required = [i for i, a in enumerate(args)
                if isinstance(a, torch.Tensor) and str(schema[i].type) == "Tensor"]
    for i in required:  # one tensor missing: it is named
        bad = list(args)
        bad[i] = None
        with pytest.raises(TypeError, match=rf"^{schema[i].name} must be a tensor, got None"):
            op(*bad)
    if required:  # every tensor missing (no backend to dispatch to): the first is named
        bad = [None if isinstance(b, torch.Tensor) else b for b in args]
        with pytest.raises(TypeError, match=rf"^{schema[required[0]].name} must be a tensor"):
            op(*bad)
