"""`pocrand bench`: the build, then a quick throughput line per device (generate_inputs)."""
from __future__ import annotations

import time

import torch

from .. import api
from .devices import device_name, devices, print_build_info


def throughput(dev: torch.device, nonces: int = 64, seq_len: int = 64, dim: int = 1024) -> float:
    """Elements per second of generate_inputs (fp16, 64 nonces x 64 x 1024), best of 5."""
    def run():
        api.generate_inputs("bench", "bench", range(nonces), dim, seq_len, dev)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    run()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return nonces * seq_len * dim / best


def print_throughput():
    for dev in devices():
        rate = throughput(dev)
        print(f"{dev} ({device_name(dev)}): generate_inputs fp16 64x64x1024 end-to-end: "
              f"{rate / 1e6:,.1f} M elements/s")


def add_parser(sub) -> None:
    sub.add_parser("bench", help="a quick throughput line per device", description="Prints "
                   "the build, then one line per device (the CPU and every visible GPU): "
                   "the throughput of generate_inputs in millions of elements per second.")


def run(args) -> int:
    print_build_info()
    print_throughput()
    return 0
