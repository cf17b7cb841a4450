"""Old import path of the gonka-poc plugin's torch restatement:
the module is pocrand_ext.protocols.gonka_poc.reference."""
import sys

from .protocols.gonka_poc import reference as _module

sys.modules[__name__] = _module  # the same module object under both names
