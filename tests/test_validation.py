"""The decode scheme's validation statistics (SPEC.md 10.9) against independent computations:
scipy's binomtest where scipy is installed, a hand-derived case, and the NumPy spec."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec


def test_binomial_tail_hand_derived():
    # N = 3, p = 1/2 (exact in binary): P[X >= 2] = (3 + 1) / 8
    assert pr.binomial_upper_tail(2, 3, 0.5) == 0.5
    assert pr.binomial_upper_tail(0, 3, 0.25) == 1.0
    assert pr.binomial_upper_tail(0, 0, 0.25) == 1.0
    assert pr.binomial_upper_tail(4, 3, 0.25) == 0.0
    # N = 4, p = 1/4: P[X >= 3] = (4 * 3 + 1) / 256
    assert pr.binomial_upper_tail(3, 4, 0.25) == 13 / 256
    assert pr.binomial_upper_tail(1, 5, 0.0) == 0.0 and pr.binomial_upper_tail(5, 5, 1.0) == 1.0


@pytest.mark.parametrize("F, N, p", [(1, 10, 0.001), (3, 64, 0.001), (5, 250, 0.01),
                                     (20, 250, 0.05), (0, 30, 0.2), (37, 256, 0.064),
                                     (12, 100, 0.121), (1, 1, 0.5), (200, 1000, 0.001)])
def test_binomial_tail_equals_scipy(F, N, p):
    stats = pytest.importorskip("scipy.stats")
    ours = pr.binomial_upper_tail(F, N, p)
    ref = float(stats.binomtest(F, N, p, alternative="greater").pvalue)
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-300)
    # and the exact rational sum from the float64 p, by another route (the lower tail)
    from fractions import Fraction
    pf = Fraction(p)
    lower = sum(math.comb(N, i) * pf ** i * (1 - pf) ** (N - i) for i in range(F))
    assert ours == float(1 - lower)


def test_missing_nonce_cap():
    assert [pr.missing_nonce_cap(r) for r in (1, 8, 10, 19, 20, 64, 100, 250)] == \
        [1, 1, 1, 1, 2, 6, 10, 25]
    for r in range(1, 5000):  # the deployed int(r * 0.1)
        assert pr.missing_nonce_cap(r) == max(1, int(r * 0.1))


def _case(rng, N=40, T=9, P=16):
    scores = rng.standard_normal((N, T, P)).astype(np.float32) / 4
    k = scores.argmax(-1).astype(np.int64)
    k[0, 2] = -1                                  # a bad step never disagrees
    claimed = k.copy()
    flips = rng.random((N, T)) < 0.15
    claimed[flips] = rng.integers(-1, 18, size=int(flips.sum()))  # some outside the codebook
    return claimed, k, scores


def test_decode_validation_equals_spec_and_hand_count():
    rng = np.random.default_rng(3)
    claimed, k, scores = _case(rng)
    tau = 0.05
    r = pr.decode_validation(torch.from_numpy(claimed), torch.from_numpy(k),
                             torch.from_numpy(scores), tau=tau, p_mismatch=0.05,
                             fraud_threshold=0.01, requested=43)
    s = spec.validation_stats(claimed, k, scores, tau, 0.05, 0.01, requested=43)
    assert r.mismatches == s["mismatches"] and r.margin_max == s["margin_max"]
    assert r.flagged == s["flagged"] and r.n_flagged == s["n_flagged"]
    assert r.p_value == s["p_value"] and r.fraud_detected == s["fraud_detected"]
    assert r.n_missing == 3 and r.verdict
    # by hand for nonce 1
    n = 1
    dis = [t for t in range(claimed.shape[1]) if k[n, t] >= 0 and k[n, t] != claimed[n, t]]
    margins = [2.0 if not 0 <= claimed[n, t] < 16 else
               float(np.float32(scores[n, t].max() - scores[n, t, claimed[n, t]])) for t in dis]
    assert r.mismatches[n] == len(dis) and r.margin_max[n] == max(margins, default=0.0)
    assert r.flagged[n] == (len(dis) > 0 and max(margins, default=0.0) > tau)
    stats = pytest.importorskip("scipy.stats")
    ref = stats.binomtest(r.n_flagged, 40, 0.05, alternative="greater").pvalue
    assert r.p_value == pytest.approx(ref, rel=1e-12)


def test_decode_validation_missing_cap_and_ragged_input():
    rng = np.random.default_rng(4)
    claimed, k, scores = _case(rng, N=50, T=5)
    lists = ([c[: 3 + i % 3] for i, c in enumerate(claimed)],
             [x[: 3 + i % 3] for i, x in enumerate(k)],
             [x[: 3 + i % 3] for i, x in enumerate(scores)])
    ok = pr.decode_validation(*lists, tau=0.0, p_mismatch=0.001, fraud_threshold=0.01,
                              requested=55)
    assert ok.verdict and ok.n_missing == 5 and ok.p_value is not None
    no = pr.decode_validation(*lists, tau=0.0, p_mismatch=0.001, fraud_threshold=0.01,
                              requested=56)
    assert not no.verdict and no.p_value is None and no.fraud_detected is None
    # 1 of 8 missing still has a verdict (the cap is at least 1)
    small = pr.decode_validation(*(x[:7] for x in lists), tau=0.0, p_mismatch=0.001,
                                 fraud_threshold=0.01, requested=8)
    assert small.verdict


def test_decode_validation_agreement_and_bad_steps():
    scores = np.zeros((2, 4, 16), np.float32)
    k = np.array([[3, 3, -1, 5], [0, 0, 0, 0]])
    claimed = np.array([[3, 3, 7, 5], [0, 0, 0, 0]])  # the only disagreement is at a bad step
    r = pr.decode_validation(claimed, k, scores, tau=0.0, p_mismatch=0.0, fraud_threshold=0.01)
    assert r.mismatches == [0, 0] and r.margin_max == [0.0, 0.0] and r.n_flagged == 0
    assert r.p_value == 1.0 and r.fraud_detected is False


@pytest.mark.parametrize("kw, word", [({"tau": float("nan")}, "tau"),
                                      ({"p_mismatch": 1.5}, "p_mismatch"),
                                      ({"fraud_threshold": "x"}, "fraud_threshold"),
                                      ({"requested": 1}, "requested")])
def test_decode_validation_bad_arguments(kw, word):
    args = dict(tau=0.1, p_mismatch=0.01, fraud_threshold=0.01)
    args.update(kw)
    with pytest.raises(ValueError, match=word):
        pr.decode_validation(np.zeros((3, 2), np.int64), np.zeros((3, 2), np.int64),
                             np.zeros((3, 2, 16), np.float32), **args)
    with pytest.raises(ValueError, match="one entry per nonce"):
        pr.decode_validation(np.zeros((3, 2)), np.zeros((2, 2)), np.zeros((3, 2, 4), np.float32),
                             tau=0.1, p_mismatch=0.01, fraud_threshold=0.01)


@pytest.mark.parametrize("where", ["claimed", "best", "all"])
def test_a_nan_margin_never_hides_a_disagreement(where):
    """NaN scores on a step where the validator disagrees make the margin NaN, and NaN > tau is
    False: without a rule the step would pass unflagged. A NaN margin counts as +inf (SPEC 10.9)."""
    scores = torch.tensor([[[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]]], dtype=torch.float32)  # [1, T=2, P=3]
    claimed, validator = torch.tensor([[0, 2]]), torch.tensor([[0, 1]])  # step 1 disagrees
    nan = float("nan")
    if where == "claimed":
        scores[0, 1, 2] = nan
    elif where == "best":
        scores[0, 1, 1] = nan
    else:
        scores[0, 1, :] = nan
    got = pr.decode_validation(claimed, validator, scores, tau=0.1, p_mismatch=0.01, fraud_threshold=0.05)
    want = spec.validation_stats(claimed.tolist(), validator.tolist(), list(scores.numpy()), 0.1, 0.01, 0.05)
    assert got.mismatches == [1] == want["mismatches"]
    assert got.margin_max == [math.inf] == want["margin_max"]
    assert got.flagged == [True] == want["flagged"]
