"""Drop-in names of the PoC 2.0 reference module `vllm/poc/gpu_random.py`, backed by pocrand.

    from pocrand_ext import gpu_random   # instead of: from vllm.poc import gpu_random

Integer results (seeds, hashes, permutations) equal the reference's; float results follow the same
operation sequence with pocrand's portable log/sin/cos, so they are identical on every device
(SPEC.md). The private helpers keep their reference names and argument order. A name map only:
the functions are this folder's (protocols/phase2/) and the generic ops'.
"""
from . import (compute_distances, generate_inputs, generate_permutations,
                generate_target)
from ...seeds import seed_from_string as _seed_from_string
from ...streams import murmur3_32 as _murmur3_32, normal as _normal, uniform as _uniform

__all__ = ["_seed_from_string", "_murmur3_32", "_uniform", "_normal", "generate_inputs",
           "generate_permutations", "generate_target", "compute_distances"]
