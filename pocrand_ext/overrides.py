"""The masked forward-pass overrides (SPEC.md 10.11, 10.12): one launch each, every row decided on
the device by its own mask entry.

- embed_synth (10.11): the token embeddings a model computed, with each masked row replaced —
  a decode row (prev_k >= 0) by the normals of its step seed (10.3, bit for bit step_normal's
  row), a prefill row (prev_k < 0) by a given embedding delivered in the output's dtype; any
  other row keeps its bits.
- router_override (10.12): an MoE gate's logits, with each masked row replaced by its forced
  logits (10.4, bit for bit forced_logits' row with a per-row step); any other row keeps its bits.

The per-row tensors (seeds, steps, previous indices, mask) may be longer than the rows (only the
first n entries are read) and are never read back to the host: the ops run under
torch.compile(fullgraph=True) and in CUDA-graph capture, with new values written into the same
buffers between replays. Steps, seeds and previous indices are used mod 2^32 (any int64 value).
Each is one op (csrc/bind/overrides.cpp) that writes its `out`: a new tensor, or the input itself
in place."""
from __future__ import annotations

import torch

from . import _ext  # noqa: F401  (registers torch.ops.pocrand.*)
from ._checks import (check_int64, check_seed, check_tensor_device, check_tensors,
                      check_writes_apart, named_as, one_device)

__all__ = ["embed_synth", "embed_synth_", "router_override", "router_override_"]

SALT_EMBED = 0x0D  # SPEC.md 10.5: the decode embeddings' salt
LADDER_BASE = 100  # SPEC.md 10.5: the protocol's ladder base


def _check_embed(out, base_seeds, step, prev_k, embeds, mask, salt) -> int:
    """What the op cannot check itself (argument types, out's kind of device); every other rule
    is the op's (csrc/bind/overrides.cpp), whose x is this module's out."""
    check_tensors(out=out, base_seeds=base_seeds, step=step, prev_k=prev_k, embeds=embeds,
                  mask=mask)
    check_tensor_device("out", out)
    return check_seed("salt", salt)


def _embed_args(base_seeds, step, prev_k, embeds, mask):
    return (base_seeds.contiguous(), step.contiguous(), prev_k.contiguous(), embeds.contiguous(),
            mask.contiguous())


def embed_synth(out: torch.Tensor, base_seeds: torch.Tensor, step: torch.Tensor,
                prev_k: torch.Tensor, embeds: torch.Tensor, mask: torch.Tensor,
                salt: int = SALT_EMBED) -> torch.Tensor:
    """A new tensor of out's shape and dtype (out [n, hidden], float32/fp16/bf16: the embeddings
    the model computed). Row r < n, with base_seeds, step, prev_k int64 [>= n], embeds
    [>= n, hidden] (float32/fp16/bf16) and mask bool [>= n]:
    mask[r] and prev_k[r] >= 0 -> normal(step_seed(base_seeds[r], step[r], prev_k[r], salt),
    hidden) in out's dtype (step_normal's row); mask[r] and prev_k[r] < 0 -> embeds[r] in out's
    dtype (round to nearest even); otherwise out[r] bit for bit."""
    salt = _check_embed(out, base_seeds, step, prev_k, embeds, mask, salt)
    x = out.contiguous()
    y = torch.empty_like(x)
    with named_as(x="out"):  # the op's x is the caller's out (the embeddings computed)
        torch.ops.pocrand.embed_synth.default(y, x, *_embed_args(base_seeds, step, prev_k, embeds,
                                                                 mask), salt)
    return y


def embed_synth_(out: torch.Tensor, base_seeds: torch.Tensor, step: torch.Tensor,
                 prev_k: torch.Tensor, embeds: torch.Tensor, mask: torch.Tensor,
                 salt: int = SALT_EMBED) -> torch.Tensor:
    """embed_synth written into out itself (returns out); only the masked rows are written. A
    strided out is computed through a contiguous copy and written back."""
    salt = _check_embed(out, base_seeds, step, prev_k, embeds, mask, salt)
    if out.is_contiguous():
        with named_as(x="out"):  # the op's x and out are the caller's out
            torch.ops.pocrand.embed_synth.default(out, out, *_embed_args(base_seeds, step, prev_k,
                                                                         embeds, mask), salt)
    else:  # written back through a copy
        check_writes_apart({"out": out}, base_seeds=base_seeds, step=step, prev_k=prev_k,
                           embeds=embeds, mask=mask)
        out.copy_(embed_synth(out, base_seeds, step, prev_k, embeds, mask, salt))
    return out


def _check_router(logits, route_seeds, step, mask, n_experts, top_k, ladder_base):
    """What the op cannot check itself (argument types, logits' kind of device); the shapes and
    the ladder's ranges are the op's (csrc/bind/overrides.cpp, bind_common.h's check_ladder)."""
    check_tensors(logits=logits, route_seeds=route_seeds, step=step, mask=mask)
    ints = (check_int64("n_experts", n_experts), check_int64("top_k", top_k),
            check_int64("ladder_base", ladder_base))
    check_tensor_device("logits", logits)
    return ints


def router_override(logits: torch.Tensor, route_seeds: torch.Tensor, step: torch.Tensor,
                    mask: torch.Tensor, n_experts: int, top_k: int,
                    ladder_base: int = LADDER_BASE) -> torch.Tensor:
    """A new tensor of logits' shape and dtype (logits [n, n_experts], float32/fp16/bf16). Row r
    < n, with route_seeds and step int64 [>= n] and mask bool [>= n]: mask[r] -> the forced
    logits of route seed hash(u32(step[r]), u32(route_seeds[r])) (SPEC.md 10.4: experts start ..
    start + top_k - 1 (mod E) get ladder_base + top_k .. ladder_base + 1, the others -10000) in
    logits' dtype; otherwise logits[r] bit for bit."""
    e, k, lad = _check_router(logits, route_seeds, step, mask, n_experts, top_k, ladder_base)
    x = logits.contiguous()
    y = torch.empty_like(x)
    torch.ops.pocrand.router_override.default(y, x, route_seeds.contiguous(), step.contiguous(),
                                              mask.contiguous(), e, k, lad)
    return y


def router_override_(logits: torch.Tensor, route_seeds: torch.Tensor, step: torch.Tensor,
                     mask: torch.Tensor, n_experts: int, top_k: int,
                     ladder_base: int = LADDER_BASE) -> torch.Tensor:
    """router_override written into logits itself (returns logits); only the masked rows are
    written. A strided logits is computed through a contiguous copy and written back."""
    e, k, lad = _check_router(logits, route_seeds, step, mask, n_experts, top_k, ladder_base)
    if logits.is_contiguous():
        with named_as(out="logits"):  # the op's out is logits itself
            torch.ops.pocrand.router_override.default(logits, logits, route_seeds.contiguous(),
                                                      step.contiguous(), mask.contiguous(), e, k,
                                                      lad)
    else:  # written back through a copy
        check_writes_apart({"logits": logits}, route_seeds=route_seeds, step=step, mask=mask)
        logits.copy_(router_override(logits, route_seeds, step, mask, e, k, lad))
    return logits


# Fake (meta) implementations, for torch.compile and fake tensors: each op writes its out.
@torch.library.register_fake("pocrand::embed_synth")
def _embed_synth_fake(out, x, base_seeds, step, prev_k, embeds, mask, salt):
    one_device("x", x, base_seeds=base_seeds, step=step, prev_k=prev_k, embeds=embeds, mask=mask,
               out=out)


@torch.library.register_fake("pocrand::router_override")
def _router_override_fake(out, logits, route_seeds, step, mask, n_experts, top_k, ladder_base):
    one_device("logits", logits, route_seeds=route_seeds, step=step, mask=mask, out=out)
