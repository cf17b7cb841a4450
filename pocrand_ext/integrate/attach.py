"""attach(model, state): the PoC transforms inside a model's own forward, on PoC rows only.

Each wrapped module keeps its identity, its place in the model and its parameters' names: only
its class is swapped for a subclass whose forward runs the original one and then the transform
(per instance, so other instances of the class are untouched; detach() swaps the class back).
torch.compile traces the subclass like any module (a class change fails its guards, so a model
compiled before attach or after detach recompiles), and the forward reads the state's buffers
sliced to its rows, so new values written between calls reach a compiled model and a captured
CUDA graph without recompiling or recapturing.

Rows: vLLM-style models carry [tokens, hidden] (layout "rows": dimension 0 is the row, any
dimensions between are copies of the row); transformers models carry [batch, seq, hidden]
(layout "batch_seq": row b * seq + s). The default is "batch_seq" for a transformers
PreTrainedModel, "rows" otherwise. The rows of one sequence attend to each other, so a chat row
keeps its bits when no PoC row shares its sequence (vLLM's requests never share one).
"""
from __future__ import annotations

import logging

import torch

from .. import decode
from ..protocols import gonka_poc as _gp
from .backend import resolve_backend
from .layers import find_decoder_layers
from .norm_seam import fusion_plan
from .router_seam import SEAM, has_topk, seamed_forward
from .state import PoCState

__all__ = ["attach", "AttachHandle", "find_parts"]

LAYOUTS = ("rows", "batch_seq")
_LOG = logging.getLogger("pocrand_ext.integrate")
_SUBCLASSES: dict = {}  # (original class, kind) -> subclass


class _Seam:
    """What a wrapped module reads: the state, the backend, the layout (plain attributes)."""

    def __init__(self, state: PoCState, backend, layout: str):
        self.state, self.backend, self.layout = state, backend, layout

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """x's rows, detached: PoC outputs are constants of the protocol, so a forward with grad
        enabled runs as under torch.inference_mode() (no gradient flows through a PoC row)."""
        x = x.detach()
        return x.reshape(-1, x.shape[-1]) if self.layout == "batch_seq" else x


class _LayerSeam(_Seam):
    """Layer i's outputs reflected by its slot. deferred: a (hidden, residual) output passes on
    as it is, for the next norm to reflect in its own pass (_FusedNormSeam); an output without a
    residual is reflected here either way."""

    def __init__(self, state, backend, layout, i: int, deferred: bool = False):
        super().__init__(state, backend, layout)
        self.i, self.deferred = i, deferred
        self.pair = getattr(backend, "reflect_pair", None)

    def _one(self, x):
        st, r = self.state, self.rows(x)
        n = r.shape[0]
        return self.backend.reflect(r, st.table[self.i], st.row_group[:n], st.mask[:n]).view(x.shape)

    def apply(self, out):
        if isinstance(out, torch.Tensor):
            return self._one(out)
        if not isinstance(out, tuple) or not out or not isinstance(out[0], torch.Tensor):
            return out
        h, rest = out[0], out[1:]
        if self.deferred and rest and isinstance(rest[0], torch.Tensor):
            return out  # the next norm is called with this residual and reflects both
        if not rest or not isinstance(rest[0], torch.Tensor) or rest[0].shape != h.shape:
            return (self._one(h),) + rest  # no residual (None, or another output: passed on)
        res = rest[0]
        if self.pair is not None and res.dtype == h.dtype:
            st, rh, rr = self.state, self.rows(h), self.rows(res)
            n = rh.shape[0]
            a, b = self.pair(rh, rr, st.table[self.i], st.row_group[:n], st.mask[:n])
            return (a.view(h.shape), b.view(res.shape)) + rest[1:]
        return (self._one(h), self._one(res)) + rest[1:]


class _FusedNormSeam(_Seam):
    """A vLLM-style RMSNorm taking boundary i's reflection (norm_seam.py): norm(x, residual) is
    the backend's fused_add_rms_norm in place on the rows, PoC rows reflected by layer i's slot
    first; where the tensors do not fit the fused op (dtypes, shapes, layout) the pair is
    reflected by reflect_rows and the norm's own forward runs. snap: also the final norm's snap."""

    def __init__(self, state, backend, layout, i: int, snap: bool):
        super().__init__(state, backend, layout)
        self.i = i
        self.boundary = _LayerSeam(state, backend, layout, i)
        self.snap = _SnapSeam(state, backend, layout) if snap else None

    def fits(self, module, x, residual) -> bool:
        w = module.weight
        return (isinstance(x, torch.Tensor) and isinstance(residual, torch.Tensor)
                and x.shape == residual.shape and x.dtype == residual.dtype == w.dtype
                and x.device == w.device and w.shape == x.shape[-1:] and x.is_contiguous()
                and residual.is_contiguous() and x.dtype in _FUSED_DTYPES)

    def forward(self, module, cls, x, residual=None, *args, **kwargs):
        if residual is None:
            raise RuntimeError(
                f"{type(module).__name__} after decoder layer {self.i} was called without a "
                f"residual, but attach folded that layer's reflection into it: attach with "
                f"fuse_norm=False for this model")
        if args or kwargs or not self.fits(module, x, residual):
            a, b = self.boundary.apply((x, residual))
            out = cls.forward(module, a, b, *args, **kwargs)
        else:
            st, rx, rr = self.state, self.rows(x), self.rows(residual)
            n = rx.shape[0]
            self.backend.fused_add_rms_norm(rx, rr, module.weight.detach(),
                                            module.variance_epsilon, st.table[self.i],
                                            st.row_group[:n], st.mask[:n])
            out = (rx.view(x.shape), rr.view(residual.shape))
        return self.snap.apply(out) if self.snap is not None else out


_FUSED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


class _EmbedSeam(_Seam):
    def ids(self, input_ids):
        flat = input_ids.reshape(-1)
        n = flat.shape[0]
        st = self.state
        return torch.where(st.mask[:n], st.token_ids[:n].to(flat.dtype), flat).view(input_ids.shape)

    def apply(self, out):
        st, r = self.state, self.rows(out)
        n = r.shape[0]
        y = self.backend.embed(r, st.embed_base[:n], st.embed_step[:n], st.embed_prev_k[:n],
                               st.embeds[:n], st.mask[:n])
        return y.view(out.shape)


class _GateSeam(_Seam):
    def __init__(self, state, backend, layout, ordinal: int, n_experts: int, top_k: int):
        super().__init__(state, backend, layout)
        self.ordinal, self.n_experts, self.top_k = ordinal, n_experts, top_k

    def route(self, logits):
        st, r = self.state, logits.detach().reshape(-1, logits.shape[-1])
        n = r.shape[0]
        y = self.backend.route(r, st.route_base[self.ordinal][:n], st.route_step[:n], st.mask[:n],
                               self.n_experts, self.top_k, _gp.LADDER_BASE)
        return y.view(logits.shape)

    def apply(self, out):
        if isinstance(out, tuple):
            return (self.route(out[0]),) + out[1:]
        return self.route(out)


class _SnapSeam(_Seam):
    def __init__(self, state, backend, layout):
        super().__init__(state, backend, layout)
        self.pick_seeds = getattr(backend, "pick_seeds", None) or _pick_seeds

    def apply(self, out):
        h = out[0] if isinstance(out, tuple) else out
        r = self.rows(h)
        if r.dim() != 2:
            raise ValueError(f"the final norm's output must be [rows, hidden], got {list(h.shape)}")
        st, n = self.state, r.shape[0]
        prev = st.embed_prev_k[:n]
        seeds = torch.where(prev >= 0, self.pick_seeds(st.embed_base[:n], st.embed_step[:n], prev),
                            st.prefill_pick[:n])
        self.backend.snap(r, seeds, st.codebook, st.snap_outputs(n))
        st.keep_q(n)  # the vector channel's trajectories, when the state keeps them
        return out


def _pick_seeds(base, step, prev_k):
    """The snap's pick seeds of decode rows, step_seed(step, prev_k, 0x91) (SPEC.md 10.7)."""
    return decode.step_seeds(base, step, prev_k, _gp.SALT_PICK)


def _subclass(cls, kind: str):
    key = (cls, kind)
    if key in _SUBCLASSES:
        return _SUBCLASSES[key]
    if kind == "router":
        forward = seamed_forward(cls)
    elif kind == "fused_norm":
        def forward(self, x, residual=None, *args, **kwargs):
            return getattr(self, SEAM).forward(self, cls, x, residual, *args, **kwargs)
    elif kind == "embed":
        def forward(self, input_ids, *args, **kwargs):
            seam = getattr(self, SEAM)
            return seam.apply(cls.forward(self, seam.ids(input_ids), *args, **kwargs))
    else:
        def forward(self, *args, **kwargs):
            return getattr(self, SEAM).apply(cls.forward(self, *args, **kwargs))
    sub = type(f"PoC{cls.__name__}", (cls,), {"forward": forward, "__module__": __name__,
                                               "_pocrand_original": cls})
    _SUBCLASSES[key] = sub
    return sub


def _first(objs, names):
    for obj in objs:
        for name in names:
            v = getattr(obj, name, None)
            if isinstance(v, int) and not isinstance(v, bool):
                return v
    return None


def _experts_meta(moe, gate) -> tuple[int, int]:
    """(n_experts, top_k) of an MoE block, from the gate, the experts or the block (transformers
    routers and blocks, vLLM FusedMoE and its moe_config); a RuntimeError when none tells."""
    experts = getattr(moe, "experts", None)
    objs = [gate, experts, moe, getattr(experts, "moe_config", None)]
    E = _first(objs, ("global_num_experts", "num_experts"))
    if E is None and isinstance(gate, torch.nn.Linear):
        E = gate.out_features
    k = _first(objs, ("top_k", "num_experts_per_tok", "experts_per_token"))
    if E is None or k is None:
        raise RuntimeError(f"seeded routing: cannot read the expert count and top_k of "
                           f"{type(moe).__name__} (gate {type(gate).__name__}); a gate left "
                           "unseeded would route PoC rows by their hidden states")
    return E, k


def find_parts(model: torch.nn.Module):
    """(layers, embedding, final norm, [(ordinal, moe block, gate)]) of a model: the decoder
    layers by layers.find_decoder_layers (model.model.layers, model.transformer.h or
    model.layers), and their owner's embed_tokens (or wte) and norm (or ln_f); ValueError naming
    what is missing. The gates are the seeded ones: a gate with a token-id table (hash-routed)
    is left natural and takes no ordinal."""
    owner, layers = find_decoder_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__}: no decoder layers at model.model.layers, "
                         "model.transformer.h or model.layers")
    embed = getattr(owner, "embed_tokens", None) or getattr(owner, "wte", None)
    norm = getattr(owner, "norm", None) or getattr(owner, "ln_f", None)
    for what, mod, names in (("token embedding", embed, "embed_tokens or wte"),
                             ("final norm", norm, "norm or ln_f")):
        if not isinstance(mod, torch.nn.Module):
            raise ValueError(f"{type(model).__name__}: no {what} ({names}) next to its layers")
    gates = []
    for layer in layers:
        moe = next((m for m in layer.modules() if hasattr(m, "gate") and hasattr(m, "experts")),
                   None)
        if moe is None:
            continue
        if _token_id_table(moe) is not None:  # hash-routed: natural routing, no ordinal
            _check_hash_routed(model)
            continue
        gates.append((len(gates), moe, moe.gate))
    return layers, embed, norm, gates


# Model types whose MoE layers may route by a token-id table (plugin 0.2.0: DeepSeek-V4's hash
# layers). Such a gate keeps its natural routing and takes no gate ordinal (l counts seeded gates).
HASH_ROUTED_MODEL_TYPES = ("deepseek_v4",)


def _token_id_table(moe):
    """The MoE block's token-id -> experts table (tid2eid, on the block or its gate), or None."""
    for owner in (moe, getattr(moe, "gate", None)):
        table = getattr(owner, "tid2eid", None)
        if isinstance(table, torch.Tensor):
            return table
    return None


def _check_hash_routed(model) -> None:
    config = getattr(model, "config", None) or getattr(getattr(model, "model", None), "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in HASH_ROUTED_MODEL_TYPES:
        raise ValueError(f"{type(model).__name__} (model_type {model_type!r}) has an MoE gate with "
                         f"a token-id table (tid2eid); the decode scheme leaves such gates natural "
                         f"only for {', '.join(HASH_ROUTED_MODEL_TYPES)}")


def _default_layout(model) -> str:
    try:
        from transformers import PreTrainedModel
    except ImportError:
        return "rows"
    return "batch_seq" if isinstance(model, PreTrainedModel) else "rows"


class AttachHandle:
    """What attach changed; detach() restores every module's class."""

    def __init__(self, model, state, backend, layout):
        self.model, self.state, self.backend, self.layout = model, state, backend, layout
        self._swapped: list = []  # (module, original class)
        self.num_layers = self.num_gates = 0
        self.reflection = "separate"  # or "fused": see attach's fuse_norm
        self.reflection_reason = ""

    def _swap(self, module, kind: str, seam) -> None:
        cls = type(module)
        module.__class__ = _subclass(cls, kind)
        module.__dict__[SEAM] = seam
        self._swapped.append((module, cls))

    def detach(self) -> None:
        """Every wrapped module back to its own class; the model is as before attach."""
        for module, cls in reversed(self._swapped):
            module.__class__ = cls
            module.__dict__.pop(SEAM, None)
        self._swapped = []
        self.model.__dict__.pop("_pocrand_attached", None)

    @property
    def attached(self) -> bool:
        return bool(self._swapped)


def attach(model: torch.nn.Module, state: PoCState, *, backend="pocrand", rounding="stepwise",
           layout: str | None = None, fuse_norm: bool | None = None) -> AttachHandle:
    """Wrap every decoder layer (its output, and its residual when it returns (hidden, residual),
    reflected on PoC rows by the row's slot of that layer's table), the token embedding (PoC rows'
    ids replaced by state.token_ids, their embeddings synthesised or taken from state.embeds),
    every MoE gate (gate ordinal l forces the PoC rows' logits from state.route_base[l] before
    the engine's top-k) and the final norm (the snap of every row written into the state's snap
    buffers; the output passes on unchanged). Chat rows (mask False) keep every bit.

    backend: "pocrand", "reference" or an object with reflect, embed, route and snap (see
    integrate.backend); rounding: the pocrand backend's reflection rounding; layout: "rows" or
    "batch_seq" (see the module's docstring); fuse_norm: fold each boundary's reflection into the
    next vLLM-style RMSNorm (norm_seam.py: every row's add + norm is then pocrand's fixed-order one,
    chat rows' included) — None: where the model and backend allow, True: or a ValueError,
    False: never. Returns a handle whose detach() restores the model; handle.reflection says
    "fused" or "separate" and handle.reflection_reason why (also logged)."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(state, PoCState):
        raise TypeError(f"state must be a PoCState, got {type(state).__name__}")
    if model.__dict__.get("_pocrand_attached") or any(
            SEAM in m.__dict__ for m in model.modules()):
        raise ValueError("model is already attached: detach() it first")
    layout = _default_layout(model) if layout is None else layout
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be \"rows\" or \"batch_seq\", got {layout!r}")
    impl = resolve_backend(backend, rounding)
    layers, embed, norm, gates = find_parts(model)
    if len(layers) != state.n_layers:
        raise ValueError(f"the model has {len(layers)} decoder layers, state.n_layers is "
                         f"{state.n_layers}")
    if len(gates) > state.n_gates:
        raise ValueError(f"the model has {len(gates)} MoE gates, state.n_gates is {state.n_gates}")
    weight = getattr(embed, "weight", None)
    if isinstance(weight, torch.Tensor):
        if weight.shape[-1] != state.hidden_size:
            raise ValueError(f"the embedding's hidden size is {weight.shape[-1]}, the state's "
                             f"{state.hidden_size}")
        if weight.dtype != state.dtype or weight.device != state.device:
            raise ValueError(f"the model is {weight.dtype} on {weight.device}, the state "
                             f"{state.dtype} on {state.device}")
    meta = [_experts_meta(moe, gate) for _, moe, gate in gates]
    fused_norms, reason = fusion_plan(layers, norm, impl, fuse_norm)
    handle = AttachHandle(model, state, impl, layout)
    handle.reflection = "fused" if fused_norms else "separate"
    handle.reflection_reason = reason
    _LOG.info("pocrand attach: %s", reason)
    for i, layer in enumerate(layers):
        handle._swap(layer, "layer", _LayerSeam(state, impl, layout, i, deferred=bool(fused_norms)))
    for i, fused in enumerate(fused_norms[:-1]):
        handle._swap(fused, "fused_norm", _FusedNormSeam(state, impl, layout, i, snap=False))
    handle._swap(embed, "embed", _EmbedSeam(state, impl, layout))
    for (ordinal, _, gate), (E, k) in zip(gates, meta):
        kind = "router" if not isinstance(gate, torch.nn.Linear) and has_topk(type(gate)) else "gate"
        try:
            handle._swap(gate, kind, _GateSeam(state, impl, layout, ordinal, E, k))
        except ValueError:
            handle.detach()
            raise
    if fused_norms:
        handle._swap(norm, "fused_norm", _FusedNormSeam(state, impl, layout, len(layers) - 1,
                                                        snap=True))
    else:
        handle._swap(norm, "norm", _SnapSeam(state, impl, layout))
    state.router_meta[:] = meta
    handle.num_layers, handle.num_gates = len(layers), len(gates)
    model.__dict__["_pocrand_attached"] = True
    return handle
