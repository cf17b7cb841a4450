"""The router rows of the graph section's decode step (python benchmarks/bench.py --section graph):
what the 62 MoE gates' overrides cost once the reflections are folded into the norms.

A gate's forced logits depend on the row's route base, the step and the gate, never on the hidden
state, so a step can make every gate's forced logits in one forced_logits launch at its start
([gates x rows, experts]); each gate then selects them for its PoC rows with a torch.where that
torch.compile fuses into the router's own softmax and top-k (a transformers-style router, compiled
as a model's forward is). The rows, in graph replay on one card, each an override's cost over the
routers alone run on the logits the override gives (the same top-k inputs, so the difference is
the override's work, not the top-k's speed on other data):
 - the 62 routers alone (softmax + top-k + renormalised weights, compiled);
 - router_override before each router (one launch a gate: today's path), and router_override_;
 - one forced_logits launch and the override folded into each router as a where;
 - the whole step's PoC cost, folded: (one forced_logits launch + 62 fused norms with PoC rows +
   62 routers with the where + the snap) minus (62 plain norms + the 62 routers alone), against
   the compiled reference's transforms.
The where's bits are checked against router_override's first: the same forced row (SPEC.md 10.4,
10.12), the gate's own logits elsewhere."""
from __future__ import annotations

import torch

import pocrand_ext as pr
from graph_rows import compiled, fmt, ratio, replay_ms, same_bits


def make_router(top_k: int):
    """A transformers-style router after its gate: softmax in fp32, top-k, renormalised weights."""
    def router(logits):
        w = torch.softmax(logits.float(), dim=-1)
        top_w, top_i = torch.topk(w, top_k, dim=-1)
        return (top_w / top_w.sum(dim=-1, keepdim=True)).to(logits.dtype), top_i

    def router_forced(logits, forced, mask):
        return router(torch.where(mask.unsqueeze(-1), forced, logits))
    return compiled(router), compiled(router_forced)


def router_fold_rows(repeats, layers, row_group, mask, steps, weight, snap, comp, E, K, ladder):
    """layers: the decode step's per-layer dicts (h, r, table, logits, route); snap(): the step's
    snap; comp: the compiled reference's time of the step's transforms (ms)."""
    L, n = len(layers), layers[0]["logits"].shape[0]
    router, router_forced = make_router(K)
    route_all = torch.cat([ly["route"][:n] for ly in layers])  # [L * n], gate-major
    steps_all = steps[:n].repeat(L)
    none = torch.zeros_like(mask)

    def forced_all():
        return pr.forced_logits(route_all, E, K, ladder, step=steps_all,
                                dtype=torch.bfloat16).view(L, n, E)

    # each gate's top-k input with its PoC rows forced
    overridden = [pr.router_override(ly["logits"], ly["route"], steps, mask, E, K, ladder)
                  for ly in layers]
    forced = forced_all()
    ok = all(same_bits(torch.where(mask[:n].unsqueeze(-1), forced[g], layers[g]["logits"]),
                       overridden[g]) for g in (0, L // 2, L - 1))
    check = "where == router_override" if ok else "**where differs from router_override**"
    in_place = [ly["logits"].clone() for ly in layers]

    def routers(kind):
        def step():
            f = forced_all() if kind == "folded" else None
            for g, ly in enumerate(layers):
                if kind == "alone":
                    router(overridden[g])
                elif kind == "override":
                    router(pr.router_override(ly["logits"], ly["route"], steps, mask, E, K, ladder))
                elif kind == "override_":
                    router(pr.router_override_(in_place[g], ly["route"], steps, mask, E, K, ladder))
                else:
                    router_forced(ly["logits"], f[g], mask)
        return step

    def whole(poc):
        def step():
            f = forced_all() if poc else None
            for g, ly in enumerate(layers):
                pr.fused_add_rms_norm_reflect(ly["h"], ly["r"], weight, 1e-6, ly["table"],
                                              row_group, mask if poc else none, "stepwise")
                if poc:
                    router_forced(ly["logits"], f[g], mask)
                else:
                    router(overridden[g])
            if poc:
                snap()
        return step

    alone = replay_ms(routers("alone"), [()], repeats, "62 routers alone")
    costs = {kind: replay_ms(routers(kind), [()], repeats, f"62 routers, {kind}")
             for kind in ("override", "override_", "folded")}
    launch = replay_ms(forced_all, [()], repeats, "forced_logits for every gate")
    with_poc = replay_ms(whole(True), [()], repeats, "decode step, norms and routers folded")
    plain = replay_ms(whole(False), [()], repeats, "decode step, plain norms and routers")

    def minus(a, b):
        return None if a is None or b is None else a - b
    shape = f"{n}x{E} bf16, top {K}"

    def row(op, t, target=None, met=None, shape=shape):
        return dict(op=op, shape=shape, ours=t, eager=None, compiled=comp, floor=None,
                    vs_floor="-", target=target or f"(compiled reference {ratio(t, comp)})",
                    met=met, check=check)
    rows = [row(f"{L} routers alone (softmax + top-k, compiled) on the overridden logits: the "
                "model's own work", alone, target="(the baseline of the next three)"),
            row(f"{L} router overrides, a router_override launch before each router (minus the "
                "routers alone)", minus(costs["override"], alone)),
            row(f"{L} router overrides in place, a router_override_ launch before each router "
                "(minus the routers alone)", minus(costs["override_"], alone)),
            row(f"{L} router overrides folded: one forced_logits launch for every gate "
                f"({fmt(launch)} alone) + a where in each compiled router (minus the routers "
                "alone)", minus(costs["folded"], alone))]
    cost = minus(with_poc, plain)
    rows.append(row(f"the decode step's PoC cost, reflections and router overrides folded: "
                    f"(forced_logits + {L} fused norms + {L} routers with the where + snap) minus "
                    f"({L} plain norms + {L} routers alone)", cost,
                    target=f"<= 25% of the compiled reference (here {ratio(cost, comp)}); "
                           "toward 10%",
                    met=None if cost is None or comp is None else cost <= 0.25 * comp,
                    shape=f"{n}x{layers[0]['h'].shape[-1]} bf16"))
    return rows
