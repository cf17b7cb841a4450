"""Drop-in for the gonka-poc plugin's `gonka_poc.poc.decode_random` (the staged decode scheme,
"sphere_k"): the same names, signatures, defaults, ValueErrors and constants, computed by pocrand's
ops (SPEC.md section 10).

Integer results (step seeds, pseudo token ids, route seeds, forced-logit positions and values,
picked index sets) equal the plugin's; picks come in the CUDA topk order on every device, and the
decode embeddings use pocrand's portable log/sin/cos (within 1 ulp of the plugin's in fp16/bf16).
The per-step functions never read a value back to the host.
"""
from __future__ import annotations

import logging
from typing import List, Optional

import torch

from ... import decode as _decode
from ..._checks import check_device, check_tensors, named_as
from .. import gonka_poc as _gp
from .gpu_random import _batched_murmur3_32, _seed_from_string  # noqa: F401

logger = logging.getLogger(__name__)

__all__ = ["_SALT_DECODE_EMBED", "_SALT_DECODE_PICK", "_SALT_DECODE_TOKEN_ID", "_MIX_A", "_MIX_B",
           "LADDER_BASE", "_ladder_base", "pinned_to_device", "decode_base_seeds", "_step_seeds",
           "_batched_normal_t", "generate_decode_inputs_gpu", "random_pick_indices_gpu",
           "set_ladder_base_for_model", "_forced_logits", "decode_pseudo_token_ids",
           "route_base_seed", "expert_logits_from_base", "random_pick_indices_decode",
           "random_pick_indices_decode_steps", "_batched_murmur3_32", "_seed_from_string"]

_SALT_DECODE_EMBED = _gp.SALT_EMBED
_SALT_DECODE_PICK = _gp.SALT_PICK
_SALT_DECODE_TOKEN_ID = _gp.SALT_TOKEN_ID
_MIX_A = _gp.MIX_A
_MIX_B = _gp.MIX_B
LADDER_BASE = _gp.LADDER_BASE
_ladder_base = LADDER_BASE


def _check_k(k, dim) -> None:
    if isinstance(k, int) and isinstance(dim, int) and (k <= 0 or k > dim):
        raise ValueError(f"k must be in [1, dim], got k={k}, dim={dim}")


def pinned_to_device(vals, dtype, device):
    """A small [N] device tensor from host values by a non-blocking copy from pinned memory."""
    cuda = torch.device(device).type == "cuda"
    return torch.tensor(vals, dtype=dtype, pin_memory=cuda).to(device, non_blocking=cuda)


def decode_base_seeds(block_hash: str, public_key: str, nonces: List[int],
                      device: torch.device) -> torch.Tensor:
    """[B] int64 on device: seed(f"{block_hash}_{public_key}_nonce{n}"), one C++ call."""
    return _gp.base_seeds(block_hash, public_key, nonces, device)


def _on_device(device, **tensors) -> None:
    """The plugin's functions take a `device`; their tensors must already be there (an output is
    made where its inputs are). A device that is no device, or one the tensors are not on, is a
    ValueError naming it, not a result on another device."""
    dev = check_device(device)
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor) and t.device != dev:
            raise ValueError(f"{name} is on {t.device} but device is {dev}: pass tensors on "
                             f"the device you name")


def _step_seeds(base_seeds: torch.Tensor, step, prev_k: torch.Tensor, salt: int) -> torch.Tensor:
    """[B] int64 on the device: the step seeds of (base, step, prev_k, salt) (SPEC.md 10.1)."""
    check_tensors(base_seeds=base_seeds)
    return _decode.step_seeds(base_seeds.view(-1), step, prev_k, salt)


def _batched_normal_t(seeds: torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
    """[B, n] float32 normals of a [B] seeds tensor (on `device`)."""
    return _decode.normal_from_seeds(seeds.to(check_device(device)).view(-1), n, torch.float32)


def generate_decode_inputs_gpu(base_seeds: torch.Tensor, prev_k: torch.Tensor, step: int,
                               dim: int, device: torch.device,
                               dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[B, 1, dim]: the decode embeddings of (base, step, prev_k), in dtype, one launch."""
    check_tensors(base_seeds=base_seeds, prev_k=prev_k)
    _on_device(device, base_seeds=base_seeds, prev_k=prev_k)
    with named_as(hidden="dim", base="base_seeds"):
        return _gp.decode_embeddings(base_seeds.view(-1), step, prev_k, dim, dtype).unsqueeze(1)


def random_pick_indices_gpu(base_seeds: torch.Tensor, prev_k: torch.Tensor, step: int, dim: int,
                            k: int, device: torch.device) -> torch.Tensor:
    """[B, k] int64: the snap's k picked dimensions, seeds chained to prev_k."""
    _check_k(k, dim)
    check_tensors(base_seeds=base_seeds, prev_k=prev_k)
    _on_device(device, base_seeds=base_seeds, prev_k=prev_k)
    with named_as(base="base_seeds"):
        return _gp.decode_pick(base_seeds.view(-1), step, prev_k, dim, k)


def set_ladder_base_for_model(model_type) -> int:
    """The ladder base (one for every model)."""
    global _ladder_base
    _ladder_base = LADDER_BASE
    return _ladder_base


def _forced_logits(seed: torch.Tensor, n_experts: int, top_k: int,
                   device: torch.device) -> torch.Tensor:
    """[B, n_experts] float32 forced logits of route seeds `seed` ([B] or [B, 1])."""
    check_tensors(seed=seed)
    _on_device(device, seed=seed)
    with named_as(seeds="seed"):
        return _decode.forced_logits(seed.view(-1), n_experts, top_k, _ladder_base)


def decode_pseudo_token_ids(base_seeds: torch.Tensor, step, prev_k: torch.Tensor,
                            vocab: int) -> torch.Tensor:
    """int32 [B]: the decode step's pseudo token ids (salt 0x57)."""
    check_tensors(base_seeds=base_seeds)
    with named_as(base="base_seeds"):
        return _gp.decode_pseudo_token_ids(base_seeds.view(-1), step, prev_k, vocab)


def route_base_seed(block_hash: str, nonce: int, layer: int) -> str:
    """The routing seed string of (block_hash, nonce, layer), hashed once per request."""
    return f"{block_hash}_n{nonce}_route_layer_{layer}"


def expert_logits_from_base(base_ints: torch.Tensor, steps: torch.Tensor, n_experts: int,
                            top_k: int, device: torch.device) -> torch.Tensor:
    """[B, n_experts] float32: forced logits of route seed hash(step, base) per row."""
    check_tensors(base_ints=base_ints, steps=steps)
    _on_device(device, base_ints=base_ints, steps=steps)
    with named_as(seeds="base_ints", base_seeds="base_ints", step="steps"):
        return _decode.forced_logits(base_ints.view(-1), n_experts, top_k, _ladder_base,
                                     steps.view(-1))


def random_pick_indices_decode(block_hash: str, public_key: str, nonces: List[int], dim: int,
                               k: int, device: torch.device,
                               prev_point_ids: Optional[List[int]] = None,
                               step: int = 0) -> torch.Tensor:
    """[B, k] int64: picks of the string seeds f"..._nonce_{n}_pick_{k}_decode{step}[_k_{prev}]"."""
    _check_k(k, dim)
    return _gp.decode_pick_indices(block_hash, public_key, nonces, dim, k, device, prev_point_ids,
                                   step)


def random_pick_indices_decode_steps(block_hash: str, public_key: str, nonce: int, dim: int,
                                     k: int, device: torch.device, steps: List[int]) -> torch.Tensor:
    """[len(steps), k] int64: random_pick_indices_decode(..., [nonce], step=s) for each s."""
    _check_k(k, dim)
    return _gp.decode_pick_indices_steps(block_hash, public_key, nonce, dim, k, steps, device)
