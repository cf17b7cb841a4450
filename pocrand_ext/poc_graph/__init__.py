"""Old import path of the in-graph wrappers, which live in pocrand_ext.integrate: PoCState
(state.py), attach (attach.py), the backends (backend.py) and the router seam (router_seam.py).
Its names, and its submodules as the same module objects, are re-exported from there."""
import importlib
import sys

from ..integrate import (AttachHandle, Backend, PocrandBackend, PoCState, attach, find_parts,
                         resolve_backend)

__all__ = ["PoCState", "attach", "AttachHandle", "find_parts", "Backend", "PocrandBackend",
           "resolve_backend"]

for _name in ("attach", "backend", "router_seam", "state"):  # pocrand_ext.poc_graph.attach, ...
    sys.modules[f"{__name__}.{_name}"] = importlib.import_module(f"pocrand_ext.integrate.{_name}")
