"""What PoC v2's random parts promise beyond their bits: unit vectors uniform on the sphere, picks
uniform over the indices, reflections and rotations orthogonal (norms kept, orthonormal rows stay
orthonormal). Thresholds: a correct implementation fails with probability ~1e-6 per check."""
from __future__ import annotations

import numpy as np
import torch
from scipy import stats

import pocrand_ext as pr

P_MIN = 1e-6


def test_unit_vectors_are_uniform_on_the_sphere():
    """Coordinates of uniform unit vectors in d dimensions: mean 0, E[x_i^2] = 1/d, and
    sqrt(d) x_i ~ N(0, 1) for large d; a fixed direction's projection is symmetric."""
    d, n = 64, 4096
    v = pr.unit_vectors([f"sphere_{i}" for i in range(n)], d).double().numpy()
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    assert np.abs(v.mean(axis=0)).max() < 6 / np.sqrt(n * d)
    assert abs((v ** 2).mean() - 1 / d) < 6 * np.sqrt(2 / (n * d)) / d
    assert stats.kstest(np.sqrt(d) * v[:, 0], "norm").pvalue > P_MIN
    # d = 3: the z coordinate of a uniform point on the sphere is uniform on [-1, 1]
    v3 = pr.unit_vectors([f"s3_{i}" for i in range(20000)], 3).double().numpy()
    assert stats.kstest(v3[:, 2], "uniform", args=(-1, 2)).pvalue > P_MIN


def test_layer_vectors_are_distinct_and_unit():
    v = pr.householder_vectors("bh", 80, 8192).double()
    assert torch.allclose(v.norm(dim=1), torch.ones(80, dtype=torch.float64), atol=1e-6)
    gram = v @ v.T - torch.eye(80, dtype=torch.float64)
    assert gram.abs().max() < 6 / np.sqrt(8192)  # nearly orthogonal, as independent directions are


def test_pick_frequencies_are_uniform():
    """Each index of [0, dim) is picked with probability k/dim: chi-square over 4000 nonces."""
    dim, k, n = 100, 12, 4000
    picks = pr.pick_indices("stats", "pk", range(n), dim, k)
    assert all(len(set(row)) == k for row in picks.tolist())
    counts = torch.bincount(picks.flatten(), minlength=dim).double().numpy()
    assert stats.chisquare(counts).pvalue > P_MIN
    # the position in the output carries no information about the index beyond the rule:
    # the last entry (the k-th smallest score) is uniform over the indices too
    last = torch.bincount(picks[:, -1], minlength=dim).double().numpy()
    assert stats.chisquare(last).pvalue > P_MIN


def test_householder_is_an_orthogonal_involution():
    x = pr.normal(1, 64 * 300).view(64, 300).double()
    v = pr.unit_vectors(["v"], 300)[0]
    y = pr.apply_householder(x.float(), v).double()
    assert torch.allclose(y.norm(dim=1), x.norm(dim=1), rtol=1e-5)
    back = pr.apply_householder(y.float(), v).double()
    assert torch.allclose(back, x, atol=1e-5)
    # v itself is reversed, a vector orthogonal to v is kept
    assert torch.allclose(pr.apply_householder(v[None], v)[0], -v, atol=1e-6)


def test_haar_rotation_keeps_norms_and_orthonormality():
    """The rotation of each nonce is orthogonal: norms are kept, and rotating the rows of an
    orthonormal basis (the same nonce for every row) gives an orthonormal basis."""
    k = 12
    x = pr.normal(3, 50 * k).view(50, k)
    y = pr.haar_rotate("bh", "pk", list(range(50)), x)
    assert torch.allclose(y.double().norm(dim=1), x.double().norm(dim=1), rtol=2e-6)
    basis = torch.eye(k)
    q = pr.haar_rotate("bh", "pk", [7] * k, basis).double()
    assert torch.allclose(q @ q.T, torch.eye(k, dtype=torch.float64), atol=2e-6)
    assert abs(abs(torch.linalg.det(q).item()) - 1) < 1e-5


def _reflection_chain_float64(n: int, k: int, rng) -> np.ndarray:
    """e_k reflected by k - 1 independent uniform unit vectors, in float64 (NumPy's generator): an
    independent simulation of the deployed rotation's distribution."""
    z = np.zeros((n, k))
    z[:, -1] = 1.0
    for _ in range(k - 1):
        v = rng.standard_normal((n, k))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        z -= 2 * (z * v).sum(axis=1, keepdims=True) * v
    return z


def test_rotated_vectors_follow_the_deployed_rotations_distribution():
    """The deployed "Haar rotation" is k - 1 reflections by independent uniform unit vectors of
    the full dimension. That is not Haar-distributed: a rotated fixed vector keeps a bias towards
    where it started (for k = 12, E[y_k^2] is about 0.105, not 1/k = 0.083, in pocrand and in an
    independent float64 simulation alike). pocrand reproduces the deployed rotation, so its
    rotated vectors must follow that simulation's distribution, coordinate by coordinate."""
    rng = np.random.default_rng(20261129)
    for k in (3, 12):
        n = 20000
        e = torch.zeros(n, k)
        e[:, -1] = 1.0
        y = pr.haar_rotate("bh", "pk", list(range(n)), e).double().numpy()
        z = _reflection_chain_float64(n, k, rng)
        for axis in (0, k - 1):
            assert stats.ks_2samp(y[:, axis], z[:, axis]).pvalue > P_MIN
        # not the uniform distribution on the sphere ((x + 1) / 2 ~ Beta((k-1)/2, (k-1)/2))
        a = (k - 1) / 2
        assert stats.kstest((y[:, -1] + 1) / 2, "beta", args=(a, a)).pvalue < P_MIN
        assert (y[:, -1] ** 2).mean() > 1 / k + 0.015


def test_artifacts_are_unit_fp16_vectors():
    h = pr.normal(11, 64 * 512).view(64, 512) * 5
    out, flags = pr.artifacts(h, "bh", "pk", list(range(64)), 12)
    assert out.dtype == torch.float16 and not flags.any()
    assert torch.allclose(out.double().norm(dim=1), torch.ones(64, dtype=torch.float64), atol=2e-3)
