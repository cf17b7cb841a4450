"""pocrand_ext: random tensors that are bit-identical on every device (spec pocrand-v1).

See SPEC.md for the exact semantics and docs/api.md for usage. The package's layers: the generic
ops (seeds.py, streams.py, ... at the top level), one folder per protocol generation under
protocols/ (its seed strings, drop-ins and torch restatement), integrate/ (the transforms in a
model's forward: hooks and in-graph wrappers) and cli/ (`pocrand`); docs/architecture.md draws
them. api.py lists the names exported here. `pocrand_ext.gpu_random` offers the names of the PoC
2.0 reference module, so a worker can swap that module for an import.
"""
from .api import *  # noqa: F401,F403  (api.__all__, an explicit list)
from .api import __all__
