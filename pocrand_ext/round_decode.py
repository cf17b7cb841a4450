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

The transforms come from a backend object with four callables (reflect, embed, route, snap):
PocrandBackend here (pocrand's ops: the same bits on every device and batch size) or
reference_gonka.BACKEND (the plugin's torch expressions). The state's buffers are address-stable
and written in place between forwards, as a captured graph needs.

transformers is optional (`pip install pocrand[round]`).
"""
from __future__ import annotations

import copy
import dataclasses
import inspect

import torch
import torch.nn.functional as F

from . import reference_gonka as refg
from . import reference_pocv2 as ref2
from .hooks import layer_vectors
from .protocols import gonka_poc as gp
from .protocols.phase2 import generate_inputs
from .reflect import reflect_rows
from .snap import load_codebook, snap as snap_rows
from .streams import unit_vectors_of_seeds
from .validation import decode_validation

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
    """The MoE routers in layer order (gate ordinal = the list index): a layer's mlp.gate that
    holds a weight [experts, hidden] and a top_k."""
    gates = []
    for layer in model.layers:
        gate = getattr(getattr(layer, "mlp", None), "gate", None)
        if gate is not None and hasattr(gate, "weight") and hasattr(gate, "top_k"):
            gates.append(gate)
    if not gates:
        raise RuntimeError(f"{type(model).__name__}: no MoE router (layer.mlp.gate with a weight "
                           "and a top_k) found; an unseeded router would route PoC rows by hidden "
                           "state")
    return gates


# --- the state: address-stable buffers the wrappers read -------------------------------------

@dataclasses.dataclass
class PoCState:
    mask: torch.Tensor            # bool [max_rows]: PoC rows
    row_group: torch.Tensor       # int64 [max_rows]: the reflection slot (0: the zero vector)
    table: torch.Tensor           # [L, slots, hidden] in the model's dtype
    embeds: torch.Tensor          # [max_rows, hidden]: the staged prefill inputs
    embed_base: torch.Tensor      # int64 [max_rows]: the nonce's base seed
    embed_step: torch.Tensor      # int64 [max_rows]: the decode step (0: prefill)
    embed_prev_k: torch.Tensor    # int64 [max_rows]: k_{t-1}; < 0 for prefill rows
    route_base: torch.Tensor      # int64 [n_gates, max_rows]
    route_step: torch.Tensor      # int64 [max_rows]
    codebook: torch.Tensor        # float32 [P, d]
    snap_k: torch.Tensor          # int64 [max_rows]
    snap_bad: torch.Tensor        # bool [max_rows]
    snap_scores: torch.Tensor     # float32 [max_rows, P]
    snap_q: torch.Tensor          # float32 [max_rows, d]
    ladder: int = gp.LADDER_BASE


def make_state(max_rows: int, table: torch.Tensor, n_gates: int, cb: torch.Tensor) -> PoCState:
    dev, dtype, hidden = table.device, table.dtype, table.shape[-1]
    i64 = dict(dtype=torch.int64, device=dev)
    (P, d), cb = cb.shape, cb.to(dev)
    return PoCState(mask=torch.zeros(max_rows, dtype=torch.bool, device=dev),
                    row_group=torch.zeros(max_rows, **i64), table=table,
                    embeds=torch.zeros(max_rows, hidden, dtype=dtype, device=dev),
                    embed_base=torch.zeros(max_rows, **i64), embed_step=torch.zeros(max_rows, **i64),
                    embed_prev_k=torch.full((max_rows,), -1, **i64),
                    route_base=torch.zeros(n_gates, max_rows, **i64),
                    route_step=torch.zeros(max_rows, **i64), codebook=cb,
                    snap_k=torch.zeros(max_rows, **i64),
                    snap_bad=torch.zeros(max_rows, dtype=torch.bool, device=dev),
                    snap_scores=torch.zeros(max_rows, P, dtype=torch.float32, device=dev),
                    snap_q=torch.zeros(max_rows, d, dtype=torch.float32, device=dev))


class PocrandBackend:
    """pocrand's ops for the four transforms: the same bits on every device and batch size."""
    name = "pocrand"

    def __init__(self, rounding: str = "stepwise"):
        self.rounding = rounding

    def reflect(self, x, table, row_group, mask):
        return reflect_rows(x, table, row_group, mask, self.rounding)

    def embed(self, out, base, step, prev_k, embeds, mask):
        dec = gp.decode_embeddings(base, step, prev_k, out.shape[-1], out.dtype)
        poc = torch.where((prev_k >= 0).unsqueeze(-1), dec, embeds.to(out.dtype))
        return torch.where(mask.unsqueeze(-1), poc, out)

    def route(self, logits, base, step, mask, n_experts, top_k, ladder):
        forced = gp.expert_logits(base, step, n_experts, top_k, ladder, logits.dtype)
        return torch.where(mask.unsqueeze(-1), forced, logits)

    def snap(self, h, seeds, codebook, out):
        return snap_rows(h, seeds, codebook, out=tuple(out))

    @staticmethod
    def pick_seeds(base, step, prev_k):
        return gp.decode_pick_seeds(base, step, prev_k)


def backend_of(name) -> object:
    if name == "pocrand":
        return PocrandBackend()
    if name == "reference":
        return refg.BACKEND
    return name  # a backend object


# --- the model wrapping ----------------------------------------------------------------------
# A minimal local version of the model wrapping: forward hooks on the transformers model's token
# embedding, decoder layers and final norm, and a replaced forward on each MoE router. Rows are
# b * seq + s for transformers' [batch, seq, hidden]. pocrand_ext.poc_graph.attach (wrappers that
# ride torch.compile and CUDA graphs) is meant to take its place behind _attach.

def _route_select(gate, logits):
    """The router's own selection after its logits, as transformers 5.x writes it (softmax in
    float32, top-k, renormalised unless norm_topk_prob is False; Qwen routers cast the weights
    back to the logits' dtype). _attach checks it against the router's forward first."""
    probs = F.softmax(logits, dim=-1, dtype=torch.float)
    top, idx = torch.topk(probs, gate.top_k, dim=-1)
    if getattr(gate, "norm_topk_prob", True):
        top = top / top.sum(dim=-1, keepdim=True)
    if hasattr(gate, "norm_topk_prob"):
        top = top.to(logits.dtype)
    return logits, top, idx


def _gate_logits(gate, hidden_states):
    return F.linear(hidden_states.reshape(-1, gate.weight.shape[1]), gate.weight,
                    getattr(gate, "bias", None))


def _check_router(gate):
    """RuntimeError unless _route_select reproduces the router's own forward bit for bit."""
    w = gate.weight
    x = torch.randn(5, w.shape[1], generator=torch.Generator().manual_seed(1)).to(w.device, w.dtype)
    with torch.no_grad():
        want = type(gate).forward(gate, x)
        got = _route_select(gate, _gate_logits(gate, x))
    if not all(torch.equal(a, b) for a, b in zip(want, got)):
        raise RuntimeError(f"{type(gate).__name__}: its selection is not the one the round "
                           "restates (transformers changed it); extend round_decode._route_select")


class _Handle:
    def __init__(self):
        self.hooks, self.gates = [], []

    def remove(self):
        for h in self.hooks:
            h.remove()
        for g in self.gates:
            g.__dict__.pop("forward", None)
        self.hooks, self.gates = [], []


def _attach(model: torch.nn.Module, state: PoCState, backend) -> _Handle:
    st, be, handle = state, backend_of(backend), _Handle()

    def rows(t):
        return t.reshape(-1, t.shape[-1])

    def on_embed(module, args, out):
        x = rows(out)
        n = x.shape[0]
        return be.embed(x, st.embed_base[:n], st.embed_step[:n], st.embed_prev_k[:n],
                        st.embeds[:n], st.mask[:n]).view(out.shape)

    def on_layer(i):
        def hook(module, args, out):
            def apply(t):
                x = rows(t)
                n = x.shape[0]
                return be.reflect(x, st.table[i], st.row_group[:n], st.mask[:n]).view(t.shape)
            if isinstance(out, tuple):  # (hidden, residual, ...): both reflected
                return tuple(apply(o) if j < 2 and o is not None else o for j, o in enumerate(out))
            return apply(out)
        return hook

    def on_norm(module, args, out):
        h = rows(out[0] if isinstance(out, tuple) else out)
        n = h.shape[0]
        seeds = be.pick_seeds(st.embed_base[:n], st.embed_step[:n], st.embed_prev_k[:n])
        be.snap(h, seeds, st.codebook, (st.snap_k[:n], st.snap_bad[:n], st.snap_scores[:n],
                                        st.snap_q[:n]))
        return out

    def routed(gate, ordinal, n_experts):
        def forward(hidden_states):
            logits = _gate_logits(gate, hidden_states)
            n = logits.shape[0]
            logits = be.route(logits, st.route_base[ordinal, :n], st.route_step[:n], st.mask[:n],
                              n_experts, gate.top_k, st.ladder)
            return _route_select(gate, logits)
        return forward

    handle.hooks.append(model.embed_tokens.register_forward_hook(on_embed))
    for i, layer in enumerate(model.layers):
        handle.hooks.append(layer.register_forward_hook(on_layer(i)))
    handle.hooks.append(model.norm.register_forward_hook(on_norm))
    for ordinal, gate in enumerate(seeded_gates(model)):
        _check_router(gate)
        gate.forward = routed(gate, ordinal, gate.weight.shape[0])
        handle.gates.append(gate)
    return handle


# --- one side of the round -------------------------------------------------------------------

@dataclasses.dataclass
class SideResult:
    k: torch.Tensor        # int64 [N, T + 1], nonces in the round's order (CPU)
    scores: torch.Tensor   # float32 [N, T + 1, P]


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


def run_side(model: torch.nn.Module, cfg: DecodeRoundConfig, device, backend="pocrand",
             claimed: torch.Tensor | None = None, validator_batch: int | None = None,
             chat_rows: int = 0) -> SideResult:
    """One side on `device`: the prover (claimed None: its own k chains) or the validator
    (claimed [N, T + 1]: the claimed k_{t-1} seeds step t). `model` is copied to the device."""
    device = torch.device(device)
    be = backend_of(backend)
    reference = getattr(be, "name", "") == "reference"
    model = copy.deepcopy(model).to(device)
    dtype, hidden, T = DTYPES[cfg.dtype], cfg.hidden, cfg.steps
    cb = codebook(cfg.sphere_dim).to(device)
    gates = seeded_gates(model)
    order = {n: i for i, n in enumerate(nonces(cfg))}
    k_all = torch.full((cfg.batch, T + 1), -1, dtype=torch.int64)
    s_all = torch.zeros(cfg.batch, T + 1, CODEBOOK_POINTS, dtype=torch.float32)
    cache_kw = _cache_kwarg(model)
    if reference:
        table = refg.ref_reflection_table(cfg.block_hash, cfg.layers, hidden, device, dtype)
    else:
        table = torch.zeros(cfg.layers, 2, hidden, dtype=dtype, device=device)
        table[:, 1] = layer_vectors(cfg.block_hash, cfg.layers, hidden, device, dtype)
    for f, entries in enumerate(layouts(cfg, validator_batch, chat_rows)):
        poc = [j for j, e in enumerate(entries) if e is not None]
        ns = [entries[j] for j in poc]
        B, S = len(entries), cfg.seq_len
        state = make_state(B * S, table, len(gates), cb)
        if reference:
            base, route, pick0 = (t.to(device) for t in refg.ref_round_seeds(
                cfg.block_hash, cfg.public_key, ns, len(gates), cfg.sphere_dim))
            x = ref2.generate_inputs(cfg.block_hash, cfg.public_key, ns, hidden, S, device, dtype)
        else:
            base = gp.base_seeds(cfg.block_hash, cfg.public_key, ns, device)
            route = gp.route_base_seeds(cfg.block_hash, ns, len(gates), device).T.contiguous()
            pick0 = gp.decode_pick_strings_seeds(
                [gp.decode_pick_string(cfg.block_hash, cfg.public_key, n, cfg.sphere_dim, 0)
                 for n in ns], device)
            x = generate_inputs(cfg.block_hash, cfg.public_key, ns, hidden, S, device, dtype)
        poc_t = torch.tensor(poc, dtype=torch.int64, device=device)
        gen = torch.Generator().manual_seed(cfg.weights_seed + 1000 + f)  # chat tokens

        def stage(rows_per_seq, step, prev):
            """Write the buffers for a forward of B sequences x rows_per_seq rows."""
            n = B * rows_per_seq
            grid = torch.zeros(B, rows_per_seq, dtype=torch.int64, device=device)
            def per_row(vals):  # [len(poc)] -> [n]: the PoC sequences' rows, zeros elsewhere
                g = grid.clone()
                g[poc_t] = vals.view(-1, 1).expand(-1, rows_per_seq)
                return g.view(-1)
            state.mask[:n].copy_(per_row(torch.ones(len(poc), dtype=torch.int64, device=device)) > 0)
            state.row_group[:n].copy_(per_row(torch.ones(len(poc), dtype=torch.int64, device=device)))
            state.embed_base[:n].copy_(per_row(base))
            state.embed_step[:n].fill_(step)
            state.route_step[:n].fill_(step)
            state.embed_prev_k[:n].fill_(-1)
            if prev is not None:
                state.embed_prev_k[:n].copy_(per_row(prev + 1) - 1)
            for g in range(len(gates)):
                state.route_base[g, :n].copy_(per_row(route[g]))
            state.embeds[:n].zero_()

        def token_ids(rows_per_seq):
            ids = torch.randint(0, cfg.vocab, (B, rows_per_seq), generator=gen).to(device)
            ids[poc_t] = 0  # PoC sequences carry a dummy id; the embedding is replaced
            return ids

        handle = _attach(model, state, be)
        try:
            with torch.no_grad():
                stage(S, 0, None)
                state.embeds[:B * S].view(B, S, hidden)[poc_t] = x
                out = model(input_ids=token_ids(S), use_cache=True)
                cache = _cache_of(out)
                h0 = out.last_hidden_state[poc_t, -1, :].contiguous()
                k0 = torch.empty(len(ns), dtype=torch.int64, device=device)
                bufs = (k0, torch.empty(len(ns), dtype=torch.bool, device=device),
                        torch.empty(len(ns), CODEBOOK_POINTS, dtype=torch.float32, device=device),
                        torch.empty(len(ns), cfg.sphere_dim, dtype=torch.float32, device=device))
                be.snap(h0, pick0, state.codebook, bufs)
                rows_out = [order[n] for n in ns]
                k_all[rows_out, 0] = k0.cpu()
                s_all[rows_out, 0] = bufs[2].cpu()
                for t in range(1, T + 1):
                    prev = (claimed[rows_out, t - 1].to(device) if claimed is not None
                            else k_all[rows_out, t - 1].to(device))
                    stage(1, t, prev)
                    out = model(input_ids=token_ids(1), use_cache=True, **{cache_kw: cache})
                    cache = _cache_of(out)
                    k_all[rows_out, t] = state.snap_k[:B][poc_t].cpu()
                    s_all[rows_out, t] = state.snap_scores[:B][poc_t].cpu()
        finally:
            handle.remove()
    return SideResult(k_all, s_all)


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


def score(scenario: str, backend: str, prover: SideResult, validator: SideResult,
          tau: float) -> ScenarioResult:
    v = decode_validation(prover.k, validator.k, validator.scores, tau=tau,
                          p_mismatch=P_MISMATCH, fraud_threshold=FRAUD_THRESHOLD)
    disagree = (validator.k >= 0) & (validator.k != prover.k)
    return ScenarioResult(scenario, backend, prover, validator,
                          disagree.double().mean(dim=0).tolist(), int(disagree.sum()),
                          disagree.numel(), v.n_flagged, v.p_value, v.fraud_detected, tau)


def run_scenario(cfg: DecodeRoundConfig, scenario: str, prover: str = "cpu",
                 validator: str = "cpu", backend="pocrand", model=None) -> ScenarioResult:
    """devices: an honest prover on `prover`, the validator on `validator`, the same batch.
    batch: one device (`prover`); the validator runs cfg.validator_batch nonces a forward with
    cfg.chat_rows chat-like sequences (mask False, random token ids) mixed in.
    fraud: the prover's weights fake-quantised to 4 bits; an honest validator on `validator`."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}")
    model = build_model(cfg) if model is None else model
    name = getattr(backend_of(backend), "name", "backend")
    if scenario == "batch":
        p = run_side(model, cfg, prover, backend)
        v = run_side(model, cfg, prover, backend, claimed=p.k,
                     validator_batch=cfg.validator_batch, chat_rows=cfg.chat_rows)
    else:
        cheat = fake_quantize_(copy.deepcopy(model)) if scenario == "fraud" else model
        p = run_side(cheat, cfg, prover, backend)
        v = run_side(model, cfg, validator, backend, claimed=p.k)
    return score(scenario, name, p, v, cfg.tau)


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
