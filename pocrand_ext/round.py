"""Old import path of the PoC v2 round demo: the module is pocrand_ext.cli.round_prefill."""
import sys

from .cli import round_prefill as _module

sys.modules[__name__] = _module  # the same module object, so patching either name patches both
