"""Drop-in for the gonka-poc plugin's vector codec (`gonka_poc.poc.data.encode_vector` and
`decode_vector`): fp16 little-endian bytes in base64 (SPEC.md 10.13). The module's other names
(artifact dataclasses, fraud_test) are not provided."""
from .vector import decode_vector, encode_vector

__all__ = ["encode_vector", "decode_vector"]
