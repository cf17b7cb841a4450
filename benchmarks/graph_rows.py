"""The CUDA-graph rows of the benchmark (python benchmarks/bench.py --section graph): the per-layer
PoC transforms of a decode step as a captured forward runs them, each beside its baselines in the
same run on the same card:
 - reflect_rows_pair (bf16, stepwise and once, half the rows masked) at 1024 x 7168, 1024 x 3072
   and 8192 x 7168, beside the read+write floor of both tensors (this run's copy bandwidth) and
   the plugin's torch expression (tests/reference_gonka.py) eager and torch.compile'd, the
   generic kernel on the same shape (forced by storage off 16-byte alignment) for comparison,
   and torch's copy_ of both tensors (the same bytes moved) for scale;
 - embedding synthesis 1024 x 7168 bf16 (pocrand_ext.overrides.embed_synth, when built) beside the
   write floor and the plugin's expression eager and compiled;
 - the fused add + RMSNorm with the reflection folded in (fused_norm_rows.py), when built;
 - one decode step's PoC transforms at the MiniMax-M2 shape (62 layers x reflect_rows_pair + 62
   router overrides, 256 experts, top 8, + one snap, 1024 rows x 3072 bf16) in one graph, beside
   the compiled torch reference of the same work; the ratio's target is <= 25%; then the same
   step with the reflections folded into the norms, and with the routers' overrides folded too
   (router_fold_rows.py).

Every figure is the CUDA-event time of a graph replay divided by the calls it holds (a spin kernel
queued ahead, so the events time the device alone). A graph holds calls over several input sets
(together four times the L2 cache or more) so that no call finds its inputs in L2. Each pocrand
result is compared with the CPU kernel (or the plugin's expression) before it is timed; a
mismatch is printed as such and the row is marked not met.
"""
from __future__ import annotations

import math
import statistics

import torch

import pocrand_ext as pr
from pocrand_ext import reference_gonka as refg

QUEUE_CYCLES = 2_000_000  # about 1 ms of GPU spin ahead of each timed replay
MODES = ("stepwise", "once")


def optional_op(name: str):
    """pocrand_ext.overrides.<name>, or None (printed) when this build has no such op."""
    try:
        from pocrand_ext import overrides
        return getattr(overrides, name)
    except (ImportError, AttributeError):
        print(f"{name}: not built")
        return None


def runs(name: str, call) -> bool:
    """Whether call() runs (an op from another build may take other arguments): printed if not."""
    try:
        call()
        torch.cuda.synchronize()
        return True
    except Exception as e:  # noqa: BLE001 - reported; the section goes on without it
        print(f"{name}: cannot run ({type(e).__name__}: {e}); left out")
        return False


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------
def replay_ms(fn, arg_sets, repeats: int, name: str = "") -> float | None:
    """Per-call device time of fn(*args) for args in arg_sets, all captured in one CUDA graph: the
    median replay time over `repeats` replays divided by len(arg_sets). fn runs twice on every set
    before the capture, on a side stream (warm-up and torch.compile's compilation happen there).
    None (printed) when fn cannot be captured."""
    label = name or getattr(fn, "__name__", str(fn))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    try:
        with torch.cuda.stream(side):
            for _ in range(2):
                for args in arg_sets:
                    fn(*args)
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
    except Exception as e:  # noqa: BLE001 - reported; the section goes on with the other rows
        print(f"cannot run {label}: {type(e).__name__}: {e}")
        torch.cuda.synchronize()
        return None
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            for args in arg_sets:
                fn(*args)
        torch.cuda.synchronize()
    except Exception as e:  # noqa: BLE001 - a baseline that cannot be captured is reported
        print(f"cannot capture {label}: {type(e).__name__}: {e}")
        torch.cuda.synchronize()
        return None
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(QUEUE_CYCLES)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times) / len(arg_sets)


def rotation(bytes_per_call: int, most: int = 32) -> int:
    """Input sets a graph cycles through so that its calls touch four times the L2 cache."""
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    l2 = getattr(props, "L2_cache_size", 0) or (50 << 20)
    return max(1, min(most, math.ceil(4 * l2 / max(1, bytes_per_call))))


def compiled(fn):
    return torch.compile(fn, fullgraph=True, dynamic=False)


def fmt(ms):
    return "-" if ms is None else (f"{ms * 1e3:,.1f} µs" if ms < 1 else f"{ms:,.2f} ms")


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def bits(t: torch.Tensor) -> torch.Tensor:
    view = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}
    t = t.detach().cpu().contiguous()
    return t.view(view[t.dtype]) if t.dtype in view else t


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(bits(a), bits(b))


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------
SLOTS = 64


def layer_table(hidden: int, seed: int, dtype=torch.bfloat16) -> torch.Tensor:
    """[SLOTS, hidden]: slot 0 zeros, the others unit rows (as the network's table)."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    t = torch.nn.functional.normalize(torch.randn(SLOTS, hidden, generator=g, device="cuda"), dim=1)
    t[0] = 0
    return t.to(dtype)


def half_masked(n: int, seed: int):
    """(row_group int64 [n], mask bool [n]): random slots, a random half of the rows masked."""
    g = torch.Generator().manual_seed(seed)
    row_group = torch.randint(1, SLOTS, (n,), generator=g)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=g)[: n // 2]] = True
    return row_group.cuda(), mask.cuda()


def bf16_rows(n: int, hidden: int, seed: int) -> torch.Tensor:
    g = torch.Generator(device="cuda").manual_seed(seed)
    return (torch.randn(n, hidden, generator=g, device="cuda") * 2).to(torch.bfloat16)


# ----------------------------------------------------------------------------------------------
# Rows
# ----------------------------------------------------------------------------------------------
def reflect_rows_rows(repeats: int, copy_bw: float):
    rows = []
    for n, hidden in ((1024, 7168), (1024, 3072), (8192, 7168)):
        nbytes = n * hidden * 2  # one bf16 tensor
        sets = rotation(4 * nbytes)  # both tensors read and written
        table = layer_table(hidden, seed=hidden)
        row_group, mask = half_masked(n, seed=n)
        data = [(bf16_rows(n, hidden, 2 * s), bf16_rows(n, hidden, 2 * s + 1), table, row_group, mask)
                for s in range(sets)]
        floor = 4 * nbytes / copy_bw / 1e6
        eager = replay_ms(refg.ref_reflect_pair, data, repeats, "plugin reflect eager")
        comp = replay_ms(compiled(refg.ref_reflect_pair), data, repeats, "plugin reflect compiled")
        for mode in MODES:
            # the bits first: the GPU pair against the CPU kernel on the first set's first 256 rows
            # (a row's output depends on that row alone)
            h, r, t, g, m = data[0]
            got = pr.reflect_rows_pair(h, r, t, g, m, mode)
            k = min(n, 256)
            want = pr.reflect_rows_pair(h[:k].cpu(), r[:k].cpu(), t.cpu(), g[:k].cpu(), m[:k].cpu(), mode)
            ok = same_bits(got[0][:k], want[0]) and same_bits(got[1][:k], want[1])
            for form, op in (("pair", pr.reflect_rows_pair), ("pair_ (in place)", pr.reflect_rows_pair_)):
                ours = replay_ms(lambda h, r, t, g, m: op(h, r, t, g, m, mode), data, repeats,
                                 f"reflect_rows_{form} {mode}")
                met = ok and ours is not None and ours <= 1.3 * floor
                rows.append(dict(op=f"reflect_rows_{form} bf16 {mode}, half masked",
                                 shape=f"{n}x{hidden}", ours=ours, eager=eager, compiled=comp,
                                 floor=floor, vs_floor=ratio(ours, floor),
                                 target="<= 1.3x read+write floor of both tensors",
                                 met=met, check="bits == CPU" if ok else "**bits differ from CPU**"))
        # the generic kernel on the same shape, for comparison: storage one element off 16-byte
        # alignment makes reflect_rows take it
        shifted = [(unaligned(h), unaligned(r), t, g, m) for h, r, t, g, m in data]
        ours = replay_ms(lambda h, r, t, g, m: pr.reflect_rows_pair(h, r, t, g, m, "stepwise"),
                         shifted, repeats, "reflect_rows_pair stepwise, unaligned")
        rows.append(dict(op="reflect_rows_pair bf16 stepwise, half masked, unaligned storage "
                            "(the generic kernel)", shape=f"{n}x{hidden}", ours=ours, eager=eager,
                         compiled=comp, floor=floor, vs_floor=ratio(ours, floor),
                         target="(for comparison)", met=None, check="-"))
        # a plain copy of the same bytes (torch's copy_ of both tensors into buffers of their
        # own), for scale: what merely moving them costs at this size in the same harness
        copies = [(h, r, torch.empty_like(h), torch.empty_like(r)) for h, r, *_ in data]
        ours = replay_ms(copy_both, copies, repeats, "torch copy_ of both tensors")
        rows.append(dict(op="torch `copy_` of both tensors (the same bytes moved, no arithmetic)",
                         shape=f"{n}x{hidden}", ours=ours, eager=None, compiled=None, floor=floor,
                         vs_floor=ratio(ours, floor), target="(for scale)", met=None, check="-"))
        del data, shifted, copies
        torch.cuda.empty_cache()
    return rows


def copy_both(h, r, out_h, out_r):
    out_h.copy_(h)
    out_r.copy_(r)


def unaligned(t: torch.Tensor) -> torch.Tensor:
    """A contiguous copy of t whose storage starts one element into a buffer (not 16-byte aligned)."""
    buf = torch.empty(t.numel() + 1, dtype=t.dtype, device=t.device)
    view = buf[1:].view(t.shape)
    view.copy_(t)
    return view


def embed_rows(repeats: int, write_bw: float):
    """The embedding synthesis of one forward, 1024 rows x 7168 bf16: decode rows (mask, prev_k >= 0)
    get their step's normals, prefill rows (mask, prev_k < 0) their pre-filled embedding, chat rows
    keep the model's token embedding."""
    n, hidden, salt = 1024, 7168, 0x0D
    g = torch.Generator().manual_seed(0)
    sets = rotation(3 * n * hidden * 2)
    data = []
    for s in range(sets):
        base = torch.randint(0, 2**32, (n,), generator=g).cuda()
        steps = torch.randint(1, 257, (n,), generator=g).cuda()
        prev = (torch.randint(-1, 16, (n,), generator=g)).cuda()  # -1: a prefill row
        mask = (torch.rand(n, generator=g) < 0.75).cuda()
        out = bf16_rows(n, hidden, 100 + s)        # the model's token embeddings
        embeds = bf16_rows(n, hidden, 200 + s)     # the pre-filled prefill embeddings
        data.append((out, base, steps, prev, embeds, mask))
    floor = n * hidden * 2 / write_bw / 1e6

    def plugin(out, base, steps, prev, embeds, mask):
        return refg.ref_embed(out, base, steps, prev, embeds, mask, salt)

    eager = replay_ms(plugin, data, repeats, "plugin embeddings eager")
    comp_fn = compiled(plugin)
    comp = replay_ms(comp_fn, data, repeats, "plugin embeddings compiled")
    rows = []
    common = dict(shape=f"{n}x{hidden}", eager=eager, compiled=comp, floor=floor)

    # pocrand without the fused op: the step normals and two torch wheres (for scale)
    def step_normal_where(out, base, steps, prev, embeds, mask):
        noise = pr.step_normal(base, steps, prev, salt, hidden, torch.bfloat16)
        y = torch.where((mask & (prev >= 0))[:, None], noise, out)
        return torch.where((mask & (prev < 0))[:, None], embeds, y)

    t = replay_ms(step_normal_where, data, repeats, "step_normal + where")
    rows.append(dict(op="step_normal + torch.where bf16", ours=t, vs_floor=ratio(t, floor),
                     target="(for scale)", met=None, check="-", **common))
    embed_synth = optional_op("embed_synth")
    if embed_synth is not None:
        args = data[0]
        if not runs("embed_synth", lambda: embed_synth(*args, salt=salt)):
            return rows
        got = embed_synth(*args, salt=salt)
        ok = same_bits(got, step_normal_where(*args))
        share = (bits(got) == bits(plugin(*args))).double().mean().item()
        t = replay_ms(lambda *a: embed_synth(*a, salt=salt), data, repeats, "embed_synth")
        rows.append(dict(op="embed_synth bf16 (graph replay)", ours=t, vs_floor=ratio(t, floor),
                         target="<= 1.3x write floor", met=ok and t is not None and t <= 1.3 * floor,
                         check=("== step_normal + where" if ok else "**differs from step_normal + where**")
                         + f"; {100 * share:.4f}% of elements == the plugin's eager",
                         **common))
    return rows


def decode_step_row(repeats: int):
    """62 layers x (reflect_rows_pair + router override) + one snap at 1024 x 3072 bf16, one
    graph, against the same work in the plugin's torch expressions (each layer's compiled once and
    called per layer, as a compiled model runs them; the snap's pick precomputed for the torch side,
    which only flatters it)."""
    L, n, hidden, E, K, ladder = 62, 1024, 3072, 256, 8, 100
    P, d = 16, 256
    router_override = optional_op("router_override")
    gen = torch.Generator().manual_seed(1)
    layers = []
    for layer in range(L):
        layers.append(dict(h=bf16_rows(n, hidden, 1000 + 2 * layer),
                           r=bf16_rows(n, hidden, 1001 + 2 * layer),
                           table=layer_table(hidden, seed=layer),
                           logits=torch.randn(n, E, generator=gen).to(torch.bfloat16).cuda(),
                           route=torch.randint(0, 2**32, (n,), generator=gen).cuda()))
    row_group, mask = half_masked(n, seed=7)
    steps = torch.randint(1, 257, (n,), generator=gen).cuda()
    snap_seeds = torch.randint(0, 2**32, (n,), generator=gen).cuda()
    codebook = torch.nn.functional.normalize(torch.randn(P, d, generator=gen), dim=1).cuda()
    idx = torch.ops.pocrand.pick(snap_seeds, hidden, d)  # the torch side's pick, not timed
    snap_out = (torch.empty(n, dtype=torch.int64, device="cuda"),
                torch.empty(n, dtype=torch.bool, device="cuda"),
                torch.empty(n, P, device="cuda"), torch.empty(n, d, device="cuda"))
    if router_override is not None and not runs(
            "router_override", lambda: router_override(layers[0]["logits"].clone(), layers[0]["route"],
                                                       steps, mask, E, K, ladder)):
        router_override = None

    def ours():
        h = None
        for ly in layers:
            h, _ = pr.reflect_rows_pair(ly["h"], ly["r"], ly["table"], row_group, mask, "stepwise")
            if router_override is not None:
                router_override(ly["logits"], ly["route"], steps, mask, E, K, ladder)
        return pr.snap(h, snap_seeds, codebook, out=snap_out)

    def theirs(reflect, router, snap):
        h = None
        for ly in layers:
            h, _ = reflect(ly["h"], ly["r"], ly["table"], row_group, mask)
            if router_override is not None:  # the same work on both sides
                router(ly["logits"], ly["route"], steps, mask, E, K, ladder)
        return snap(h, idx, codebook)

    eager = replay_ms(lambda: theirs(refg.ref_reflect_pair, refg.ref_route,
                                     refg.ref_snap_picked), [()], repeats, "decode step eager")
    fns = (compiled(refg.ref_reflect_pair), compiled(refg.ref_route),
           compiled(refg.ref_snap_picked))
    comp = replay_ms(lambda: theirs(*fns), [()], repeats, "decode step compiled")
    t = replay_ms(ours, [()], repeats, "decode step pocrand")
    parts = f"{L} x reflect_rows_pair stepwise" + (f" + {L} router overrides ({E} experts, top {K})"
                                                   if router_override is not None else
                                                   " (router_override not built or not runnable: left out of both sides)")
    met = None if t is None or comp is None else t <= 0.25 * comp
    rows = [dict(op=f"one decode step's PoC transforms, MiniMax-M2 shape: {parts} + snap",
                 shape=f"{n}x{hidden} bf16", ours=t, eager=eager, compiled=comp, floor=None,
                 vs_floor="-", target=f"<= 25% of the compiled reference (here {ratio(t, comp)})",
                 met=met, check="-")]
    if hasattr(torch.ops.pocrand, "fused_add_rms_norm_reflect"):
        # the same step with the reflections folded into the next layers' add + RMSNorm: its PoC
        # cost is the step with the fused norms minus the plain norms the model runs anyway
        weight = (1 + 0.1 * bf16_rows(1, hidden, 9)[0].float()).to(torch.bfloat16)
        none = torch.zeros_like(mask)

        def folded(m, poc):
            def step():
                for ly in layers:
                    pr.fused_add_rms_norm_reflect(ly["h"], ly["r"], weight, 1e-6, ly["table"],
                                                  row_group, m, "stepwise")
                    if poc and router_override is not None:
                        router_override(ly["logits"], ly["route"], steps, mask, E, K, ladder)
                if poc:
                    pr.snap(layers[-1]["h"], snap_seeds, codebook, out=snap_out)
            return step
        def routers_and_snap():
            for ly in layers:
                if router_override is not None:
                    router_override(ly["logits"], ly["route"], steps, mask, E, K, ladder)
            pr.snap(layers[-1]["h"], snap_seeds, codebook, out=snap_out)
        alone = replay_ms(routers_and_snap, [()], repeats, "decode step, routers + snap")
        with_poc = replay_ms(folded(mask, True), [()], repeats, "decode step, folded")
        plain = replay_ms(folded(none, False), [()], repeats, "decode step, plain norms")
        cost = None if with_poc is None or plain is None else with_poc - plain
        rows.append(dict(op=f"the same step with the reflections folded into {L} add + RMSNorms: "
                            "(fused norms + routers + snap) minus the plain norms",
                         shape=f"{n}x{hidden} bf16", ours=cost, eager=eager, compiled=comp,
                         floor=None, vs_floor="-",
                         target=f"<= 25% of the compiled reference (here {ratio(cost, comp)})",
                         met=None if cost is None or comp is None else cost <= 0.25 * comp,
                         check="-"))
        rows.append(dict(op=f"of which: {L} router overrides + snap alone", shape=f"{n}x{hidden} bf16",
                         ours=alone, eager=None, compiled=comp, floor=None, vs_floor="-",
                         target=f"(compiled reference {ratio(alone, comp)})", met=None, check="-"))
        if router_override is not None:
            from router_fold_rows import router_fold_rows  # the gates' overrides folded too
            rows += router_fold_rows(repeats, layers, row_group, mask, steps, weight,
                                     lambda: pr.snap(layers[-1]["h"], snap_seeds, codebook,
                                                     out=snap_out), comp, E, K, ladder)
    return rows


def table(rows) -> str:
    lines = ["| op | shape | pocrand (graph replay) | plugin eager | plugin compiled | floor | "
             "pocrand / floor | target | met | check |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        met = "-" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['op']} | {r['shape']} | {fmt(r['ours'])} | {fmt(r['eager'])} | "
                     f"{fmt(r['compiled'])} | {fmt(r['floor'])} | {r['vs_floor']} | {r['target']} | "
                     f"{met} | {r['check']} |")
    return "\n".join(lines)


def bench_graph(repeats: int, write_bw: float, copy_bw: float) -> str:
    """The section's table (markdown), headed by the card's name and this run's bandwidths."""
    card = torch.cuda.get_device_name()
    print(f"graph section on {card}: fill {write_bw:,.0f} GB/s, copy {copy_bw:,.0f} GB/s")
    rows = reflect_rows_rows(repeats, copy_bw)
    rows += embed_rows(repeats, write_bw)
    torch.cuda.empty_cache()
    if hasattr(torch.ops.pocrand, "fused_add_rms_norm_reflect"):
        rows += fused_rows(repeats, copy_bw)
        torch.cuda.empty_cache()
    rows += decode_step_row(repeats)
    head = (f"\nCUDA-graph rows on {card} (fill {write_bw:,.0f} GB/s, copy {copy_bw:,.0f} GB/s; "
            f"floors from these)\n")
    return head + "\n" + table(rows)


def fused_rows(repeats: int, copy_bw: float):
    """fused_norm_rows.py's rows (SPEC.md 10.14): the op at two widths beside its baselines, and
    its cost per decode step and prefill."""
    from fused_norm_rows import boundary_rows, fused_norm_rows
    return fused_norm_rows(repeats, copy_bw) + boundary_rows(repeats, copy_bw)


def bench_fused(repeats: int, copy_bw: float) -> str:
    """The graph section's fused add + RMSNorm rows alone, headed by the card."""
    card = torch.cuda.get_device_name()
    return (f"\nFused add + RMSNorm rows on {card} (copy {copy_bw:,.0f} GB/s; floors from it)\n\n"
            + table(fused_rows(repeats, copy_bw)))
