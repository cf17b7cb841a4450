"""pocrand's Python API: bit-identical random tensors on every device (spec pocrand-v1, SPEC.md).

The names of `pocrand_ext`, each imported from the layer that defines it:
- the generic ops, by what they do: seeds.py (SHA-256 of seed strings), streams.py (generators),
  householder.py and reduce.py (fixed-order reductions), decode.py (streams from seeds held on
  the device), reflect.py and overrides.py (the masked per-row ops of a forward pass), snap.py
  and validation.py (the decode scheme's snap and its validation); they take seeds, sizes and
  tensors and know no protocol's seed strings;
- the protocol layers, protocols/phase2/ (the seed document's Phase 2) and protocols/pocv2/
  (PoC v2): each generation's seed strings and its functions composed from the generic ops.
  The gonka-poc plugin's layer (protocols/gonka_poc/) is reached as pocrand_ext.gonka_poc and
  pocrand_ext.protocols.gonka_poc, not from here;
- integrate/: PoC v2's forward hooks (install_householder_hooks) and the in-graph wrappers
  (pocrand_ext.poc_graph).
Every function validates its arguments and raises TypeError/ValueError naming the argument, then
calls torch.ops.pocrand.* (one kernel launch serves a whole batch of nonces).
"""
from __future__ import annotations

# The modules themselves stay attributes of the package (pocrand_ext.decode, .streams, ...).
from . import (decode, hooks, householder, overrides, reduce, reflect, seeds,  # noqa: F401
               streams, validation)
from ._checks import MAX_COUNT  # noqa: F401
from ._ext import SPEC_VERSION, build_info
# generic ops
from .decode import (forced_logits, hash_mod, normal_from_seeds, pick_from_seeds, step_normal,
                     step_seeds)
from .householder import (apply_householder, apply_householder_, apply_householder_pair,
                          apply_householder_pair_)
from .overrides import embed_synth, embed_synth_, router_override, router_override_
from .reduce import compute_distances
from .reflect import (fused_add_rms_norm_reflect, reflect_rows, reflect_rows_, reflect_rows_pair,
                      reflect_rows_pair_)
from .seeds import seed_from_string, seed_words
from .snap import claimed_margin, codebook_sha256, load_codebook, snap
from .streams import murmur3_32, normal, uniform, unit_vectors
from .validation import binomial_upper_tail, decode_validation, missing_nonce_cap
# protocol layers
from .protocols.phase2 import (generate_inputs, generate_inputs_slice, generate_permutations,
                               generate_target, inputs_seed, permutations_seed, target_seed)
from .protocols.pocv2 import (artifacts, generate_inputs_concat, generate_inputs_concat_slice,
                              generate_target_v2, haar_rotate, haar_seed, householder_vectors,
                              layer_seed, pick_indices, pick_seed, target_v2_seed)
# integration
from .integrate.hooks import install_householder_hooks

__all__ = [
    "SPEC_VERSION", "build_info",
    # seeds, streams, householder, reduce
    "seed_from_string", "seed_words",
    "murmur3_32", "uniform", "normal", "unit_vectors",
    "apply_householder", "apply_householder_", "apply_householder_pair", "apply_householder_pair_",
    "compute_distances",
    # Phase 2 (protocols/phase2/)
    "inputs_seed", "permutations_seed", "target_seed", "generate_inputs", "generate_inputs_slice",
    "generate_permutations", "generate_target",
    # PoC v2 (protocols/pocv2/)
    "pick_seed", "haar_seed", "layer_seed", "target_v2_seed", "generate_inputs_concat",
    "generate_inputs_concat_slice", "householder_vectors", "generate_target_v2", "pick_indices",
    "haar_rotate", "artifacts",
    # integration (integrate/hooks.py)
    "install_householder_hooks",
    # decode, snap, validation, reflect, overrides
    "step_seeds", "step_normal", "normal_from_seeds", "pick_from_seeds", "hash_mod",
    "forced_logits",
    "snap", "claimed_margin", "load_codebook", "codebook_sha256",
    "decode_validation", "binomial_upper_tail", "missing_nonce_cap",
    "reflect_rows", "reflect_rows_", "reflect_rows_pair", "reflect_rows_pair_",
    "fused_add_rms_norm_reflect",
    "embed_synth", "embed_synth_", "router_override", "router_override_",
]
