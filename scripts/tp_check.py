"""The in-graph PoC transforms under tensor parallelism: every rank must produce the same bits.

    torchrun --nproc-per-node 2 scripts/tp_check.py                       # two GPUs, NCCL
    torchrun --nproc-per-node 2 scripts/tp_check.py --device cpu          # two CPU processes, gloo
    torchrun --nproc-per-node 2 scripts/tp_check.py --check model         # the model check only

(Run from a checkout whose pocrand_ext is the one to check: PYTHONPATH=. if another is
installed, since a script's own folder, not the working directory, leads sys.path.)

Tensor-parallel ranks each hold a full copy of the residual stream and apply the PoC transforms
to it themselves; a rank whose transform bits differ makes the copies diverge. Two checks:

1. ops: each rank builds the PoC state of a round (reflection table, base and route seeds, the
   decode embeddings and snaps of a few chained steps) and runs reflect_rows (pair, both
   roundings), the embedding synthesis, the router override and the snap on its own device.
   A SHA-256 digest of every output is all-gathered and must be equal on every rank; on a GPU
   each rank also recomputes everything on its CPU and must match it.
2. model (scripts/tp_model.py): a small random-init transformers Mixtral is sharded by its own
   tp_plan (its colwise and rowwise Linear layers, through torch.distributed.tensor.parallel;
   the packed MoE experts stay replicated), the PoC wrappers are attached (poc_graph.attach),
   and a prefill plus a few decode steps are run by round_decode's driver. The snapped indices
   and scores must be bit-identical across ranks, and agree with an unsharded run of the same
   model on the same device within the round's threshold tau (a sharded matmul sums in another
   order, so the hidden states, not the transforms, may differ in the last bits).

Prints one line per op output, a summary line per check, and exits 1 on any difference.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys

import torch
import torch.distributed as dist

from pocrand_ext import decode
from pocrand_ext.overrides import embed_synth, router_override
from pocrand_ext.reflect import reflect_rows_pair
from pocrand_ext.snap import snap
from pocrand_ext.protocols import gonka_poc, pocv2

import tp_model

BLOCK_HASH, PUBLIC_KEY = "tp-check-block", "tp-check-key"


def digest(t: torch.Tensor) -> str:
    """SHA-256 of a tensor's bytes (its dtype and shape prefixed), first 16 hex digits."""
    c = t.detach().contiguous().cpu()
    head = f"{c.dtype}{list(c.shape)}".encode()
    return hashlib.sha256(head + c.view(torch.uint8).numpy().tobytes()).hexdigest()[:16]


def codebook(points: int, dim: int) -> torch.Tensor:
    """A fixed codebook of unit rows from pocrand's own normal stream (the network's file is the
    plugin's; any fixed codebook serves to compare ranks)."""
    c = decode.normal_from_seeds(torch.arange(1, points + 1), dim)
    return c / c.norm(dim=1, keepdim=True)


def op_outputs(dev: torch.device, rows: int, hidden: int, layers: int, steps: int,
               n_experts: int, top_k: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Every PoC transform's output for one deterministic round state, on dev."""
    nonces = list(range(rows))
    out: dict[str, torch.Tensor] = {}
    # The reflection table of each layer: slot 0 the identity (zeros), slot 1 the block's vector,
    # slot 2 another block's (a batch may carry rows of two rounds).
    v1 = pocv2.householder_vectors(BLOCK_HASH, layers, hidden, dev)
    v2 = pocv2.householder_vectors(BLOCK_HASH + "-other", layers, hidden, dev)
    table = torch.stack([torch.zeros_like(v1), v1, v2], 1).to(dtype)        # [L, 3, hidden]
    r = torch.arange(rows, device=dev)
    row_group, mask = r % 3, (r % 4) != 3                                   # chat rows: r % 4 == 3
    base = gonka_poc.base_seeds(BLOCK_HASH, PUBLIC_KEY, nonces, dev)
    x = decode.normal_from_seeds(base ^ 7, hidden, dtype)
    res = decode.normal_from_seeds(base ^ 11, hidden, dtype)
    for layer in range(layers):
        for rounding in ("once", "stepwise"):
            h, rr = reflect_rows_pair(x, res, table[layer], row_group, mask, rounding)
            out[f"reflect_rows_pair[{layer}, {rounding}] hidden"] = h
            out[f"reflect_rows_pair[{layer}, {rounding}] residual"] = rr
        x, res = h, rr
    # The decode chain: embeddings of step t from k of step t - 1, snapped to the codebook.
    cb = codebook(16, min(256, hidden)).to(dev)
    prev_k = torch.where(r % 5 == 0, -1, r % 16)                            # r % 5 == 0: prefill rows
    embeds = decode.normal_from_seeds(base ^ 13, hidden, dtype)
    route = gonka_poc.route_base_seeds(BLOCK_HASH, nonces, 2, dev)           # [rows, gates]
    for t in range(1, steps + 1):
        step = torch.full((rows,), t, dtype=torch.int64, device=dev)
        e = embed_synth(x, base, step, prev_k, embeds, mask, gonka_poc.SALT_EMBED)
        out[f"embed_synth[step {t}]"] = e
        for gate in range(route.shape[1]):
            natural = e[:, :n_experts].float().to(dtype)
            out[f"router_override[step {t}, gate {gate}]"] = router_override(
                natural, route[:, gate].contiguous(), step, mask, n_experts, top_k,
                gonka_poc.LADDER_BASE)
        pick = gonka_poc.decode_pick_seeds(base, step, prev_k)
        k, bad, scores, q = snap(e, pick, cb)
        for name, val in (("k", k), ("bad", bad), ("scores", scores), ("q", q)):
            out[f"snap[step {t}] {name}"] = val
        prev_k = torch.where(mask, k, prev_k)
    return out


def check_ops(args, dev: torch.device, rank: int, world: int) -> bool:
    dtype = getattr(torch, args.dtype)
    outs = op_outputs(dev, args.rows, args.hidden, args.layers, args.steps, args.experts,
                      args.top_k, dtype)
    if args.corrupt_rank == rank:  # the check's own test: one flipped bit must be reported
        first = next(iter(outs.values()))
        first.view(-1)[:1].view(torch.uint8)[0] ^= 1
    mine = {name: digest(t) for name, t in outs.items()}
    ok = True
    if dev.type == "cuda":
        cpu = {name: digest(t) for name, t in op_outputs(
            torch.device("cpu"), args.rows, args.hidden, args.layers, args.steps, args.experts,
            args.top_k, dtype).items()}
        for name in mine:
            if cpu[name] != mine[name]:
                print(f"rank {rank}: {name}: {dev} {mine[name]} != cpu {cpu[name]}", flush=True)
                ok = False
    gathered: list = [None] * world
    dist.all_gather_object(gathered, mine)
    if rank == 0:
        for name in mine:
            values = [g[name] for g in gathered]
            same = len(set(values)) == 1
            ok &= same
            print(f"{'ok  ' if same else 'DIFF'} {name}: {' '.join(values)}")
        print(f"ops: {len(mine)} outputs{', every rank equal' if ok else ', ranks DIFFER'}")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=3072)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--experts", type=int, default=64)
    ap.add_argument("--top-k", type=int, default=8)
    ap.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], default="bfloat16")
    ap.add_argument("--backend", choices=["nccl", "gloo"], default=None,
                    help="default: nccl on CUDA, gloo on the CPU; gloo with --device cuda lets "
                         "ranks share one GPU (a check of processes, not of cards)")
    ap.add_argument("--check", choices=["ops", "model", "all"], default="all")
    tp_model.add_arguments(ap)
    ap.add_argument("--corrupt-rank", type=int, default=None, metavar="R",
                    help="flip one bit of rank R's first output of each check (to see it fail)")
    args = ap.parse_args(argv)
    if "RANK" not in os.environ:
        ap.error("launch with torchrun --nproc-per-node N (N >= 2)")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    backend = args.backend or ("nccl" if args.device == "cuda" else "gloo")
    if args.device == "cuda":
        count = torch.cuda.device_count()
        if backend == "nccl" and count <= local:
            print(f"rank {rank}: no CUDA device {local} (NCCL needs one GPU per rank; "
                  "--backend gloo lets ranks share one)", file=sys.stderr)
            return 2
        dev = torch.device("cuda", local % count)
        torch.cuda.set_device(dev)
        name = f"{torch.cuda.get_device_name(dev)} (cuda:{dev.index})"
    else:
        dev, name = torch.device("cpu"), "cpu"
    if backend == "nccl":
        dist.init_process_group("nccl", device_id=dev)
    else:
        dist.init_process_group("gloo")
    names: list = [None] * world
    dist.all_gather_object(names, name)
    if rank == 0:
        print(f"{world} ranks ({backend}): {', '.join(names)}; torch {torch.__version__}")
    ok = True
    if args.check in ("ops", "all"):
        ok &= check_ops(args, dev, rank, world)
    if args.check in ("model", "all"):
        ok &= tp_model.check_model(args, dev, rank, world, digest)
    flags = [None] * world
    dist.all_gather_object(flags, ok)
    # Free the sharded model's tensors (reference cycles included) and let every rank's work end
    # before the process groups go: gloo's worker threads can otherwise still hold tensors at
    # interpreter exit, which aborts the process ("terminate called without an active
    # exception", seen on one rank in a few runs of the model check).
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
    if rank == 0:
        print("tp_check: every rank equal" if all(flags) else "tp_check: FAILED")
    return 0 if all(flags) else 1


if __name__ == "__main__":
    sys.exit(main())
