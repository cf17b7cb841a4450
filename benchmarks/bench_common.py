"""What every section of the benchmark (benchmarks/bench.py) shares: the seed strings and vocabulary
of the cases, the timers (CUDA events with a spin kernel queued ahead, host wall time, host time,
a CUDA graph's replay), this card's fill and copy bandwidth, the nonce and seed sets inputs rotate
over, and the figures' format."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
# tests/ (reference_torch, the PoC 2.0 formulation the sections time as a baseline) and this folder
# (the sections, graph_rows) on the path, for bench.py run as a script or imported by a test
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

BH, PK = "0" * 64, "bench_public_key"
VOCAB = 151936


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------
QUEUE_CYCLES = 2_000_000  # about 1 ms of a GPU spin ahead of each timed call


def gpu_ms(fn, args_sets, repeats: int, warmup: int = 3) -> float:
    """Median CUDA-event time of fn(*args), rotating over args_sets: the device time of its work.

    A spin kernel is queued ahead of the start event, so fn's work is enqueued while the GPU is
    still busy and the events measure the device alone; the host's cost of a call is in the
    end-to-end column (wall_ms)."""
    for i in range(warmup):
        fn(*args_sets[i % len(args_sets)])
    times = []
    for i in range(repeats):
        args = args_sets[i % len(args_sets)]
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(QUEUE_CYCLES)
        start.record()
        fn(*args)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def wall_ms(fn, args_sets, repeats: int, warmup: int = 3, cuda: bool = True) -> float:
    """Median host wall time of fn(*args) including completion of its device work."""
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for i in range(warmup):
        fn(*args_sets[i % len(args_sets)])
    sync()
    times = []
    for i in range(repeats):
        args = args_sets[i % len(args_sets)]
        t0 = time.perf_counter()
        fn(*args)
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def host_ms(fn, args_sets, repeats: int, warmup: int = 3) -> float:
    """Median host time to return from fn(*args) without waiting for its device work."""
    for i in range(warmup):
        fn(*args_sets[i % len(args_sets)])
    torch.cuda.synchronize()
    times = []
    for i in range(repeats):
        args = args_sets[i % len(args_sets)]
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e3)
        torch.cuda.synchronize()
    return statistics.median(times)


def bandwidth(repeats: int) -> tuple[float, float]:
    """(write GB/s from a 2 GiB fill, copy GB/s counting read + write of a 1 GiB copy)."""
    buf = torch.empty(2 << 30, dtype=torch.uint8, device="cuda")
    fill = gpu_ms(lambda: buf.fill_(7), [()], repeats)
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda").fill_(1)
    dst = torch.empty_like(src)
    copy = gpu_ms(lambda: dst.copy_(src), [()], repeats)
    return buf.numel() / fill / 1e6, 2 * src.numel() / copy / 1e6


def graph_ms(fn, args, repeats: int):
    """CUDA-event time of one replay of a CUDA graph that captured fn(*args): the cost inside a
    captured forward, launch overhead excluded. None when fn cannot be captured."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn(*args)  # warm-up (and compilation) outside the capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            fn(*args)
    except Exception as e:  # noqa: BLE001 - a baseline that cannot be captured is reported as such
        print(f"cannot capture {getattr(fn, '__name__', fn)}: {e}")
        return None
    return gpu_ms(graph.replay, [()], repeats)


def graph_of(fn):
    """fn() captured once in a CUDA graph (after a warm-up on a side stream); returns replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g.replay


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------
def seeds_sets(fn, nonces_per_set: int, sets: int = 4):
    return [(torch.tensor([fn(BH, PK, s * 1000 + n) for n in range(nonces_per_set)],
                          device="cuda"),) for s in range(sets)]


def nonce_sets(batch: int, sets: int = 4):
    return [(list(range(s * 1000, s * 1000 + batch)),) for s in range(sets)]


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------
def fmt(ms):
    return "-" if ms is None else (f"{ms * 1e3:,.1f} µs" if ms < 1 else f"{ms:,.2f} ms")
