"""The compiled library: importing it registers torch.ops.pocrand.*; what it was built with."""
from __future__ import annotations

import functools

import torch

from . import _C  # noqa: F401  (registers torch.ops.pocrand.*)

SPEC_VERSION = "pocrand-v1"


@functools.lru_cache(maxsize=None)
def build_info() -> str:
    """How this extension was built: 'cpu' or 'cpu+cuda:<archs>'."""
    return torch.ops.pocrand.build_info()
