"""Independent NumPy implementation of SPEC.md (pocrand-v1), written from the spec text.

Rules followed throughout the computation path, in every module of this package: every
floating-point operation is a single binary32 operation on np.float32 values (one RNE rounding
each, no fused multiply-add, no reassociation, no float64 intermediates, no numpy transcendental
or reduction routines such as np.sum/np.dot/np.log/np.sin); every constant is
np.float32(float.fromhex(...)) of the spec's hex float; all integer steps are u32 arithmetic on
np.uint32 arrays (wraparound intended).  float64 appears only in the self-check (selfcheck.py,
selfcheck_v2.py, run by ``python tests/spec_numpy``).  Sections 0-8 are the Phase-2 pipeline;
section 9 (PoC v2) and section 10 (gonka-poc) follow them, under the same rules.

One module per SPEC.md topic:

    constants        0     the constants (hex floats checked exact in binary32)
    hashing          1     murmur3, fmix32 and its inverse
    uniforms         2     uniform
    logarithm        3     log
    trig             4     sin and cos
    gaussian         5     Box-Muller, normal
    rounding         6     output rounding (float16, bfloat16)
    reduction        7     reduction order (tree sums)
    operations       8     the Phase-2 operations
    pocv2            9     PoC v2
    gonka_streams    10.1-10.5    step seeds, streams, forced router logits, gonka-poc seeds
    gonka_snap       10.6-10.9    snap, claimed margin, validation statistics
    gonka_reflect    10.10, 10.14 masked row-group reflection; fused add + RMSNorm with it
    gonka_overrides  10.11-10.12  masked forward-pass overrides
    gonka_vector     9.4 host order, 10.13  the vector channel's pick and slices
    selfcheck, selfcheck_v2       the self-check (float64 only as a reference)

Every name of every module, underscore names included, is re-exported here, so that
``import spec_numpy as spec`` then ``spec.normal``, ``spec._widen`` etc. reach them.
"""
from __future__ import annotations

from .constants import (  # noqa: F401
    CANONICAL_NAN, CANONICAL_NAN_BITS, F32, _HALF, MIN_U1, _MINUS_TWO, _ONE, _TWO, TWO_NEG32,
    TWO_PI, U32, _ZERO, _hexf, _u,
)
from .hashing import (  # noqa: F401
    _C1, _C2, _FM1, _FM1_INV, _FM2, _FM2_INV, _N, fmix32, fmix32_inverse, _murmur3, murmur3,
    murmur3_32, _rotl,
)
from .uniforms import (  # noqa: F401
    _u32_to_f32, uniform, uniform_from_hash,
)
from .logarithm import (  # noqa: F401
    LG1, LG2, LG3, LG4, LN2_HI, LN2_LO, log,
)
from .trig import (  # noqa: F401
    C1, C2, C3, PIO2_C1, PIO2_C2, PIO2_C3, RINT_MAGIC, S1, S2, S3, TWO_OVER_PI, _kernel_cos,
    _kernel_sin, sincos,
)
from .gaussian import (  # noqa: F401
    box_muller, normal,
)
from .rounding import (  # noqa: F401
    _deliver, to_bf16_bits, to_fp16_bits,
)
from .reduction import (  # noqa: F401
    CHUNK, norm, _norm_rows, sumsq, _sumsq_rows, tree_sum, _tree_sum_rows,
)
from .operations import (  # noqa: F401
    _check_nonce, compute_distances, generate_inputs, generate_permutations, generate_target,
    inputs_seed, permutations_seed, seed_from_string, target_seed, _widen,
)
from .pocv2 import (  # noqa: F401
    _BATCH_ELEMS, EPS8, FP16_NAN_BITS, _MAX_DIM, _STORAGE, TINY, artifacts, _canonicalize_nan,
    _check_storage, concat_normal, concat_normal_element, concat_segments, _deliver_canonical,
    generate_inputs_concat, generate_target_v2, haar_rotate, haar_seed, haar_seeds, householder,
    _householder_f32, inputs_words, layer_seed, layer_vectors, normal_elements, _normal_rows, pick,
    pick_indices, pick_seed, seed_words, _seeds_u32, target_v2_seed, unit_vector, unit_vectors,
)
from .gonka_streams import (  # noqa: F401
    EXPERT_FLOOR, LADDER_BASE, MIX_A, MIX_B, SALT_EMBED, SALT_PICK, SALT_TOKEN_ID, forced_logits,
    gonka_base_seeds, gonka_decode_pick, gonka_decode_pick_string, gonka_decode_pseudo_token_ids,
    gonka_pseudo_input_ids, gonka_route_base_seeds, hash_mod, step_normal, step_seeds, _u32s,
)
from .gonka_vector import (  # noqa: F401
    encode_fp16, host_order, host_pick, sph_slices, vector_pick_seed,
)
from .gonka_snap import (  # noqa: F401
    SNAP_MAX, binomial_upper_tail, claimed_margin, snap, snap_row, validation_stats,
)
from .gonka_reflect import (  # noqa: F401
    fused_add_rms_norm_reflect, reflect_rows, _reflect_stepwise_f32, _through_storage,
)
from .gonka_overrides import (  # noqa: F401
    embed_synth, router_override,
)
from .selfcheck import (  # noqa: F401
    _f32_range_bits, _max_err_over_bits, _self_check, _u32_to_f32_integer_rne, _ulp_err,
)
from .selfcheck_v2 import (  # noqa: F401
    _FMT, _f64_ulp, _self_check_v2, _zero_normal_seeds,
)
