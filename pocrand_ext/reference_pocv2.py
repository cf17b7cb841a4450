"""Old import path of PoC v2's torch restatement:
the module is pocrand_ext.protocols.pocv2.reference."""
import sys

from .protocols.pocv2 import reference as _module

sys.modules[__name__] = _module  # the same module object under both names
