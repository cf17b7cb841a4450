"""Distributions: the generators are uniform / standard normal / uniformly random permutations.

Thresholds are set so that a correct generator fails with probability ~1e-6 per check; the
samples are deterministic, so a pass is reproducible.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

import pocrand_ext as pr

P_MIN = 1e-6


def test_uniform_ks_and_moments():
    u = pr.uniform(20260101, 2_000_000).double().numpy()
    assert u.min() >= 0.0 and u.max() <= 1.0
    assert stats.kstest(u, "uniform").pvalue > P_MIN
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    assert abs(u.var() - 1 / 12) < 1e-3


def test_normal_ks_and_moments():
    x = pr.normal(7, 2_000_000).double().numpy()
    assert np.isfinite(x).all() and np.abs(x).max() < 6.8
    assert stats.kstest(x, "norm").pvalue > P_MIN
    n = x.size
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(x)) < 5 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(x)) < 5 * np.sqrt(24 / n)


def test_inputs_fp16_are_standard_normal_across_nonces():
    x = pr.generate_inputs("stats", "pk", range(32), 1024, 32).float().numpy()
    assert stats.kstest(x.ravel()[::7], "norm").pvalue > P_MIN
    means = x.reshape(32, -1).mean(axis=1)   # each nonce on its own is standard normal
    assert np.abs(means).max() < 5 / np.sqrt(32 * 1024)


def test_permutation_positions_are_uniform():
    """Chi-square over (index, position) cells: each index lands in each position bucket
    equally often across nonces."""
    vocab, nonces, buckets = 64, 4000, 8
    p = pr.generate_permutations("chi", "pk", range(nonces), vocab).numpy()
    pos = np.argsort(p, axis=1)                 # pos[b, i] = where index i went
    counts = np.zeros((vocab, buckets))
    for i in range(vocab):
        counts[i] = np.bincount(pos[:, i] * buckets // vocab, minlength=buckets)
    expected = nonces / buckets
    chi2 = ((counts - expected) ** 2 / expected).sum()
    dof = vocab * (buckets - 1)
    assert stats.chi2.sf(chi2, dof) > P_MIN


def test_target_is_isotropic():
    t = pr.generate_target("iso", 151936).double().numpy()
    z = t * np.sqrt(t.size)                    # approximately standard normal coordinates
    assert stats.kstest(z, "norm").pvalue > P_MIN
