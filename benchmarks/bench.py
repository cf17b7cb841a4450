"""pocrand benchmark: one script, one table, every figure beside its baselines in the same run.

    python benchmarks/bench.py                    # print the table
    python benchmarks/bench.py --write            # also update BENCHMARKS.md and the plot

GPU figures are CUDA-event times of the device's work (warm-up, then the median of --repeats runs,
inputs rotated over several sets so that the L2 cache does not flatter; a spin kernel queued ahead
of each so that the host's launch cost falls outside the events); end-to-end figures are host wall
times of the Python call (seed derivation, argument checks, upload and kernels, synchronised). Baselines:
 - reference: the PoC 2.0 formulation in torch ops, a per-nonce Python loop (tests/reference_torch.py)
 - torch: the nearest non-portable torch expression (randn, argsort of random keys, gather+norm)
 - gonka-poc decode rows (--section decode): the plugin's torch expressions
   (pocrand_ext/reference_gonka.py), eager in the reference column and torch.compile'd in the torch
   column, all in CUDA-graph replay
 - the per-layer PoC transforms (--section graph, benchmarks/graph_rows.py): reflect_rows_pair,
   embedding synthesis and one decode step's transforms in CUDA-graph replay, beside the floors
   and the plugin's expressions eager and compiled, in a table of their own (--section fused:
   its fused add + RMSNorm rows alone, benchmarks/fused_norm_rows.py)
 - floor: the bytes the op must move over this card's bandwidth measured in the same run
   (a large fill for writes, a large copy for reads).
A CPU section compares pocrand's CPU kernels with the reference on the CPU.

This file parses the arguments and prints the table; the rows are measured beside it by
bench_phase2.py (phase2 and CPU), bench_pocv2.py (pocv2, round), bench_decode.py (decode) and
graph_rows.py (graph), with the timers and case sets of bench_common.py.
"""
from __future__ import annotations

import argparse
import datetime
import re
import sys
from pathlib import Path

import torch

import graph_rows
import pocrand_ext as pr
from bench_common import ROOT, bandwidth, fmt
from bench_decode import bench_decode, bench_decode_snap
from bench_phase2 import bench_cpu, bench_gpu, throughput_curve
from bench_pocv2 import bench_pocv2, bench_round_cost, round_table


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------
def table(rows, cpu, header) -> str:
    lines = [header]
    if rows:  # the graph and round sections print tables of their own
        lines += ["", "| op | shape | pocrand kernel | pocrand end-to-end | reference (torch ops) | "
                  "torch baseline | memory floor | target | met |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['op']} | {r['shape']} | {fmt(r['kernel'])} | {fmt(r['e2e'])} | "
                     f"{fmt(r['reference'])} | {fmt(r['torch'])} | {fmt(r['floor'])} | "
                     f"{r['target']} | {'yes' if r['met'] else '**no**'} |")
    if cpu:
        lines += ["", "| CPU op | shape | pocrand | reference (torch ops) | speed-up | threads | target | met |",
                  "|---|---|---|---|---|---|---|---|",
                  f"| {cpu['op']} | {cpu['shape']} | {fmt(cpu['pocrand'])} | {fmt(cpu['reference'])} | "
                  f"{cpu['speedup']:.2f}x | {cpu['threads']} | >= 2.5x | {'yes' if cpu['met'] else '**no**'} |"]
    return "\n".join(lines)


def plot(points, path: Path, card: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [p["n"] for p in points]
    ax.plot(xs, [p["pocrand"] for p in points], "o-", label="pocrand (kernel)")
    ax.plot(xs, [p["torch"] for p in points], "s--", label="torch.randn (not portable)")
    ref_pts = [(p["n"], p["reference"]) for p in points if p["reference"]]
    ax.plot([x for x, _ in ref_pts], [y for _, y in ref_pts], "^:", label="reference (torch ops loop)")
    ax.plot(xs, [p["floor"] for p in points], "k-", lw=0.8, label="fp16 write floor")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("elements (64 nonces)")
    ax.set_ylabel("M elements / s")
    ax.set_title(f"generate_inputs fp16 throughput, {card}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="pocrand benchmark")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md and the plot")
    ap.add_argument("--plot", type=Path, default=ROOT / "benchmarks" / "throughput.png")
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--section",
                    choices=["all", "phase2", "pocv2", "round", "decode", "graph", "fused"],
                    default="all",
                    help="which GPU rows to measure (graph: the per-layer PoC transforms in "
                         "CUDA-graph replay, benchmarks/graph_rows.py; fused: of those, the fused "
                         "add + RMSNorm rows alone; both only when asked for)")
    return ap.parse_args(argv)


def main() -> int:
    args = parse_args()
    if not torch.cuda.is_available() or "cuda" not in pr.build_info():
        print("no CUDA device or no CUDA build: GPU section skipped")
    card = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU only"
    header = (f"{card}, torch {torch.__version__}, CUDA {torch.version.cuda}, pocrand "
              f"{pr.SPEC_VERSION} ({pr.build_info()}), {datetime.date.today().isoformat()}")
    rows, points, round_text = [], [], ""
    if torch.cuda.is_available() and "cuda" in pr.build_info():
        if args.section in ("all", "phase2"):
            rows, write_bw, copy_bw = bench_gpu(args.repeats)
            points = throughput_curve(max(5, args.repeats // 3))
        else:
            write_bw, copy_bw = bandwidth(args.repeats)
        header += f"; measured fill {write_bw:,.0f} GB/s, copy {copy_bw:,.0f} GB/s"
        if args.section in ("all", "pocv2"):
            rows += bench_pocv2(args.repeats, write_bw, copy_bw)
        if args.section in ("all", "decode"):
            rows += bench_decode(args.repeats, write_bw, copy_bw)
            rows += bench_decode_snap(args.repeats, copy_bw)
        if args.section in ("all", "round"):
            round_text = round_table(bench_round_cost(args.repeats))
        if args.section == "graph":
            round_text += graph_rows.bench_graph(args.repeats, write_bw, copy_bw)
        if args.section == "fused":
            round_text += graph_rows.bench_fused(args.repeats, copy_bw)
    cpu = None if args.no_cpu else bench_cpu(max(3, args.repeats // 6))
    text = table(rows, cpu, header) + round_text
    print(text)
    if args.write:
        if points:
            plot(points, args.plot, card)
        md = ROOT / "BENCHMARKS.md"
        body = md.read_text() if md.exists() else "# Benchmarks\n\n<!-- bench:begin -->\n<!-- bench:end -->\n"
        block = f"<!-- bench:begin -->\n{text}\n<!-- bench:end -->"
        md.write_text(re.sub(r"<!-- bench:begin -->.*<!-- bench:end -->", lambda _: block, body, flags=re.S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
