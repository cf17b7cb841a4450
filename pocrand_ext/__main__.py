"""`python -m pocrand_ext` (or `pocrand`): the node self-check.

Prints the spec version and how the extension was built, checks every known answer on every
available device (the CPU and each CUDA device), prints one throughput line per device, and exits
with status 1 on any mismatch.
"""
from __future__ import annotations

import sys
import time

import torch

from . import api, known_answers


def devices() -> list[torch.device]:
    found = [torch.device("cpu")]
    if "cuda" in api.build_info() and torch.cuda.is_available():
        found += [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    return found


def device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"


def throughput(dev: torch.device, nonces: int = 64, seq_len: int = 64, dim: int = 1024) -> float:
    """Elements per second of generate_inputs (fp16, 64 nonces x 64 x 1024), best of 5."""
    run = lambda: api.generate_inputs("bench", "bench", range(nonces), dim, seq_len, dev)  # noqa: E731
    run()
    best = float("inf")
    for _ in range(5):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        run()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        best = min(best, time.perf_counter() - t0)
    return nonces * seq_len * dim / best


def main(argv: list[str] | None = None) -> int:
    print(f"pocrand {api.SPEC_VERSION}  build: {api.build_info()}  torch {torch.__version__}")
    cases = known_answers.load_cases()
    failed = False
    for dev in devices():
        mismatches = known_answers.check(dev, cases)
        status = "OK" if not mismatches else "MISMATCH"
        print(f"{dev} ({device_name(dev)}): {len(cases) - len(mismatches)}/{len(cases)} "
              f"known answers match  [{status}]")
        for case, got in mismatches:
            print(f"  mismatch: {case.label()}\n    expected {case.digest}\n    got      {got}")
        failed |= bool(mismatches)
        rate = throughput(dev)
        print(f"{dev} ({device_name(dev)}): generate_inputs fp16 64x64x1024: {rate / 1e6:,.1f} M elements/s")
    print("FAILED: outputs differ from pocrand-v1" if failed else "all known answers match")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
