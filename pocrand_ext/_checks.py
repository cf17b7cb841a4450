"""Argument checks shared by every public function: each raises TypeError/ValueError naming the
argument it rejects, before any op runs (the ops check again, for direct torch.ops callers)."""
from __future__ import annotations

import operator
import os
import re
from collections.abc import Iterable, Mapping, MappingView, Set
from typing import Union

import torch

from ._ext import build_info

MAX_COUNT = 2**31 - 1          # per-nonce elements and vocabulary size (the reference's domain)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
OUTPUT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

DeviceLike = Union[str, torch.device, int, None]


def check_str(name: str, value) -> str:
    """A str that has a UTF-8 encoding (seed strings are hashed as UTF-8): a lone surrogate, which
    Python strs can hold, is refused here rather than deep inside hashlib or the C++ op."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.isascii():  # ASCII always encodes; isascii is the cheap common case
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{name} is not encodable as UTF-8: lone surrogate "
                             f"{value[e.start]!r} at index {e.start}") from None
    return value


def check_int(name: str, value) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None


def check_int64(name: str, value) -> int:
    """An int an op's int64 argument can hold (beyond it torch raises a RuntimeError); its range
    for the op is the op's own check."""
    n = check_int(name, value)
    if not INT64_MIN <= n <= INT64_MAX:
        raise ValueError(f"{name} must fit in int64, got {n}")
    return n


def check_count(name: str, value) -> int:
    n = check_int(name, value)
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    if n > MAX_COUNT:
        raise ValueError(f"{name} must be <= 2^31 - 1 = {MAX_COUNT}, got {n}")
    return n


def check_seed(name: str, value) -> int:
    s = check_int(name, value)
    if not 0 <= s < 2**32:
        raise ValueError(f"{name} must be a uint32 in [0, 2^32), got {s}")
    return s


def check_nonce(name: str, value) -> int:
    n = check_int(name, value)
    if not INT64_MIN <= n <= INT64_MAX:
        raise ValueError(f"{name} = {n} is outside the int64 range")
    return n


def check_nonces(nonces) -> list[int]:
    """Nonces as a list of Python ints in the int64 range (fast path for plain int lists)."""
    if type(nonces) in (list, tuple, range) and len(nonces) > 0 \
            and all(type(v) is int for v in nonces) \
            and INT64_MIN <= min(nonces) and max(nonces) <= INT64_MAX:
        return list(nonces)
    return _nonces_one_by_one(nonces)


def _nonces_one_by_one(nonces) -> list[int]:
    if isinstance(nonces, torch.Tensor):
        if nonces.dim() != 1 or nonces.dtype.is_floating_point or nonces.dtype == torch.bool \
                or nonces.is_complex():
            raise TypeError(f"nonces must be a 1-D integer tensor, got {nonces.dtype} "
                            f"with shape {tuple(nonces.shape)}")
        if nonces.device.type == "meta":
            raise ValueError("nonces is a meta tensor, which holds no values; pass the nonces "
                             "as a list or a CPU/CUDA tensor")
        values = nonces.tolist()
    elif getattr(nonces, "ndim", None) == 0:  # a 0-d array (numpy): one value, not a sequence
        raise TypeError(f"nonces must be a 1-D sequence of ints, got a 0-d "
                        f"{type(nonces).__name__}; wrap it in a list: [nonce]")
    elif isinstance(nonces, (str, bytes)) or not isinstance(nonces, Iterable):
        raise TypeError(f"nonces must be a sequence of ints, got {type(nonces).__name__}")
    elif isinstance(nonces, (Set, Mapping, MappingView)):
        # Row b belongs to the b-th nonce: an unordered collection would give arbitrary rows.
        raise TypeError(f"nonces must be an ordered sequence of ints (row b is nonces[b]), got "
                        f"{type(nonces).__name__}, whose order is arbitrary; pass a list")
    else:
        values = list(nonces)
    if not values:
        raise ValueError("nonces must not be empty")
    return [check_nonce(f"nonces[{i}]", v) for i, v in enumerate(values)]


# Devices already validated, by the argument that named them (CUDA's availability and the device
# count do not change within a process). A bare "cuda" is stored without an index and resolved
# to the current device on every call.
_checked_devices: dict = {}


def check_device(device: DeviceLike) -> torch.device:
    """The device as a torch.device with its index resolved; raises naming the argument."""
    cacheable = type(device) in (str, torch.device)
    known = _checked_devices.get(device) if cacheable else None
    if known is None:
        known = _resolve_device(device)
        if cacheable:
            _checked_devices[device] = torch.device(device) if known.type == "cuda" else known
    if known.type == "cuda" and known.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return known


def check_tensor_device(name: str, t: torch.Tensor) -> torch.Tensor:
    """t's device, resolved as check_device does; a tensor on another kind of device (meta, xla,
    ...) is a ValueError naming the tensor."""
    if t.device.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} is on {t.device}: pocrand runs on 'cpu' and 'cuda' devices only")
    return check_device(t.device)


def _resolve_device(device: DeviceLike) -> torch.device:
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device, int)) or isinstance(device, bool):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"device {device!r} is not a valid device: {e}") from None
    # torch.device keeps 8 bits of the index it is given ("cuda:256" becomes cuda:0): compare
    # with the index as written, so that an out-of-range index never selects another GPU.
    written = device if isinstance(device, int) else (
        int(device.rsplit(":", 1)[1]) if isinstance(device, str) and ":" in device else dev.index)
    if written != dev.index or (written is not None and written < 0):
        raise ValueError(f"device {device!r}: index {written} is out of range")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: CUDA is not available in this process")
        if "cuda" not in build_info():
            raise ValueError(f"device {device!r}: this pocrand build has no CUDA kernels "
                             f"(build info: {build_info()}); rebuild on a CUDA toolchain")
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA "
                             f"device(s) are visible")
        dev = torch.device("cuda", index)
    elif dev.type != "cpu":
        raise ValueError(f"device {device!r}: pocrand runs on 'cpu' and 'cuda' devices only")
    return dev


def device_memory(dev: torch.device) -> int:
    """Bytes of memory a device has in all: a CUDA device's total memory (a cached property, no
    synchronisation), the host's physical memory for the CPU."""
    if dev.type == "cuda":
        return torch.cuda.get_device_properties(dev).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf: never refuse on a guess
        return 2**63 - 1


def check_total(what: str, elements: int, element_size: int, dev: torch.device) -> None:
    """An output of `elements` elements must fit the device's memory: a total that cannot be
    allocated is refused before any seed is hashed, naming the arguments that make it."""
    if torch.compiler.is_compiling():
        return
    need, have = elements * element_size, device_memory(dev)
    if need > have:
        raise ValueError(f"{what} = {elements} elements ({need / 2**30:.4g} GiB) exceed the "
                         f"{have / 2**30:.4g} GiB of memory of {dev}; ask for fewer at a time")


def check_dtype(name: str, dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype, got {type(dtype).__name__}")
    if dtype not in OUTPUT_DTYPES:
        raise ValueError(f"{name} must be torch.float32, torch.float16 or torch.bfloat16, got {dtype}")
    return dtype


class named_as:
    """A drop-in under another module's names calls a generic function whose errors name the
    generic arguments: in a TypeError or ValueError raised inside, each whole word that is one of
    `names`' keys (a generic name) is replaced by its value (the caller's name for it).
    with named_as(seeds="route_base", step="steps"): decode.forced_logits(route_base, ..., steps)
    (A class, not a generator: it wraps op calls on the forward path, where contextlib's
    generator machinery costs a microsecond a call.)"""
    __slots__ = ("names",)

    def __init__(self, **names):
        self.names = names

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if kind is None or not issubclass(kind, (TypeError, ValueError)):
            return False
        names = self.names
        msg = str(e)
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
        renamed = pattern.sub(lambda m: names[m.group(1)], msg)
        if renamed == msg:
            return False
        # the base class: a subclass such as UnicodeEncodeError takes other constructor arguments
        raise (TypeError if issubclass(kind, TypeError) else ValueError)(renamed) from None


def one_device(name: str, x: torch.Tensor, **others) -> None:
    """Every other tensor given (not None) on x's device. For the ops' fake (meta) functions: a
    meta tensor among the arguments of a call on real tensors sends the call there, past the op's
    own checks, and the fake would return an unwritten tensor on x's device."""
    for other, t in others.items():
        if t is not None and t.device != x.device:
            raise ValueError(f"{name} and {other} must be on one device, got {x.device} and "
                             f"{t.device}")


def check_tensors(**tensors) -> None:
    """check_tensor for each name=value."""
    for name, value in tensors.items():
        check_tensor(name, value)


def check_tensor(name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_no_grad(name: str, t: torch.Tensor) -> torch.Tensor:
    """pocrand's ops have no derivatives (their outputs are bits to be reproduced, not functions
    to train through): an input that requires grad is refused instead of yielding an output that
    pretends to be differentiable."""
    if t.requires_grad:
        raise ValueError(f"{name} requires grad, but pocrand's operations are not differentiable; "
                         f"pass {name}.detach()")
    return t


# ---- memory overlap: the rules of csrc/op_checks.h (ATen's overlap checks), before any op runs ----

_EXACT_OVERLAP_ELEMENTS = 1 << 22  # beyond this, two strided views whose spans meet are refused


def _may_self_overlap(t: torch.Tensor) -> bool:
    """True when t's elements may share memory: dimensions sorted by stride must each step past
    the span of the smaller ones (ATen decides the same for dense tensors and stride 0)."""
    span = 0
    for stride, size in sorted((abs(st), sz) for st, sz in zip(t.stride(), t.shape) if sz > 1):
        if stride <= span:
            return True
        span += stride * (size - 1)
    return False


def check_no_self_overlap(name: str, t: torch.Tensor) -> torch.Tensor:
    """A tensor about to be written must not have two elements at one address (an expanded or
    as_strided view): each would get two values, and which one wins is a race on a GPU."""
    if not torch.compiler.is_compiling() and t.numel() > 1 and _may_self_overlap(t):
        raise ValueError(f"{name} has elements that share memory (strides {list(t.stride())} "
                         f"for shape {list(t.shape)}): writing it would give some elements two "
                         f"values; pass a tensor whose elements are distinct (e.g. "
                         f"{name}.clone())")
    return t


def _offsets(t: torch.Tensor) -> torch.Tensor:
    """Every element's offset in its storage (in elements), flattened."""
    off = torch.full((), t.storage_offset(), dtype=torch.int64)
    for d, (size, stride) in enumerate(zip(t.shape, t.stride())):
        off = off.unsqueeze(-1) + torch.arange(size, dtype=torch.int64) * stride
    return off.reshape(-1)


def _share_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.numel() == 0 or b.numel() == 0 or a.device != b.device:
        return False
    if a.untyped_storage().data_ptr() != b.untyped_storage().data_ptr():
        return False
    es_a, es_b = a.element_size(), b.element_size()
    lo_a = a.storage_offset() * es_a
    hi_a = lo_a + (sum((s - 1) * st for s, st in zip(a.shape, a.stride())) + 1) * es_a
    lo_b = b.storage_offset() * es_b
    hi_b = lo_b + (sum((s - 1) * st for s, st in zip(b.shape, b.stride())) + 1) * es_b
    if hi_a <= lo_b or hi_b <= lo_a:
        return False
    if (a.is_contiguous() and b.is_contiguous()) or es_a != es_b \
            or a.numel() + b.numel() > _EXACT_OVERLAP_ELEMENTS:
        return True  # dense spans that meet share elements; a large strided pair: refused safely
    return bool(torch.isin(_offsets(a), _offsets(b)).any())


def check_no_overlap(a_name: str, a: torch.Tensor, b_name: str, b: torch.Tensor) -> None:
    """a is written while b is read: they must not share memory (ATen's assert_no_overlap)."""
    if not torch.compiler.is_compiling() and _share_memory(a, b):
        raise ValueError(f"{a_name} and {b_name} share memory; an in-place reflection writes "
                         f"{a_name} while it reads {b_name}, so they must not overlap (pass a "
                         f"copy)")


def check_writes_apart(writes: Mapping[str, torch.Tensor], **reads) -> None:
    """An in-place form's write-back through a copy (a strided tensor): no written tensor has two
    elements at one address, the written ones share no memory, and none shares memory with a
    tensor it reads (reads given as name=tensor, None skipped). The op checks the same for the
    tensors it writes itself."""
    named = list(writes.items())
    for name, t in named:
        check_no_self_overlap(name, t)
    for i, (name, t) in enumerate(named):
        for other, u in named[i + 1:]:
            check_no_overlap(name, t, other, u)
    for name, t in named:
        for other, u in reads.items():
            if u is not None:
                check_no_overlap(name, t, other, u)
