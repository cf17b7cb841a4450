"""The masked forward-pass overrides (SPEC.md 10.11 embed_synth, 10.12 router_override): every form
equals the NumPy spec bit for bit (all three row kinds, odd rows, every dtype pairing, per-row
buffers longer than the rows); a decode row is step_normal's row and a forced row forced_logits';
against the plugin's torch expressions (tests/reference_gonka.py: integers and conversions exact,
decode normals within 1 ulp in fp16/bf16 and 3 ulp in fp32); rows left alone keep every bit;
in-place forms, torch.compile, opcheck, bad inputs, CPU == GPU and CUDA-graph replay."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal, requires_cuda
from pocrand_ext.reference_gonka import ref_embed, ref_route
from test_gonka_decode import ulp_distance
from test_pocv2_spec import spec_tensor, storage

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
NAMES = {v: k for k, v in DTYPES.items()}
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
ops = torch.ops.pocrand


def normals(seed: int, shape, scale: float = 3.0) -> torch.Tensor:
    n = 1
    for s in shape:
        n *= s
    return pr.normal(seed, n).view(shape) * scale


def embed_case(n: int, hidden: int, dtype: torch.dtype, embeds_dtype: torch.dtype, seed: int = 0,
               extra: int = 3, device="cpu"):
    """out [n, hidden], and per-row buffers of n + extra entries: every row kind (decode with
    prev 0, small and huge, prefill with prev -1 and I64_MIN, masked off with either sign),
    base seeds beyond u32, steps negative and beyond 2^32."""
    g = torch.Generator().manual_seed(seed * 1000 + hidden)
    rows = n + extra
    prev_choices = torch.tensor([0, 3, 15, I64_MAX, 2**32 + 1, -1, -7, I64_MIN])
    prev = prev_choices[torch.randint(0, len(prev_choices), (rows,), generator=g)]
    prev[:3] = torch.tensor([2, -1, 5])[: min(3, rows)]     # every kind present, whatever the draw
    mask = torch.rand(rows, generator=g) < 0.7
    mask[:3] = torch.tensor([True, True, False])[: min(3, rows)]
    base = torch.randint(-(2**40), 2**40, (rows,), generator=g)
    step = torch.randint(-(2**35), 2**35, (rows,), generator=g)
    step[0] = I64_MIN
    out = normals(seed + 11 * hidden, (n, hidden)).to(dtype)
    embeds = normals(seed + 13 * hidden + 1, (rows, hidden), 2.0).to(embeds_dtype)
    return tuple(t.to(device) for t in (out, base, step, prev, embeds, mask))


def spec_embed(out, base, step, prev, embeds, mask, salt=0x0D):
    y = spec.embed_synth(storage(out), NAMES[out.dtype], base.cpu().numpy(), step.cpu().numpy(),
                         prev.cpu().numpy(), storage(embeds), NAMES[embeds.dtype],
                         mask.cpu().numpy(), salt)
    return spec_tensor(y, NAMES[out.dtype])


def kinds(prev, mask, n):
    prev, mask = prev[:n].cpu(), mask[:n].cpu()
    return mask & (prev >= 0), mask & (prev < 0), ~mask


# ---- NumPy spec == the ops, bit for bit ---------------------------------------------------------
@pytest.mark.parametrize("embeds_dtype", list(DTYPES))
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("n,hidden", [(1, 1), (5, 2), (9, 7), (6, 1025), (4, 3071)])
def test_embed_synth_is_the_spec(n, hidden, dtype, embeds_dtype, device):
    args = embed_case(n, hidden, DTYPES[dtype], DTYPES[embeds_dtype], device=device)
    want = spec_embed(*args)
    assert_bits_equal(pr.embed_synth(*args).cpu(), want)
    out = args[0].clone()
    assert pr.embed_synth_(out, *args[1:]) is out
    assert_bits_equal(out.cpu(), want)


@pytest.mark.parametrize("salt", [0, 0x0D, 0xFFFFFFFF])
def test_embed_synth_salt_and_row_kinds(salt, device):
    out, base, step, prev, embeds, mask = embed_case(12, 33, torch.bfloat16, torch.float32, seed=4,
                                                     device=device)
    y = pr.embed_synth(out, base, step, prev, embeds, mask, salt).cpu()
    assert_bits_equal(y, spec_embed(out, base, step, prev, embeds, mask, salt))
    decode, prefill, keep = kinds(prev, mask, 12)
    assert decode.any() and prefill.any() and keep.any()
    for r in decode.nonzero().view(-1).tolist():   # a decode row is step_normal's row
        sl = slice(r, r + 1)
        assert_bits_equal(y[r], pr.step_normal(base[sl] & 0xFFFFFFFF, step[sl], prev[sl], salt, 33,
                                               torch.bfloat16)[0].cpu())
    assert_bits_equal(y[prefill], embeds[:12].cpu()[prefill].to(torch.bfloat16))
    assert_bits_equal(y[keep], out.cpu()[keep])


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("n_experts,top_k,ladder", [(1, 1, 100), (8, 3, 100), (256, 8, 100),
                                                    (257, 257, -2**23), (129, 2, 2**23)])
def test_router_override_is_the_spec(n_experts, top_k, ladder, dtype, device):
    n = 9
    g = torch.Generator().manual_seed(n_experts)
    logits = normals(n_experts, (n, n_experts)).to(DTYPES[dtype]).to(device)
    seeds = torch.randint(-(2**40), 2**40, (n + 2,), generator=g).to(device)
    step = torch.randint(-(2**35), 2**35, (n + 2,), generator=g).to(device)
    mask = (torch.arange(n + 2) % 3 != 1).to(device)
    want = spec_tensor(spec.router_override(storage(logits), dtype, seeds.cpu().numpy(),
                                            step.cpu().numpy(), mask.cpu().numpy(), n_experts,
                                            top_k, ladder), dtype)
    y = pr.router_override(logits, seeds, step, mask, n_experts, top_k, ladder)
    assert_bits_equal(y.cpu(), want)
    li = logits.clone()
    assert pr.router_override_(li, seeds, step, mask, n_experts, top_k, ladder) is li
    assert_bits_equal(li.cpu(), want)
    m = mask[:n].cpu()
    for r in m.nonzero().view(-1).tolist():         # a forced row is forced_logits' row
        sl = slice(r, r + 1)
        assert_bits_equal(y[r].cpu(), pr.forced_logits(seeds[sl] & 0xFFFFFFFF, n_experts, top_k,
                                                       ladder, step[sl], DTYPES[dtype])[0].cpu())
    assert_bits_equal(y[~m.to(y.device)], logits[~m.to(logits.device)])


# ---- against the plugin's torch expressions ---------------------------------------------------
@pytest.mark.parametrize("dtype,max_ulp", [(torch.float16, 1), (torch.bfloat16, 1), (torch.float32, 3)])
def test_embed_synth_near_the_plugin_expression(dtype, max_ulp):
    """Decode rows within max_ulp of the expression on torch's log/sin/cos; prefill rows (torch's
    own conversion) and the other rows exact. The fp32 share of identical elements follows
    torch's CPU path (79.6% on an AVX-512 host, over 90% on an earlier one), hence its low
    threshold; see test_gonka_decode.test_decode_embeddings_near_the_plugin_expression."""
    n, hidden = 48, 7168
    out, base, step, prev, embeds, mask = embed_case(n, hidden, dtype, torch.float32, seed=2)
    want = ref_embed(out, base, step, prev, embeds, mask)
    got = pr.embed_synth(out, base, step, prev, embeds, mask)
    decode, prefill, keep = kinds(prev, mask, n)
    assert decode.sum() >= 5 and prefill.sum() >= 3 and keep.sum() >= 3
    d = ulp_distance(got[decode], want[decode])
    assert d.max() <= max_ulp
    assert (d == 0).mean() >= (0.5 if dtype == torch.float32 else 0.999)
    assert_bits_equal(got[prefill | keep], want[prefill | keep])


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("n_experts,top_k", [(256, 8), (160, 6), (7, 7), (1, 1)])
def test_router_override_equals_the_plugin_expression(n_experts, top_k, dtype, device):
    """Exact, with steps negative and beyond 2^32 (the plugin's int32 cast keeps u32(step))."""
    n = 300
    g = torch.Generator().manual_seed(top_k)
    logits = normals(5, (n, n_experts)).to(DTYPES[dtype])
    seeds = torch.randint(0, 2**32, (n + 4,), generator=g)
    step = torch.randint(-(2**40), 2**40, (n + 4,), generator=g)
    step[:4] = torch.tensor([-1, 2**32 + 5, I64_MIN, I64_MAX])
    mask = torch.rand(n + 4, generator=g) < 0.6
    mask[:4] = True
    want = ref_route(logits, seeds, step, mask, n_experts, top_k)
    got = pr.router_override(logits.to(device), seeds.to(device), step.to(device),
                             mask.to(device), n_experts, top_k)
    assert_bits_equal(got.cpu(), want)


def test_step_is_used_mod_2_32():
    """A step and the same step plus or minus multiples of 2^32 give the same rows."""
    out, base, step, prev, embeds, mask = embed_case(8, 65, torch.float16, torch.float16, seed=7)
    logits = normals(3, (8, 64)).to(torch.bfloat16)
    shifted = step + torch.tensor([2**32, -(2**32), 5 * 2**32, 0, -(2**33), 2**32, 0, 2**34, 0, 0, 0])
    a = pr.embed_synth(out, base, step, prev, embeds, mask)
    b = pr.embed_synth(out, base, shifted, prev, embeds, mask)
    assert_bits_equal(a, b)
    assert_bits_equal(pr.router_override(logits, base, step, mask, 64, 4),
                      pr.router_override(logits, base, shifted, mask, 64, 4))
    assert not torch.equal(pr.router_override(logits, base, step, mask, 64, 4),
                           pr.router_override(logits, base, step + 1, mask, 64, 4))


# ---- rows left alone --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_rows_left_alone_keep_every_bit_nan_payloads_included(dtype):
    bits_dtype = torch.int32 if dtype == "float32" else torch.int16
    out, base, step, prev, embeds, mask = embed_case(6, 33, DTYPES[dtype], torch.float32, seed=1)
    mask[:6] = torch.tensor([False, True, False, True, False, True])
    prev[:6] = torch.tensor([-1, 0, 4, -1, -5, 2])
    raw = out.view(bits_dtype)
    raw[0, 3] = 0x7F800123 if dtype == "float32" else 0x7D01     # NaNs with odd payloads
    raw[2, 5] = -1
    raw[4, 0] = 0x7F800001 if dtype == "float32" else 0x7C01     # a signalling NaN
    keep = [0, 2, 4]
    y = pr.embed_synth(out, base, step, prev, embeds, mask)
    assert torch.equal(y.view(bits_dtype)[keep], raw[keep])
    assert not torch.equal(y.view(bits_dtype)[[1, 3, 5]], raw[[1, 3, 5]])
    written = out.clone()
    pr.embed_synth_(written, base, step, prev, embeds, mask)
    assert torch.equal(written.view(bits_dtype), y.view(bits_dtype))
    logits = out[:, :32].contiguous()
    z = pr.router_override(logits, base, step, mask, 32, 4)
    assert torch.equal(z.view(bits_dtype)[keep], logits.view(bits_dtype)[keep])


def test_prefill_rows_convert_like_torch():
    """A prefill row is torch's embeds[r].to(out.dtype) bit for bit for every number, in every
    dtype pairing: values that round both ways, ties, subnormals, overflow. NaNs keep their bits
    within one dtype and otherwise take section 6's (the spec's) bits: torch's own NaN bits
    differ between its conversion paths (torch 2.13's CPU gives 0xffff for float32 -> bfloat16
    and 0x7e08 for a bfloat16 payload into float16)."""
    vals = torch.tensor([1.0, 1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-8, 1 + 3 * 2**-8, 65520.0, 7e4,
                         2**-25, 3 * 2**-25, -2**-24, 1e-40, -0.0, float("inf"), 3.0e38])
    nan_bits = {torch.float32: ([0x7F800123, -0x3FFFFF, 0x7FC00000], torch.int32),   # payloads,
                torch.float16: ([0x7D01, -0x1FF, 0x7E00], torch.int16),               # signs, a
                torch.bfloat16: ([0x7F81, -0x7F, 0x7FC0], torch.int16)}               # signalling one
    numbers = slice(0, vals.numel())
    nans = slice(vals.numel(), None)
    for e_dt in DTYPES.values():
        bits, int_dt = nan_bits[e_dt]
        embeds = torch.cat([vals.to(e_dt), torch.tensor(bits, dtype=int_dt).view(e_dt)])
        assert embeds[nans].isnan().all()
        embeds = embeds.view(1, -1).repeat(2, 1)
        for o_dt in DTYPES.values():
            out = torch.zeros(2, embeds.shape[1], dtype=o_dt)
            args = (torch.zeros(2, dtype=torch.int64), torch.zeros(2, dtype=torch.int64),
                    torch.tensor([-1, I64_MIN]), embeds, torch.tensor([True, True]))
            y = pr.embed_synth(out, *args)
            assert_bits_equal(y[:, numbers], embeds[:, numbers].to(o_dt))
            assert_bits_equal(y, spec_embed(out, *args))
            if o_dt == e_dt:
                assert_bits_equal(y, embeds)


# ---- in place, strided, empty -----------------------------------------------------------------
def test_in_place_writes_only_the_masked_rows_and_strided_out():
    out, base, step, prev, embeds, mask = embed_case(6, 31, torch.bfloat16, torch.float16, seed=3)
    big = torch.zeros(6, 40, dtype=torch.bfloat16)
    view = big[:, 3:34]
    view.copy_(out)
    assert pr.embed_synth_(view, base, step, prev, embeds, mask) is view
    assert_bits_equal(view, pr.embed_synth(out, base, step, prev, embeds, mask))
    assert (big[:, :3] == 0).all() and (big[:, 34:] == 0).all()
    logits = normals(9, (6, 16)).to(torch.float16)
    lbig = torch.zeros(16, 6, dtype=torch.float16)
    lview = lbig.t()
    lview.copy_(logits)
    assert pr.router_override_(lview, base, step, mask, 16, 3) is lview
    assert_bits_equal(lview, pr.router_override(logits, base, step, mask, 16, 3))
    # strided inputs of the out-of-place forms go through contiguous copies
    assert_bits_equal(pr.embed_synth(view, base, step, prev, embeds, mask),
                      pr.embed_synth(view.contiguous(), base, step, prev, embeds, mask))
    emb_t = embeds.t().contiguous().t()
    assert_bits_equal(pr.embed_synth(out, base[::1], step, prev, emb_t, mask),
                      pr.embed_synth(out, base, step, prev, embeds, mask))


def test_zero_rows():
    e = torch.empty(0, dtype=torch.int64)
    b = torch.empty(0, dtype=torch.bool)
    y = pr.embed_synth(torch.empty(0, 8), e, e, e, torch.empty(0, 8), b)
    assert y.shape == (0, 8)
    assert pr.router_override(torch.empty(0, 4), e, e, b, 4, 2).shape == (0, 4)


# ---- compile, opcheck ----------------------------------------------------------------------------
def forward(out, base, step, prev, embeds, mask, logits):
    a = pr.embed_synth(out, base, step, prev, embeds, mask)
    o = out.clone()
    pr.embed_synth_(o, base, step, prev, embeds, mask, 0x77)
    r = pr.router_override(logits, base, step, mask, 64, 6)
    li = logits.clone()
    pr.router_override_(li, base, step, mask, 64, 6, -5)
    return a, o, r, li


@pytest.mark.parametrize("dynamic", [False, True])
def test_compiled_equals_eager(dynamic, device):
    args = embed_case(7, 515, torch.bfloat16, torch.float32, seed=5, device=device)
    logits = normals(1, (7, 64)).to(torch.float16).to(device)
    torch._dynamo.reset()
    f = torch.compile(forward, fullgraph=True, dynamic=dynamic)
    got = f(*args, logits)
    for a, b in zip(got, forward(*args, logits)):
        assert_bits_equal(a, b)
    if dynamic:  # another row count and hidden size through the same compiled function
        args2 = embed_case(3, 77, torch.bfloat16, torch.float32, seed=6, device=device)
        logits2 = normals(2, (3, 64)).to(torch.float16).to(device)
        for a, b in zip(f(*args2, logits2), forward(*args2, logits2)):
            assert_bits_equal(a, b)


def test_opcheck():
    out, base, step, prev, embeds, mask = embed_case(5, 37, torch.float16, torch.bfloat16)
    logits = normals(2, (5, 16)).to(torch.bfloat16)
    x, y = out.clone(), logits.clone()  # out of place, then in place (out is the input)
    torch.library.opcheck(ops.embed_synth.default, (torch.empty_like(out), out, base, step, prev, embeds, mask, 13))
    torch.library.opcheck(ops.embed_synth.default, (x, x, base, step, prev, embeds, mask, 13))
    torch.library.opcheck(ops.router_override.default, (torch.empty_like(logits), logits, base, step, mask, 16, 3, 100))
    torch.library.opcheck(ops.router_override.default, (y, y, base, step, mask, 16, 3, 100))


# ---- bad inputs ---------------------------------------------------------------------------------
def E(o, b, s, p, e, m, **kw):
    return pr.embed_synth(o, b, s, p, e, m, **kw)


BAD_EMBED = [  # (what, call, error, a word of the message)
    ("out not a tensor", lambda o, b, s, p, e, m: E([1.0], b, s, p, e, m), TypeError, "out"),
    ("out 1-D", lambda o, b, s, p, e, m: E(o[0], b, s, p, e, m), ValueError, "out"),
    ("out float64", lambda o, b, s, p, e, m: E(o.double(), b, s, p, e, m), ValueError, "out.dtype"),
    ("out grad", lambda o, b, s, p, e, m: E(o.requires_grad_(), b, s, p, e, m), ValueError, "out"),
    ("base int32", lambda o, b, s, p, e, m: E(o, b.int(), s, p, e, m), TypeError, "base_seeds"),
    ("base short", lambda o, b, s, p, e, m: E(o, b[:2], s, p, e, m), ValueError, "base_seeds"),
    ("step float", lambda o, b, s, p, e, m: E(o, b, s.float(), p, e, m), TypeError, "step"),
    ("step 2-D", lambda o, b, s, p, e, m: E(o, b, s.view(1, -1), p, e, m), ValueError, "step"),
    ("prev short", lambda o, b, s, p, e, m: E(o, b, s, p[:3], e, m), ValueError, "prev_k"),
    ("prev not a tensor", lambda o, b, s, p, e, m: E(o, b, s, [0] * 7, e, m), TypeError, "prev_k"),
    ("embeds width", lambda o, b, s, p, e, m: E(o, b, s, p, e[:, :5], m), ValueError, "embeds"),
    ("embeds rows", lambda o, b, s, p, e, m: E(o, b, s, p, e[:2], m), ValueError, "embeds"),
    ("embeds float64", lambda o, b, s, p, e, m: E(o, b, s, p, e.double(), m), ValueError, "embeds"),
    ("mask int", lambda o, b, s, p, e, m: E(o, b, s, p, e, m.long()), TypeError, "mask"),
    ("mask short", lambda o, b, s, p, e, m: E(o, b, s, p, e, m[:1]), ValueError, "mask"),
    ("salt range", lambda o, b, s, p, e, m: E(o, b, s, p, e, m, salt=2**32), ValueError, "salt"),
    ("salt type", lambda o, b, s, p, e, m: E(o, b, s, p, e, m, salt=1.0), TypeError, "salt"),
    ("in place expanded", lambda o, b, s, p, e, m: pr.embed_synth_(o[:1].expand(4, 8), b, s, p, e, m),
     ValueError, "out"),
    ("in place over embeds", lambda o, b, s, p, e, m: pr.embed_synth_(e[:4], b, s, p, e, m),
     ValueError, "embeds"),
]


@pytest.mark.parametrize("what,call,error,word", BAD_EMBED, ids=[b[0] for b in BAD_EMBED])
def test_embed_synth_bad_inputs_are_named(what, call, error, word):
    o, b, s, p, e, m = embed_case(4, 8, torch.float32, torch.float32)
    with pytest.raises(error, match=word):
        call(o, b, s, p, e, m)


def R(lg, r, s, m, E_=8, k=2, lad=100):
    return pr.router_override(lg, r, s, m, E_, k, lad)


BAD_ROUTER = [
    ("logits not a tensor", lambda lg, r, s, m: R([1.0], r, s, m), TypeError, "logits"),
    ("logits 3-D", lambda lg, r, s, m: R(lg.view(2, 2, 8), r, s, m), ValueError, "logits"),
    ("logits int", lambda lg, r, s, m: R(lg.int(), r, s, m), ValueError, "logits.dtype"),
    ("n_experts mismatch", lambda lg, r, s, m: R(lg, r, s, m, E_=9), ValueError, "n_experts"),
    ("n_experts 0", lambda lg, r, s, m: R(lg[:, :0], r, s, m, E_=0), ValueError, "n_experts"),
    ("top_k 0", lambda lg, r, s, m: R(lg, r, s, m, k=0), ValueError, "top_k"),
    ("top_k > E", lambda lg, r, s, m: R(lg, r, s, m, k=9), ValueError, "top_k"),
    ("top_k float", lambda lg, r, s, m: R(lg, r, s, m, k=2.0), TypeError, "top_k"),
    ("ladder range", lambda lg, r, s, m: R(lg, r, s, m, lad=2**23 + 1), ValueError, "ladder_base"),
    ("route int32", lambda lg, r, s, m: R(lg, r.int(), s, m), TypeError, "route_seeds"),
    ("route short", lambda lg, r, s, m: R(lg, r[:3], s, m), ValueError, "route_seeds"),
    ("step short", lambda lg, r, s, m: R(lg, r, s[:1], m), ValueError, "step"),
    ("mask float", lambda lg, r, s, m: R(lg, r, s, m.float()), TypeError, "mask"),
    ("in place expanded", lambda lg, r, s, m: pr.router_override_(lg[:1].expand(4, 8), r, s, m, 8, 2),
     ValueError, "logits"),
]


@pytest.mark.parametrize("what,call,error,word", BAD_ROUTER, ids=[b[0] for b in BAD_ROUTER])
def test_router_override_bad_inputs_are_named(what, call, error, word):
    logits = normals(1, (4, 8))
    _, r, s, _, _, m = embed_case(4, 8, torch.float32, torch.float32)
    with pytest.raises(error, match=word):
        call(logits, r, s, m)


def test_in_place_forms_refuse_inputs_that_share_the_written_memory():
    raw = torch.zeros(64)
    logits = raw[:32].view(4, 8)
    apart = raw[32:40].view(torch.int64)       # the same storage, not the written elements
    inside = raw[:8].view(torch.int64)         # four of the written elements
    mask = torch.ones(4, dtype=torch.bool)
    pr.router_override_(logits, apart, apart.clone(), mask, 8, 2)
    assert (logits != 0).all()
    for args in ((inside, apart, mask), (apart, inside, mask)):
        with pytest.raises(ValueError, match="route_seeds|step"):
            pr.router_override_(logits, *args, 8, 2)
    out = raw[:32].view(4, 8)
    with pytest.raises(ValueError, match="base_seeds"):
        pr.embed_synth_(out, inside, apart, apart, torch.zeros(4, 8), mask)


def _synth(x, *args):  # the raw op out of place
    ops.embed_synth(torch.empty_like(x), x, *args)


def _route(x, *args):
    ops.router_override(torch.empty_like(x), x, *args)


RAW_BAD = [  # the raw ops' own checks (a direct torch.ops call)
    ("x 1-D", lambda o, b, s, p, e, m: _synth(o[0], b, s, p, e, m, 13), ValueError, "x must be 2-D"),
    ("base dtype", lambda o, b, s, p, e, m: _synth(o, b.int(), s, p, e, m, 13), TypeError, "base_seeds"),
    ("step short", lambda o, b, s, p, e, m: _synth(o, b, s[:1], p, e, m, 13), ValueError, "step"),
    ("embeds width", lambda o, b, s, p, e, m: _synth(o, b, s, p, e[:, :3].contiguous(), m, 13),
     ValueError, "embeds"),
    ("embeds strided", lambda o, b, s, p, e, m: _synth(o, b, s, p, e.t(), m, 13), ValueError, "embeds"),
    ("salt", lambda o, b, s, p, e, m: _synth(o, b, s, p, e, m, -1), ValueError, "salt"),
    ("in place over embeds", lambda o, b, s, p, e, m: ops.embed_synth(e[:4], e[:4], b, s, p, e, m, 13),
     ValueError, "embeds"),
    ("logits width", lambda o, b, s, p, e, m: _route(o, b, s, m, 9, 2, 100), ValueError, "n_experts"),
    ("top_k", lambda o, b, s, p, e, m: _route(o, b, s, m, 8, 9, 100), ValueError, "top_k"),
    ("ladder", lambda o, b, s, p, e, m: _route(o, b, s, m, 8, 2, -2**23 - 1), ValueError, "ladder_base"),
    ("mask dtype", lambda o, b, s, p, e, m: _route(o, b, s, m.int(), 8, 2, 100), TypeError, "mask"),
    ("route strided", lambda o, b, s, p, e, m: _route(o, b[::2], s, m, 8, 2, 100),
     ValueError, "route_seeds"),
]


@pytest.mark.parametrize("what,call,error,word", RAW_BAD, ids=[b[0] for b in RAW_BAD])
def test_raw_ops_refuse_bad_inputs(what, call, error, word):
    o, b, s, p, e, m = embed_case(4, 8, torch.float32, torch.float32)
    with pytest.raises(error, match=word):
        call(o, b, s, p, e, m)


# ---- GPU ----------------------------------------------------------------------------------------
@requires_cuda
@pytest.mark.parametrize("embeds_dtype", list(DTYPES))
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("n", [1, 7, 1024])
def test_cuda_equals_cpu(n, dtype, embeds_dtype):
    for hidden in (7, 3072, 7168):
        args = embed_case(n, hidden, DTYPES[dtype], DTYPES[embeds_dtype], seed=n)
        cpu = pr.embed_synth(*args)
        gpu_args = [t.cuda() for t in args]
        assert_bits_equal(pr.embed_synth(*gpu_args).cpu(), cpu)
        pr.embed_synth_(gpu_args[0], *gpu_args[1:])
        assert_bits_equal(gpu_args[0].cpu(), cpu)
    out, base, step, prev, embeds, mask = embed_case(n, 8, torch.float32, torch.float32, seed=n)
    for e, k in ((256, 8), (160, 6), (1, 1)):
        logits = normals(e, (n, e)).to(DTYPES[dtype])
        cpu = pr.router_override(logits, base, step, mask, e, k)
        gpu = pr.router_override(logits.cuda(), base.cuda(), step.cuda(), mask.cuda(), e, k)
        assert_bits_equal(gpu.cpu(), cpu)
        li = logits.cuda()
        pr.router_override_(li, base.cuda(), step.cuda(), mask.cuda(), e, k)
        assert_bits_equal(li.cpu(), cpu)


@requires_cuda
def test_cuda_graph_replay_with_new_values_equals_eager():
    n, hidden, E_ = 64, 7168, 256
    args = [t.cuda() for t in embed_case(n, hidden, torch.bfloat16, torch.bfloat16, seed=20)]
    out0 = args[0].clone()
    buf = args[0]
    base, step, prev, embeds, mask = args[1:]
    logits0 = normals(4, (n, E_)).to(torch.bfloat16).cuda()
    lbuf = logits0.clone()
    pr.embed_synth(buf, base, step, prev, embeds, mask)                  # warm up outside capture
    pr.router_override(lbuf, base, step, mask, E_, 8)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = pr.embed_synth(buf, base, step, prev, embeds, mask)
        z = pr.router_override(lbuf, base, step, mask, E_, 8)
        pr.embed_synth_(buf, base, step, prev, embeds, mask)
        pr.router_override_(lbuf, base, step, mask, E_, 8)
    for seed in (21, 22, 23):
        new = embed_case(n, hidden, torch.bfloat16, torch.bfloat16, seed=seed)
        for dst, src in zip((base, step, prev, embeds, mask), new[1:]):
            dst.copy_(src)
        buf.copy_(out0)
        lbuf.copy_(logits0)
        graph.replay()
        torch.cuda.synchronize()
        ey = pr.embed_synth(out0, base, step, prev, embeds, mask)
        ez = pr.router_override(logits0, base, step, mask, E_, 8)
        assert_bits_equal(y, ey)
        assert_bits_equal(buf, ey)
        assert_bits_equal(z, ez)
        assert_bits_equal(lbuf, ez)
        assert_bits_equal(y.cpu(), spec_embed(out0, base, step, prev, embeds, mask))
