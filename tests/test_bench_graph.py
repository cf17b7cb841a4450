"""benchmarks/bench.py --section graph (benchmarks/graph_rows.py) on a machine without a GPU: the
script imports, its argument parsing takes the section, its table prints, and the plugin
expressions it times as baselines (tests/reference_gonka.py) compute what they stand for."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import reference_gonka as refg
from conftest import as_bits
from pocrand_ext.protocols import gonka_poc as gp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench  # noqa: E402
import graph_rows  # noqa: E402


def test_the_section_is_accepted():
    assert bench.parse_args(["--section", "graph"]).section == "graph"
    assert bench.parse_args([]).section == "all"
    with pytest.raises(SystemExit):
        bench.parse_args(["--section", "graphs"])
    assert bench.graph_rows is graph_rows and callable(graph_rows.bench_graph)
    assert bench.parse_args(["--section", "fused"]).section == "fused"
    assert callable(graph_rows.bench_fused)


def test_missing_ops_are_reported_not_raised(capsys):
    got = graph_rows.optional_op("no_such_op_in_overrides")
    assert got is None
    assert "no_such_op_in_overrides: not built" in capsys.readouterr().out


def test_the_table_prints_every_row():
    rows = [dict(op="a", shape="1x2", ours=0.0123, eager=0.5, compiled=None, floor=0.01,
                 vs_floor="1.23x", target="t", met=True, check="bits == CPU"),
            dict(op="b", shape="3x4", ours=None, eager=None, compiled=2.5, floor=None,
                 vs_floor="-", target="u", met=None, check="-")]
    text = graph_rows.table(rows)
    lines = text.splitlines()
    assert len(lines) == 4 and all(line.count("|") == 11 for line in lines)
    assert "12.3 µs" in lines[2] and "| yes |" in lines[2] and "2.50 ms" in lines[3]


def test_the_reflect_baseline_is_the_deployed_expression():
    """On the CPU, pocrand's stepwise mode is the eager expression's arithmetic (SPEC.md 10.10):
    masked-off rows are the input's bits and nearly every element of the others agrees."""
    n, hidden = 64, 3072
    x = (pr.normal(3, n * hidden).view(n, hidden) * 2).bfloat16()
    table = torch.zeros(4, hidden)
    table[1:] = pr.unit_vectors(["a", "b", "c"], hidden)
    table = table.bfloat16()
    g = torch.arange(n + 1) % 4
    m = torch.arange(n + 1) % 3 != 0
    got = refg.ref_reflect(x, table, g, m)
    assert torch.equal(as_bits(got[~m[:n]]), as_bits(x[~m[:n]]))
    ours = pr.reflect_rows(x, table, g, m, "stepwise")
    share = (as_bits(got) == as_bits(ours)).double().mean().item()
    assert share >= 0.999
    assert not torch.equal(as_bits(got), as_bits(x))
    h, r = refg.ref_reflect_pair(x, x.flip(0), table, g, m)
    assert torch.equal(as_bits(h), as_bits(got))
    assert torch.equal(as_bits(r), as_bits(refg.ref_reflect(x.flip(0), table, g, m)))


def test_the_router_baseline_overrides_masked_rows_only():
    n, E, K = 32, 256, 8
    logits = torch.randn(n, E).bfloat16()
    route = torch.randint(0, 2**32, (n,))
    steps = torch.randint(1, 257, (n,))
    m = torch.arange(n) % 2 == 0
    got = refg.ref_route(logits, route, steps, m, E, K)
    forced = gp.expert_logits(route, steps, E, K, dtype=torch.bfloat16)
    assert torch.equal(as_bits(got[m]), as_bits(forced[m]))
    assert torch.equal(as_bits(got[~m]), as_bits(logits[~m]))


def test_the_embedding_baseline_draws_where_it_should():
    """The benchmark's baseline (the plugin's expression): decode rows drawn, prefill rows from
    embeds, chat rows kept."""
    n, hidden = 16, 64
    base = torch.randint(0, 2**32, (n,))
    steps = torch.randint(1, 257, (n,))
    prev = torch.tensor([-1, 3] * (n // 2))
    m = torch.tensor([True] * (n // 2) + [False] * (n // 2))
    out = torch.randn(n, hidden).bfloat16()
    embeds = torch.randn(n, hidden).bfloat16()
    got = refg.ref_embed(out, base, steps, prev, embeds, m)
    drawn, prefill = m & (prev >= 0), m & (prev < 0)
    assert torch.equal(as_bits(got[~m]), as_bits(out[~m]))
    assert torch.equal(as_bits(got[prefill]), as_bits(embeds[prefill]))
    ours = pr.step_normal(base, steps, prev, gp.SALT_EMBED, hidden, torch.bfloat16)
    # torch's log/sin/cos against pocrand's: equal to within bf16 rounding
    assert torch.allclose(got[drawn].float(), ours[drawn].float(), rtol=1e-2, atol=1e-2)


def test_the_copy_baseline_moves_both_tensors():
    h, r = torch.randn(4, 8), torch.randn(4, 8)
    out_h, out_r = torch.zeros(4, 8), torch.zeros(4, 8)
    graph_rows.copy_both(h, r, out_h, out_r)
    assert torch.equal(out_h, h) and torch.equal(out_r, r)


def test_folded_router_override_is_router_override():
    # the decode step's folded rows time one forced_logits launch for every gate and a where in
    # each router: they stand for router_override only if the where gives its bits, gate by gate
    import router_fold_rows
    L, n, E, K, ladder = 3, 16, 32, 8, 100
    g = torch.Generator().manual_seed(5)
    logits = [torch.randn(n, E, generator=g).bfloat16() for _ in range(L)]
    routes = [torch.randint(0, 2**32, (n,), generator=g) for _ in range(L)]
    steps, mask = torch.randint(1, 257, (n,), generator=g), torch.rand(n, generator=g) < 0.5
    forced = pr.forced_logits(torch.cat(routes), E, K, ladder, step=steps.repeat(L),
                              dtype=torch.bfloat16).view(L, n, E)
    router, router_forced = router_fold_rows.make_router(K)
    for gate in range(L):
        want = pr.router_override(logits[gate], routes[gate], steps, mask, E, K, ladder)
        got = torch.where(mask.unsqueeze(-1), forced[gate], logits[gate])
        assert torch.equal(as_bits(got), as_bits(want))
        assert not torch.equal(as_bits(want), as_bits(logits[gate]))  # some row was forced
        w, i = router_forced(logits[gate], forced[gate], mask)
        w_ref, i_ref = router(want)
        assert torch.equal(i, i_ref) and torch.equal(as_bits(w), as_bits(w_ref))
