"""`python -m pocrand_ext` / `pocrand`: the node operator's command line, one module a subcommand.

    pocrand              check, then one throughput line per device (the self-check)
    pocrand check        build info, each GPU's kernel image (cubin or JIT-compiled PTX) and the
                         known answers on every device; exit 1 on a mismatch, on a GPU without a
                         kernel image, or on a visible GPU with a build that has no CUDA kernels
                         (check.py; devices.py finds the devices and kernel images)
    pocrand digest ...   SHA-256 of generated tensors, one line to compare between two nodes
                         (digest.py)
    pocrand bench        a quick throughput line per device (bench.py)
    pocrand round ...    a whole PoC v2 round on a random transformers Llama, prover vs validator
                         (--scheme decode: the gonka-poc decode scheme on a random MoE model)
                         (round.py; the rounds themselves: round_prefill.py, round_decode.py)
"""
from __future__ import annotations

import argparse
import sys

from . import bench, check, digest, round as round_cmd

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pocrand", description="pocrand: bit-identical random "
                                 "tensors for Proof-of-Compute; node self-check and digests.")
    sub = ap.add_subparsers(dest="command")
    for command in (check, bench, digest, round_cmd):
        command.add_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        if args.command == "digest":
            return digest.run(args, ap)
        if args.command == "round":
            return round_cmd.run(args)
        if args.command == "bench":
            return bench.run(args)
        return check.run(args, bench_after=args.command is None)
    except (TypeError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
