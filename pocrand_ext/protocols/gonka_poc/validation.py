"""Drop-in for the gonka-poc plugin's `gonka_poc.poc.validation.score_vector_channel` and its
`VECTOR_STEP_TOL` (read from VLLM_POC_VECTOR_TOL once, at import, as the plugin does; SPEC.md
10.13). The k-channel validation (run_validation) is pocrand_ext.validation's."""
from typing import Dict, List, Optional

from . import vector as _vector

__all__ = ["VECTOR_STEP_TOL", "score_vector_channel"]

VECTOR_STEP_TOL = _vector.step_tol_from_env()


def score_vector_channel(computed_artifacts: List[Dict],
                         ref_vectors: Dict[int, List[str]]) -> Optional[Dict]:
    """The vector-channel score of computed artifacts against the prover's slices, with this
    module's VECTOR_STEP_TOL (see vector.score_vector_channel)."""
    return _vector.score_vector_channel(computed_artifacts, ref_vectors, VECTOR_STEP_TOL)
