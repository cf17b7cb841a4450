"""pocrand's Python API: bit-identical random tensors on every device (spec pocrand-v1, SPEC.md).

Two layers, side by side in the package:
- the generic ops, by what they do — seeds.py (SHA-256 of seed strings), streams.py (generators),
  sort.py (orders by hash), householder.py and reduce.py (fixed-order reductions) — over the
  checks of _checks.py; they take seeds, sizes and tensors and know no protocol's seed strings;
- the protocol layers, protocols/phase2.py and protocols/pocv2.py: each generation's seed
  strings and its functions composed from the generic ops; hooks.py puts PoC v2's reflections
  into a model's forward pass;
- decode.py: streams from seeds held on the device (the gonka-poc decode scheme's step seeds,
  rows and forced logits), generic too; protocols/gonka_poc.py composes them;
- reflect.py and overrides.py: the masked per-row ops of the forward pass (the row-group
  reflection; the synthesised embeddings and forced router logits), one launch each.
This module gathers their public names. Every function validates its arguments and raises
TypeError/ValueError naming the argument, then calls torch.ops.pocrand.* (one kernel launch
serves a whole batch of nonces).
"""
from __future__ import annotations

from . import decode, hooks, householder, overrides, reduce, reflect, seeds, streams, validation
from . import snap as _snap_module  # its function snap() takes the name below
from ._checks import MAX_COUNT  # noqa: F401
from ._ext import SPEC_VERSION, build_info
from .decode import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .householder import *  # noqa: F401,F403
from .overrides import *  # noqa: F401,F403
from .protocols import phase2, pocv2
from .protocols.phase2 import *  # noqa: F401,F403
from .protocols.pocv2 import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .reflect import *  # noqa: F401,F403
from .seeds import *  # noqa: F401,F403
from .snap import *  # noqa: F401,F403
from .streams import *  # noqa: F401,F403
from .validation import *  # noqa: F401,F403

__all__ = (["SPEC_VERSION", "build_info"] + seeds.__all__ + streams.__all__ + householder.__all__
           + reduce.__all__ + phase2.__all__ + pocv2.__all__ + hooks.__all__
           + decode.__all__ + _snap_module.__all__ + validation.__all__ + reflect.__all__
           + overrides.__all__)
__all__ = list(dict.fromkeys(__all__))  # compute_distances: reduce's, re-exported by phase2
