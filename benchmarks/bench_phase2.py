"""The Phase-2 rows of the benchmark (benchmarks/bench.py --section phase2): generate_inputs,
generate_permutations, generate_target and compute_distances on the GPU beside the reference and
torch baselines, the throughput curve of generate_inputs, and the CPU row."""
from __future__ import annotations

import torch

import pocrand_ext as pr
from bench_common import (BH, PK, VOCAB, bandwidth, fmt, gpu_ms, host_ms, nonce_sets, seeds_sets,
                          wall_ms)
# tests/reference_torch.py: bench_common, imported above, puts tests/ on the path
import reference_torch as ref


def bench_gpu(repeats: int):
    write_bw, copy_bw = bandwidth(repeats)
    floor_w = lambda nbytes: nbytes / write_bw / 1e6  # noqa: E731  (ms)
    floor_rw = lambda nbytes: nbytes / copy_bw / 1e6  # noqa: E731
    rows = []

    def row(op, shape, kernel, e2e, reference, torch_base, floor, target, met):
        rows.append(dict(op=op, shape=shape, kernel=kernel, e2e=e2e, reference=reference,
                         torch=torch_base, floor=floor, target=target, met=met))

    # generate_inputs fp16 64 x 256 x 4096 (kernel)
    B, S, D = 64, 256, 4096
    sets = seeds_sets(pr.inputs_seed, B)
    k = gpu_ms(lambda s: torch.ops.pocrand.normal(s, S * D, torch.float16), sets, repeats)
    e = wall_ms(lambda n: pr.generate_inputs(BH, PK, n, D, S, "cuda"), nonce_sets(B), repeats)
    r = gpu_ms(lambda n: ref.generate_inputs(BH, PK, n, D, S, "cuda"), nonce_sets(B), max(3, repeats // 4))
    t = gpu_ms(lambda: torch.randn(B, S, D, device="cuda", dtype=torch.float16), [()], repeats)
    f = floor_w(B * S * D * 2)
    row("generate_inputs fp16", f"{B}x{S}x{D}", k, e, r, t, f,
        "kernel <= 2x floor and <= 0.5x torch.randn", k <= 2 * f and k <= 0.5 * t)

    # generate_inputs fp16 64 nonces x 64 x 1024 (end-to-end)
    B, S, D = 64, 64, 1024
    sets = seeds_sets(pr.inputs_seed, B)
    k = gpu_ms(lambda s: torch.ops.pocrand.normal(s, S * D, torch.float16), sets, repeats)
    e = wall_ms(lambda n: pr.generate_inputs(BH, PK, n, D, S, "cuda"), nonce_sets(B), 4 * repeats)
    r = wall_ms(lambda n: ref.generate_inputs(BH, PK, n, D, S, "cuda"), nonce_sets(B), max(3, repeats // 4))
    t = gpu_ms(lambda: torch.randn(B, S, D, device="cuda", dtype=torch.float16), [()], repeats)
    h = host_ms(lambda n: pr.generate_inputs(BH, PK, n, D, S, "cuda"), nonce_sets(B), 4 * repeats)
    row("generate_inputs fp16", f"{B}x{S}x{D}", k, e, r, t, floor_w(B * S * D * 2),
        f"end-to-end <= 0.100 ms (host part {fmt(h)})", e <= 0.100)

    # generate_permutations 64 x 151936
    B = 64
    sets = seeds_sets(pr.permutations_seed, B)
    k = gpu_ms(lambda s: torch.ops.pocrand.permutations(s, VOCAB), sets, repeats)
    e = wall_ms(lambda n: pr.generate_permutations(BH, PK, n, VOCAB, "cuda"), nonce_sets(B), repeats)
    r = wall_ms(lambda n: ref.generate_permutations(BH, PK, n, VOCAB, "cuda"), nonce_sets(B), max(3, repeats // 4))
    keys = [(torch.randint(0, 2**32, (B, VOCAB), device="cuda"),) for _ in range(4)]
    t = gpu_ms(lambda x: torch.argsort(x, dim=1), keys, repeats)
    row("generate_permutations", f"{B}x{VOCAB}", k, e, r, t, floor_w(B * VOCAB * 8),
        "kernel <= 0.300 ms", k <= 0.300)

    # generate_target 151936 (end-to-end)
    sets = [(torch.tensor([pr.target_seed(f"{BH}{i}")], device="cuda"),) for i in range(4)]
    k = gpu_ms(lambda s: torch.ops.pocrand.unit_normal(s, VOCAB, torch.float32), sets, repeats)
    e = wall_ms(lambda bh: pr.generate_target(bh, VOCAB, "cuda"), [(f"{BH}{i}",) for i in range(4)],
                4 * repeats)
    r = wall_ms(lambda bh: ref.generate_target(bh, VOCAB, "cuda"), [(f"{BH}{i}",) for i in range(4)], repeats)

    def torch_target():
        x = torch.randn(VOCAB, device="cuda")
        return x / x.norm()
    t = gpu_ms(torch_target, [()], repeats)
    h = host_ms(lambda bh: pr.generate_target(bh, VOCAB, "cuda"), [(f"{BH}{i}",) for i in range(4)],
                4 * repeats)
    row("generate_target", f"{VOCAB}", k, e, r, t, floor_w(VOCAB * 4),
        f"end-to-end <= 0.030 ms (host part {fmt(h)})", e <= 0.030)

    # compute_distances 64 x 151936, fp32 logits
    B = 64
    target = pr.generate_target(BH, VOCAB, "cuda")
    sets = []
    for i in range(3):
        logits = torch.randn(B, VOCAB, device="cuda")
        perms = pr.generate_permutations(BH, PK, range(i * 100, i * 100 + B), VOCAB, "cuda")
        sets.append((logits, perms, target))
    # kernel time without the range check's host read-back (check=False); end-to-end with it
    k = gpu_ms(lambda l, p, tg: torch.ops.pocrand.distances(l, p, tg, False), sets, repeats)
    e = wall_ms(lambda l, p, tg: pr.compute_distances(l, p, tg), sets, repeats)
    r = gpu_ms(ref.compute_distances, sets, repeats)
    t = gpu_ms(lambda l, p, tg: (torch.gather(l, 1, p) / l.norm(dim=1, keepdim=True) - tg).norm(dim=1),
               sets, repeats)
    f = floor_rw(B * VOCAB * (4 + 8))
    row("compute_distances fp32", f"{B}x{VOCAB}", k, e, r, t, f, "kernel <= 1.5x read floor",
        k <= 1.5 * f)
    return rows, write_bw, copy_bw


def bench_cpu(repeats: int):
    B, S, D = 64, 64, 1024
    sets = nonce_sets(B, 2)
    ours = wall_ms(lambda n: pr.generate_inputs(BH, PK, n, D, S, "cpu"), sets, repeats, 1, cuda=False)
    theirs = wall_ms(lambda n: ref.generate_inputs(BH, PK, n, D, S, "cpu"), sets, repeats, 1, cuda=False)
    return dict(op="generate_inputs fp16 (CPU)", shape=f"{B}x{S}x{D}", pocrand=ours,
                reference=theirs, speedup=theirs / ours, threads=torch.get_num_threads(),
                met=theirs / ours >= 2.5)


def throughput_curve(repeats: int):
    """generate_inputs fp16, 64 nonces, per-nonce sizes 2^10 .. 2^20: elements/s."""
    write_bw, _ = bandwidth(repeats)
    points = []
    for log2n in range(10, 21, 2):
        n = 1 << log2n
        sets = seeds_sets(pr.inputs_seed, 64)
        k = gpu_ms(lambda s: torch.ops.pocrand.normal(s, n, torch.float16), sets, repeats)
        t = gpu_ms(lambda: torch.randn(64, n, device="cuda", dtype=torch.float16), [()], repeats)
        r = gpu_ms(lambda: ref.generate_inputs(BH, PK, range(64), n, 1, "cuda"), [()], 3) if log2n <= 16 else None
        per_ms_to_m_per_s = 1e3 / 1e6  # elements per ms -> million elements per s
        points.append(dict(n=64 * n, pocrand=64 * n / k * per_ms_to_m_per_s,
                           torch=64 * n / t * per_ms_to_m_per_s,
                           reference=(64 * n / r * per_ms_to_m_per_s) if r else None,
                           floor=write_bw * 1e9 / 2 / 1e6))
    return points
