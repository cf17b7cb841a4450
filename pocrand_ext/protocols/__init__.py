"""The protocol generations, one module each, as thin layers over the generic ops of pocrand_ext.

A protocol module holds its generation's seed strings (which string seeds which tensor) and the
composition of its public functions: it checks their arguments, names the strings and calls the
generic ops (seeds, streams, sort, householder, reduce), which know no seed string. The drop-in
modules (pocrand_ext.gpu_random, gpu_random_v2) map a deployed module's names onto them.

    phase2   the seed document's Phase 2 (SPEC.md section 8)
    pocv2    the PoC v2 pipeline nodes run (SPEC.md section 9), over Phase 2's inputs
    gonka_poc  the gonka-poc plugin's prefill and decode schemes (SPEC.md section 10)

A new generation is one more module here; nothing in this package lists them.
"""
