"""Drop-in for the gonka-poc plugin's `gonka_poc.poc.gpu_random` (the prefill scheme): the PoC v2
module's names (pocrand_ext.gpu_random_v2) plus `derive_pseudo_input_ids`."""
from __future__ import annotations

from typing import List

import torch

from ..pocv2.gpu_random_v2 import *  # noqa: F401,F403
from ..pocv2.gpu_random_v2 import __all__ as _v2_all
from ..pocv2.gpu_random_v2 import _batched_murmur3_32, _seed_from_string  # noqa: F401
from .. import gonka_poc as _gp

__all__ = list(_v2_all) + ["derive_pseudo_input_ids"]


def derive_pseudo_input_ids(block_hash: str, public_key: str, nonces: List[int], seq_len: int,
                            vocab: int, device: torch.device) -> torch.Tensor:
    """int32 [len(nonces) * seq_len]: hash(p, seed(f"{bh}_{pk}_nonce{n}_input_ids")) mod vocab."""
    return _gp.pseudo_input_ids(block_hash, public_key, nonces, seq_len, vocab, device)
