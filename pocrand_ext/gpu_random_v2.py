"""Old import path of the PoC v2 drop-in:
the module is pocrand_ext.protocols.pocv2.gpu_random_v2."""
import sys

from .protocols.pocv2 import gpu_random_v2 as _module

sys.modules[__name__] = _module  # the same module object under both names
