"""What both ways of putting PoC into a model share: the one rule that finds its decoder layers,
and the per-block layer vectors in the model's dtype (one cache, read by the forward hooks and
by PoCState.set_block_slot).

Decoder layers are found at the first of LAYER_PATHS that holds a non-empty nn.ModuleList (or
nn.Sequential), in this order (the deployed layer hooks' order):

    model.model.layers      transformers *ForCausalLM, vLLM models
    model.transformer.h     GPT-2 style
    model.layers            a bare decoder (transformers *Model, vLLM inner models)
"""
from __future__ import annotations

import torch

from ..protocols.pocv2 import householder_vectors

__all__ = ["LAYER_PATHS", "find_decoder_layers", "layer_vectors"]

LAYER_PATHS = (("model", "layers"), ("transformer", "h"), ("layers",))
_VECTORS: dict = {}  # (block_hash, layers, hidden, device, dtype) -> [layers, hidden]
_CACHE_LIMIT = 16    # block hashes of a few rounds, for every dtype and device in use


def find_decoder_layers(model: torch.nn.Module):
    """(owner, layers): the module holding the decoder layers and the layers as a list, by
    LAYER_PATHS; (None, []) when no path holds any."""
    for path in LAYER_PATHS:
        owner = model
        for name in path[:-1]:
            owner = getattr(owner, name, None)
        layers = getattr(owner, path[-1], None) if owner is not None else None
        if isinstance(layers, (torch.nn.ModuleList, torch.nn.Sequential)) and len(layers):
            return owner, list(layers)
    return None, []


def layer_vectors(block_hash: str, num_layers: int, hidden: int, device, dtype) -> torch.Tensor:
    """[num_layers, hidden] in dtype: PoC v2's layer vectors (SPEC.md 9.7), divided in float32
    and rounded once to dtype by the core's rounding (SPEC.md section 6; for finite floats the
    same bits as IEEE round-to-nearest-even, which torch's .to(dtype) also gives), cached per
    (block hash, layer count, hidden size, device, dtype)."""
    key = (block_hash, num_layers, hidden, torch.device(device), dtype)
    v = _VECTORS.get(key)
    if v is None:
        if len(_VECTORS) >= _CACHE_LIMIT:
            _VECTORS.pop(next(iter(_VECTORS)))
        v = householder_vectors(block_hash, num_layers, hidden, device, dtype)
        _VECTORS[key] = v
    return v
