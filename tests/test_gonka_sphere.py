"""The drop-in pocrand_ext.gonka_poc.sphere: the plugin's names and errors, fixed-order scores."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal
from pocrand_ext.gonka_poc import sphere


def _cb():
    return torch.from_numpy(spec.unit_vectors([50 + j for j in range(16)], 256))


def test_constants_and_names():
    assert (sphere.SPHERE_DIM, sphere.SPHERE_POINTS) == (256, 16)
    assert sphere.EXPECTED_CODEBOOK_SHA256.startswith("2201d109")
    assert sphere.EXPECTED_CODEBOOK_SHA256.endswith("e34f")
    for name in ("project_to_sphere", "_halton_on_sphere", "build_equidistant_codebook",
                 "_CODEBOOK_FILE", "_SPHERE_CODEBOOK", "_codebook_sha256", "get_sphere_codebook",
                 "nearest_sphere_index", "snap_with_guard", "snap_with_scores", "claimed_margin"):
        assert hasattr(sphere, name), name


def test_scores_of_q_equal_the_snap_op_bit_for_bit():
    C = _cb()
    h = torch.randn(40, 2048).bfloat16()
    seeds = torch.arange(40, dtype=torch.int64) * 31
    k, bad, scores, q = sphere.snap_hidden(h, seeds, C)
    k2, bad2, scores2 = sphere.snap_with_scores(q, C)
    assert_bits_equal(scores2, scores)
    assert torch.equal(k2, k) and torch.equal(bad2, bad)
    assert torch.equal(sphere.nearest_sphere_index(q, C), k)
    # a row's scores do not depend on the other rows
    _, _, one = sphere.snap_with_scores(q[7:8], C)
    assert_bits_equal(one, scores[7:8])


def test_non_finite_query_and_claimed_margin():
    C = _cb()
    q = sphere.project_to_sphere(torch.randn(3, 256))
    q[1, 4] = float("nan")
    k, bad = sphere.snap_with_guard(q, C)
    assert k[1] == -1 and bad.tolist() == [False, True, False]
    _, _, s = sphere.snap_with_scores(q, C)
    assert (s[1] == 0).all()
    m = sphere.claimed_margin(s, torch.tensor([16, -1, int(k[2])]))
    assert m.tolist()[:2] == [2.0, 2.0] and m[2] == 0


def test_get_sphere_codebook_refuses_other_codebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(sphere, "_SPHERE_CODEBOOK", None)
    monkeypatch.delenv("GONKA_POC_SPHERE_CODEBOOK", raising=False)
    monkeypatch.delenv("VLLM_POC_ALLOW_REBUILT_CODEBOOK", raising=False)
    with pytest.raises(FileNotFoundError, match="codebook missing"):
        sphere.get_sphere_codebook()
    path = tmp_path / "cb.pt"
    torch.save(_cb(), path)  # not the network's codebook: its digest differs
    monkeypatch.setenv("GONKA_POC_SPHERE_CODEBOOK", str(path))
    with pytest.raises(ValueError, match="sha256"):
        sphere.get_sphere_codebook()
    with pytest.raises(ValueError, match="sha256"):
        sphere.get_sphere_codebook(str(path))
    assert sphere._SPHERE_CODEBOOK is None


def test_halton_start_is_deterministic_unit_rows():
    a = sphere._halton_on_sphere(16, 256)
    assert torch.equal(a, sphere._halton_on_sphere(16, 256))
    assert torch.allclose(a.double().norm(dim=1), torch.ones(16, dtype=torch.float64), atol=1e-6)
