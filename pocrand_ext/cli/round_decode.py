"""`pocrand round --scheme decode`: a whole round of the gonka-poc decode scheme (SPEC.md 10) on a
random-initialised transformers MoE model (Mixtral, Qwen2-MoE or Qwen3-MoE), proved on one side and
validated on the other with teacher forcing.

Per nonce: a prefill of seq_len rows (the staged inputs of generate_inputs), snapped to k_0; then
T decode steps, each one row whose embedding is synthesised from step_seed(t, k_{t-1}, 0x0D). On
every forward the experts of every MoE gate are routed by the seeded forced logits, every decoder
layer's output is reflected (masked row-group reflection, per-block vectors) and the final norm's
row is snapped to the codebook (k_t). The artifact of a nonce is [k_0 .. k_T]. The validator
re-runs the nonce seeding step t by the claimed k_{t-1} and scores each claim against its own
snap (pocrand_ext.validation, SPEC.md 10.9).

The model is wrapped by pocrand_ext.integrate (attach), as an integrator wraps theirs: a PoCState
whose address-stable buffers are written in place between forwards, and attach's wrappers of the
token embedding, the decoder layers, the MoE routers (the model's own top-k on the forced logits)
and the final norm (the snap). The transforms come from a backend: "pocrand" (integrate's
PocrandBackend, pocrand's ops: the same bits on every device and batch size), "reference"
(protocols/gonka_poc/reference.py's BACKEND, the plugin's torch expressions) or any object with
integrate's backend interface.

transformers is optional (`pip install pocrand[round]`).
"""
from __future__ import annotations

import copy
import dataclasses
import inspect

import torch

from ..protocols.gonka_poc import reference as refg
from ..protocols.gonka_poc import vector
from ..protocols.pocv2 import reference as ref2
from ..integrate import PocrandBackend, PoCState, attach, find_parts, resolve_backend
from ..protocols import gonka_poc as gp
from ..protocols.phase2 import generate_inputs
from ..snap import load_codebook
from ..streams import unit_vectors_of_seeds
from ..validation import decode_validation

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
MODELS = ("mixtral", "qwen2-moe", "qwen3-moe")
SCENARIOS = ("devices", "batch", "fraud")
P_MISMATCH, FRAUD_THRESHOLD = 0.001, 0.01   # the validator's binomial test, as the prefill round's
TAU = 0.025                                 # dist_threshold: the low end of the per-model range

# The round's codebook: pocrand does not ship the network's frozen file, so the round makes its
# own, 16 unit rows of pocrand's normal stream (SPEC.md 9.2) from these seeds, and refuses it
# unless its float32 bytes hash to the digest written here (the test derives each digest again
# from the NumPy spec). A smaller sphere dimension is for tiny models (hidden < 256).
CODEBOOK_POINTS = 16
CODEBOOK_SEED = 0xC0DEB00C
CODEBOOK_SHA256 = {
    16: "4a3868a9ffc8b693871db5419a6b3792420717eff3d8c7e3fd9cce0515ff670c",
    32: "fde73bad67d5e11eb292b4f3b1e168331940a86a11e1391769c6e5068bf6d161",
    64: "9a9fe6cb697c9ff6a9766e35c901bd207ed9513d06e2bb4ed6744a9733e9b09a",
    128: "36e93d3b4a2f3aaf89d7b8154767894cc3b665a2ed01e5c534331eccf23b8409",
    256: "9c9b464456c99374c155d2df5c74b9b04f34c3f179887b042554f1acba945095",
}


@dataclasses.dataclass
class DecodeRoundConfig:
    model: str = "mixtral"
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int | None = None
    intermediate: int | None = None   # each expert's MLP size (default 2 x hidden)
    experts: int = 4
    top_k: int = 2
    vocab: int = 128
    batch: int = 8                    # nonces
    seq_len: int = 4
    steps: int = 4                    # T decode steps after the prefill
    sphere_dim: int = 32              # the codebook's dimension (256 in the network)
    dtype: str = "float32"
    block_hash: str = "0" * 64
    public_key: str = "round-public-key"
    first_nonce: int = 0
    weights_seed: int = 0
    tau: float = TAU
    validator_batch: int = 3          # batch scenario: nonces per validator forward
    chat_rows: int = 2                # batch scenario: chat-like sequences in each validator batch


def codebook(dim: int) -> torch.Tensor:
    """float32 [16, dim] on the CPU: the round's codebook, verified by its SHA-256."""
    if dim not in CODEBOOK_SHA256:
        raise ValueError(f"sphere dim must be one of {sorted(CODEBOOK_SHA256)}, got {dim}")
    rows = unit_vectors_of_seeds([CODEBOOK_SEED + j for j in range(CODEBOOK_POINTS)], dim,
                                 torch.device("cpu"), torch.float32)
    return load_codebook(rows, expected_sha256=CODEBOOK_SHA256[dim], shape=(CODEBOOK_POINTS, dim))


# --- the model -------------------------------------------------------------------------------

def build_model(cfg: DecodeRoundConfig) -> torch.nn.Module:
    """A random-initialised MoE base model (no weights downloaded). The initialiser's scale is
    1/sqrt(hidden), so that every layer moves the residual stream (transformers' default 0.02
    leaves a tiny model's output almost its input embedding, and every weight change invisible)."""
    try:
        import transformers
    except ImportError as e:  # pragma: no cover - the message is tested with the import blocked
        raise ImportError("pocrand round needs transformers: pip install 'pocrand[round]' "
                          "(or pip install transformers)") from e
    if int(transformers.__version__.split(".")[0]) < 5:
        raise ImportError(f"pocrand round --scheme decode needs transformers >= 5 (its MoE "
                          f"routers), found {transformers.__version__}: pip install -U transformers")
    common = dict(hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
                  num_attention_heads=cfg.heads, num_key_value_heads=cfg.kv_heads or cfg.heads,
                  head_dim=cfg.hidden // cfg.heads, vocab_size=cfg.vocab,
                  max_position_embeddings=max(cfg.seq_len + cfg.steps, 128),
                  num_experts_per_tok=cfg.top_k, initializer_range=cfg.hidden ** -0.5,
                  tie_word_embeddings=False)
    inter = cfg.intermediate or 2 * cfg.hidden
    if cfg.model == "mixtral":
        config = transformers.MixtralConfig(num_local_experts=cfg.experts, intermediate_size=inter,
                                            **common)
        cls = transformers.MixtralModel
    elif cfg.model == "qwen2-moe":
        config = transformers.Qwen2MoeConfig(num_experts=cfg.experts, moe_intermediate_size=inter,
                                             intermediate_size=inter,
                                             shared_expert_intermediate_size=inter,
                                             decoder_sparse_step=1, mlp_only_layers=[], **common)
        cls = transformers.Qwen2MoeModel
    elif cfg.model == "qwen3-moe":
        config = transformers.Qwen3MoeConfig(num_experts=cfg.experts, moe_intermediate_size=inter,
                                             intermediate_size=inter, decoder_sparse_step=1,
                                             mlp_only_layers=[], **common)
        cls = transformers.Qwen3MoeModel
    else:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {cfg.model!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.weights_seed)
        model = cls(config)
    return model.to(DTYPES[cfg.dtype]).eval()


def fake_quantize_(model: torch.nn.Module, bits: int = 4) -> torch.nn.Module:
    """The fraud: every weight matrix (linear layers and experts; not the token embedding, which
    PoC rows never read, nor the norms) rounded to `bits` bits per output channel, symmetric,
    round-to-nearest: w = round(w / s).clamp(-q, q) * s with s = max|w| over the input dimension
    (the last) / q, q = 2^(bits-1) - 1."""
    q = 2 ** (bits - 1) - 1
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() < 2 or "embed_tokens" in name:
                continue
            s = p.float().abs().amax(dim=-1, keepdim=True) / q
            s = torch.where(s > 0, s, torch.ones_like(s))
            p.copy_((torch.round(p.float() / s).clamp(-q, q) * s).to(p.dtype))
    return model


def seeded_gates(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The MoE gates in layer order (gate ordinal = the list index), as attach finds them; a
    RuntimeError when there is none (an unseeded router would route PoC rows by hidden state)."""
    gates = [gate for _, _, gate in find_parts(model)[3]]
    if not gates:
        raise RuntimeError(f"{type(model).__name__}: no MoE block (a module with a gate and "
                           "experts) found; an unseeded router would route PoC rows by hidden "
                           "state")
    return gates


def backend_of(name):
    """The backend object of a name ("pocrand", "reference") or the object itself."""
    return resolve_backend(name, "stepwise")


def backend_name(backend) -> str:
    if isinstance(backend, str):
        return backend
    if backend is refg.BACKEND:
        return "reference"
    return "pocrand" if isinstance(backend, PocrandBackend) else getattr(backend, "name", "backend")


# --- one side of the round -------------------------------------------------------------------

@dataclasses.dataclass
class SideResult:
    k: torch.Tensor        # int64 [N, T + 1], nonces in the round's order (CPU)
    scores: torch.Tensor   # float32 [N, T + 1, P]
    q: torch.Tensor        # float32 [N, T + 1, sphere_dim]: the pre-snap q of every step


def nonces(cfg: DecodeRoundConfig) -> list[int]:
    return list(range(cfg.first_nonce, cfg.first_nonce + cfg.batch))


def layouts(cfg: DecodeRoundConfig, validator_batch: int | None = None, chat_rows: int = 0):
    """The forwards of one side: lists of entries, a nonce (int) or a chat sequence (None); with
    validator_batch, that many nonces a forward, chat sequences interleaved."""
    ns = nonces(cfg)
    size = validator_batch or len(ns)
    out = []
    for a in range(0, len(ns), size):
        entries = []
        for j, n in enumerate(ns[a:a + size]):
            entries.append(n)
            if j < chat_rows:
                entries.append(None)
        entries += [None] * max(0, chat_rows - len(ns[a:a + size]))
        out.append(entries)
    return out


def _cache_kwarg(model) -> str:
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_of(out):
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


def _round_seeds(cfg: DecodeRoundConfig, ns: list, n_gates: int, device, reference: bool):
    """(base [N], route [n_gates, N], pick0 [N], staged inputs [N, seq_len, hidden]) of the
    nonces ns: pocrand's protocol layer, or with reference the plugin's expressions."""
    dtype, hidden, S = DTYPES[cfg.dtype], cfg.hidden, cfg.seq_len
    if reference:
        base, route, pick0 = (t.to(device) for t in refg.ref_round_seeds(
            cfg.block_hash, cfg.public_key, ns, n_gates, cfg.sphere_dim))
        x = ref2.generate_inputs(cfg.block_hash, cfg.public_key, ns, hidden, S, device, dtype)
        return base, route, pick0, x
    base = gp.base_seeds(cfg.block_hash, cfg.public_key, ns, device)
    route = gp.route_base_seeds(cfg.block_hash, ns, n_gates, device).T.contiguous()
    pick0 = gp.decode_pick_strings_seeds(
        [gp.decode_pick_string(cfg.block_hash, cfg.public_key, n, cfg.sphere_dim, 0) for n in ns],
        device)
    x = generate_inputs(cfg.block_hash, cfg.public_key, ns, hidden, S, device, dtype)
    return base, route, pick0, x


def run_side(model: torch.nn.Module, cfg: DecodeRoundConfig, device, backend="pocrand",
             claimed: torch.Tensor | None = None, validator_batch: int | None = None,
             chat_rows: int = 0, copy_model: bool = True) -> SideResult:
    """One side on `device`: the prover (claimed None: its own k chains) or the validator
    (claimed [N, T + 1]: the claimed k_{t-1} seeds step t). `model` is copied to the device
    (copy_model False: used as it is, already on the device, e.g. a tensor-parallel shard).

    The PoC transforms are pocrand_ext.integrate's: a PoCState written in place between forwards
    and attach's wrappers (detached at the end). Rows are b * seq + s. The prefill's last row of
    each PoC sequence snaps with the string-seeded pick of step 0 (state.prefill_pick), which is
    k_0; every decode row snaps with step_seed(t, k_{t-1}, 0x91) in the same wrapper."""
    device = torch.device(device)
    be = backend_of(backend)
    reference = be is refg.BACKEND
    if copy_model:
        model = copy.deepcopy(model).to(device)
    dtype, hidden, T, S = DTYPES[cfg.dtype], cfg.hidden, cfg.steps, cfg.seq_len
    n_gates = len(seeded_gates(model))
    order = {n: i for i, n in enumerate(nonces(cfg))}
    k_all = torch.full((cfg.batch, T + 1), -1, dtype=torch.int64)
    s_all = torch.zeros(cfg.batch, T + 1, CODEBOOK_POINTS, dtype=torch.float32)
    cache_kw = _cache_kwarg(model)
    forwards = layouts(cfg, validator_batch, chat_rows)
    state = PoCState(max_rows=max(len(e) for e in forwards) * S, hidden=hidden,
                     n_layers=cfg.layers, slots=2, codebook=codebook(cfg.sphere_dim),
                     n_gates=n_gates, device=device, dtype=dtype,
                     q_slots=cfg.batch, q_steps=T + 1)   # every step's q kept on the device
    if reference:
        state.set_slot(1, refg.ref_reflection_table(cfg.block_hash, cfg.layers, hidden, device,
                                                    dtype)[:, 1])
    else:
        state.set_block_slot(1, cfg.block_hash)
    handle = attach(model, state, backend=be)
    try:
        for f, entries in enumerate(forwards):
            poc = [j for j, e in enumerate(entries) if e is not None]
            ns = [entries[j] for j in poc]
            B = len(entries)
            base, route, pick0, x = _round_seeds(cfg, ns, n_gates, device, reference)
            poc_t = torch.tensor(poc, dtype=torch.int64, device=device)
            gen = torch.Generator().manual_seed(cfg.weights_seed + 1000 + f)  # chat tokens

            def per_row(vals, rows_per_seq):
                """[len(poc), ...] -> [B * rows_per_seq, ...]: every row of a PoC sequence gets
                its nonce's value, the chat sequences' rows zeros."""
                g = torch.zeros(B, rows_per_seq, *vals.shape[1:], dtype=vals.dtype, device=device)
                g[poc_t] = vals.unsqueeze(1).expand(-1, rows_per_seq, *vals.shape[1:])
                return g.view(B * rows_per_seq, *vals.shape[1:])

            def stage(rows_per_seq, step):
                """The mask, reflection slots and routing of B sequences x rows_per_seq rows."""
                ones = torch.ones(len(poc), dtype=torch.int64, device=device)
                state.set_mask(per_row(ones, rows_per_seq) > 0)
                state.set_row_group(per_row(ones, rows_per_seq))
                state.set_routing(per_row(route.T.contiguous(), rows_per_seq),
                                  torch.full((B * rows_per_seq,), step, dtype=torch.int64,
                                             device=device))

            def token_ids(rows_per_seq):
                ids = torch.randint(0, cfg.vocab, (B, rows_per_seq), generator=gen).to(device)
                ids[poc_t] = 0  # PoC sequences carry a dummy id; the embedding is replaced
                return ids

            rows_out = [order[n] for n in ns]
            slot_t = torch.tensor(rows_out, dtype=torch.int64, device=device)

            def q_slots(rows_per_seq):
                """The nonce's trajectory slot on each PoC sequence's last row, -1 elsewhere."""
                s = torch.full((B, rows_per_seq), -1, dtype=torch.int64, device=device)
                s[poc_t, rows_per_seq - 1] = slot_t
                return s.view(-1)
            with torch.no_grad():
                stage(S, 0)
                state.set_decode_chain()                        # no decode rows
                state.set_embeds(_staged(x, poc_t, B, S))
                state.set_prefill_pick(per_row(pick0, S))
                state.set_q_slots(q_slots(S))
                out = model(input_ids=token_ids(S), use_cache=True)
                cache = _cache_of(out)
                last = poc_t * S + (S - 1)                      # the PoC sequences' last rows
                k_all[rows_out, 0] = state.snap_k[last].cpu()
                s_all[rows_out, 0] = state.snap_scores[last].cpu()
                for t in range(1, T + 1):
                    prev = (claimed[rows_out, t - 1].to(device) if claimed is not None
                            else k_all[rows_out, t - 1].to(device))
                    stage(1, t)
                    state.set_decode_chain(per_row(base, 1),
                                           torch.full((B,), t, dtype=torch.int64, device=device),
                                           per_row(prev + 1, 1) - 1)   # chat rows: -1
                    state.set_q_slots(q_slots(1))
                    out = model(input_ids=token_ids(1), use_cache=True, **{cache_kw: cache})
                    cache = _cache_of(out)
                    k_all[rows_out, t] = state.snap_k[poc_t].cpu()
                    s_all[rows_out, t] = state.snap_scores[poc_t].cpu()
        q_all = state.snap_q_steps[:cfg.batch].cpu()   # one copy of every nonce's steps
    finally:
        handle.detach()
    return SideResult(k_all, s_all, q_all)


def _staged(x: torch.Tensor, poc_t: torch.Tensor, B: int, S: int) -> torch.Tensor:
    """[B * S, hidden]: the staged inputs x [len(poc), S, hidden] in the PoC sequences' rows."""
    e = torch.zeros(B, S, x.shape[-1], dtype=x.dtype, device=x.device)
    e[poc_t] = x
    return e.view(B * S, -1)


# --- the scenarios ---------------------------------------------------------------------------

@dataclasses.dataclass
class ScenarioResult:
    scenario: str
    backend: str
    prover: SideResult
    validator: SideResult
    disagree_per_step: list   # share of nonces per step t = 0..T where validator k != claim (tau 0)
    disagreements: int        # steps (over all nonces) where they disagree
    steps_total: int
    flagged: int              # nonces whose largest claimed margin exceeds tau
    p_value: float | None
    fraud: bool | None
    tau: float
    vector: dict | None       # the vector channel's score (SPEC.md 10.13), None if nothing scored


def vector_score(cfg: DecodeRoundConfig, backend: str, prover: SideResult,
                 validator: SideResult) -> dict | None:
    """score_vector_channel of the validator's slices against the prover's, every step's q cut to
    min(12, sphere_dim) coordinates: pocrand's host-order pick, or the plugin's torch recipe."""
    k_dim = min(vector.K_DIM, cfg.sphere_dim)
    encode = refg.ref_sph_slices if backend == "reference" else vector.encode_slices

    def slices(side, i, n):
        return encode(side.q[i].numpy(), cfg.block_hash, cfg.public_key, n, k_dim)

    ns = nonces(cfg)
    computed = [{"nonce": n, "sph_values_steps": slices(validator, i, n)} for i, n in enumerate(ns)]
    return vector.score_vector_channel(computed, {n: slices(prover, i, n) for i, n in enumerate(ns)})


def score(cfg: DecodeRoundConfig, scenario: str, backend: str, prover: SideResult,
          validator: SideResult) -> ScenarioResult:
    v = decode_validation(prover.k, validator.k, validator.scores, tau=cfg.tau,
                          p_mismatch=P_MISMATCH, fraud_threshold=FRAUD_THRESHOLD)
    disagree = (validator.k >= 0) & (validator.k != prover.k)
    return ScenarioResult(scenario, backend, prover, validator,
                          disagree.double().mean(dim=0).tolist(), int(disagree.sum()),
                          disagree.numel(), v.n_flagged, v.p_value, v.fraud_detected, cfg.tau,
                          vector_score(cfg, backend, prover, validator))


def run_scenario(cfg: DecodeRoundConfig, scenario: str, prover: str = "cpu",
                 validator: str = "cpu", backend="pocrand", model=None) -> ScenarioResult:
    """devices: an honest prover on `prover`, the validator on `validator`, the same batch.
    batch: one device (`prover`); the validator runs cfg.validator_batch nonces a forward with
    cfg.chat_rows chat-like sequences (mask False, random token ids) mixed in.
    fraud: the prover's weights fake-quantised to 4 bits; an honest validator on `validator`."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}")
    model = build_model(cfg) if model is None else model
    name = backend_name(backend)
    if scenario == "batch":
        p = run_side(model, cfg, prover, backend)
        v = run_side(model, cfg, prover, backend, claimed=p.k,
                     validator_batch=cfg.validator_batch, chat_rows=cfg.chat_rows)
    else:
        cheat = fake_quantize_(copy.deepcopy(model)) if scenario == "fraud" else model
        p = run_side(cheat, cfg, prover, backend)
        v = run_side(model, cfg, validator, backend, claimed=p.k)
    return score(cfg, scenario, name, p, v)


def run_round(cfg: DecodeRoundConfig, scenarios=SCENARIOS, prover: str = "cpu",
              validator: str = "cpu", reference: bool = False) -> dict:
    """{backend: {scenario: ScenarioResult}} for pocrand and, with reference, the plugin's
    expressions; one model for all of them."""
    model = build_model(cfg)
    backends = ["pocrand"] + (["reference"] if reference else [])
    return {b: {s: run_scenario(cfg, s, prover, validator, b, model) for s in scenarios}
            for b in backends}


def plot(results: dict, path, prover: str = "cpu", validator: str = "cpu"):
    """A PNG with one panel per backend (pocrand, then the reference): the share of nonces whose
    validator snap disagrees with the claim (tau = 0) at each step, one line per scenario (the
    honest ones against the fraud)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), sharey=True,
                             squeeze=False)
    # the honest lines often coincide (at 0): open markers of different sizes keep both visible
    styles = {"devices": dict(color="tab:blue", marker="o", ms=9, mfc="none", lw=2.5, zorder=3),
              "batch": dict(color="tab:green", marker="s", ms=4, lw=1, zorder=4),
              "fraud": dict(color="tab:red", marker="^", lw=2, zorder=2)}
    for ax, (backend, by_scenario) in zip(axes[0], results.items()):
        for scenario, res in by_scenario.items():
            label = (f"{scenario} ({'fraud' if scenario == 'fraud' else 'honest'}): "
                     f"{res.disagreements}/{res.steps_total} steps, {res.flagged} flagged, "
                     f"{'FRAUD' if res.fraud else 'honest'}")
            ax.plot(range(len(res.disagree_per_step)), [100 * x for x in res.disagree_per_step],
                    label=label, **styles.get(scenario, {}))
        ax.set_title(f"{backend}: prover {prover}, validator {validator}", fontsize=9)
        ax.set_xlabel("step t (0: the prefill's k_0)")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("nonces whose k disagrees with the claim (%, tau = 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig
