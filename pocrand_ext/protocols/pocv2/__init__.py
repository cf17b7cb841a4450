"""PoC v2, the pipeline nodes run (SPEC.md section 9): its seed strings, and its functions
composed from the generic ops. Its inputs are Phase 2's (phase2.generate_inputs), or the concat
inputs of the same strings.

Seed strings (SPEC.md 9.5; nonces written with str(), k, i, j decimal integers):

    inputs, concat inputs     f"{block_hash}_{public_key}_nonce{nonce}"     (phase2's)
    target                    f"{block_hash}_{public_key}_target"
    layer i's vector          f"{block_hash}_layer_{i}_householder"
    pick of k                 f"{block_hash}_{public_key}_nonce_{nonce}_pick_{k}"
    Haar reflection j of k    f"{block_hash}_{public_key}_nonce_{nonce}_haar_hh_{k}_{j}"

The artifacts op gets the pick and Haar strings as their prefix and their two endings (built here
and nowhere else), so that a GPU derives the seeds without an upload.
"""
from __future__ import annotations

import torch

from ..._checks import (DeviceLike, check_count, check_device, check_tensor_device, check_dtype,
                        check_int, check_no_grad, check_nonce, check_nonces, check_str,
                        check_tensor, check_total)
from ...reduce import haar_rotate_of_seeds
from ...seeds import seed_grid, seed_of, seed_words_for, seeds_for
from ...sort import pick_of_seeds
from ...streams import (concat_normal_of_nonces, concat_normal_slice_of_words,
                       inputs_shape, unit_vectors_of_nonces, unit_vectors_of_seeds)
from ..phase2 import checked_pair, checked_slice_request, inputs_prefix

__all__ = ["pick_seed", "haar_seed", "layer_seed", "target_v2_seed", "generate_inputs_concat",
           "generate_inputs_concat_slice", "householder_vectors", "generate_target_v2",
           "pick_indices", "haar_rotate", "artifacts"]


# ----------------------------------------------------------------------------------------------
# The seed strings. Each takes parts its caller has checked (check_str, check_nonce, check_int).
# ----------------------------------------------------------------------------------------------
def target_string(block_hash: str, public_key: str) -> str:
    return f"{block_hash}_{public_key}_target"


def layer_prefix(block_hash: str) -> str:
    """Layer i's string is this prefix + str(i) + LAYER_SUFFIX."""
    return f"{block_hash}_layer_"


LAYER_SUFFIX = "_householder"


def nonce_prefix(block_hash: str, public_key: str) -> str:
    """A nonce's pick and Haar strings start with this prefix + str(nonce)."""
    return f"{block_hash}_{public_key}_nonce_"


def pick_suffix(k: int) -> str:
    return f"_pick_{k}"


def haar_infix(k: int) -> str:
    """Reflection j's string is nonce_prefix + str(nonce) + this infix + str(j)."""
    return f"_haar_hh_{k}_"


def pick_seed(block_hash: str, public_key: str, nonce: int, k: int) -> int:
    """Seed of a nonce's pick of k indices: ..._nonce_{nonce}_pick_{k}."""
    bh, pk = checked_pair(block_hash, public_key)
    n = check_nonce("nonce", nonce)
    return seed_of(f"{nonce_prefix(bh, pk)}{n}{pick_suffix(check_int('k', k))}")


def haar_seed(block_hash: str, public_key: str, nonce: int, k: int, j: int) -> int:
    """Seed of reflection j of a nonce's Haar rotation of k values: ..._haar_hh_{k}_{j}."""
    bh, pk = checked_pair(block_hash, public_key)
    n, k, j = check_nonce("nonce", nonce), check_int("k", k), check_int("j", j)
    return seed_of(f"{nonce_prefix(bh, pk)}{n}{haar_infix(k)}{j}")


def layer_seed(block_hash: str, layer: int) -> int:
    """Seed of layer i's Householder vector: {block_hash}_layer_{i}_householder."""
    bh = check_str("block_hash", block_hash)
    return seed_of(f"{layer_prefix(bh)}{check_int('layer', layer)}{LAYER_SUFFIX}")


def target_v2_seed(block_hash: str, public_key: str) -> int:
    """Seed of PoC v2's target: {block_hash}_{public_key}_target."""
    return seed_of(target_string(*checked_pair(block_hash, public_key)))


# ----------------------------------------------------------------------------------------------
# The functions
# ----------------------------------------------------------------------------------------------
def generate_inputs_concat(block_hash: str, public_key: str, nonces, dim: int, seq_len: int,
                           device: DeviceLike = "cpu", dtype: torch.dtype = torch.float16,
                           out: torch.Tensor | None = None) -> torch.Tensor:
    """[len(nonces), seq_len, dim] inputs from all 256 bits of each nonce's SHA-256: 8 segments,
    each normal(sub-seed j, its length) (SPEC.md 9.1). Same arguments as generate_inputs."""
    bh, pk = checked_pair(block_hash, public_key)
    nonces = check_nonces(nonces)
    dim, seq_len, n = inputs_shape(dim, seq_len)
    dtype, dev = check_dtype("dtype", dtype), check_device(device)
    if out is None:
        check_total("len(nonces) * seq_len * dim", len(nonces) * n, dtype.itemsize, dev)
    return concat_normal_of_nonces(inputs_prefix(bh, pk), nonces, "", seq_len, dim, dev, dtype,
                                   out)


def generate_inputs_concat_slice(block_hash: str, public_key: str, nonces, dim: int,
                                 seq_len: int, start: int, end: int, device: DeviceLike = "cpu",
                                 dtype: torch.dtype = torch.float16) -> torch.Tensor:
    """[len(nonces), end - start]: elements [start, end) of each nonce's flattened concat inputs,
    bit-identical to the same slice of generate_inputs_concat, computed without the rest."""
    prefix, nonces, n, start, end, dtype, dev = checked_slice_request(
        block_hash, public_key, nonces, dim, seq_len, start, end, device, dtype)
    return concat_normal_slice_of_words(seed_words_for(prefix, nonces, dev), n, start, end, dtype)


def householder_vectors(block_hash: str, num_layers: int, dim: int, device: DeviceLike = "cpu",
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[num_layers, dim]: the unit vector of f"{block_hash}_layer_{i}_householder" for every
    layer i, in one call (the vectors the forward hooks reflect each layer's output by), divided
    in float32 and rounded once to dtype (float32 by default)."""
    bh = check_str("block_hash", block_hash)
    num_layers, dim = check_count("num_layers", num_layers), check_count("dim", dim)
    dev, dtype = check_device(device), check_dtype("dtype", dtype)
    check_total("num_layers * dim", num_layers * dim, dtype.itemsize, dev)
    if dtype == torch.float32:
        return unit_vectors_of_nonces(layer_prefix(bh), range(num_layers), LAYER_SUFFIX, dim, dev)
    seeds = [seed_of(f"{layer_prefix(bh)}{i}{LAYER_SUFFIX}") for i in range(num_layers)]
    return unit_vectors_of_seeds(seeds, dim, dev, dtype)


def generate_target_v2(block_hash: str, public_key: str, dim: int, device: DeviceLike = "cpu",
                       dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """PoC v2's target, [dim]: the unit vector of f"{block_hash}_{public_key}_target" (SPEC.md
    9.7), divided in float32 and then rounded once to dtype."""
    bh, pk = checked_pair(block_hash, public_key)
    dim, dev, dtype = check_count("dim", dim), check_device(device), check_dtype("dtype", dtype)
    return unit_vectors_of_seeds([seed_of(target_string(bh, pk))], dim, dev, dtype)[0]


def pick_indices(block_hash: str, public_key: str, nonces, dim: int, k: int,
                 device: DeviceLike = "cpu") -> torch.Tensor:
    """int64 [len(nonces), k]: the k indices of [0, dim) with the smallest hash(i, pick seed),
    the k - 1 below the k-th smallest in ascending index order, then the k-th smallest's index
    (SPEC.md 9.4: the order the deployed GPU nodes produce, on every device)."""
    bh, pk = checked_pair(block_hash, public_key)
    nonces = check_nonces(nonces)
    dim, k = check_count("dim", dim), check_int("k", k)
    if not 1 <= k <= dim:
        raise ValueError(f"k must be in [1, dim], got k={k}, dim={dim}")
    dev = check_device(device)
    return pick_of_seeds(seeds_for(nonce_prefix(bh, pk), nonces, dev, pick_suffix(k)), dim, k)


def haar_rotate(block_hash: str, public_key: str, nonces, x: torch.Tensor) -> torch.Tensor:
    """[B, k] in x's dtype: each row of x reflected by the unit vectors of its nonce's Haar seeds
    ..._nonce_{n}_haar_hh_{k}_{j}, j = 0 .. k-2, in that order (SPEC.md 9.10)."""
    bh, pk = checked_pair(block_hash, public_key)
    nonces = check_nonces(nonces)
    check_no_grad("x", check_tensor("x", x))
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D [batch, k], got shape {list(x.shape)}")
    if x.shape[1] < 1:
        raise ValueError(f"k must be positive, got k={x.shape[1]}")
    check_count("k (x.shape[1])", x.shape[1])
    if x.shape[0] != len(nonces):
        raise ValueError(f"x has {x.shape[0]} rows but there are {len(nonces)} nonces")
    check_dtype("x.dtype", x.dtype)
    dev = check_tensor_device("x", x)
    k = x.shape[1]
    seeds = seed_grid(nonce_prefix(bh, pk), nonces, haar_infix(k), k - 1, dev)
    return haar_rotate_of_seeds(x.contiguous(), seeds)


def artifacts(hidden: torch.Tensor, block_hash: str, public_key: str, nonces, k: int = 12):
    """(fp16 [B, k], bool [B]): PoC v2's artifact of each nonce's last hidden state [B, H] —
    x / (|x| + 1e-8), pick k, Haar-rotate in float32, y / (|y| + 1e-8), fp16 (SPEC.md 9.11). A
    row with a NaN or Inf (or whose norm overflows) gives fp16 NaNs and True in the flags."""
    check_no_grad("hidden", check_tensor("hidden", hidden))
    if hidden.dim() != 2:
        raise ValueError(f"hidden must be 2-D [batch, hidden], got shape {list(hidden.shape)}")
    if hidden.dtype == torch.float64:
        hidden = hidden.float()  # rounded to nearest, the same on every device
    check_dtype("hidden.dtype", hidden.dtype)
    bh, pk = checked_pair(block_hash, public_key)
    nonces = check_nonces(nonces)
    if hidden.shape[0] != len(nonces):
        raise ValueError(f"hidden has {hidden.shape[0]} rows but there are {len(nonces)} nonces")
    H = check_count("hidden size (hidden.shape[1])", hidden.shape[1])
    k = check_int("k", k)
    if not 1 <= k <= H:
        raise ValueError(f"k must be in [1, hidden size], got k={k}, hidden size={H}")
    check_tensor_device("hidden", hidden)
    # one op: the pick and Haar seeds are derived inside it (on a GPU, by the kernels: no upload)
    return torch.ops.pocrand.artifacts_nonces.default(hidden.contiguous(), nonce_prefix(bh, pk),
                                                      nonces, k, pick_suffix(k), haar_infix(k))


@torch.library.register_fake("pocrand::artifacts_nonces")
def _artifacts_nonces_fake(hidden, prefix, nonces, k, pick, haar):
    b = hidden.shape[0]
    return (hidden.new_empty((b, k), dtype=torch.float16), hidden.new_empty((b,), dtype=torch.bool))
