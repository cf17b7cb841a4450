"""The protocol generations, one folder each, as thin layers over the generic ops of pocrand_ext.

A generation's package (its __init__.py) holds its seed strings (which string seeds which tensor)
and the composition of its public functions: it checks their arguments, names the strings and
calls the generic ops (seeds, streams, sort, householder, reduce), which know no seed string.
Beside it in the folder: the drop-in modules that map a deployed module's names onto it, and
reference.py, the deployed functions restated in plain torch ops (for `pocrand round
--reference`, the tests and the benchmarks; no production path imports it).

    phase2/      the seed document's Phase 2 (SPEC.md section 8); gpu_random.py
                 (pocrand_ext.gpu_random)
    pocv2/       the PoC v2 pipeline nodes run (SPEC.md section 9), over Phase 2's inputs;
                 gpu_random_v2.py (pocrand_ext.gpu_random_v2), reference.py
    gonka_poc/   the gonka-poc plugin's prefill and decode schemes (SPEC.md section 10);
                 gpu_random.py, decode_random.py, sphere.py, fused.py (pocrand_ext.gonka_poc.*),
                 reference.py

A new generation is one more folder here; nothing in this package lists them.
"""
