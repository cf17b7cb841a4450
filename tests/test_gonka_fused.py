"""pocrand_ext.gonka_poc.fused, the drop-in for the plugin's fused module: the same bits as
pocrand's ops (reflect_rows stepwise with the pad dimensions as copies, the table cast), the
plugin's torch expressions as an oracle for the reflection (bounded disagreement, chat rows
bit-identical), the argument checks, enabled/usable, and (with pocrand_ext.overrides) the
embedding and routing forms and warmup."""
from __future__ import annotations

import types

import pytest
import torch

import pocrand_ext as pr
from conftest import assert_bits_equal, requires_cuda
from pocrand_ext.gonka_poc import fused
from pocrand_ext.poc_graph import PoCState
from pocrand_ext.protocols import gonka_poc as gp
from poc_graph_models import StandInBackend, needs_overrides

DTYPES = [torch.float16, torch.bfloat16]


def table_of(hidden, slots=3, dtype=torch.float32):
    t = torch.zeros(slots, hidden)
    t[1:] = pr.unit_vectors([f"fused{j}" for j in range(1, slots)], hidden)
    return t.to(dtype)


def case(n, pad, hidden, dtype, seed=0):
    x = (pr.normal(seed, n * (pad or 1) * hidden) * 2).view(n, *((pad,) if pad else ()), hidden)
    g = torch.arange(n) % 4 - 1 + (seed % 2)              # -1 (out of range) .. 3 (out of range)
    m = torch.arange(n) % 3 != 2
    return x.to(dtype), g, m


@pytest.mark.parametrize("dtype", DTYPES + [torch.float32])
@pytest.mark.parametrize("shape", [(9, None), (9, 3), (5, (2, 3))])
def test_reflect_rows_is_pocrand_stepwise(shape, dtype):
    n, pad = shape
    flat = (pad[0] * pad[1]) if isinstance(pad, tuple) else pad
    x, g, m = case(n, flat, 33, dtype)
    if isinstance(pad, tuple):
        x = x.view(n, *pad, 33)
    table = table_of(33)                                   # float32: cast to x's dtype
    got = fused.reflect_rows(x, table, g, m)
    want = pr.reflect_rows(x.reshape(n, -1, 33), table.to(dtype), g, m, "stepwise").view(x.shape)
    assert got.shape == x.shape
    assert_bits_equal(got, want)


def plugin_expression(x, table, row_group, mask):
    """The plugin's masked torch expression (x [n, hidden]): v = table[row_group] in x's dtype,
    y = x - 2 * (x * v).sum(-1) * v on the rows of mask, x elsewhere."""
    v = table.index_select(0, row_group[:x.shape[0]]).to(x.dtype)
    d = (x * v).sum(-1, keepdim=True)
    return torch.where(mask[:x.shape[0]].unsqueeze(-1), x - 2.0 * d * v, x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [3072, 4096])
def test_reflect_rows_agrees_with_the_plugins_expression(dtype, hidden):
    """Stepwise rounds every step as the expression does; only the dot's sum order differs
    (section 7's tree against torch's). The two float32 sums of a row differ by a few ulps of
    the partial sums (|p| ~ 2 / sqrt(H), partial sums ~ 1, error ~ sqrt(H) * 2^-24 ~ 4e-6), and
    the rounded dot changes only when that straddles a rounding point of x's dtype, whose spacing
    near |d| ~ 1 is 2^-10 (fp16) or 2^-7 (bf16): a chance of about 4e-6 / 1e-3 < 1% of rows
    (fp16), 8x less in bf16. So at most 4% of the PoC rows may differ anywhere, and chat rows
    and rows of slot 0 never do."""
    n = 256
    x = (pr.normal(11, n * hidden) * 2).view(n, hidden).to(dtype)
    table = table_of(hidden, 4)
    g = torch.arange(n) % 4                                 # slot 0 rows: the zero vector
    m = torch.arange(n) % 5 != 0                            # chat rows
    got = fused.reflect_rows(x, table, g, m)
    ref = plugin_expression(x, table, g, m)
    rows_differ = (got.view(torch.int16) != ref.view(torch.int16)).any(-1)
    share = (got.view(torch.int16) == ref.view(torch.int16)).double().mean().item()
    print(f"\n{dtype} {n}x{hidden}: {share:.6f} of elements equal the plugin's expression, "
          f"{int(rows_differ.sum())} rows differ")
    assert_bits_equal(got[~m], x[~m])
    assert not rows_differ[~m].any() and not rows_differ[g == 0].any()
    assert int(rows_differ.sum()) <= 0.04 * int((m & (g > 0)).sum())
    assert not torch.equal(got[m & (g > 0)], x[m & (g > 0)])


@pytest.mark.parametrize("dtype", DTYPES + [torch.float32])
def test_householder_is_one_shared_vector_stepwise(dtype):
    x = (pr.normal(3, 4 * 5 * 65) * 2).view(4, 5, 65).to(dtype)
    v = pr.unit_vectors(["hh"], 65)[0].to(dtype)
    got = fused.householder(x, v)
    rows = x.reshape(20, 65)
    want = pr.reflect_rows(rows, v.view(1, 65).expand(2, 65).contiguous(),
                           torch.ones(20, dtype=torch.int64), torch.ones(20, dtype=torch.bool),
                           "stepwise")
    assert_bits_equal(got, want.view(x.shape))
    ref = x - 2.0 * (x * v).sum(-1, keepdim=True) * v       # the plugin's apply_householder
    share = (got == ref).double().mean().item()
    # 16 bits: only a dot rounded otherwise changes a row (< 1 row of 20 expected); float32: a
    # dot differing in its last bit changes its row, about one row in ten (SPEC.md 10.10)
    assert share >= (0.5 if dtype == torch.float32 else 0.9)
    with pytest.raises(ValueError, match="v must be"):
        fused.householder(x, v[:3])


def test_compiled_reflect_and_householder_equal_eager():
    x, g, m = case(7, 2, 40, torch.bfloat16)
    table, v = table_of(40), pr.unit_vectors(["c"], 40)[0].to(torch.bfloat16)

    def f(x, table, g, m, v):
        return fused.reflect_rows(x, table, g, m), fused.householder(x, v)

    torch._dynamo.reset()
    got = torch.compile(f, fullgraph=True, dynamic=True)(x, table, g, m, v)
    for a, b in zip(got, f(x, table, g, m, v)):
        assert_bits_equal(a, b)


def test_embed_synth_refuses_other_constants():
    out = torch.zeros(2, 8)
    ints = torch.zeros(2, dtype=torch.int64)
    mask = torch.ones(2, dtype=torch.bool)
    with pytest.raises(ValueError, match="mix_a"):
        fused.embed_synth(out, ints, ints, ints, out, mask, 8, gp.SALT_EMBED, 1, gp.MIX_B)
    with pytest.raises(ValueError, match="mix_b"):
        fused.embed_synth(out, ints, ints, ints, out, mask, 8, gp.SALT_EMBED, gp.MIX_A, 2)
    with pytest.raises(ValueError, match="hidden"):
        fused.embed_synth(out, ints, ints, ints, out, mask, 7, gp.SALT_EMBED, gp.MIX_A, gp.MIX_B)


def test_enabled_and_usable(monkeypatch):
    x = torch.zeros(2, 4, dtype=torch.bfloat16)
    monkeypatch.delenv("GONKA_POC_FUSED", raising=False)
    assert fused.enabled() and fused.usable(x) and fused.usable(x.t())  # no CUDA or layout needed
    assert not fused.usable(x.long()) and not fused.usable("x")
    monkeypatch.setenv("GONKA_POC_FUSED", "0")
    assert not fused.enabled() and not fused.usable(x)


@needs_overrides
@pytest.mark.parametrize("dtype", DTYPES)
def test_embed_and_router_equal_the_expressions(dtype):
    n, h = 12, 40
    gen = torch.Generator().manual_seed(5)
    base = torch.randint(0, 2**32, (n,), generator=gen)
    step = torch.randint(0, 9, (n,), generator=gen)
    prev = torch.where(torch.arange(n) % 3 == 0, torch.full((n,), -1), torch.arange(n) % 16)
    mask = torch.arange(n) % 4 != 3
    out = torch.randn(n, h, generator=gen).to(dtype)
    embeds = torch.randn(n, h, generator=gen)
    s = StandInBackend()
    assert_bits_equal(fused.embed_synth(out, base, step, prev, embeds, mask, h, gp.SALT_EMBED,
                                        gp.MIX_A, gp.MIX_B),
                      s.embed(out, base, step, prev, embeds, mask))
    logits = torch.randn(n, 8, generator=gen).to(dtype)
    got = fused.router_override(logits, base, step, mask, 8, 2, gp.LADDER_BASE)
    assert_bits_equal(got, s.route(logits, base, step, mask, 8, 2, gp.LADDER_BASE))
    from pocrand_ext import reference_gonka as ref
    assert_bits_equal(got[mask], ref.ref_forced(base, step, 8, 2).to(dtype)[mask])
    assert_bits_equal(got[~mask], logits[~mask])


@needs_overrides
def test_warmup_takes_the_plugins_state_and_pocrand_state():
    plugin_like = types.SimpleNamespace(device=torch.device("cpu"), hidden_size=16,
                                        router_meta=[(8, 2)], table=list(torch.zeros(2, 3, 16)),
                                        embeds=torch.zeros(4, 16))
    fused.warmup(plugin_like, torch.bfloat16)
    st = PoCState(max_rows=4, hidden=16, n_layers=2, slots=3, codebook=torch.eye(4, 16))
    fused.warmup(st, torch.bfloat16)
    fused.warmup(types.SimpleNamespace(hidden_size=16), torch.float16)


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_equals_cpu(dtype):
    x, g, m = case(33, 2, 3072, dtype)
    table, v = table_of(3072), pr.unit_vectors(["g"], 3072)[0].to(dtype)
    assert fused.usable(x.cuda())
    assert_bits_equal(fused.reflect_rows(x.cuda(), table.cuda(), g.cuda(), m.cuda()).cpu(),
                      fused.reflect_rows(x, table, g, m))
    assert_bits_equal(fused.householder(x.cuda(), v.cuda()).cpu(), fused.householder(x, v))


@pytest.mark.cuda
@requires_cuda
@needs_overrides
def test_cuda_embed_router_warmup_equal_cpu():
    n, h = 12, 40
    base = torch.arange(n) * 7919
    step, prev = torch.arange(n) % 3, torch.arange(n) % 5 - 1
    mask = torch.arange(n) % 4 != 3
    out, embeds = torch.randn(n, h).to(torch.bfloat16), torch.randn(n, h)
    logits = torch.randn(n, 8).to(torch.bfloat16)
    args = (base, step, prev, embeds, mask, h, gp.SALT_EMBED, gp.MIX_A, gp.MIX_B)
    assert_bits_equal(fused.embed_synth(out.cuda(), *[a.cuda() if torch.is_tensor(a) else a
                                                      for a in args]).cpu(),
                      fused.embed_synth(out, *args))
    assert_bits_equal(fused.router_override(logits.cuda(), base.cuda(), step.cuda(), mask.cuda(),
                                            8, 2, 100).cpu(),
                      fused.router_override(logits, base, step, mask, 8, 2, 100))
    fused.warmup(types.SimpleNamespace(device=torch.device("cuda"), hidden_size=h,
                                       router_meta=[(8, 2)], embeds=embeds.cuda()), torch.bfloat16)
