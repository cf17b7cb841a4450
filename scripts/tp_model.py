"""tp_check's model check: a transformers MoE model sharded tensor-parallel by its own tp_plan,
the PoC wrappers attached, a prefill and a few decode steps on every rank.

Every rank builds the same random-initialised Mixtral (round_decode.build_model: one seed, built
on the CPU) and moves it to its device. The entries of its config.base_model_tp_plan that are
"colwise" or "rowwise" and name nn.Linear modules (attention's q/k/v colwise, o_proj rowwise)
are sharded through torch.distributed.tensor.parallel.parallelize_module on a 1-D DeviceMesh of
all ranks; the packed MoE experts (parameters, not Linear layers: "packed_colwise",
"moe_tp_experts"), the routers, the norms and the embedding stay replicated, so each rank runs
every expert itself. The PoC wrappers (poc_graph.attach, backend "pocrand") are attached and
round_decode's driver runs one prover side: the snap of the prefill's last row (k_0) and of
every decode step.

Two things must hold:
- the snapped k and scores of every step are bit-identical on every rank (digests
  all-gathered): a rank whose transforms differ makes the replicated residual streams diverge;
- an unsharded run of the same model on the same device, teacher-forced by the sharded k (the
  round's validator), disagrees only within the round's threshold tau: the largest claimed
  margin of every step is <= tau (a sharded matmul sums in another order, so the hidden states,
  not the transforms, may differ in their last bits and move a near tie).
"""
from __future__ import annotations

import re

import torch
import torch.distributed as dist

from pocrand_ext import round_decode as rd
from pocrand_ext.snap import claimed_margin

STYLES = ("colwise", "rowwise")


def linear_plan(model: torch.nn.Module) -> dict[str, str]:
    """{module name: "colwise" | "rowwise"}: the model's base_model_tp_plan entries of those
    styles whose modules are nn.Linear ("*" in a pattern stands for one name, a layer index)."""
    plan: dict[str, str] = {}
    for pattern, style in (model.config.base_model_tp_plan or {}).items():
        if style not in STYLES:
            continue
        rx = re.compile(re.escape(pattern).replace(r"\*", r"[^.]+"))
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and rx.fullmatch(name):
                plan[name] = style
    return plan


def shard(model: torch.nn.Module, dev: torch.device, world: int) -> dict[str, str]:
    """Shard model (on dev) in place by linear_plan over a 1-D mesh of `world` ranks."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import (ColwiseParallel, RowwiseParallel,
                                                   parallelize_module)
    plan = linear_plan(model)
    if not plan:
        raise RuntimeError(f"{type(model).__name__}: no colwise/rowwise Linear in its tp_plan")
    mesh = init_device_mesh(dev.type, (world,))
    styles = {"colwise": ColwiseParallel, "rowwise": RowwiseParallel}
    parallelize_module(model, mesh, {name: styles[s]() for name, s in plan.items()})
    return plan


def model_config(args) -> rd.DecodeRoundConfig:
    dims = [d for d in sorted(rd.CODEBOOK_SHA256) if d <= args.model_hidden]
    if not dims:
        raise ValueError(f"--model-hidden must be >= {min(rd.CODEBOOK_SHA256)}")
    return rd.DecodeRoundConfig(model="mixtral", hidden=args.model_hidden, layers=args.layers,
                                heads=args.model_heads, experts=args.experts, top_k=args.top_k,
                                batch=args.nonces, seq_len=args.seq_len, steps=args.steps,
                                sphere_dim=dims[-1], dtype=args.dtype)


def check_model(args, dev: torch.device, rank: int, world: int, digest) -> bool:
    cfg = model_config(args)
    if cfg.heads % world or (cfg.kv_heads or cfg.heads) % world:
        raise ValueError(f"--model-heads {cfg.heads} must be a multiple of the {world} ranks")
    model = rd.build_model(cfg).to(dev)       # the same seed on every rank, built on the CPU
    plan = shard(model, dev, world)
    sharded = rd.run_side(model, cfg, dev, "pocrand", copy_model=False)
    if args.corrupt_rank == rank:  # the check's own test: one flipped bit must be reported
        sharded.scores.view(-1)[:1].view(torch.uint8)[0] ^= 1
    mine = {}
    for t in range(cfg.steps + 1):
        mine[f"model step {t} k"] = digest(sharded.k[:, t])
        mine[f"model step {t} scores"] = digest(sharded.scores[:, t])
    # the unsharded model on this device, teacher-forced by the sharded claims
    plain = rd.run_side(rd.build_model(cfg), cfg, dev, "pocrand", claimed=sharded.k)
    res = rd.score(cfg, "tp", "pocrand", sharded, plain)
    margin = claimed_margin(plain.scores, sharded.k).amax(dim=0)          # [T + 1]
    near = bool((margin <= cfg.tau).all())
    if not near:
        print(f"rank {rank}: model: unsharded claimed margins {margin.tolist()} exceed tau "
              f"{cfg.tau}", flush=True)
    gathered: list = [None] * world
    dist.all_gather_object(gathered, (mine, res.disagree_per_step, float(margin.max()), near))
    if rank != 0:
        return near
    equal = True
    for name in mine:
        values = [g[0][name] for g in gathered]
        if len(set(values)) != 1:
            equal = False
            print(f"DIFF {name}: {' '.join(values)}")
    near_all = all(g[3] for g in gathered)
    worst = max(g[2] for g in gathered)
    disagree = [max(g[1][t] for g in gathered) for t in range(cfg.steps + 1)]
    counts = {s: sum(1 for v in plan.values() if v == s) for s in STYLES}
    print(f"model: mixtral hidden {cfg.hidden}, {cfg.layers} layers, {cfg.experts} experts top "
          f"{cfg.top_k}, {cfg.dtype}, {counts['colwise']} colwise + {counts['rowwise']} rowwise "
          f"Linear sharded over {world} ranks; {cfg.batch} nonces x {cfg.steps + 1} steps: "
          f"k and scores {'equal on every rank' if equal else 'DIFFER across ranks'}; against "
          f"unsharded: disagreement per step {[round(d, 4) for d in disagree]}, largest claimed "
          f"margin {worst:.3g} ({'<=' if near_all else '>'} tau {cfg.tau})")
    return equal and near_all


def add_arguments(ap) -> None:
    ap.add_argument("--model-hidden", type=int, default=256, help="the model check's hidden size")
    ap.add_argument("--model-heads", type=int, default=8,
                    help="the model check's attention heads (a multiple of the ranks)")
    ap.add_argument("--nonces", type=int, default=8, help="the model check's sequences")
    ap.add_argument("--seq-len", type=int, default=8, help="the model check's prefill rows")

