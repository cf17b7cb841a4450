"""reflect_rows (SPEC.md 10.10), the masked row-group reflection: every form equals the NumPy spec
bit for bit (both roundings, every dtype, odd row lengths, masked rows, slots out of range,
copies > 1, in place, pair); masked rows are the input's bits; "once" is apply_householder row by
row; "stepwise" against the deployed torch expression (the share of identical elements is printed
and bounded); torch.compile, opcheck, CPU == GPU and CUDA-graph replay with new buffer values."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
import spec_numpy as spec
from conftest import assert_bits_equal, requires_cuda
from test_pocv2_spec import spec_tensor, storage

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
HIDDEN = [1, 7, 1023, 1025, 4097]
MODES = ["once", "stepwise"]
SLOTS = 4


def normals(seed: int, shape, scale: float = 2.0) -> torch.Tensor:
    n = 1
    for s in shape:
        n *= s
    return pr.normal(seed, n).view(shape) * scale


def table_of(hidden: int, dtype: torch.dtype, device="cpu") -> torch.Tensor:
    """[SLOTS, hidden]: slot 0 zeros, the others unit vectors (as the network's table)."""
    t = torch.zeros(SLOTS, hidden, dtype=dtype)
    t[1:] = pr.unit_vectors([f"slot{j}_{hidden}" for j in range(1, SLOTS)], hidden).to(dtype)
    return t.to(device)


def case(n: int, hidden: int, copies, dtype: torch.dtype, seed: int = 0, device="cpu"):
    """x, table, row_group and mask: rows masked off, slots 0 .. SLOTS - 1, -1 and SLOTS (out of
    range), row_group and mask longer than n."""
    shape = (n, hidden) if copies is None else (n, copies, hidden)
    x = normals(seed + hidden, shape).to(dtype)
    groups = [(r * 3 + seed) % (SLOTS + 2) - 1 for r in range(n + 2)]  # -1 .. SLOTS
    mask = [(r + seed) % 4 != 1 for r in range(n + 2)]
    return (x.to(device), table_of(hidden, dtype, device),
            torch.tensor(groups, dtype=torch.int64, device=device),
            torch.tensor(mask, dtype=torch.bool, device=device))


def want(x, table, row_group, mask, mode):
    name = {v: k for k, v in DTYPES.items()}[x.dtype]
    out = spec.reflect_rows(storage(x), storage(table), row_group.cpu().numpy(),
                            mask.cpu().numpy(), name, mode)
    return spec_tensor(out, name).view(x.shape)


def untouched_rows(x, table, row_group, mask):
    n = x.shape[0]
    g, m = row_group[:n].cpu(), mask[:n].cpu()
    return ~m | (g < 0) | (g >= table.shape[0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("copies", [None, 1, 3])
def test_every_form_equals_the_spec(copies, hidden, dtype, mode, device):
    x, table, g, m = case(9, hidden, copies, DTYPES[dtype], seed=hidden % 5, device=device)
    r = normals(hidden + 99, x.shape, 3.0).to(DTYPES[dtype]).to(device)
    expect_x, expect_r = want(x, table, g, m, mode), want(r, table, g, m, mode)
    assert_bits_equal(pr.reflect_rows(x, table, g, m, mode), expect_x)
    h, rr = pr.reflect_rows_pair(x, r, table, g, m, mode)
    assert_bits_equal(h, expect_x)
    assert_bits_equal(rr, expect_r)
    xi = x.clone()
    assert pr.reflect_rows_(xi, table, g, m, mode) is xi
    assert_bits_equal(xi, expect_x)
    hi, ri = x.clone(), r.clone()
    out = pr.reflect_rows_pair_(hi, ri, table, g, m, mode)
    assert out[0] is hi and out[1] is ri
    assert_bits_equal(hi, expect_x)
    assert_bits_equal(ri, expect_r)
    # the masked-off rows and the rows of an out-of-range slot are the input's bits; the others
    # changed (the spec test would pass for an op that copied every row if the spec did too)
    keep = untouched_rows(x, table, g, m)
    assert keep.any() and (~keep).any()
    assert_bits_equal(h[keep.to(h.device)], x[keep.to(x.device)])


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_unmasked_rows_keep_every_bit_nan_payloads_included(dtype):
    bits_dtype = torch.int32 if dtype == "float32" else torch.int16
    x = normals(5, (4, 2, 33)).to(DTYPES[dtype])
    raw = x.view(bits_dtype)
    raw[0, 0, 3] = 0x7F800123 if dtype == "float32" else 0x7D01  # NaNs with odd payloads
    raw[2, 1, 5] = -0x1 if dtype == "float32" else -0x1
    table = table_of(33, DTYPES[dtype])
    g = torch.tensor([1, 2, 3, 1])
    m = torch.tensor([False, True, False, True])
    for mode in MODES:
        y = pr.reflect_rows(x, table, g, m, mode)
        assert torch.equal(y.view(bits_dtype)[[0, 2]], raw[[0, 2]])
        assert not torch.equal(y.view(bits_dtype)[[1, 3]], raw[[1, 3]])


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", HIDDEN)
def test_once_is_apply_householder_row_by_row(hidden, dtype, device):
    x, table, g, m = case(7, hidden, 2, DTYPES[dtype], device=device)
    y = pr.reflect_rows(x, table, g, m, "once")
    for r in range(x.shape[0]):
        slot = int(g[r])
        if bool(m[r]) and 0 <= slot < SLOTS:
            assert_bits_equal(y[r], pr.apply_householder(x[r], table[slot]))
        else:
            assert_bits_equal(y[r], x[r])


def test_float32_stepwise_is_once():
    """For float32 every st() of 10.10 only makes NaN canonical: both modes give the same bits."""
    x, table, g, m = case(16, 1025, 2, torch.float32)
    assert_bits_equal(pr.reflect_rows(x, table, g, m, "stepwise"), pr.reflect_rows(x, table, g, m, "once"))


def torch_expression(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The deployed reflection as torch evaluates it in x's dtype (rows x [R, H], v [R, H]):
    each product, the sum, 2·dot, (2·dot)·v and the difference rounded to x's dtype."""
    d = (x * v).sum(-1, keepdim=True)
    return x - 2 * d * v


AGREEMENT_ROWS = 256


@pytest.mark.parametrize("hidden", [3072, 4096, 7168])
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_stepwise_agrees_with_the_torch_expression(dtype, hidden, device):
    """The share of elements where each mode equals torch's own evaluation of the expression
    (printed; SPEC.md 10.10 states the CPU figures). stepwise differs only in rows where torch's
    sum order gives another rounded dot; once rounds once, so in 16 bits it differs more. In
    float32 both modes are one (test_float32_stepwise_is_once) and every row whose float32 dot
    differs in its last bit differs."""
    dt = DTYPES[dtype]
    x = normals(7, (AGREEMENT_ROWS, hidden)).to(dt).to(device)
    table = table_of(hidden, dt, device)
    g = (torch.arange(AGREEMENT_ROWS, device=device) % (SLOTS - 1)) + 1
    m = torch.ones(AGREEMENT_ROWS, dtype=torch.bool, device=device)
    ref = torch_expression(x, table[g])
    share = {}
    for mode in MODES:
        y = pr.reflect_rows(x, table, g, m, mode)
        share[mode] = (as_int(y) == as_int(ref)).double().mean().item()
    print(f"\n{device} {dtype} {AGREEMENT_ROWS}x{hidden}: identical to the torch expression: "
          f"stepwise {share['stepwise']:.6f}, once {share['once']:.6f}")
    if dt == torch.float32:
        assert share["stepwise"] == share["once"] >= 0.8
    else:
        assert share["stepwise"] >= 0.999 > share["once"]


@requires_cuda
@pytest.mark.parametrize("rows,hidden", [(1024, 7168), (1024, 3072), (256, 4096)])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cuda_agreement_with_the_eager_and_compiled_torch_expression(dtype, rows, hidden):
    """The GPU measurement SPEC.md 10.10 asks for: the share of elements of each mode equal to
    torch's eager and torch.compile'd expression on this device (printed; bounded loosely, as
    torch's reduction order on a GPU is its own)."""
    dt = DTYPES[dtype]
    x = normals(7, (rows, hidden)).to(dt).cuda()
    table = table_of(hidden, dt, "cuda")
    g = (torch.arange(rows, device="cuda") % (SLOTS - 1)) + 1
    m = torch.ones(rows, dtype=torch.bool, device="cuda")
    v = table[g]
    torch._dynamo.reset()
    refs = {"eager": torch_expression(x, v), "compiled": torch.compile(torch_expression)(x, v)}
    for mode in MODES:
        y = as_int(pr.reflect_rows(x, table, g, m, mode))
        for name, ref in refs.items():
            share = (y == as_int(ref)).double().mean().item()
            print(f"\ncuda {dtype} {rows}x{hidden}: {mode} identical to the {name} torch "
                  f"expression: {share:.6f}")
            if mode == "stepwise":
                assert share >= 0.9


def as_int(t):
    return t.view({torch.float32: torch.int32, torch.float16: torch.int16,
                   torch.bfloat16: torch.int16}[t.dtype])


@pytest.mark.parametrize("mode", MODES)
def test_compiled_equals_eager(mode, device):
    x, table, g, m = case(6, 1025, 2, torch.bfloat16, device=device)
    r = x.flip(0).contiguous()

    def f(x, r, table, g, m):
        a = pr.reflect_rows(x, table, g, m, mode)
        h, rr = pr.reflect_rows_pair(x, r, table, g, m, mode)
        xi, ri = x.clone(), r.clone()
        pr.reflect_rows_pair_(xi, ri, table, g, m, mode)
        return a, h, rr, xi, ri

    torch._dynamo.reset()
    got = torch.compile(f, fullgraph=True)(x, r, table, g, m)
    for a, b in zip(got, f(x, r, table, g, m)):
        assert_bits_equal(a, b)


def test_opcheck():
    x, table, g, m = case(5, 37, 2, torch.float16)
    r = x.flip(0).contiguous()
    op = torch.ops.pocrand.reflect_rows.default
    for mode in MODES:  # every form of the one op: out of place, in place, the pair of each
        torch.library.opcheck(op, (torch.empty_like(x), x, None, None, table, g, m, mode))
        y = x.clone()
        torch.library.opcheck(op, (y, y, None, None, table, g, m, mode))
        torch.library.opcheck(op, (torch.empty_like(x), x, torch.empty_like(r), r, table, g, m, mode))
        y, s = x.clone(), r.clone()
        torch.library.opcheck(op, (y, y, s, s, table, g, m, mode))
        torch.library.opcheck(op, (torch.empty_like(x), x, None, None, table[:1].contiguous(), None, None, mode))


def test_strided_x_in_place():
    x, table, g, m = case(6, 31, 2, torch.bfloat16)
    big = torch.zeros(6, 2, 40, dtype=torch.bfloat16)
    view = big[:, :, 3:34]
    view.copy_(x)
    pr.reflect_rows_(view, table, g, m, "stepwise")
    assert_bits_equal(view, pr.reflect_rows(x, table, g, m, "stepwise"))
    assert (big[:, :, :3] == 0).all() and (big[:, :, 34:] == 0).all()


def test_zero_rows():
    x = torch.empty(0, 3, 8)
    table = table_of(8, torch.float32)
    y = pr.reflect_rows(x, table, torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.bool))
    assert y.shape == (0, 3, 8)


BAD = [  # (what, call, error, a word of the message)
    ("x not a tensor", lambda x, t, g, m: pr.reflect_rows([1.0], t, g, m), TypeError, "x"),
    ("x 1-D", lambda x, t, g, m: pr.reflect_rows(x[0, 0], t, g, m), ValueError, "x"),
    ("x float64", lambda x, t, g, m: pr.reflect_rows(x.double(), t, g, m), ValueError, "x.dtype"),
    ("table dtype", lambda x, t, g, m: pr.reflect_rows(x, t.half(), g, m), TypeError, "table"),
    ("table width", lambda x, t, g, m: pr.reflect_rows(x, t[:, :5], g, m), ValueError, "table"),
    ("table empty", lambda x, t, g, m: pr.reflect_rows(x, t[:0], g, m), ValueError, "table"),
    ("row_group int32", lambda x, t, g, m: pr.reflect_rows(x, t, g.int(), m), TypeError, "row_group"),
    ("row_group short", lambda x, t, g, m: pr.reflect_rows(x, t, g[:2], m), ValueError, "row_group"),
    ("row_group 2-D", lambda x, t, g, m: pr.reflect_rows(x, t, g.view(1, -1), m), ValueError, "row_group"),
    ("mask int", lambda x, t, g, m: pr.reflect_rows(x, t, g, m.long()), TypeError, "mask"),
    ("mask short", lambda x, t, g, m: pr.reflect_rows(x, t, g, m[:3]), ValueError, "mask"),
    ("mode", lambda x, t, g, m: pr.reflect_rows(x, t, g, m, "twice"), ValueError, "mode"),
    ("mode type", lambda x, t, g, m: pr.reflect_rows(x, t, g, m, 1), TypeError, "mode"),
    ("grad", lambda x, t, g, m: pr.reflect_rows(x.requires_grad_(), t, g, m), ValueError, "grad"),
    ("pair shapes", lambda x, t, g, m: pr.reflect_rows_pair(x, x[:3], t, g, m), ValueError, "residual"),
    ("pair dtype", lambda x, t, g, m: pr.reflect_rows_pair(x, x.half(), t, g, m), TypeError, "residual must have hidden.s dtype"),
    ("in place expanded", lambda x, t, g, m: pr.reflect_rows_(x[:1].expand(4, 2, 8), t, g, m), ValueError, "x"),
    ("in place over table", lambda x, t, g, m: pr.reflect_rows_(t.view(2, 2, 8), t, g, m), ValueError, "table"),
    ("pair in place shared", lambda x, t, g, m: pr.reflect_rows_pair_(x, x, t, g, m), ValueError, "residual"),
]


@pytest.mark.parametrize("what,call,error,word", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_are_named(what, call, error, word):
    x, table, g, m = case(4, 8, 2, torch.float32)
    with pytest.raises(error, match=word):
        call(x, table, g, m)


def _op(out, x, t, g, m, rounding="once", residual_out=None, residual=None):
    torch.ops.pocrand.reflect_rows(out, x, residual_out, residual, t, g, m, rounding)


RAW_BAD = [  # the raw op's own checks (a direct torch.ops call)
    ("x 2-D", lambda x, t, g, m: _op(x[0].clone(), x[0], t, g, m), ValueError, "x must be 3-D"),
    ("table dtype", lambda x, t, g, m: _op(x.clone(), x, t.half(), g, m), TypeError, "table"),
    ("row_group short", lambda x, t, g, m: _op(x.clone(), x, t, g[:2], m), ValueError, "row_group"),
    ("mask dtype", lambda x, t, g, m: _op(x.clone(), x, t, g, m.int()), TypeError, "mask"),
    ("rounding", lambda x, t, g, m: _op(x.clone(), x, t, g, m, "twice"), ValueError, "rounding"),
    ("x strided", lambda x, t, g, m: _op(x.clone(), x.transpose(0, 1), t, g, m), ValueError, "contiguous"),
    ("in place over table", lambda x, t, g, m: _op(t.view(2, 2, 8), t.view(2, 2, 8), t, g, m),
     ValueError, "table"),
    ("pair shapes", lambda x, t, g, m: _op(x.clone(), x, t, g, m, residual_out=x[:3].clone(), residual=x[:3]),
     ValueError, "residual must have x's shape"),
    ("pair in place shared", lambda x, t, g, m: _op(x, x, t, g, m, residual_out=x, residual=x), ValueError,
     "share memory"),
    ("out over x, shifted", lambda x, t, g, m: _op(x[1:], x[:3], t, g, m), ValueError, "share memory"),
]


@pytest.mark.parametrize("what,call,error,word", RAW_BAD, ids=[b[0] for b in RAW_BAD])
def test_raw_ops_refuse_bad_inputs(what, call, error, word):
    x, table, g, m = case(4, 8, 2, torch.float32)
    with pytest.raises(error, match=word):
        call(x, table, g, m)


# ---- GPU ----

@requires_cuda
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("hidden", HIDDEN + [3072, 7168, 70000])
def test_cuda_equals_cpu(hidden, dtype, mode):
    x, table, g, m = case(33, hidden, 2, DTYPES[dtype])
    r = normals(hidden + 5, x.shape).to(DTYPES[dtype])
    cpu = pr.reflect_rows_pair(x, r, table, g, m, mode)
    gpu = pr.reflect_rows_pair(x.cuda(), r.cuda(), table.cuda(), g.cuda(), m.cuda(), mode)
    for a, b in zip(cpu, gpu):
        assert_bits_equal(a, b.cpu())
    xi = x.cuda()
    pr.reflect_rows_(xi, table.cuda(), g.cuda(), m.cuda(), mode)
    assert_bits_equal(cpu[0], xi.cpu())


@requires_cuda
@pytest.mark.parametrize("mode", MODES)
def test_cuda_graph_replay_with_new_mask_and_row_group(mode):
    n, hidden = 64, 7168
    x, table, g, m = case(n, hidden, None, torch.bfloat16, device="cuda")
    r = normals(3, x.shape).to(torch.bfloat16).cuda()
    hidden_buf, residual_buf = x.clone(), r.clone()
    pr.reflect_rows_pair_(hidden_buf.clone(), residual_buf.clone(), table, g, m, mode)  # warm up
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = pr.reflect_rows_pair(hidden_buf, residual_buf, table, g, m, mode)
        pr.reflect_rows_pair_(hidden_buf, residual_buf, table, g, m, mode)
    for seed in (1, 2, 3):
        _, _, ng, nm = case(n, hidden, None, torch.bfloat16, seed=seed, device="cuda")
        g.copy_(ng)
        m.copy_(nm)
        hidden_buf.copy_(x)
        residual_buf.copy_(r)
        graph.replay()
        torch.cuda.synchronize()
        eager = pr.reflect_rows_pair(x, r, table, ng, nm, mode)
        for a, b, c in zip(out, eager, (hidden_buf, residual_buf)):
            assert_bits_equal(a, b)
            assert_bits_equal(c, b)
        assert_bits_equal(out[0].cpu(), want(x, table, ng, nm, mode))
