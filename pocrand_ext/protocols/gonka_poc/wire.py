"""The decode scheme's artifacts on the chain's wire (plugin 0.2.0, chain v0.2.17): k_0 ... k_T,
one byte a step (257 bytes for T = 256).

The chain refuses a value outside 0 ... 255, and one such artifact fails the whole callback batch
(the plugin retries it 10 times, then drops it). A step whose final hidden state is not finite
snaps to k = -1 (SPEC.md 10.7), so a single such nonce would lose every other nonce of its batch.
`split_packable` keeps it out: pack what can be packed, report the rest. The validator then sees
the excluded nonce as not submitted (no artifact to check, no credit for it); every other nonce
of the batch is validated as usual.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

__all__ = ["pack_k_steps", "unpack_k_steps", "split_packable"]


def _steps(k) -> list[int]:
    if isinstance(k, torch.Tensor):
        if k.dim() != 1 or k.is_floating_point() or k.is_complex() or k.dtype == torch.bool:
            raise TypeError(f"k must be a 1-D integer tensor, got {k.dtype} of shape {list(k.shape)}")
        return [int(v) for v in k.tolist()]
    if isinstance(k, (str, bytes, bytearray)) or not isinstance(k, Sequence):
        raise TypeError(f"k must be a sequence of ints or a 1-D integer tensor, got {type(k).__name__}")
    out = []
    for t, v in enumerate(k):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"k step {t} must be an int, got {type(v).__name__}")
        out.append(v)
    return out


def pack_k_steps(k) -> bytes:
    """k_0 ... k_T (a sequence of ints or a 1-D integer tensor, at least one step) as one byte a
    step. A value outside 0 ... 255 (k = -1: a step that was not finite) is a ValueError naming
    the step: the chain would refuse it with the whole batch."""
    steps = _steps(k)
    if not steps:
        raise ValueError("k must hold at least one step (k_0, the prefill's)")
    for t, v in enumerate(steps):
        if not 0 <= v <= 255:
            raise ValueError(f"k step {t} = {v} is outside 0 ... 255: the chain refuses such an "
                             "artifact with its whole batch (see split_packable)")
    return bytes(steps)


def unpack_k_steps(b) -> list[int]:
    """The steps of pack_k_steps' bytes (bytes, bytearray or memoryview)."""
    if not isinstance(b, (bytes, bytearray, memoryview)):
        raise TypeError(f"b must be bytes, got {type(b).__name__}")
    if len(b) == 0:
        raise ValueError("b must hold at least one step")
    return list(bytes(b))


def split_packable(artifacts: Mapping[int, object]) -> tuple[dict[int, bytes], dict[int, str]]:
    """({nonce: packed bytes}, {nonce: why it was left out}) of a batch's artifacts {nonce: k}:
    submit the first, report the second. A nonce left out is one the validator sees as not
    submitted; the rest of the batch is not lost with it."""
    if not isinstance(artifacts, Mapping):
        raise TypeError(f"artifacts must be a mapping {{nonce: k}}, got {type(artifacts).__name__}")
    packed, excluded = {}, {}
    for nonce, k in artifacts.items():
        try:
            packed[nonce] = pack_k_steps(k)
        except ValueError as e:
            excluded[nonce] = str(e)
    return packed, excluded
