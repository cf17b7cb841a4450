"""What a vLLM integrator relies on: seeds-tensor ops under torch.compile and CUDA graphs,
thread safety, totals beyond 2^31 elements, and a clean out-of-memory error."""
from __future__ import annotations

import threading

import pytest
import torch

import pocrand_ext as pr
from conftest import as_bits, assert_bits_equal, randn, requires_cuda

V = 4099


def poc_step(seeds_in, seeds_perm, seeds_target, logits):
    """One PoC step written with the raw seeds-tensor ops (seeds already on the device)."""
    x = torch.ops.pocrand.normal(seeds_in, 96, torch.float16)
    shard = torch.ops.pocrand.normal_range(seeds_in, 96, 32, 64, torch.float16)
    perms = torch.ops.pocrand.permutations(seeds_perm, V)
    target = torch.ops.pocrand.unit_normal(seeds_target, V, torch.float32)[0]
    d = torch.ops.pocrand.distances(logits, perms, target, False)
    return x, shard, perms, target, d


def step_inputs(device, offset=0):
    seeds_in = torch.tensor([pr.inputs_seed("bh", "pk", n + offset) for n in range(4)], device=device)
    seeds_perm = torch.tensor([pr.permutations_seed("bh", "pk", n + offset) for n in range(4)],
                              device=device)
    seeds_target = torch.tensor([pr.target_seed(f"bh{offset}")], device=device)
    logits = torch.randn(4, V, generator=torch.Generator().manual_seed(offset)).to(device)
    return seeds_in, seeds_perm, seeds_target, logits


def assert_outputs_equal(a, b):
    for x, y in zip(a, b):
        assert_bits_equal(x, y)


def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()
    compiled = torch.compile(poc_step, fullgraph=True, backend="aot_eager")
    args = step_inputs(device)
    assert_outputs_equal(compiled(*args), poc_step(*args))
    args = step_inputs(device, offset=10)
    assert_outputs_equal(compiled(*args), poc_step(*args))


@requires_cuda
def test_torch_compile_inductor_on_gpu():
    torch._dynamo.reset()
    compiled = torch.compile(poc_step, fullgraph=True)
    args = step_inputs("cuda")
    assert_outputs_equal(compiled(*args), poc_step(*args))


@requires_cuda
def test_cuda_graph_capture_and_replay():
    static = step_inputs("cuda")
    poc_step(*static)  # warm up (CUB temp sizes, allocator) outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outs = poc_step(*static)
    for offset in (0, 7, 123):
        fresh = step_inputs("cuda", offset)
        for dst, src in zip(static, fresh):
            dst.copy_(src)
        graph.replay()
        torch.cuda.synchronize()
        assert_outputs_equal(outs, poc_step(*fresh))


def test_concurrent_calls_from_eight_threads(device):
    def work():
        return (pr.generate_inputs("bh", "pk", range(8), 64, 8, device),
                pr.generate_permutations("bh", "pk", range(8), 2000, device),
                pr.generate_target("bh", 2000, device))

    expected = work()
    results, errors = [None] * 8, []

    def run(k):
        try:
            results[k] = [work() for _ in range(3)]
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for per_thread in results:
        for outs in per_thread:
            for got, want in zip(outs, expected):
                assert torch.equal(as_bits(got), as_bits(want))


@requires_cuda
def test_totals_past_two_to_the_31_elements():
    """2 rows x (2^31 - 1) fp16 elements (8 GiB): 64-bit indexing; far-end elements equal the
    random-access path (itself checked against the NumPy spec) and the CPU."""
    n = 2**31 - 1
    x = pr.generate_inputs("big", "pk", [0, 1], n, 1, "cuda")
    assert x.shape == (2, 1, n)
    flat = x.view(2, n)
    for start, end in [(n - 100, n), ((n + 1) // 2 - 50, (n + 1) // 2 + 50)]:
        part = pr.generate_inputs_slice("big", "pk", [0, 1], n, 1, start, end, "cpu")
        assert_bits_equal(flat[:, start:end], part)
    del x, flat
    torch.cuda.empty_cache()


@requires_cuda
def test_out_of_memory_is_a_clear_error_and_the_process_stays_usable():
    # A request within the card's total memory (so the up-front size check lets it through) but
    # beyond what is free: a filler leaves under 8 GiB free, and one float32 row of 2^31 - 1
    # elements needs 8 GiB.
    free, _ = torch.cuda.mem_get_info()
    filler = torch.empty(max(0, free - 4 * 2**30), dtype=torch.uint8, device="cuda")
    try:
        with pytest.raises(torch.OutOfMemoryError):
            pr.generate_inputs("oom", "pk", [0], 2**31 - 1, 1, "cuda", torch.float32)
    finally:
        del filler
        torch.cuda.empty_cache()
    assert_bits_equal(pr.generate_inputs("ok", "pk", [0], 64, 4, "cuda"),
                      pr.generate_inputs("ok", "pk", [0], 64, 4, "cpu"))


@requires_cuda
def test_a_request_larger_than_the_card_is_refused_before_any_work():
    _, total = torch.cuda.mem_get_info()
    rows = int(total // (4 * (2**31 - 1))) + 4  # float32 rows of 8 GiB: more than the card has
    with pytest.raises(ValueError, match="exceed the"):
        pr.generate_inputs("oom", "pk", range(rows), 2**31 - 1, 1, "cuda", torch.float32)


def test_distances_check_false_gives_nan_rows_without_raising(device):
    perms = pr.generate_permutations("bh", "pk", range(3), 50, device)
    perms[1, 7] = 50
    logits = randn(3, 50, device=device)
    target = pr.generate_target("bh", 50, device)
    d = pr.compute_distances(logits, perms, target, check=False)
    assert as_bits(d)[1].item() == 0x7FC00000
    assert torch.isfinite(d[[0, 2]]).all()
    with pytest.raises(ValueError, match=r"permutations\[1, 7\] = 50"):
        pr.compute_distances(logits, perms, target)
