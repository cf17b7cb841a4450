"""Per-kernel GPU time of each pocrand op at the benchmark shapes (torch.profiler).

    python benchmarks/profile_kernels.py

Shows where an op's time goes (its kernels, copies and allocations), as a complement to
benchmarks/bench.py, which times whole ops.
"""
from __future__ import annotations

import torch
from torch.profiler import ProfilerActivity, profile

import pocrand_ext as pr

BH, PK, V = "0" * 64, "bench_public_key", 151936


def cases():
    logits = torch.randn(64, V, device="cuda")
    perms = pr.generate_permutations(BH, PK, range(64), V, "cuda")
    target = pr.generate_target(BH, V, "cuda")
    yield "generate_inputs fp16 64x256x4096", lambda: pr.generate_inputs(BH, PK, range(64), 4096, 256, "cuda")
    yield "generate_inputs fp16 64x64x1024", lambda: pr.generate_inputs(BH, PK, range(64), 1024, 64, "cuda")
    yield "generate_permutations 64x151936", lambda: pr.generate_permutations(BH, PK, range(64), V, "cuda")
    yield "generate_target 151936", lambda: pr.generate_target(BH, V, "cuda")
    yield "compute_distances 64x151936", lambda: pr.compute_distances(logits, perms, target)


def main():
    for name, fn in cases():
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(10):
                fn()
            torch.cuda.synchronize()
        print(f"\n== {name} (10 calls)")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=8, max_name_column_width=70))


if __name__ == "__main__":
    main()
