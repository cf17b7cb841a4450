"""Drop-in modules under the gonka-poc plugin's names (gonka_poc.poc.gpu_random, .decode_random,
.sphere, .fused), backed by pocrand: the same public (and, but for fused's Triton kernels,
private) names, signatures, defaults, ValueErrors and constants, with results identical on every
device (SPEC.md sections 9 and 10).

    from pocrand_ext.gonka_poc import gpu_random, decode_random, sphere, fused   # gonka_poc.poc.*
"""
