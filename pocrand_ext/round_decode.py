"""Old import path of the decode round demo: the module is pocrand_ext.cli.round_decode."""
import sys

from .cli import round_decode as _module

sys.modules[__name__] = _module  # the same module object, so patching either name patches both
