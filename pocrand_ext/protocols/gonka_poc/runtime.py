"""Drop-in for the gonka-poc plugin's `encode_sph_slices` (its mixed-batch runtime module): each
step's pre-snap q cut to its k_dim picked coordinates in the host order (SPEC.md 9.4, 10.13) and
encoded. The module's other names (batch builders, decode-state pool) are the engine's and are
not provided."""
from .vector import encode_sph_slices

__all__ = ["encode_sph_slices"]
