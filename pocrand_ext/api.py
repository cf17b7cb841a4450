"""pocrand's Python API: bit-identical random tensors on every device (spec pocrand-v1, SPEC.md).

Every function validates its arguments and raises TypeError/ValueError naming the argument, then
calls one torch op (torch.ops.pocrand.*). Seeds are derived here (SHA-256 of a string, SPEC.md
section 8) and sent to the device once per call, so one kernel launch serves a whole batch.
"""
from __future__ import annotations

import functools
import hashlib
import operator
from typing import Iterable, Sequence, Union

import torch

from . import _C  # noqa: F401  (registers torch.ops.pocrand.*)

__all__ = [
    "SPEC_VERSION", "build_info", "seed_from_string", "inputs_seed", "permutations_seed",
    "target_seed", "murmur3_32", "uniform", "normal", "generate_inputs", "generate_inputs_slice",
    "generate_permutations", "generate_target", "compute_distances",
]

SPEC_VERSION = "pocrand-v1"
MAX_COUNT = 2**31 - 1          # per-nonce elements and vocabulary size (the reference's domain)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_OUTPUT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

DeviceLike = Union[str, torch.device, int, None]


# ----------------------------------------------------------------------------------------------
# Argument checks: each names the argument it rejects.
# ----------------------------------------------------------------------------------------------
def _check_str(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def _check_int(name: str, value) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None


def _check_count(name: str, value) -> int:
    n = _check_int(name, value)
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    if n > MAX_COUNT:
        raise ValueError(f"{name} must be <= 2^31 - 1 = {MAX_COUNT}, got {n}")
    return n


def _check_seed(name: str, value) -> int:
    s = _check_int(name, value)
    if not 0 <= s < 2**32:
        raise ValueError(f"{name} must be a uint32 in [0, 2^32), got {s}")
    return s


def _check_nonces(nonces) -> list[int]:
    """Nonces as a list of Python ints in the int64 range (fast path for plain int lists)."""
    if type(nonces) in (list, tuple, range) and len(nonces) > 0 \
            and all(type(v) is int for v in nonces) \
            and _INT64_MIN <= min(nonces) and max(nonces) <= _INT64_MAX:
        return list(nonces)
    return _nonces_one_by_one(nonces)


def _nonces_one_by_one(nonces) -> list[int]:
    if isinstance(nonces, torch.Tensor):
        if nonces.dim() != 1 or nonces.dtype.is_floating_point or nonces.dtype == torch.bool \
                or nonces.is_complex():
            raise TypeError(f"nonces must be a 1-D integer tensor, got {nonces.dtype} "
                            f"with shape {tuple(nonces.shape)}")
        values = nonces.tolist()
    elif isinstance(nonces, (str, bytes)) or not isinstance(nonces, Iterable):
        raise TypeError(f"nonces must be a sequence of ints, got {type(nonces).__name__}")
    else:
        values = list(nonces)
    if not values:
        raise ValueError("nonces must not be empty")
    out = []
    for i, v in enumerate(values):
        v = _check_int(f"nonces[{i}]", v)
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise ValueError(f"nonces[{i}] = {v} is outside the int64 range")
        out.append(v)
    return out


# Devices already validated, by the argument that named them (CUDA's availability and the device
# count do not change within a process). A bare "cuda" is stored without an index and resolved
# to the current device on every call.
_checked_devices: dict = {}


def _check_device(device: DeviceLike) -> torch.device:
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


def _resolve_device(device: DeviceLike) -> torch.device:
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device, int)) or isinstance(device, bool):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"device {device!r} is not a valid device: {e}") from None
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


def _check_dtype(name: str, dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype, got {type(dtype).__name__}")
    if dtype not in _OUTPUT_DTYPES:
        raise ValueError(f"{name} must be torch.float32, torch.float16 or torch.bfloat16, got {dtype}")
    return dtype


def _seeds_tensor(seeds: Sequence[int], device: torch.device) -> torch.Tensor:
    """Seeds as int64 on `device`; a GPU gets them by an asynchronous copy from pinned memory
    (PyTorch's caching host allocator keeps the buffer alive until the copy is done)."""
    host = torch.tensor(seeds, dtype=torch.int64)
    if device.type == "cpu":
        return host
    return host.pin_memory().to(device, non_blocking=True)


# ----------------------------------------------------------------------------------------------
# Seeds (SPEC.md section 8)
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def build_info() -> str:
    """How this extension was built: 'cpu' or 'cpu+cuda:<archs>'."""
    return torch.ops.pocrand.build_info()


def seed_from_string(s: str) -> int:
    """First 4 bytes of SHA-256(UTF-8(s)) as a big-endian uint32."""
    _check_str("s", s)
    return int.from_bytes(hashlib.sha256(s.encode("utf-8")).digest()[:4], "big")


def inputs_seed(block_hash: str, public_key: str, nonce: int) -> int:
    """Seed of one nonce's inputs: seed_from_string(f"{block_hash}_{public_key}_nonce{nonce}")."""
    return seed_from_string(f"{block_hash}_{public_key}_nonce{nonce}")


def permutations_seed(block_hash: str, public_key: str, nonce: int) -> int:
    """Seed of one nonce's permutation: ..._nonce_{nonce}_permutations."""
    return seed_from_string(f"{block_hash}_{public_key}_nonce_{nonce}_permutations")


def target_seed(block_hash: str) -> int:
    """Seed of the target: seed_from_string(f"{block_hash}_target")."""
    return seed_from_string(f"{block_hash}_target")


def _seeds_for(prefix: str, nonces: list[int], device: torch.device, suffix: str = "") -> torch.Tensor:
    """seed_from_string(f"{prefix}{nonce}{suffix}") for each nonce, hashed in one C++ call, as an
    int64 tensor on `device` (a GPU gets it by an asynchronous copy from pinned memory)."""
    on_gpu = device.type == "cuda"
    seeds = torch.ops.pocrand.derive_seeds.default(prefix, nonces, suffix, on_gpu)
    return seeds.to(device, non_blocking=True) if on_gpu else seeds


# ----------------------------------------------------------------------------------------------
# Primitives
# ----------------------------------------------------------------------------------------------
def murmur3_32(keys: torch.Tensor, seed: int) -> torch.Tensor:
    """pocrand's murmur3 of each key's low 32 bits, as int64 values in [0, 2^32), keys' shape."""
    if not isinstance(keys, torch.Tensor):
        raise TypeError(f"keys must be a torch.Tensor, got {type(keys).__name__}")
    if keys.dtype.is_floating_point or keys.is_complex() or keys.dtype == torch.bool:
        raise TypeError(f"keys must be an integer tensor, got {keys.dtype}")
    seed = _check_seed("seed", seed)
    _check_device(keys.device)
    return torch.ops.pocrand.murmur3(keys.to(torch.int64).contiguous(), seed)


def uniform(seed: int, n: int, device: DeviceLike = "cpu") -> torch.Tensor:
    """float32 [n]: u(i, seed) = float32(hash(i, seed)) * 2^-32, in [0, 1] (1.0 included)."""
    seed, n, dev = _check_seed("seed", seed), _check_count("n", n), _check_device(device)
    return torch.ops.pocrand.uniform(_seeds_tensor([seed], dev), n)[0]


def normal(seed: int, n: int, device: DeviceLike = "cpu") -> torch.Tensor:
    """float32 [n]: Box-Muller standard normals of SPEC.md section 5."""
    seed, n, dev = _check_seed("seed", seed), _check_count("n", n), _check_device(device)
    return torch.ops.pocrand.normal(_seeds_tensor([seed], dev), n, torch.float32)[0]


# ----------------------------------------------------------------------------------------------
# The PoC operations
# ----------------------------------------------------------------------------------------------
def generate_inputs(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                    device: DeviceLike = "cpu", dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[len(nonces), seq_len, dim] normal inputs; row b depends on nonces[b] only."""
    _check_str("block_hash", block_hash)
    _check_str("public_key", public_key)
    nonces = _check_nonces(nonces)
    dim, seq_len = _check_count("dim", dim), _check_count("seq_len", seq_len)
    if dim * seq_len > MAX_COUNT:
        raise ValueError(f"seq_len * dim must be <= 2^31 - 1 = {MAX_COUNT}, got {seq_len * dim}")
    dtype, dev = _check_dtype("dtype", dtype), _check_device(device)
    # one op: seeds derived in C++ and handed to the kernel by value (no upload to wait for)
    # (.default: the overload itself, skipping the packet's overload resolution, ~1 us)
    x = torch.ops.pocrand.normal_nonces.default(f"{block_hash}_{public_key}_nonce", nonces, "",
                                                seq_len * dim, dtype, dev)
    return x.view(len(nonces), seq_len, dim)


def generate_inputs_slice(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                          start: int, end: int, device: DeviceLike = "cpu",
                          dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[len(nonces), end - start]: elements [start, end) of each nonce's flattened inputs,
    bit-identical to generate_inputs(...).view(len(nonces), -1)[:, start:end], computed without
    the rest (a tensor-parallel rank builds only its shard). A row range of the batch is just
    the matching slice of `nonces`: a nonce's inputs never depend on the other nonces."""
    _check_str("block_hash", block_hash)
    _check_str("public_key", public_key)
    nonces = _check_nonces(nonces)
    dim, seq_len = _check_count("dim", dim), _check_count("seq_len", seq_len)
    n = dim * seq_len
    if n > MAX_COUNT:
        raise ValueError(f"seq_len * dim must be <= 2^31 - 1 = {MAX_COUNT}, got {n}")
    start, end = _check_int("start", start), _check_int("end", end)
    if not 0 <= start < end <= n:
        raise ValueError(f"need 0 <= start < end <= seq_len * dim = {n}, got start={start}, end={end}")
    dtype, dev = _check_dtype("dtype", dtype), _check_device(device)
    seeds = _seeds_for(f"{block_hash}_{public_key}_nonce", nonces, dev)
    return torch.ops.pocrand.normal_range(seeds, n, start, end, dtype)


def generate_permutations(block_hash: str, public_key: str, nonces, vocab_size: int,
                          device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [len(nonces), vocab_size]: row b = 0..V-1 ordered by ascending hash(i, seed_b)."""
    _check_str("block_hash", block_hash)
    _check_str("public_key", public_key)
    nonces = _check_nonces(nonces)
    vocab_size, dev = _check_count("vocab_size", vocab_size), _check_device(device)
    seeds = _seeds_for(f"{block_hash}_{public_key}_nonce_", nonces, dev, "_permutations")
    return torch.ops.pocrand.permutations(seeds, vocab_size)


def generate_target(block_hash: str, vocab_size: int, device: DeviceLike = "cpu",
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[vocab_size] unit vector: normal(target seed, V) / its fixed-order norm, then dtype."""
    _check_str("block_hash", block_hash)
    vocab_size, dev = _check_count("vocab_size", vocab_size), _check_device(device)
    dtype = _check_dtype("dtype", dtype)
    return torch.ops.pocrand.unit_normal_seed.default(target_seed(block_hash), vocab_size, dtype,
                                                      dev)


def compute_distances(logits: torch.Tensor, permutations: torch.Tensor,
                      target: torch.Tensor, *, check: bool = True) -> torch.Tensor:
    """float32 [B]: || logits[b, perm[b]] / ||logits[b]|| - target ||; NaN for a row whose norm
    is zero or not finite (SPEC.md section 8). A permutation entry outside [0, V) raises
    (check=True, which synchronises a GPU) or makes its row NaN (check=False, never syncs)."""
    for name, t in (("logits", logits), ("permutations", permutations), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if logits.dim() != 2:
        raise ValueError(f"logits must be 2-D [batch, vocab], got shape {tuple(logits.shape)}")
    _check_dtype("logits.dtype", logits.dtype)
    if permutations.dtype != torch.int64:
        raise TypeError(f"permutations must be int64, got {permutations.dtype}")
    if permutations.shape != logits.shape:
        raise ValueError(f"permutations shape {tuple(permutations.shape)} must equal logits "
                         f"shape {tuple(logits.shape)}")
    if target.dim() != 1 or target.shape[0] != logits.shape[1]:
        raise ValueError(f"target must be 1-D of length {logits.shape[1]} (the vocab size), "
                         f"got shape {tuple(target.shape)}")
    _check_dtype("target.dtype", target.dtype)
    if logits.shape[0] < 1 or logits.shape[1] < 1:
        raise ValueError(f"logits must be non-empty, got shape {tuple(logits.shape)}")
    if logits.shape[1] > MAX_COUNT:
        raise ValueError(f"vocab size must be <= 2^31 - 1, got {logits.shape[1]}")
    if not (logits.device == permutations.device == target.device):
        raise ValueError(f"logits, permutations and target must be on one device, got "
                         f"{logits.device}, {permutations.device} and {target.device}")
    _check_device(logits.device)
    if not isinstance(check, bool):
        raise TypeError(f"check must be a bool, got {type(check).__name__}")
    return torch.ops.pocrand.distances(logits.contiguous(), permutations.contiguous(),
                                       target.contiguous(), check)


# ----------------------------------------------------------------------------------------------
# Fake (meta) implementations: shapes only, for torch.compile and fake tensors.
# ----------------------------------------------------------------------------------------------
@torch.library.register_fake("pocrand::derive_seeds")
def _derive_seeds_fake(prefix, nonces, suffix, pin_memory):
    return torch.empty((len(nonces),), dtype=torch.int64)


@torch.library.register_fake("pocrand::murmur3")
def _murmur3_fake(keys, seed):
    return torch.empty_like(keys)


@torch.library.register_fake("pocrand::uniform")
def _uniform_fake(seeds, n):
    return seeds.new_empty((seeds.shape[0], n), dtype=torch.float32)


@torch.library.register_fake("pocrand::normal")
def _normal_fake(seeds, n, dtype):
    return seeds.new_empty((seeds.shape[0], n), dtype=dtype)


@torch.library.register_fake("pocrand::normal_range")
def _normal_range_fake(seeds, n, start, end, dtype):
    return seeds.new_empty((seeds.shape[0], end - start), dtype=dtype)


@torch.library.register_fake("pocrand::normal_nonces")
def _normal_nonces_fake(prefix, nonces, suffix, n, dtype, device):
    return torch.empty((len(nonces), n), dtype=dtype, device=device)


@torch.library.register_fake("pocrand::unit_normal_seed")
def _unit_normal_seed_fake(seed, vocab_size, dtype, device):
    return torch.empty((vocab_size,), dtype=dtype, device=device)


@torch.library.register_fake("pocrand::permutations")
def _permutations_fake(seeds, vocab_size):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=torch.int64)


@torch.library.register_fake("pocrand::permutations_bucketed")
def _permutations_bucketed_fake(seeds, vocab_size, bucket_bits, capacity):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=torch.int64)


@torch.library.register_fake("pocrand::unit_normal")
def _unit_normal_fake(seeds, vocab_size, dtype):
    return seeds.new_empty((seeds.shape[0], vocab_size), dtype=dtype)


@torch.library.register_fake("pocrand::distances")
def _distances_fake(logits, permutations, target, check=True):
    return logits.new_empty((logits.shape[0],), dtype=torch.float32)
