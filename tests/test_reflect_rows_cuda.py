"""reflect_rows on the GPU (SPEC.md 10.10) against the CPU kernel, bit for bit, over the shapes that
pick each CUDA kernel: the one-pass chunk kernel (rows of whole 16-byte vectors at aligned
addresses, up to 8192 elements, 16384 in 16 bits) and the generic kernel (odd or unaligned rows,
longer rows). Every dtype and mode; copies 1 and 3; masked rows and slots out of range; in place
and pair forms; storage at element offsets (unaligned); batches 1, 7, 1024 and 8193 (many units a
block, so the chunk kernel's prefetch and its alternating chunk-sum slots are exercised); NaN,
Inf, subnormal and signed-zero inputs. The CPU kernel is itself held to the NumPy spec by
tests/test_reflect_rows.py."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from conftest import as_bits, assert_bits_equal, requires_cuda
from test_reflect_rows import DTYPES, MODES, SLOTS, table_of

pytestmark = [pytest.mark.cuda, requires_cuda]

# Row lengths: odd and tiny (generic kernel), whole vectors around the chunk and warp-count
# boundaries of the chunk kernel (8 elements a vector in 16 bits, 4 in float32), the model widths,
# and past 8192 (16-bit: the 16-warp chunk kernel up to 16384; float32: the generic kernel).
HIDDEN = [1, 2, 7, 8, 12, 16, 24, 1000, 1023, 1024, 1025, 1032, 2040, 2048, 3000, 3072, 4095,
          4096, 5000, 7168, 8184, 8188, 8192, 8200, 9000, 16384, 16392]


def gpu_normals(seed: int, shape, dtype) -> torch.Tensor:
    g = torch.Generator(device="cuda").manual_seed(seed)
    return (torch.randn(*shape, generator=g, device="cuda") * 2).to(dtype)


def inputs(n: int, hidden: int, copies, dtype, seed: int = 0, pattern: str = "cycle"):
    """x, residual, table, row_group, mask on the GPU: slots -1 .. SLOTS (two out of range),
    row_group and mask longer than n. pattern "cycle": a fixed cycle of masked rows; "random":
    runs of masked and reflected rows of random lengths (the chunk kernel's per-unit branch)."""
    shape = (n, hidden) if copies is None else (n, copies, hidden)
    x = gpu_normals(seed + 1, shape, dtype)
    r = gpu_normals(seed + 2, shape, dtype)
    table = table_of(hidden, dtype, "cuda")
    if pattern == "cycle":
        g = torch.tensor([(i * 3 + seed) % (SLOTS + 2) - 1 for i in range(n + 2)], device="cuda")
        m = torch.tensor([(i + seed) % 4 != 1 for i in range(n + 2)], device="cuda")
    else:
        gen = torch.Generator().manual_seed(seed)
        g = torch.randint(-1, SLOTS + 1, (n + 2,), generator=gen).cuda()
        m = (torch.rand(n + 2, generator=gen) < 0.5).cuda()
    return x, r, table, g, m


def check_every_form(x, r, table, g, m, mode, mixed: bool = True):
    """Each of the four forms on the GPU equals the CPU kernel on the same inputs (mixed: the
    rows include copied and reflected ones, when there are more than 8)."""
    xc, rc, tc, gc, mc = (t.cpu() for t in (x, r, table, g, m))
    want_x = pr.reflect_rows(xc, tc, gc, mc, mode)
    want_r = pr.reflect_rows(rc, tc, gc, mc, mode)
    assert_bits_equal(pr.reflect_rows(x, table, g, m, mode), want_x)
    h, rr = pr.reflect_rows_pair(x, r, table, g, m, mode)
    assert_bits_equal(h, want_x)
    assert_bits_equal(rr, want_r)
    xi = x.clone()
    pr.reflect_rows_(xi, table, g, m, mode)
    assert_bits_equal(xi, want_x)
    hi, ri = x.clone(), r.clone()
    pr.reflect_rows_pair_(hi, ri, table, g, m, mode)
    assert_bits_equal(hi, want_x)
    assert_bits_equal(ri, want_r)
    # the case is not vacuous: some rows were reflected by a nonzero slot (changed), some copied
    n = x.shape[0]
    keep = ~mc[:n] | (gc[:n] < 0) | (gc[:n] >= tc.shape[0])
    moved = ~keep & (gc[:n] >= 1)  # slot 0 is the zero vector: its reflection is the identity
    if mixed and n > 8:
        assert keep.any() and moved.any()
    if moved.any():
        assert not torch.equal(as_bits(want_x[moved]), as_bits(xc[moved]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("copies", [None, 3])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_width_equals_cpu(hidden, copies, dtype, mode):
    check_every_form(*inputs(9, hidden, copies, DTYPES[dtype], seed=hidden % 7), mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", [1024, 3072, 7168])
@pytest.mark.parametrize("n", [1, 7, 1024, 8193])
def test_batches_equal_cpu(n, hidden, dtype, mode):
    if n == 8193 and dtype != "bfloat16":
        pytest.skip("the largest batch in bfloat16 only (the CPU oracle's time)")
    check_every_form(*inputs(n, hidden, None, DTYPES[dtype], seed=n, pattern="random"), mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("hidden", [8192, 9000])
def test_large_batch_with_copies_equals_cpu(hidden, mode):
    check_every_form(*inputs(1024, hidden, 3, torch.bfloat16, seed=5, pattern="random"), mode)


@pytest.mark.parametrize("pattern", ["all reflected", "all copied", "alternate"])
@pytest.mark.parametrize("mode", MODES)
def test_mask_patterns_equal_cpu(pattern, mode):
    """Every unit reflected (the chunk-sum slots alternate at each unit), none (no barrier at
    all; in place writes nothing) and every other one."""
    n, hidden = 1024, 3072
    x, r, table, g, _ = inputs(n, hidden, None, torch.bfloat16, seed=3)
    g = (torch.arange(n + 2, device="cuda") % (SLOTS - 1)) + 1  # always in range
    m = {"all reflected": torch.ones(n + 2, dtype=torch.bool, device="cuda"),
         "all copied": torch.zeros(n + 2, dtype=torch.bool, device="cuda"),
         "alternate": torch.arange(n + 2, device="cuda") % 2 == 0}[pattern]
    if pattern == "all copied":
        xi = x.clone()
        pr.reflect_rows_(xi, table, g, m, mode)
        assert_bits_equal(xi, x)
        assert_bits_equal(pr.reflect_rows(x, table, g, m, mode), x)
        return
    check_every_form(x, r, table, g, m, mode, mixed=pattern == "alternate")


def offset_view(t: torch.Tensor, offset: int) -> torch.Tensor:
    """A contiguous copy of t whose storage starts `offset` elements into a larger buffer (its
    address then not 16-byte aligned for offsets that are not whole vectors)."""
    buf = torch.zeros(t.numel() + offset, dtype=t.dtype, device=t.device)
    view = buf[offset:].view(t.shape)
    view.copy_(t)
    assert view.is_contiguous()
    return view


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", [64, 3072, 7168])
@pytest.mark.parametrize("offset", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("which", ["x", "table", "both"])
def test_unaligned_storage_equals_cpu(which, offset, hidden, dtype, mode):
    x, r, table, g, m = inputs(33, hidden, 2, DTYPES[dtype], seed=offset)
    if which in ("x", "both"):
        x, r = offset_view(x, offset), offset_view(r, offset + 1)
    if which in ("table", "both"):
        table = offset_view(table, offset)
    check_every_form(x, r, table, g, m, mode)


@pytest.mark.parametrize("mode", MODES)
def test_out_of_place_into_unaligned_output(mode):
    """x aligned, the output written through an unaligned in-place view: the generic kernel."""
    x, _, table, g, m = inputs(17, 3072, None, torch.float16, seed=9)
    xi = offset_view(x, 3)
    pr.reflect_rows_(xi, table, g, m, mode)
    assert_bits_equal(xi, pr.reflect_rows(x.cpu(), table.cpu(), g.cpu(), m.cpu(), mode))


SPECIALS = {
    torch.float32: [0x7F800123, 0xFFC00001, 0x7F800000, 0xFF800000, 0x00000001, 0x80000001,
                    0x80000000, 0x007FFFFF],
    torch.float16: [0x7D01, 0xFE01, 0x7C00, 0xFC00, 0x0001, 0x8001, 0x8000, 0x03FF],
    torch.bfloat16: [0x7F81, 0xFFC1, 0x7F80, 0xFF80, 0x0001, 0x8001, 0x8000, 0x007F],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", [8, 3072, 7168])
def test_nan_inf_subnormal_inputs_equal_cpu(hidden, dtype, mode):
    """NaNs with payloads, infinities, subnormals and -0 in x and in the table: a reflected row
    holding one becomes NaN (canonical) or keeps its special values exactly as on the CPU; a copied
    row keeps every bit."""
    dt = DTYPES[dtype]
    bits = torch.int32 if dt == torch.float32 else torch.int16
    x, r, table, g, m = inputs(64, hidden, None, dt, seed=11)
    specials = torch.tensor(SPECIALS[dt], dtype=torch.int64).to(bits) if dt == torch.float32 \
        else torch.tensor([b - 0x10000 if b >= 0x8000 else b for b in SPECIALS[dt]], dtype=bits)
    xb = x.view(bits)
    for i, s in enumerate(specials.tolist()):
        xb[(5 * i) % 64, (7 * i) % hidden] = s  # one special value in each of eight rows
    small = table.clone()
    small[2, 0] = 0.0 * -1  # -0 in a slot's row
    sub = small.view(bits)
    sub[3, hidden - 1] = specials[4].item()  # a subnormal in another slot's row
    check_every_form(x, r, small, g, m, mode)


@pytest.mark.parametrize("mode", MODES)
def test_graph_replay_at_the_chunk_kernel_shapes(mode):
    """The chunk kernel in CUDA-graph replay with new mask and row_group values between replays
    equals the CPU kernel (its grid size is fixed at capture; the values are read on the device)."""
    n, hidden = 1024, 7168
    x, r, table, g, m = inputs(n, hidden, None, torch.bfloat16, seed=1)
    hb, rb = x.clone(), r.clone()
    pr.reflect_rows_pair(hb, rb, table, g, m, mode)  # warm up outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = pr.reflect_rows_pair(hb, rb, table, g, m, mode)
    for seed in (2, 3):
        _, _, _, ng, nm = inputs(n, hidden, None, torch.bfloat16, seed=seed, pattern="random")
        g.copy_(ng)
        m.copy_(nm)
        graph.replay()
        torch.cuda.synchronize()
        for got, src in zip(out, (x, r)):
            assert_bits_equal(got, pr.reflect_rows(src.cpu(), table.cpu(), ng.cpu(), nm.cpu(), mode))


def overflow_rows(n: int, hidden: int, dt: torch.dtype):
    """x, table, row_group, mask on the CPU whose reflected rows overflow: row r is a_r · v (its
    slot's unit row) with a_r from 0.05 to 0.95 of the dtype's largest value, and one element, at
    v's largest entry, set to -0.98 of that value against v's sign. The row's coefficient c = 2·dot
    is then finite in the first rows while that element's output, x - c·v, overflows to ±Inf (the
    GPU kernels store such rows by the hardware conversion alone), and infinite in the last ones
    (their outputs ±Inf or NaN, stored with NaN made canonical)."""
    big = torch.finfo(dt).max
    table = table_of(hidden, dt)
    g = torch.tensor([1 + i % (SLOTS - 1) for i in range(n)])
    m = torch.ones(n, dtype=torch.bool)
    v = table.double()[g]
    a = torch.linspace(0.05, 0.95, n, dtype=torch.float64)[:, None] * big
    x = a * v
    i = v.abs().argmax(dim=1)
    x[torch.arange(n), i] = -0.98 * big * torch.sign(v[torch.arange(n), i])
    return x.to(dt), table, g, m


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", [1001, 3072, 7168])
def test_overflowing_rows_equal_cpu(hidden, dtype, mode):
    """Rows whose outputs overflow to ±Inf under a finite coefficient, and rows whose coefficient
    itself overflows, equal the CPU kernel bit for bit in every form (the chunk kernel at 3072 and
    7168, the generic one at 1001)."""
    dt = DTYPES[dtype]
    n = 64
    x, table, g, m = overflow_rows(n, hidden, dt)
    want = pr.reflect_rows(x, table, g, m, mode)
    # not vacuous: a row with a finite coefficient (2·dot well below the largest value of the type
    # c is delivered in) has an infinite output
    c_big = torch.finfo(dt if mode == "stepwise" else torch.float32).max
    c = 2 * (x.double() * table.double()[g]).sum(dim=1)
    finite_c = c.abs() < 0.9 * c_big
    assert (finite_c & torch.isinf(want.double()).any(dim=1)).any()
    if not (mode == "once" and dt == torch.float16):  # there c is float32 and cannot overflow
        assert (c.abs() > 1.1 * c_big).any()  # and a row whose coefficient is infinite
    r = x.flip(0).contiguous()  # the pair's second tensor: other rows, other slots' outputs
    check_every_form(x.cuda(), r.cuda(), table.cuda(), g.cuda(), m.cuda(), mode, mixed=False)
