"""`pocrand round`: a whole PoC round on a random transformers model, prover on one device and
validator on another: --scheme prefill (the PoC v2 round, round_prefill.py) or --scheme decode
(the gonka-poc decode scheme's round, round_decode.py). The flags, their checks and the lines
it prints."""
from __future__ import annotations

import dataclasses
import os
import sys

from .._checks import check_device as _check_device
from .devices import DTYPES
from .round_decode import (CODEBOOK_SHA256, MODELS as DECODE_MODELS, SCENARIOS as DECODE_SCENARIOS,
                           DecodeRoundConfig, plot as decode_plot, run_round as run_decode_round)
from .round_prefill import DIST_THRESHOLD, RoundConfig, plot as round_plot, run_round


def add_parser(sub) -> None:
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
    r.add_argument("--vector-channel", action="store_true", default=None,
                   help="decode: also print each scenario's vector-channel score (plugin 0.2.0's "
                        "second evidence: every step's pre-snap q cut to 12 picked coordinates, "
                        "cosine distance, diverged steps above VLLM_POC_VECTOR_TOL, 0.01)")
    r.add_argument("--scenario", action="append", choices=(*DECODE_SCENARIOS, "all"),
                   help="decode: devices (prover vs validator device), batch (one device, the "
                   "validator's batches differ and hold chat rows), fraud (the prover's weights "
                   "fake-quantised to 4 bits); repeat the flag for several (default all)")


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
               "chat_rows", "scenario", "vector_channel")


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


def vector_line(v: dict | None) -> str:
    if v is None:
        return "vector channel: no step scored"
    return (f"vector channel: mean distance {v['mean_dist']:.3g} (worst nonce "
            f"{v['max_nonce_dist']:.3g}), diverged {v['diverged_rate']:.1f}% of steps above "
            f"{v['step_tol']:g}; {v['n_nonces_scored']} nonces scored, {v['n_nonces_skipped']} "
            f"skipped, {v['n_bad_steps_total']} bad steps")


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
            if args.vector_channel:
                print(f"{'':<10} {scenario:<8} {vector_line(res.vector)}")
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


def run(args) -> int:
    """The round of --scheme; a missing optional package (transformers, matplotlib) is one
    line on stderr and exit status 2."""
    try:
        return cmd_round(args)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
