"""Drop-in modules under the gonka-poc plugin's names (gonka_poc.poc.gpu_random, .decode_random,
.sphere, .fused; the vector channel's data, validation and runtime), backed by pocrand: the same public (and, but for fused's Triton kernels,
private) names, signatures, defaults, ValueErrors and constants, with results identical on every
device (SPEC.md sections 9 and 10).

    from pocrand_ext.gonka_poc import gpu_random, decode_random, sphere, fused   # gonka_poc.poc.*
    from pocrand_ext.gonka_poc import data, validation, runtime   # the vector channel (0.2.0)

The modules live in pocrand_ext/protocols/gonka_poc/ with the generation's seed strings; this
package is their documented import path, each name the same module object.
"""
import sys

from ..protocols.gonka_poc import (data, decode_random, fused, gpu_random, runtime, sphere,
                                   validation)

# pocrand_ext.gonka_poc.sphere, ...
for _module in (data, decode_random, fused, gpu_random, runtime, sphere, validation):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module
