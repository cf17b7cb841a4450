"""Old import path of the Phase 2 drop-in (vllm/poc/gpu_random.py's names):
the module is pocrand_ext.protocols.phase2.gpu_random."""
import sys

from .protocols.phase2 import gpu_random as _module

sys.modules[__name__] = _module  # the same module object under both names
