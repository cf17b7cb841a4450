"""pocrand's Python API: bit-identical random tensors on every device (spec pocrand-v1, SPEC.md).

The functions live in modules by what they do — seeds.py (seed strings), streams.py (generators),
sort.py (orders by hash), householder.py and reduce.py (fixed-order reductions), hooks.py (the
layer hooks of a PoC v2 forward) — over the checks of _checks.py;
this module gathers their public names. Every function validates its arguments and raises
TypeError/ValueError naming the argument, then calls torch.ops.pocrand.* (one kernel launch
serves a whole batch of nonces).
"""
from __future__ import annotations

from . import hooks, householder, reduce, seeds, sort, streams, validation
from . import snap as _snap_module  # its function snap() takes the name below
from ._checks import MAX_COUNT  # noqa: F401
from ._ext import SPEC_VERSION, build_info
from .hooks import *  # noqa: F401,F403
from .householder import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .seeds import *  # noqa: F401,F403
from .snap import *  # noqa: F401,F403
from .sort import *  # noqa: F401,F403
from .streams import *  # noqa: F401,F403
from .validation import *  # noqa: F401,F403

__all__ = (["SPEC_VERSION", "build_info"] + seeds.__all__ + streams.__all__ + sort.__all__
           + householder.__all__ + reduce.__all__ + hooks.__all__ + _snap_module.__all__
           + validation.__all__)
