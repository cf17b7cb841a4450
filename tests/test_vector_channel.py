"""The decode scheme's vector channel (plugin 0.2.0; SPEC.md 9.4 host order, 10.13): the host-side
pick in torch's CPU topk order, the fp16 base64 slices, and the plugin's cosine scorer."""
from __future__ import annotations

import base64
import hashlib
import math
import struct

import numpy as np
import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from pocrand_ext.gonka_poc import data, runtime, validation
from pocrand_ext.protocols.gonka_poc import vector
from conftest import requires_cuda

BH, PK = "deadbeef" * 8, "cafebabe" * 8


def torch_cpu_order(seeds, dim, k):
    """The plugin's host pick, restated with torch: topk(-murmur3(i, seed), sorted=False)."""
    s = torch.stack([torch.from_numpy(spec.murmur3(np.arange(dim, dtype=np.uint32), int(x))
                                      .astype(np.int64)) for x in seeds])
    return torch.topk(-s, k, dim=1, largest=True, sorted=False).indices


def sha_seed(s: str) -> int:
    return int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "big")


@pytest.mark.parametrize("dim, k", [(256, 12), (256, 1), (256, 4), (256, 5), (256, 256), (7, 3),
                                    (1000, 15), (1000, 16), (4096, 64), (4096, 65), (1, 1)])
def test_host_order_is_torch_cpu_topk_order(dim, k):
    seeds = torch.tensor([(2654435761 * i) % 2**32 for i in range(40)], dtype=torch.int64)
    got = pr.pick_from_seeds(seeds, dim, k, host_order=True)
    assert torch.equal(got, torch_cpu_order(seeds.tolist(), dim, k))


def test_host_order_is_the_numpy_mirror():
    for seed in (0, 1, 12345, 2**32 - 1):
        got = pr.pick_from_seeds(torch.tensor([seed]), 256, 12, host_order=True)[0]
        assert got.tolist() == spec.host_pick(seed, 256, 12).tolist()


def test_host_and_device_orders_pick_one_set_in_different_orders():
    seeds = torch.arange(200, dtype=torch.int64) * 7919
    host = pr.pick_from_seeds(seeds, 256, 12, host_order=True)
    dev = pr.pick_from_seeds(seeds, 256, 12)
    assert torch.equal(host.sort(1).values, dev.sort(1).values)
    assert (host != dev).any(1).all()  # the order, not the set, is what a wrong rule changes


@pytest.mark.parametrize("values", [[5, 5, 5, 5, 5], [3, 1, 3, 1, 3, 1, 2, 2], list(range(9, 0, -1))])
def test_mirror_agrees_with_torch_on_ties(values):
    for k in range(1, len(values) + 1):
        want = torch.topk(-torch.tensor(values), k, sorted=False).indices.tolist()
        assert spec.host_order(values, k) == want


def test_host_order_under_compile_and_opcheck():
    seeds = torch.tensor([3, 5], dtype=torch.int64)
    f = torch.compile(lambda s: pr.pick_from_seeds(s, 256, 12, host_order=True), fullgraph=True)
    assert torch.equal(f(seeds), torch_cpu_order([3, 5], 256, 12))
    torch.library.opcheck(torch.ops.pocrand.pick.default, (seeds, 256, 12, True))


def test_host_order_refusals():
    with pytest.raises(TypeError, match="host_order must be a bool"):
        pr.pick_from_seeds(torch.tensor([1]), 4, 2, host_order=1)
    with pytest.raises(ValueError, match="dim must be at most 2"):
        pr.pick_from_seeds(torch.tensor([1]), 2**20 + 1, 2, host_order=True)
    with pytest.raises(ValueError, match="dim"):
        torch.ops.pocrand.pick(torch.tensor([1]), 2**20 + 1, 2, True)


@pytest.mark.cuda
@requires_cuda
def test_host_order_on_cuda_seeds_is_refused():
    with pytest.raises(ValueError, match="seeds must be on the CPU"):
        pr.pick_from_seeds(torch.tensor([1], device="cuda"), 256, 12, host_order=True)
    with pytest.raises(ValueError, match="host_order"):
        torch.ops.pocrand.pick(torch.tensor([1], device="cuda"), 256, 12, True)


# ---- the codec ----------------------------------------------------------------------------------
def test_encode_vector_is_fp16_little_endian_base64():
    v = np.array([1.0, -2.5, 65504.0, 1e-8, 0.1], dtype=np.float32)
    want = base64.b64encode(b"".join(struct.pack("<e", float(x)) for x in v)).decode()
    assert data.encode_vector(v) == want
    assert data.encode_vector(torch.from_numpy(v)) == want
    back = data.decode_vector(want)
    assert back.dtype == np.float32
    assert back.tolist() == [struct.unpack("<e", struct.pack("<e", float(x)))[0] for x in v]


def test_decode_vector_refusals():
    with pytest.raises(ValueError, match="not a whole number of fp16"):
        data.decode_vector(base64.b64encode(b"abc").decode())
    with pytest.raises(TypeError, match="b64 must be a str"):
        data.decode_vector(3)
    assert data.decode_vector("").shape == (0,)


# ---- the slices ---------------------------------------------------------------------------------
def q_rows(steps, seed=0):
    return np.random.default_rng(seed).standard_normal((steps, 256)).astype(np.float32)


def test_slices_follow_the_plugin_recipe():
    q = q_rows(9)
    got = runtime.encode_sph_slices(q, BH, PK, 41, 12, False)
    for t in range(9):
        seed = sha_seed(f"{BH}_{PK}_nonce_41_pick_12_decode{t}")
        idx = torch_cpu_order([seed], 256, 12)[0].numpy()
        assert got[t] == base64.b64encode(q[t][idx].astype("<f2").tobytes()).decode()
    assert got == spec.sph_slices(q, BH, PK, 41)


def test_slices_debug_ships_whole_rows_and_defaults():
    q = q_rows(3, 1)
    assert runtime.encode_sph_slices(q, BH, PK, 7, debug=True) == [data.encode_vector(r) for r in q]
    assert runtime.encode_sph_slices(q, BH, PK, 7) == runtime.encode_sph_slices(q, BH, PK, 7, 12)
    assert runtime.encode_sph_slices(np.zeros((0, 256), np.float32), BH, PK, 7) == []
    assert runtime.encode_sph_slices(torch.from_numpy(q), BH, PK, 7) == \
        runtime.encode_sph_slices(q, BH, PK, 7)


@pytest.mark.parametrize("call, error, text", [
    (lambda q: runtime.encode_sph_slices(q[:, :100], BH, PK, 1), ValueError, "q_host must be"),
    (lambda q: runtime.encode_sph_slices(q[0], BH, PK, 1), ValueError, "q_host must be"),
    (lambda q: runtime.encode_sph_slices(q, BH, PK, 1, 0), ValueError, "k_dim must be in"),
    (lambda q: runtime.encode_sph_slices(q, BH, PK, 2**63), ValueError, "nonce"),
    (lambda q: runtime.encode_sph_slices(q, BH, PK, 1, debug=1), TypeError, "debug"),
    (lambda q: runtime.encode_sph_slices(q.astype(str), BH, PK, 1), TypeError, "q_host"),
])
def test_slice_refusals(call, error, text):
    with pytest.raises(error, match=text):
        call(q_rows(2))


# ---- the scorer ---------------------------------------------------------------------------------
def enc(rows):
    return [base64.b64encode(np.asarray(r, dtype="<f2").tobytes()).decode() for r in rows]


def cos_dist(a, b):
    a, b = [float(x) for x in a], [float(x) for x in b]
    dot = sum(x * y for x, y in zip(a, b))
    return 1.0 - dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_identical_slices_score_zero_and_step_zero_is_never_scored():
    q = q_rows(6, 2)
    own = enc(q[:, :12])
    ref = list(own)
    ref[0] = enc([-q[0, :12]])[0]  # step 0 (the prefill slice) disagrees: not scored
    r = validation.score_vector_channel([{"nonce": 3, "sph_values_steps": own}], {3: ref})
    assert set(r) == {"mean_dist", "max_nonce_dist", "diverged_rate", "step_tol", "n_nonces_scored",
                      "n_nonces_skipped", "n_bad_steps_total", "per_nonce"}
    assert r["per_nonce"] == [{"nonce": 3, "mean_dist": pytest.approx(0.0, abs=1e-6),
                               "n_diverged": 0, "n_steps": 5, "n_steps_scored": 5,
                               "n_bad_steps": 0}]
    assert (r["n_nonces_scored"], r["n_nonces_skipped"], r["n_bad_steps_total"]) == (1, 0, 0)
    assert r["diverged_rate"] == 0.0 and r["step_tol"] == validation.VECTOR_STEP_TOL


def test_distances_truncation_bad_steps_and_rates():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((5, 12)), rng.standard_normal((5, 12))
    ref = enc(a)
    own = enc(b[:, :8])                      # the validator's slices are shorter: cut to 8
    own[2] = enc([[np.nan] * 8])[0]          # a non-finite step
    own[3] = enc([[0.0] * 8])[0]             # a zero norm
    own[4] = ""                              # an empty slice
    r = vector.score_vector_channel([{"nonce": 9, "sph_values_steps": own}], {9: ref}, 0.5)
    d1 = cos_dist(data.decode_vector(ref[1])[:8], data.decode_vector(own[1]))
    e = r["per_nonce"][0]
    assert e["mean_dist"] == pytest.approx(d1, rel=1e-6)
    assert (e["n_steps"], e["n_bad_steps"], e["n_diverged"]) == (1, 3, int(d1 > 0.5))
    assert r["diverged_rate"] == 100.0 * int(d1 > 0.5) and r["n_bad_steps_total"] == 3


def test_short_missing_and_all_bad_nonces():
    q = q_rows(3, 4)[:, :12]
    good = enc(q)
    arts = [{"nonce": 1, "sph_values_steps": good},
            {"nonce": 2, "sph_values_steps": good[:1]},            # < 2 steps, with a ref: skipped
            {"nonce": 3, "sph_values_steps": good},                # no ref: not counted
            {"nonce": 4, "sph_values_steps": enc([[np.inf] * 12] * 3)},  # all bad: skipped
            {"nonce": 5}]                                          # no slices, with a ref: skipped
    refs = {1: good, 2: good, 4: good, 5: good}
    r = vector.score_vector_channel(arts, refs, 0.01)
    assert [e["nonce"] for e in r["per_nonce"]] == [1]
    assert (r["n_nonces_scored"], r["n_nonces_skipped"], r["n_bad_steps_total"]) == (1, 3, 2)
    assert vector.score_vector_channel(arts[1:], refs, 0.01) is None


def test_diverged_rate_is_the_mean_of_per_nonce_percentages():
    rng = np.random.default_rng(8)
    base = rng.standard_normal((5, 12))
    far = rng.standard_normal((5, 12))
    arts = [{"nonce": 1, "sph_values_steps": enc(base)},
            {"nonce": 2, "sph_values_steps": enc(np.vstack([base[:3], far[3:]]))}]
    r = vector.score_vector_channel(arts, {1: enc(base), 2: enc(base)}, 0.01)
    per = {e["nonce"]: e for e in r["per_nonce"]}
    assert per[1]["n_diverged"] == 0 and per[2]["n_diverged"] == 2
    assert r["diverged_rate"] == pytest.approx((0 + 2 / 4 * 100) / 2)
    assert r["max_nonce_dist"] == per[2]["mean_dist"] > per[1]["mean_dist"]
    assert r["mean_dist"] == pytest.approx((per[1]["mean_dist"] + per[2]["mean_dist"]) / 2)


def test_tolerance_from_the_environment(monkeypatch):
    monkeypatch.delenv(vector.TOL_ENV, raising=False)
    assert vector.step_tol_from_env() == 0.01
    monkeypatch.setenv(vector.TOL_ENV, "0.25")
    assert vector.step_tol_from_env() == 0.25
    for bad in ("nan", "lots"):
        monkeypatch.setenv(vector.TOL_ENV, bad)
        with pytest.raises(ValueError, match=vector.TOL_ENV):
            vector.step_tol_from_env()


def test_scorer_refusals():
    with pytest.raises(TypeError, match="computed_artifacts"):
        vector.score_vector_channel({"nonce": 1}, {})
    with pytest.raises(TypeError, match="ref_vectors"):
        vector.score_vector_channel([], [])
    with pytest.raises(ValueError, match="step_tol"):
        vector.score_vector_channel([], {}, float("nan"))
    with pytest.raises(TypeError, match="ref_vectors\\[1\\]"):
        vector.score_vector_channel([{"nonce": 1, "sph_values_steps": ["", ""]}], {1: "abcd"}, 0.1)
