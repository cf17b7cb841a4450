"""`python -m pocrand_ext` / `pocrand`: the node operator's command line.

    pocrand              check, then one throughput line per device (the self-check)
    pocrand check        build info, each GPU's kernel image (cubin or JIT-compiled PTX) and the
                         known answers on every device; exit 1 on a mismatch, on a GPU without a
                         kernel image, or on a visible GPU with a build that has no CUDA kernels
    pocrand digest ...   SHA-256 of generated tensors, one line to compare between two nodes
    pocrand bench        a quick throughput line per device
    pocrand round ...    a whole PoC v2 round on a random transformers Llama, prover vs validator
                         (--scheme decode: the gonka-poc decode scheme on a random MoE model)
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import re
import sys
import time

import torch

from . import api, known_answers
from ._checks import check_device as _check_device
from .round import DIST_THRESHOLD, RoundConfig, plot as round_plot, run_round
from .round_decode import (CODEBOOK_SHA256, MODELS as DECODE_MODELS, SCENARIOS as DECODE_SCENARIOS,
                           DecodeRoundConfig, plot as decode_plot, run_round as run_decode_round)

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def devices() -> list[torch.device]:
    """The CPU, and each visible GPU that this build has a kernel image for."""
    found = [torch.device("cpu")]
    info = api.build_info()
    if "cuda" in info and torch.cuda.is_available():
        found += [torch.device("cuda", i) for i in range(torch.cuda.device_count())
                  if kernel_image(torch.cuda.get_device_capability(i), info)]
    return found


def device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.live = sys.stderr.isatty()

    def step(self):
        self.done += 1
        if self.live:
            filled = 30 * self.done // self.total
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
                             f"{self.done}/{self.total}")
            sys.stderr.flush()

    def close(self):
        if self.live:
            sys.stderr.write("\r" + " " * (len(self.label) + 45) + "\r")
            sys.stderr.flush()


def print_build_info():
    cuda = torch.version.cuda or "none"
    print(f"pocrand {api.SPEC_VERSION}  build: {api.build_info()}  torch {torch.__version__}  "
          f"CUDA {cuda}")
    for dev in devices():
        print(f"  {dev}: {device_name(dev)}")


def built_archs(info: str) -> list[tuple[int, int, str, bool]]:
    """The arch list of build_info() ('cpu+cuda:7.5;8.0;...;12.0+PTX') as (major, minor,
    suffix, ptx) entries: '9.0a+PTX' -> (9, 0, 'a', True). Entries it cannot read are left out."""
    if "cuda:" not in info:
        return []
    out = []
    for entry in re.split(r"[;\s]+", info.split("cuda:", 1)[1]):
        m = re.fullmatch(r"(\d+)\.(\d+)([a-z]?)(\+PTX)?", entry)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), m.group(3), bool(m.group(4))))
    return out


def kernel_image(capability: tuple[int, int], info: str) -> str | None:
    """What a card of compute capability `capability` runs from this build, by CUDA's rules: a
    cubin sm_XY runs on X.Z for Z >= Y (an arch-specific sm_XYa on X.Y only), and the driver
    prefers the newest such cubin; otherwise it JIT-compiles the newest PTX compute_XY with
    X.Y <= the card's (arch-specific PTX again on X.Y only). None: no kernel image."""
    major, minor = capability
    archs = built_archs(info)

    def runs(a):
        return (a[0], a[1]) == (major, minor) or (not a[2] and a[0] == major and a[1] <= minor)

    cubins = [a for a in archs if runs(a)]
    if cubins:
        a = max(cubins, key=lambda a: (a[1], a[2]))
        return f"sm_{a[0]}{a[1]}{a[2]} cubin"
    ptx = [a for a in archs if a[3] and ((a[0], a[1]) == (major, minor) or
                                          (not a[2] and (a[0], a[1]) <= (major, minor)))]
    if ptx:
        a = max(ptx, key=lambda a: (a[0], a[1]))
        return f"compute_{a[0]}{a[1]}{a[2]} PTX, JIT-compiled by the driver"
    return None


def check_gpus() -> bool:
    """Reports each visible GPU's compute capability and the kernel image it runs; False when a
    GPU is visible but the build has no CUDA kernels, or a card has no kernel image."""
    if not torch.cuda.is_available():
        return True
    info = api.build_info()
    if "cuda" not in info:
        print(f"FAILED: {torch.cuda.device_count()} CUDA GPU(s) visible "
              f"({torch.cuda.get_device_name(0)}), but this pocrand build has no CUDA kernels "
              f"(build: {info}). Reinstall with the CUDA toolkit matching torch "
              f"{torch.version.cuda} (set CUDA_HOME; POCRAND_CUDA=1 makes a missing toolkit an "
              "error).")
        return False
    ok = True
    for i in range(torch.cuda.device_count()):
        major, minor = torch.cuda.get_device_capability(i)
        image = kernel_image((major, minor), info)
        line = f"cuda:{i} ({torch.cuda.get_device_name(i)}): sm_{major}{minor}, "
        if image:
            print(line + f"runs the {image}")
        else:
            print(line + f"FAILED: no kernel image in this build ({info}); rebuild with "
                  f"TORCH_CUDA_ARCH_LIST including {major}.{minor}, or +PTX on an older entry")
            ok = False
    return ok


def check_known_answers() -> bool:
    cases = known_answers.load_cases()
    ok = True
    for dev in devices():
        progress = Progress(len(cases), f"checking {dev}")
        mismatches = []
        for case in cases:
            got = known_answers.digest(known_answers.compute(case.op, case.args, dev))
            if got != case.digest:
                mismatches.append((case, got))
            progress.step()
        progress.close()
        status = "OK" if not mismatches else "MISMATCH"
        print(f"{dev} ({device_name(dev)}): {len(cases) - len(mismatches)}/{len(cases)} "
              f"known answers match  [{status}]")
        for case, got in mismatches:
            print(f"  mismatch: {case.label()}\n    expected {case.digest}\n    got      {got}")
        ok &= not mismatches
    return ok


def throughput(dev: torch.device, nonces: int = 64, seq_len: int = 64, dim: int = 1024) -> float:
    """Elements per second of generate_inputs (fp16, 64 nonces x 64 x 1024), best of 5."""
    def run():
        api.generate_inputs("bench", "bench", range(nonces), dim, seq_len, dev)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    run()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return nonces * seq_len * dim / best


def print_throughput():
    for dev in devices():
        rate = throughput(dev)
        print(f"{dev} ({device_name(dev)}): generate_inputs fp16 64x64x1024 end-to-end: "
              f"{rate / 1e6:,.1f} M elements/s")


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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pocrand", description="pocrand: bit-identical random "
                                 "tensors for Proof-of-Compute; node self-check and digests.")
    sub = ap.add_subparsers(dest="command")
    sub.add_parser("check", help="build info and the known answers on every device (exit 1 on a "
                   "mismatch)", description="Prints the spec version and the build, each GPU's "
                   "kernel image (a cubin or JIT-compiled PTX), then checks every known answer "
                   "on the CPU and on every visible GPU. Exits 1 on a mismatch or on a GPU "
                   "this build cannot run on, 0 otherwise.")
    sub.add_parser("bench", help="a quick throughput line per device", description="Prints "
                   "the build, then one line per device (the CPU and every visible GPU): "
                   "the throughput of generate_inputs in millions of elements per second.")
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
    r = sub.add_parser("round", help="a whole PoC round on a random transformers model: prover "
                       "on one device, validator on another", description="--scheme prefill (the "
                       "default): a PoC v2 round on a random transformers Llama: inputs, the "
                       "layer hooks, a prefill with inputs_embeds and the artifacts on the prover "
                       "and on the validator, then the deployed validation (L2 > 0.02 is a "
                       "mismatch; a one-sided binomial test with an honest mismatch rate of "
                       "0.001 flags fraud below p = 0.01). --scheme decode: the gonka-poc decode "
                       "scheme on a random MoE model (Mixtral, Qwen2-MoE, Qwen3-MoE): a prefill "
                       "and T decode steps chained through the snapped k, seeded expert routing, "
                       "per-layer reflections; the validator re-runs with teacher forcing and "
                       "reports per-step disagreement, nonces flagged at tau and the binomial "
                       "verdict, per scenario (devices, batch, fraud). Needs transformers (pip "
                       "install 'pocrand[round]', which also brings matplotlib for --plot); "
                       "downloads nothing.")
    r.add_argument("--scheme", choices=("prefill", "decode"), default="prefill",
                   help="prefill: the PoC v2 round (default); decode: the gonka-poc decode "
                   "scheme's round")
    pre, dec = RoundConfig(), DecodeRoundConfig()
    for flag, help_text in (("hidden", "hidden size"), ("layers", "decoder layers"),
                            ("heads", "attention heads"), ("vocab", "vocabulary size"),
                            ("batch", "nonces"), ("seq-len", "tokens a nonce (the prefill)")):
        name = flag.replace("-", "_")
        r.add_argument(f"--{flag}", type=int, help=f"{help_text} (default {getattr(pre, name)}; "
                       f"decode {getattr(dec, name)})")
    r.add_argument("--k", type=int, help=f"prefill: artifact length (default {pre.k})")
    r.add_argument("--kv-heads", type=int, help="key/value heads (default: --heads)")
    r.add_argument("--intermediate", type=int, help="MLP size (default 4 x hidden; decode: each "
                   "expert's, default 2 x hidden)")
    r.add_argument("--dtype", choices=sorted(DTYPES), default=pre.dtype,
                   help="the model's and the inputs' dtype (default %(default)s)")
    r.add_argument("--block-hash", default=pre.block_hash,
                   help="the round's block hash (default 64 zeros)")
    r.add_argument("--public-key", default=pre.public_key,
                   help="the prover's public key (default %(default)s)")
    r.add_argument("--prover", "--prover-device", dest="prover", default="cpu",
                   help="device of the honest prover (default cpu)")
    r.add_argument("--validator", "--validator-device", dest="validator", default="cpu",
                   help="device of the validator (default cpu)")
    r.add_argument("--reference", action="store_true", help="also run the round with the "
                   "torch-ops formulation of the deployed module (its pick order the device's)")
    r.add_argument("--plot", metavar="PNG", help="write the distance distributions (decode: the "
                   "per-step disagreement, honest against fraud) there (needs matplotlib; the "
                   "path is checked before the round runs)")
    for flag, kind, help_text in (
            ("model", str, f"decode: {', '.join(DECODE_MODELS)} (default {dec.model})"),
            ("experts", int, f"decode: experts a MoE layer (default {dec.experts})"),
            ("top-k", int, f"decode: experts a row (default {dec.top_k})"),
            ("steps", int, f"decode: T, the decode steps after the prefill (default {dec.steps})"),
            ("sphere-dim", int, f"decode: the codebook's dimension, one of "
                                f"{', '.join(map(str, sorted(CODEBOOK_SHA256)))}, <= --hidden "
                                f"(default {dec.sphere_dim}; the network's is 256)"),
            ("tau", float, f"decode: dist_threshold, the claimed margin above which a "
                           f"disagreement flags the nonce (default {dec.tau})"),
            ("validator-batch", int, f"decode, batch scenario: nonces per validator forward "
                                     f"(default {dec.validator_batch})"),
            ("chat-rows", int, f"decode, batch scenario: chat-like sequences (mask False, "
                               f"random tokens) in each validator forward (default "
                               f"{dec.chat_rows})")):
        r.add_argument(f"--{flag}", type=kind, help=help_text)
    r.add_argument("--scenario", action="append", choices=(*DECODE_SCENARIOS, "all"),
                   help="decode: devices (prover vs validator device), batch (one device, the "
                   "validator's batches differ and hold chat rows), fraud (the prover's weights "
                   "fake-quantised to 4 bits); repeat the flag for several (default all)")
    return ap


def check_model_flags(cfg, positive) -> None:
    """ValueError naming the flag: the flags in `positive` (and --kv-heads, --intermediate when
    given) below 1, or heads that cannot make the model's attention. Both rounds' models share
    these rules."""
    for flag in positive:
        if getattr(cfg, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(cfg, flag)}")
    for flag in ("kv_heads", "intermediate"):
        if getattr(cfg, flag) is not None and getattr(cfg, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(cfg, flag)}")
    if cfg.hidden % cfg.heads or (cfg.hidden // cfg.heads) % 2:
        raise ValueError(f"--hidden {cfg.hidden} must be --heads {cfg.heads} times an even head "
                         f"size (rotary embeddings rotate pairs)")
    kv = cfg.kv_heads or cfg.heads
    if cfg.heads % kv:
        raise ValueError(f"--heads {cfg.heads} must be a multiple of --kv-heads {kv}")


def check_round_config(cfg: RoundConfig) -> None:
    """ValueError naming the flag when the model flags cannot make a Llama (checked before
    transformers sees them, so that a bad flag is one line, not a traceback)."""
    check_model_flags(cfg, ("hidden", "layers", "heads", "vocab", "batch", "seq_len", "k"))
    if cfg.k > cfg.hidden:
        raise ValueError(f"--k {cfg.k} must be <= --hidden {cfg.hidden}")


def check_plot_path(path: str) -> None:
    """ValueError unless a PNG can be written at path and matplotlib is importable, before the
    round spends its time."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"--plot {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or os.path.isdir(path):
        raise ValueError(f"--plot {path}: cannot write a file there")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'pocrand[round]'") from None


DECODE_ONLY = ("model", "experts", "top_k", "steps", "sphere_dim", "tau", "validator_batch",
               "chat_rows", "scenario")


def check_decode_config(cfg: DecodeRoundConfig) -> None:
    """ValueError naming the flag when the decode round's flags cannot make a round."""
    check_model_flags(cfg, ("hidden", "layers", "heads", "vocab", "batch", "seq_len", "experts",
                            "top_k", "steps", "validator_batch"))
    if cfg.chat_rows < 0:
        raise ValueError(f"--chat-rows must be >= 0, got {cfg.chat_rows}")
    if cfg.model not in DECODE_MODELS:
        raise ValueError(f"--model must be one of {', '.join(DECODE_MODELS)}, got {cfg.model!r}")
    if cfg.top_k > cfg.experts:
        raise ValueError(f"--top-k {cfg.top_k} must be <= --experts {cfg.experts}")
    if cfg.sphere_dim not in CODEBOOK_SHA256:
        raise ValueError(f"--sphere-dim must be one of {', '.join(map(str, sorted(CODEBOOK_SHA256)))}"
                         f" (the codebooks whose digests the round knows), got {cfg.sphere_dim}")
    if cfg.sphere_dim > cfg.hidden:
        raise ValueError(f"--sphere-dim {cfg.sphere_dim} must be <= --hidden {cfg.hidden} (give a "
                         f"smaller --sphere-dim for a small model)")
    if not (cfg.tau >= 0 and cfg.tau != float("inf")):
        raise ValueError(f"--tau must be a finite float >= 0, got {cfg.tau}")


def cmd_round_decode(args) -> int:
    if args.k is not None:
        raise ValueError("--k applies to --scheme prefill only (the decode artifact is k_0..k_T; "
                         "see --steps)")
    fields = {f.name for f in dataclasses.fields(DecodeRoundConfig)}
    cfg = DecodeRoundConfig(**{k: v for k, v in vars(args).items() if k in fields and v is not None})
    check_decode_config(cfg)
    for name in ("prover", "validator"):
        _check_device(getattr(args, name))
    scenarios = args.scenario or ["all"]
    scenarios = list(DECODE_SCENARIOS) if "all" in scenarios else list(dict.fromkeys(scenarios))
    if args.plot:
        check_plot_path(args.plot)
    print(f"round (decode scheme): {cfg.model} hidden {cfg.hidden}, {cfg.layers} layers, "
          f"{cfg.experts} experts top {cfg.top_k}, {cfg.dtype}; {cfg.batch} nonces x "
          f"{cfg.seq_len} prompt tokens + {cfg.steps} decode steps, sphere dim {cfg.sphere_dim}; "
          f"prover {args.prover}, validator {args.validator}; tau {cfg.tau}")
    results = run_decode_round(cfg, scenarios, args.prover, args.validator, args.reference)
    for label, by_scenario in results.items():
        for scenario, res in by_scenario.items():
            where = (f"{args.prover} vs {args.prover}, validator batches of {cfg.validator_batch} "
                     f"+ {cfg.chat_rows} chat" if scenario == "batch" else
                     f"{args.prover} vs {args.validator}")
            p = "n/a" if res.p_value is None else f"{res.p_value:.3g}"
            verdict = "no verdict" if res.fraud is None else "FRAUD flagged" if res.fraud else "honest"
            print(f"{label:<10} {scenario:<8} ({where}): disagreement "
                  f"{res.disagreements}/{res.steps_total} steps "
                  f"({100 * res.disagreements / res.steps_total:.1f}%) at tau = 0; flagged "
                  f"{res.flagged}/{cfg.batch} at tau {cfg.tau}; binomial p {p}: {verdict}")
    if args.plot:
        decode_plot(results, args.plot, args.prover, args.validator)
        print(f"wrote {args.plot}")
    return 0


def cmd_round(args) -> int:
    if args.scheme == "decode":
        return cmd_round_decode(args)
    given = [f for f in DECODE_ONLY if getattr(args, f) is not None]
    if given:
        raise ValueError(f"--{given[0].replace('_', '-')} applies to --scheme decode only")
    fields = {f.name for f in dataclasses.fields(RoundConfig)}
    cfg = RoundConfig(**{k: v for k, v in vars(args).items() if k in fields and v is not None})
    check_round_config(cfg)
    for name in ("prover", "validator"):
        _check_device(getattr(args, name))
    if args.plot:
        check_plot_path(args.plot)
    print(f"round: Llama hidden {cfg.hidden}, {cfg.layers} layers, {cfg.heads} heads, "
          f"{cfg.dtype}; {cfg.batch} nonces x {cfg.seq_len} tokens, k = {cfg.k}; prover "
          f"{args.prover}, validator {args.validator}")
    runs = {"pocrand": False} | ({"reference": True} if args.reference else {})
    results = {}
    for label, reference in runs.items():
        res = run_round(cfg, args.prover, args.validator, reference)
        results[label] = res
        d = sorted(res.distances)
        print(f"{label:<10} L2 median {d[len(d) // 2]:.3g}, max {d[-1]:.3g}; mismatches "
              f"{res.mismatches}/{len(d)} at {DIST_THRESHOLD}; binomial p {res.p_value:.3g}: "
              f"{'FRAUD flagged' if res.fraud else 'honest'}")
    if args.plot:
        round_plot(results, args.plot, args.prover, args.validator)
        print(f"wrote {args.plot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        if args.command == "digest":
            args.nonces_text = args.nonces
            try:
                args.nonces = parse_nonces(args.nonces)
            except argparse.ArgumentTypeError as e:
                ap.error(f"--nonces: {e}")
            return cmd_digest(args)
        if args.command == "round":
            try:
                return cmd_round(args)
            except ImportError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
        if args.command == "bench":
            print_build_info()
            print_throughput()
            return 0
        print_build_info()
        gpus_ok = check_gpus()
        answers_ok = check_known_answers()
        if args.command is None:
            print_throughput()
        ok = gpus_ok and answers_ok
        print("all known answers match" if ok else
              "FAILED: outputs differ from pocrand-v1" if not answers_ok else
              "FAILED: a visible GPU cannot run this build's kernels (see above)")
        return 0 if ok else 1
    except (TypeError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
