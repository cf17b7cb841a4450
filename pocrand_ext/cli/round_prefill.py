"""`pocrand round`: a whole PoC v2 round on a random-initialised transformers Llama model, proved
on one device and validated on another, as the network does it (../SPEC.md section 9).

The round, per side: inputs (generate_inputs) -> the layer hooks (install_householder_hooks) ->
a causal prefill with inputs_embeds -> the last token's hidden state -> artifacts (fp16 [B, k]).
Both sides use the same weights (one model, copied). The validator compares the two artifact sets
as the deployed validator does: a nonce mismatches when the L2 distance exceeds the threshold
(0.02) or the received vector is not finite; a one-sided binomial test (honest mismatch rate
0.001) flags fraud when its p-value is below 0.01. `reference=True` runs the same round with the
torch-ops formulation of the deployed module (protocols/pocv2/reference.py), its pick order the
device's.

transformers is optional (`pip install pocrand[round]`); without it run_round raises a clear
ImportError naming the extra.
"""
from __future__ import annotations

import copy
import dataclasses
import math

import torch

from ..protocols.pocv2 import reference as ref
from ..integrate.hooks import find_layers, install_householder_hooks
from ..protocols.phase2 import generate_inputs
from ..protocols.pocv2 import artifacts

DIST_THRESHOLD, P_MISMATCH, FRAUD_THRESHOLD = 0.02, 0.001, 0.01  # the deployed validator's
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclasses.dataclass
class RoundConfig:
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int | None = None
    intermediate: int | None = None
    vocab: int = 128
    batch: int = 8
    seq_len: int = 16
    k: int = 12
    dtype: str = "float32"
    block_hash: str = "0" * 64
    public_key: str = "round-public-key"
    first_nonce: int = 0
    weights_seed: int = 0


@dataclasses.dataclass
class RoundResult:
    distances: list[float]
    mismatches: int
    p_value: float
    fraud: bool
    prover: torch.Tensor    # fp16 [B, k] artifacts, on the CPU
    validator: torch.Tensor


def build_model(cfg: RoundConfig) -> torch.nn.Module:
    """A random-initialised LlamaModel of the configured shape (no weights are downloaded)."""
    try:
        from transformers import LlamaConfig, LlamaModel
    except ImportError as e:  # pragma: no cover - the message is tested with the import blocked
        raise ImportError("pocrand round needs transformers: pip install 'pocrand[round]' "
                          "(or pip install transformers)") from e
    config = LlamaConfig(hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
                         num_attention_heads=cfg.heads,
                         num_key_value_heads=cfg.kv_heads or cfg.heads,
                         intermediate_size=cfg.intermediate or 4 * cfg.hidden,
                         vocab_size=cfg.vocab, max_position_embeddings=max(cfg.seq_len, 128))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.weights_seed)
        model = LlamaModel(config)
    return model.to(DTYPES[cfg.dtype]).eval()


def nonces(cfg: RoundConfig) -> list[int]:
    return list(range(cfg.first_nonce, cfg.first_nonce + cfg.batch))


def prove(model: torch.nn.Module, cfg: RoundConfig, device, reference: bool = False) -> torch.Tensor:
    """One side of the round on `device`: fp16 [B, k] artifacts (on the CPU)."""
    model = copy.deepcopy(model).to(device)
    dtype, ns = DTYPES[cfg.dtype], nonces(cfg)
    with torch.no_grad():
        if reference:
            handles = ref.layer_hooks(find_layers(model), cfg.block_hash, cfg.hidden, device)
            try:
                x = ref.generate_inputs(cfg.block_hash, cfg.public_key, ns, cfg.hidden, cfg.seq_len,
                                        device, dtype)
                last = model(inputs_embeds=x).last_hidden_state[:, -1, :]
                art = ref.artifacts(last, cfg.block_hash, cfg.public_key, ns, cfg.k)
            finally:
                for h in handles:
                    h.remove()
        else:
            hooks = install_householder_hooks(model, cfg.block_hash)
            try:
                with hooks.active():
                    x = generate_inputs(cfg.block_hash, cfg.public_key, ns, cfg.hidden, cfg.seq_len,
                                        device, dtype)
                    last = model(inputs_embeds=x).last_hidden_state[:, -1, :]
                art, _ = artifacts(last, cfg.block_hash, cfg.public_key, ns, cfg.k)
            finally:
                hooks.remove()
    return art.cpu()


def binomial_p_value(mismatches: int, n: int, p: float = P_MISMATCH) -> float:
    """P(X >= mismatches) for X ~ Binomial(n, p): the deployed one-sided test's p-value."""
    if n == 0:
        return 1.0
    return min(1.0, sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i)
                        for i in range(mismatches, n + 1)))


def compare(prover: torch.Tensor, validator: torch.Tensor) -> RoundResult:
    """The deployed validation of fp16 [B, k] artifacts."""
    d = (prover.float() - validator.float()).norm(dim=1)
    bad = ~torch.isfinite(prover.float()).all(dim=1) | ~(d <= DIST_THRESHOLD)
    m = int(bad.sum())
    p = binomial_p_value(m, prover.shape[0])
    return RoundResult(d.tolist(), m, p, p < FRAUD_THRESHOLD, prover, validator)


def run_round(cfg: RoundConfig, prover: str = "cpu", validator: str = "cpu",
              reference: bool = False) -> RoundResult:
    """The whole round: build the model, prove on `prover`, validate on `validator`."""
    model = build_model(cfg)
    a = prove(model, cfg, torch.device(prover), reference)
    b = prove(model, cfg, torch.device(validator), reference)
    return compare(a, b)


def plot(results: dict, path, prover: str = "cpu", validator: str = "cpu"):
    """A PNG of each run's per-nonce L2 distances, sorted (x: the rank), against the threshold;
    its title names the devices and each run's verdict. The first run (pocrand) is drawn last and
    on top, so a reference run with the same distances cannot hide it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    styles = [dict(marker="o", ms=4, lw=1.5, zorder=3), dict(marker="s", ms=7, lw=3, alpha=0.45,
                                                             zorder=2)]
    items = list(results.items())
    lines = {}
    for n, (label, res) in reversed(list(enumerate(items))):
        zeros = sum(x == 0 for x in res.distances)
        note = f" ({zeros} exact zeros drawn at 1e-12)" if zeros else ""
        (lines[n],) = ax.plot(sorted(max(x, 1e-12) for x in res.distances), label=label + note,
                              **styles[min(n, len(styles) - 1)])
    threshold = ax.axhline(DIST_THRESHOLD, color="k", lw=0.8, ls="--",
                           label=f"threshold {DIST_THRESHOLD}")
    ax.set_yscale("log")
    ax.set_xlabel("rank (nonces sorted by distance)")
    ax.set_ylabel("L2 distance, prover vs validator")
    verdicts = ", ".join(f"{label} {'FRAUD flagged' if res.fraud else 'honest'} "
                         f"({res.mismatches}/{len(res.distances)} mismatches)"
                         for label, res in items)
    ax.set_title(f"prover {prover}, validator {validator}: {verdicts}", fontsize=9)
    ax.legend(handles=[lines[n] for n in range(len(items))] + [threshold])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig
