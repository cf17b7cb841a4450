"""PoC rows inside a compiled, CUDA-graph-captured model: address-stable state (PoCState), the
wrapping of a model's layers, embedding, MoE gates and final norm (attach), and the interface
of the transforms they run (backend). See attach's docstring for what is wrapped and how."""
from .attach import AttachHandle, attach, find_parts
from .backend import Backend, PocrandBackend, resolve_backend
from .state import PoCState

__all__ = ["PoCState", "attach", "AttachHandle", "find_parts", "Backend", "PocrandBackend",
           "resolve_backend"]
