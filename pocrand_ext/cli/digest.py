"""`pocrand digest`: the SHA-256 of generated tensors (inputs, permutations, target) and one
combined line, to compare two nodes."""
from __future__ import annotations

import argparse
import hashlib
import re
import sys

from .. import api, known_answers
from .devices import DTYPES


MAX_CLI_NONCES = 1 << 20  # nonces one `digest` may name (its tensors grow with the count)


def parse_nonces(text: str) -> list[int]:
    """'0-63', '5', '-3--1', '0,2,10-12' -> list of ints (at most MAX_CLI_NONCES of them)."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(-?\d+)-(-?\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise argparse.ArgumentTypeError(f"empty nonce range {part!r}")
            if len(out) + (hi - lo + 1) > MAX_CLI_NONCES:
                raise argparse.ArgumentTypeError(
                    f"{part!r} makes more than {MAX_CLI_NONCES} nonces; digest at most "
                    f"{MAX_CLI_NONCES} nonces at a time (split the range)")
            out.extend(range(lo, hi + 1))
        elif re.fullmatch(r"-?\d+", part):
            if len(out) + 1 > MAX_CLI_NONCES:
                raise argparse.ArgumentTypeError(f"more than {MAX_CLI_NONCES} nonces")
            out.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"not a nonce or range: {part!r}")
    return out


def cmd_digest(args) -> int:
    if args.vocab_size is None and (args.dim is None or args.seq_len is None):
        print("error: give --dim and --seq-len (inputs), --vocab-size (permutations, target), "
              "or both", file=sys.stderr)
        return 2
    dtype = DTYPES[args.dtype]
    lines = []
    if args.dim is not None and args.seq_len is not None:
        x = api.generate_inputs(args.block_hash, args.public_key, args.nonces, args.dim,
                                args.seq_len, args.device, dtype)
        lines.append(("inputs", known_answers.digest(x), f"{list(x.shape)} {args.dtype}"))
    if args.vocab_size is not None:
        p = api.generate_permutations(args.block_hash, args.public_key, args.nonces,
                                      args.vocab_size, args.device)
        lines.append(("permutations", known_answers.digest(p), f"{list(p.shape)} int64"))
        t = api.generate_target(args.block_hash, args.vocab_size, args.device)
        lines.append(("target", known_answers.digest(t), f"{list(t.shape)} float32"))
    for name, d, what in lines:
        print(f"{name:<13} {d}  {what}")
    combined = hashlib.sha256("".join(d for _, d, _ in lines).encode()).hexdigest()
    print(f"{'all':<13} {combined}  {api.SPEC_VERSION}, nonces {args.nonces_text}")
    return 0


def add_parser(sub) -> None:
    d = sub.add_parser("digest", help="SHA-256 of generated tensors, to compare two nodes",
                       description="Prints the SHA-256 of the little-endian bytes of each "
                       "generated tensor and one combined line. Example: pocrand digest "
                       "--block-hash abc --public-key pk --nonces 0-63 --dim 4096 --seq-len 256 "
                       "--vocab-size 151936 --device cuda")
    d.add_argument("--block-hash", required=True)
    d.add_argument("--public-key", required=True)
    d.add_argument("--nonces", required=True,
                   help="e.g. 0-63, 7 or 0,2,10-12; write a negative start as --nonces=-4--1")
    d.add_argument("--dim", type=int, help="inputs: hidden size")
    d.add_argument("--seq-len", type=int, help="inputs: sequence length")
    d.add_argument("--vocab-size", type=int, help="permutations and target: vocabulary size")
    d.add_argument("--dtype", choices=sorted(DTYPES), default="float16", help="inputs dtype")
    d.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")


def run(args, parser) -> int:
    """Reads --nonces (a bad list is a usage error of `parser`), then prints the digests."""
    args.nonces_text = args.nonces
    try:
        args.nonces = parse_nonces(args.nonces)
    except argparse.ArgumentTypeError as e:
        parser.error(f"--nonces: {e}")
    return cmd_digest(args)
