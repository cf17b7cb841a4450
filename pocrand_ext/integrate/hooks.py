"""Forward hooks that put PoC v2's per-layer Householder reflections into a model's forward pass.

    hooks = pocrand_ext.install_householder_hooks(model, block_hash)
    with hooks.active():
        out = model(inputs_embeds=x)      # every decoder layer's output reflected by its vector
    out = model(inputs_embeds=x)          # outside the context: the model is untouched
    hooks.remove()

As the deployed layer hooks do, the decoder layers are found at `model.model.layers`,
`model.transformer.h` or `model.layers` (layers.find_decoder_layers, shared with attach); layer
i's vector is row i of PoC v2's householder_vectors (protocols/pocv2.py, SPEC.md 9.7), rounded
once to the output's dtype by the core's fp16/bf16 rounding (SPEC.md section 6, the rounding of
every other pocrand output). A layer that returns a tensor has it reflected; one that returns a
tuple has its first two entries reflected (a vLLM layer's (hidden, residual), in one launch) and
the rest passed on. The L vectors are made in one call and cached per (block hash, layer count,
hidden size, device, dtype) by layers.layer_vectors, the cache PoCState.set_block_slot reads
too. The hooks are plain objects (no closures), so a model with hooks installed can be pickled or
deep-copied.
"""
from __future__ import annotations

import contextlib

import torch

from .._checks import check_str
from ..householder import apply_householder, apply_householder_pair
from .layers import _VECTORS, find_decoder_layers, layer_vectors  # noqa: F401  (the cache)

__all__ = ["install_householder_hooks"]


def find_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The decoder layers, by layers.LAYER_PATHS; [] when none of them holds any."""
    return find_decoder_layers(model)[1]


class HouseholderHooks:
    """Forward hooks on a model's decoder layers, reflecting their outputs while active()."""

    def __init__(self, model: torch.nn.Module, block_hash: str):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.block_hash = check_str("block_hash", block_hash)
        self.layers = find_layers(model)
        if not self.layers:
            raise ValueError("model has no decoder layers at model.model.layers, "
                             "model.transformer.h or model.layers")
        self.is_active = False  # a plain attribute: torch.compile guards on it
        self._handles = [layer.register_forward_hook(self._hook(i))
                         for i, layer in enumerate(self.layers)]

    def _vector(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return layer_vectors(self.block_hash, len(self.layers), x.shape[-1], x.device, x.dtype)[i]

    def _hook(self, i: int) -> "_LayerHook":
        return _LayerHook(self, i)

    def reflect(self, i: int, output):
        """Layer i's output reflected by its vector (while active), else unchanged. The outputs
        are constants of the protocol: a forward with grad enabled gets them detached, as
        under torch.inference_mode()."""
        if not self.is_active:
            return output
        if isinstance(output, torch.Tensor):
            return apply_householder(output.detach(), self._vector(i, output))
        if not isinstance(output, tuple) or not output:
            return output
        hidden = output[0].detach()
        if len(output) >= 2 and isinstance(output[1], torch.Tensor) \
                and output[1].shape[-1] == hidden.shape[-1] and output[1].dtype == hidden.dtype:
            v = self._vector(i, hidden)
            return apply_householder_pair(hidden, output[1].detach(), v) + tuple(output[2:])
        return (apply_householder(hidden, self._vector(i, hidden)),) + tuple(output[1:])

    @contextlib.contextmanager
    def active(self):
        """Reflect the layers' outputs inside this block only."""
        self.is_active = True
        try:
            yield self
        finally:
            self.is_active = False

    def remove(self):
        """Detach every hook; the model is as before."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.is_active = False

    @property
    def num_layers(self) -> int:
        return len(self._handles)


class _LayerHook:
    """The forward hook of layer i: an object rather than a closure, so that it pickles."""

    def __init__(self, hooks: HouseholderHooks, i: int):
        self.hooks, self.i = hooks, i

    def __call__(self, module, args, output):
        return self.hooks.reflect(self.i, output)


def install_householder_hooks(model: torch.nn.Module, block_hash: str) -> HouseholderHooks:
    """Hooks on every decoder layer of `model` for `block_hash`; see the module's docstring."""
    return HouseholderHooks(model, block_hash)
