"""The masked forward-pass overrides (SPEC.md 10.11 embed_synth, 10.12 router_override): every form
equals the NumPy spec bit for bit (all three row kinds, odd rows, every dtype pairing, per-row
buffers longer than the rows); a decode row is step_normal's row and a forced row forced_logits';
against the plugin's torch expressions (tests/reference_gonka.py: integers and conversions exact,
decode normals within 1 ulp in fp16/bf16 and 3 ulp in fp32); rows left alone keep every bit;
in-place forms, torch.compile, opcheck, CPU == GPU and CUDA-graph replay. Bad inputs are in
test_overrides_inputs.py."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal, requires_cuda
from overrides_helpers import DTYPES, I64_MAX, I64_MIN, NAMES, embed_case, normals, ops
from pocrand_ext.reference_gonka import ref_embed, ref_route
from test_gonka_decode import ulp_distance
from test_pocv2_spec import spec_tensor, storage


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


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("n_experts,rows", [(1, 8 * 2**20 + 3), (7, 70000), (8, 9), (9, 33),
                                            (255, 17), (256, 1025), (257, 9), (2047, 3),
                                            (2048, 5), (2049, 3), (20000, 2), (256, 62 * 1024)])
def test_short_row_launch_covers_every_row_and_expert(n_experts, rows):
    # the gate kernels' launch (launch_util.cuh, short_row_grid): lanes of 1 or (for launches
    # that fill the device so, like the last case: every gate of a MiniMax-M2 step) 8 experts,
    # rows a block, tiles of experts along grid y and rows past 2^20 blocks by a stride; every
    # element written (no gap, no double) shows as the CPU's bits
    g = torch.Generator().manual_seed(rows)
    seeds = torch.randint(0, 2**32, (rows,), generator=g)
    step = torch.randint(0, 2**32, (rows,), generator=g)
    top_k = min(n_experts, 3)
    cpu = pr.forced_logits(seeds, n_experts, top_k, 100, step, torch.bfloat16)
    gpu = pr.forced_logits(seeds.cuda(), n_experts, top_k, 100, step.cuda(), torch.bfloat16)
    assert_bits_equal(gpu.cpu(), cpu)
    if rows * n_experts > 2**24:
        return  # the router below: the same launch, on a size its CPU oracle takes quickly
    logits = torch.randn(rows, n_experts, generator=g).to(torch.bfloat16)
    mask = torch.rand(rows, generator=g) < 0.5
    want = pr.router_override(logits, seeds, step, mask, n_experts, top_k)
    assert_bits_equal(pr.router_override(logits.cuda(), seeds.cuda(), step.cuda(), mask.cuda(),
                                         n_experts, top_k).cpu(), want)
    li = logits.cuda()
    pr.router_override_(li, seeds.cuda(), step.cuda(), mask.cuda(), n_experts, top_k)
    assert_bits_equal(li.cpu(), want)


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
