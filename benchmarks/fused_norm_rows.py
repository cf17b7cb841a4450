"""The fused add + RMSNorm rows of the graph section (python benchmarks/bench.py --section graph,
or these rows alone with --section fused):
 - pocrand_ext.fused_add_rms_norm_reflect (SPEC.md 10.14) in place on 1024 x 3072 and
   1024 x 7168 bf16, half the rows masked, beside the same op with no row masked (the plain add +
   norm), a torch.compile'd add + RMSNorm (in place, as vLLM's op), the read+write floor of both
   tensors, and a copy of the same bytes (that floor as a kernel of this size reaches it); the
   bits are compared with the CPU kernel first;
 - the reflection's cost at model scale when folded in: a MiniMax-M2-shaped decode step (62
   boundaries, 1024 rows x 3072, half the rows PoC) and a prefill batch (32 nonces x 256 tokens x
   3072, every row PoC, one boundary): the fused op minus the plain one, beside reflect_rows_pair
   (the separate pass of before) and the plugin's reflection compiled.
Graph replay as in graph_rows.py."""
from __future__ import annotations

import torch

import pocrand_ext as pr
from graph_rows import (bf16_rows, compiled, half_masked, layer_table, ratio, replay_ms, rotation,
                        same_bits, SLOTS)
from pocrand_ext import reference_gonka as refg

EPS = 1e-6


def torch_add_rms_norm_(x, residual, weight):
    """vLLM's fused_add_rms_norm in torch ops, in place: residual += x; x = RMSNorm(residual) * w."""
    residual.add_(x)
    s = residual.float()
    x.copy_((s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype) * weight)


def fused_norm_rows(repeats: int, copy_bw: float):
    rows = []
    for n, hidden in ((1024, 3072), (1024, 7168)):
        nbytes = n * hidden * 2
        sets = rotation(4 * nbytes)
        table = layer_table(hidden, seed=hidden + 1)
        row_group, mask = half_masked(n, seed=n + 1)
        none = torch.zeros_like(mask)
        weight = (1 + 0.1 * bf16_rows(1, hidden, 7)[0].float()).to(torch.bfloat16)
        data = [(bf16_rows(n, hidden, 2 * s + 40), bf16_rows(n, hidden, 2 * s + 41))
                for s in range(sets)]
        floor = 4 * nbytes / copy_bw / 1e6
        x, r = data[0][0].clone(), data[0][1].clone()
        k = min(n, 256)
        cx, cr = x[:k].cpu(), r[:k].cpu()
        pr.fused_add_rms_norm_reflect(x, r, weight, EPS, table, row_group, mask, "stepwise")
        pr.fused_add_rms_norm_reflect(cx, cr, weight.cpu(), EPS, table.cpu(), row_group[:k].cpu(),
                                      mask[:k].cpu(), "stepwise")
        ok = same_bits(x[:k], cx) and same_bits(r[:k], cr)

        def fused(m):
            return lambda x, r: pr.fused_add_rms_norm_reflect(x, r, weight, EPS, table, row_group,
                                                              m, "stepwise")
        half = replay_ms(fused(mask), data, repeats, "fused, half masked")
        plain = replay_ms(fused(none), data, repeats, "fused, none masked")
        comp = replay_ms(compiled(lambda x, r: torch_add_rms_norm_(x, r, weight)), data, repeats,
                         "torch.compile add + RMSNorm")
        eager = replay_ms(lambda x, r: torch_add_rms_norm_(x, r, weight), data, repeats,
                          "torch add + RMSNorm eager")
        # The floor as a kernel of this size reaches it: one copy moving the same bytes (both
        # tensors read and written), graph-replayed over as many sets, so that launch, ramp and
        # tail, which the bandwidth floor leaves out, are in it too.
        pairs = [(torch.stack(xr), torch.empty(2, n, hidden, dtype=torch.bfloat16, device="cuda"))
                 for xr in data]
        copy = replay_ms(lambda src, dst: dst.copy_(src), pairs, repeats, "copy of the same bytes")
        del pairs
        check = "bits == CPU" if ok else "**bits differ from CPU**"
        rows.append(dict(op="fused_add_rms_norm_reflect bf16 stepwise, half masked",
                         shape=f"{n}x{hidden}", ours=half, eager=eager, compiled=comp, floor=floor,
                         vs_floor=ratio(half, floor),
                         target=f"<= 1.1x none masked (here {ratio(half, plain)}), <= 1.3x floor",
                         met=ok and None not in (half, plain)
                         and half <= 1.1 * plain and half <= 1.3 * floor, check=check))
        rows.append(dict(op="fused_add_rms_norm_reflect bf16, none masked (plain add + norm)",
                         shape=f"{n}x{hidden}", ours=plain, eager=eager, compiled=comp,
                         floor=floor, vs_floor=ratio(plain, floor), target="(the baseline)",
                         met=None, check=check))
        rows.append(dict(op="torch copy of the same bytes (both tensors read and written)",
                         shape=f"{n}x{hidden}", ours=copy, eager=None, compiled=None, floor=floor,
                         vs_floor=ratio(copy, floor),
                         target=f"(half masked {ratio(half, copy)}, none masked {ratio(plain, copy)} "
                                f"of it)", met=None, check="-"))
        del data
        torch.cuda.empty_cache()
    return rows


def boundary_rows(repeats: int, copy_bw: float):
    """The reflection's cost per step when folded into the norms: (fused, half masked) minus
    (fused, none masked) over a step's boundaries, beside reflect_rows_pair and the plugin's
    reflection compiled over the same boundaries (the separate pass they replace)."""
    rows = []
    for what, L, n, hidden, poc in (("decode step, MiniMax-M2 shape (62 boundaries)", 62, 1024, 3072,
                                     "half"),
                                    ("prefill, 32 nonces x 256 tokens (one boundary)", 1, 8192, 3072,
                                     "all")):
        g = torch.Generator().manual_seed(L)
        if poc == "half":
            row_group, mask = half_masked(n, seed=L)
        else:  # a nonce's 256 rows share its slot
            row_group = torch.randint(1, SLOTS, (n // 256,), generator=g).repeat_interleave(256).cuda()
            mask = torch.ones(n, dtype=torch.bool, device="cuda")
        none = torch.zeros_like(mask)
        weight = (1 + 0.1 * bf16_rows(1, hidden, 9)[0].float()).to(torch.bfloat16)
        tables = [layer_table(hidden, seed=b) for b in range(L)]
        sets = max(1, rotation(4 * n * hidden * 2 * L) if L == 1 else 1)
        data = [[(bf16_rows(n, hidden, 3000 + 2 * (b + L * s)), bf16_rows(n, hidden, 3001 + 2 * (b + L * s)))
                 for b in range(L)] for s in range(sets)]

        def fused(m):
            def step(bounds):
                for (x, r), t in zip(bounds, tables):
                    pr.fused_add_rms_norm_reflect(x, r, weight, EPS, t, row_group, m, "stepwise")
            return step

        def separate(op):
            def step(bounds):
                for (x, r), t in zip(bounds, tables):
                    op(x, r, t, row_group, mask)
            return step
        args = [(bounds,) for bounds in data]
        half = replay_ms(fused(mask), args, repeats, f"{what}: fused")
        plain = replay_ms(fused(none), args, repeats, f"{what}: plain")
        ours_sep = replay_ms(separate(lambda x, r, t, g, m: pr.reflect_rows_pair(x, r, t, g, m, "stepwise")),
                             args, repeats, f"{what}: reflect_rows_pair")
        comp = replay_ms(separate(compiled(refg.ref_reflect_pair)), args, repeats,
                         f"{what}: plugin reflection compiled")
        eager = replay_ms(separate(refg.ref_reflect_pair), args, repeats,
                          f"{what}: plugin reflection eager")
        cost = None if half is None or plain is None else half - plain
        floor = 4 * n * hidden * 2 * L / copy_bw / 1e6  # one more read+write of both tensors
        rows.append(dict(op=f"reflection folded into the norm, {what}: fused minus plain",
                         shape=f"{n}x{hidden} bf16", ours=cost, eager=eager, compiled=comp,
                         floor=floor, vs_floor=ratio(cost, floor),
                         target=f"(compiled reference {ratio(cost, comp)}; "
                                f"plain norms {plain and plain * 1e3:,.1f} µs)",
                         met=None, check="-"))
        rows.append(dict(op=f"reflect_rows_pair, {what} (the separate pass)",
                         shape=f"{n}x{hidden} bf16", ours=ours_sep, eager=eager, compiled=comp,
                         floor=floor, vs_floor=ratio(ours_sep, floor),
                         target=f"(compiled reference {ratio(ours_sep, comp)})", met=None, check="-"))
        del data, args
        torch.cuda.empty_cache()
    return rows
