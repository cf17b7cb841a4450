"""Putting PoC into a model's forward pass, two ways over one layer finder and one vector cache
(layers.py):

    hooks.py        forward hooks reflecting each decoder layer's output by PoC v2's per-block
                    vectors (install_householder_hooks; eager models)
    state.py        PoCState, the address-stable buffers an in-graph model reads
    attach.py       attach(model, state): the model's layers, embedding, MoE gates and final norm
                    wrapped in place, for torch.compile and CUDA-graph capture
    backend.py      the transforms the wrapped modules run (PocrandBackend, or any backend)
    norm_seam.py    where attach folds a boundary's reflection into the next vLLM-style RMSNorm
    router_seam.py  the logits seam of routers that compute their own top-k
    gonka_plugin.py the vllm.general_plugins entry point that, on opt-in, swaps an installed
                    gonka-poc plugin's functions for pocrand's drop-ins

pocrand_ext.poc_graph is the old name of the in-graph half and re-exports it.
"""
from .attach import AttachHandle, attach, find_parts
from .backend import Backend, PocrandBackend, resolve_backend
from .hooks import HouseholderHooks, find_layers, install_householder_hooks
from .layers import LAYER_PATHS, find_decoder_layers, layer_vectors
from .state import PoCState

__all__ = ["install_householder_hooks", "HouseholderHooks", "find_layers", "PoCState", "attach",
           "AttachHandle", "find_parts", "Backend", "PocrandBackend", "resolve_backend",
           "LAYER_PATHS", "find_decoder_layers", "layer_vectors"]
