"""Tensor parallelism across GPUs: two ranks under torch.distributed (NCCL, one process per GPU)
each generate their shard of the inputs and of the permutation rows; the all-gathered tensors
equal the single-GPU tensors bit for bit. Skipped with fewer than two GPUs."""
from __future__ import annotations

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import pocrand_ext as pr

WORLD = 2
NONCES, SEQ, DIM, V = list(range(-4, 12)), 64, 1000, 151936

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.device_count() < WORLD
    or "cuda" not in pr.build_info(), reason="needs two CUDA devices")


def rank_main(rank: int, init_file: str, result_file: str):
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    dev = torch.device("cuda", rank)
    n = SEQ * DIM
    lo, hi = rank * n // WORLD, (rank + 1) * n // WORLD          # this rank's element range
    shard = pr.generate_inputs_slice("bh", "pk", NONCES, DIM, SEQ, lo, hi, dev)
    rows = NONCES[rank::WORLD]                                      # this rank's permutation rows
    perms = pr.generate_permutations("bh", "pk", rows, V, dev)
    shards = [torch.empty_like(shard) for _ in range(WORLD)]
    dist.all_gather(shards, shard)
    perm_parts = [torch.empty_like(perms) for _ in range(WORLD)]
    dist.all_gather(perm_parts, perms)
    if rank == 0:
        full = pr.generate_inputs("bh", "pk", NONCES, DIM, SEQ, dev).view(len(NONCES), n)
        gathered = torch.cat(shards, dim=1)
        same_inputs = torch.equal(gathered.view(torch.int16), full.view(torch.int16))
        full_p = pr.generate_permutations("bh", "pk", NONCES, V, dev)
        interleaved = torch.stack(perm_parts, dim=1).reshape(len(NONCES), V)
        same_perms = torch.equal(interleaved, full_p)
        with open(result_file, "w") as f:
            f.write(f"{same_inputs} {same_perms}")
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_gather_to_the_single_gpu_tensors():
    with tempfile.TemporaryDirectory() as tmp:
        init_file, result_file = os.path.join(tmp, "init"), os.path.join(tmp, "result")
        mp.spawn(rank_main, args=(init_file, result_file), nprocs=WORLD, join=True)
        with open(result_file) as f:
            assert f.read() == "True True"
