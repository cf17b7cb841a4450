"""Where attach can fold a layer boundary's reflection into the next add + RMSNorm.

In vLLM's decoder layers the first thing to touch a layer's (hidden, residual) is the next
layer's input_layernorm(hidden, residual), vLLM's fused residual add + RMSNorm (after the last
layer, the model's final norm). pocrand's fused_add_rms_norm_reflect (SPEC.md 10.14) is that norm
with the boundary's reflection in the same pass, so the reflection costs no pass of its own.

The fused form changes what the norm computes for every row: the sum of squares is pocrand's fixed
order, so a row's bits no longer depend on its batch or device, and chat rows get that norm too
(the same value within float32 rounding, not the model kernel's bits). attach(fuse_norm=False)
keeps the model's own norms and reflects in a pass of its own.
"""
from __future__ import annotations

import torch

__all__ = ["is_vllm_rms_norm", "fusion_plan"]


def is_vllm_rms_norm(module) -> bool:
    """A vLLM-style RMSNorm: a class named RMSNorm in its MRO (vLLM's layernorm.RMSNorm and the
    platform subclasses registered for it; Gemma's norm, which scales by 1 + weight, is another
    class), a float variance_epsilon, a weight tensor of one dimension and no variance size
    override. Its forward(x, residual) is the fused add + RMSNorm, returning (x, residual)."""
    if not isinstance(module, torch.nn.Module):
        return False
    if not any(c.__name__ == "RMSNorm" for c in type(module).__mro__):
        return False
    eps, weight = getattr(module, "variance_epsilon", None), getattr(module, "weight", None)
    return (isinstance(eps, float) and isinstance(weight, torch.Tensor) and weight.dim() == 1
            and getattr(module, "variance_size_override", None) is None)


def fusion_plan(layers, final_norm, backend, fuse_norm) -> tuple[list, str]:
    """(norms, reason): the modules that take boundary i's reflection, norms[i] for boundary i
    (layers[i + 1].input_layernorm, and the final norm for the last layer), or [] when attach
    reflects in a pass of its own; reason says why, in words. fuse_norm None: fused where the
    structure allows; True: fused or a ValueError saying what is missing; False: never."""
    if fuse_norm is not None and not isinstance(fuse_norm, bool):
        raise TypeError(f"fuse_norm must be True, False or None, got {type(fuse_norm).__name__}")
    if fuse_norm is False:
        return [], "fuse_norm=False: each boundary reflected by reflect_rows"
    why = None
    if not callable(getattr(backend, "fused_add_rms_norm", None)):
        why = f"the backend {type(backend).__name__} has no fused_add_rms_norm"
    norms = [getattr(layer, "input_layernorm", None) for layer in layers[1:]] + [final_norm]
    if why is None:
        for i, norm in enumerate(norms):
            if not is_vllm_rms_norm(norm):
                where = f"layer {i + 1}'s input_layernorm" if i + 1 < len(layers) else "the final norm"
                why = f"{where} ({type(norm).__name__}) is not a vLLM-style RMSNorm"
                break
    if why is not None:
        if fuse_norm:
            raise ValueError(f"fuse_norm=True: cannot fold the reflections into the norms: {why}")
        return [], f"{why}: each boundary reflected by reflect_rows"
    return norms, (f"fused: boundary i's reflection in layer i + 1's input_layernorm, the last "
                   f"in the final norm ({len(norms)} boundaries)")
