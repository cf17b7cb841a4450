"""Old import path of the forward hooks: the module is pocrand_ext.integrate.hooks."""
import sys

from .integrate import hooks as _module

sys.modules[__name__] = _module  # the same module object (pickled hooks name either path)
