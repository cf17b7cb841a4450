"""pocrand_ext: random tensors that are bit-identical on every device (spec pocrand-v1).

See SPEC.md for the exact semantics and docs/api.md for usage. `pocrand_ext.gpu_random` offers the
names of the PoC 2.0 reference module, so a worker can swap that module for an import.
"""
from .api import *  # noqa: F401,F403
from .api import __all__
