"""gonka-poc's decode streams (SPEC.md section 10): step seeds, decode normals, hash modulo (pseudo
ids), forced expert logits, their seed strings.

Integer outputs are compared exactly with a restatement of the plugin's torch expressions written
here from the scheme's description (int64 tensor arithmetic masked to 32 bits, topk, scatter_);
every op with the NumPy spec bit for bit; decode normals with the plugin's float expression
within 1 ulp (fp16/bf16) or 3 ulp (fp32). GPU tests skip without CUDA.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import pocrand_ext as pr
import spec_numpy as spec
from conftest import DEVICES, requires_cuda
from pocrand_ext.protocols import gonka_poc as gp

ops = torch.ops.pocrand


from pocrand_ext.reference_gonka import (ref_forced, ref_murmur, ref_normal, ref_pick_set,  # noqa: E402
                                        ref_seed, ref_step_seeds)


def bits(t: torch.Tensor) -> np.ndarray:
    t = t.cpu()
    if t.dtype == torch.float32:
        return t.view(torch.int32).numpy()
    return t.view(torch.int16).numpy() if t.dtype.is_floating_point else t.numpy()


def rows(seed: int, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 2**32, (b,), generator=g)
    prev = torch.randint(-1, 16, (b,), generator=g)
    steps = torch.randint(0, 257, (b,), generator=g)
    return base, prev, steps


# ---- exact integer outputs against the plugin's expressions ------------------------------------
@pytest.mark.parametrize("salt", [gp.SALT_EMBED, gp.SALT_PICK, gp.SALT_TOKEN_ID])
def test_step_seeds_equal_the_plugin_expression(device, salt):
    base, prev, steps = rows(1, 300)
    prev[:3] = torch.tensor([-1, 2**40 + 7, -(2**62)])
    for step in (0, 1, 255, 2**31 + 9, -3, steps):
        want = ref_step_seeds(base, step, prev, salt)
        got = pr.step_seeds(base.to(device), step.to(device) if torch.is_tensor(step) else step,
                            prev.to(device), salt)
        assert torch.equal(got.cpu(), want)


def test_pseudo_input_ids_equal_the_plugin_expression(device):
    nonces, seq_len, vocab = [0, 1, -1, 2**63 - 1, 12345], 33, 129280
    seeds = torch.tensor([[ref_seed(f"bh_pk_nonce{n}_input_ids")] for n in nonces])
    keys = torch.arange(seq_len, dtype=torch.int32).unsqueeze(0).expand(len(nonces), -1)
    want = (ref_murmur(keys, seeds) % vocab).to(torch.int32).flatten()
    got = gp.pseudo_input_ids("bh", "pk", nonces, seq_len, vocab, device)
    assert got.dtype == torch.int32 and torch.equal(got.cpu(), want)


def test_decode_pseudo_token_ids_equal_the_plugin_expression(device):
    base, prev, steps = rows(2, 200)
    seeds = ref_step_seeds(base, steps, prev, 0x57)
    want = (ref_murmur(torch.zeros(200, 1, dtype=torch.int32), seeds.view(-1, 1)) % 151936)
    got = gp.decode_pseudo_token_ids(base.to(device), steps.to(device), prev.to(device), 151936)
    assert got.dtype == torch.int32 and torch.equal(got.cpu(), want.to(torch.int32).flatten())


@pytest.mark.parametrize("n_experts,top_k", [(256, 8), (256, 6), (7, 7), (1, 1), (160, 1)])
def test_forced_logits_equal_the_plugin_expression(device, n_experts, top_k):
    g = torch.Generator().manual_seed(n_experts)
    route = torch.randint(0, 2**32, (500,), generator=g)
    steps = torch.randint(0, 300, (500,), generator=g)
    want = ref_forced(route, steps, n_experts, top_k)
    got = gp.expert_logits(route.to(device), steps.to(device), n_experts, top_k)
    assert torch.equal(got.cpu(), want)
    for dtype in (torch.float16, torch.bfloat16):
        low = gp.expert_logits(route.to(device), steps.to(device), n_experts, top_k, dtype=dtype)
        assert np.array_equal(bits(low), bits(want.to(dtype)))


def test_route_base_seeds_equal_the_plugin_strings(device):
    nonces = [0, -5, 2**63 - 1]
    got = gp.route_base_seeds("bh", nonces, 62, device)
    want = torch.tensor([[ref_seed(f"bh_n{n}_route_layer_{l}") for l in range(62)] for n in nonces])
    assert torch.equal(got.cpu(), want)
    b = gp.base_seeds("bh", "pk", nonces, device)
    assert b.tolist() == [ref_seed(f"bh_pk_nonce{n}") for n in nonces]


def test_decode_pick_is_the_plugin_set_in_the_cuda_order(device):
    base, prev, steps = rows(3, 40)
    seeds = ref_step_seeds(base, steps, prev, 0x91)
    got = gp.decode_pick(base.to(device), steps.to(device), prev.to(device), 3072, 256).cpu()
    assert torch.equal(got.sort(1).values, ref_pick_set(seeds, 3072, 256))
    order = np.stack([spec.pick(int(s), 3072, 256) for s in seeds])   # 9.4: the CUDA topk order
    assert np.array_equal(got.numpy(), order)


def test_decode_pick_strings(device):
    nonces, prev = [0, 7, -1], [3, 15, 0]
    for step in (0, 5):
        got = gp.decode_pick_indices("bh", "pk", nonces, 1000, 17, device, step=step).cpu()
        want = ref_pick_set(torch.tensor([ref_seed(f"bh_pk_nonce_{n}_pick_17_decode{step}")
                                          for n in nonces]), 1000, 17)
        assert torch.equal(got.sort(1).values, want)
        got = gp.decode_pick_indices("bh", "pk", nonces, 1000, 17, device, prev_point_ids=prev,
                                     step=step).cpu()
        want = ref_pick_set(torch.tensor([ref_seed(f"bh_pk_nonce_{n}_pick_17_decode{step}_k_{p}")
                                          for n, p in zip(nonces, prev)]), 1000, 17)
        assert torch.equal(got.sort(1).values, want)
    got = gp.decode_pick_indices_steps("bh", "pk", 7, 1000, 17, [0, 1, 9], device).cpu()
    for i, s in enumerate([0, 1, 9]):
        assert torch.equal(got[i], gp.decode_pick_indices("bh", "pk", [7], 1000, 17, device,
                                                          step=s)[0].cpu())


# ---- decode normals against the plugin's float expression -------------------------------------
def ulp_distance(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """|a - b| in units of the last place of the dtype, on the ordered integer line."""
    ia = bits(a).astype(np.int64)
    ib = bits(b).astype(np.int64)
    w = 16 if a.element_size() == 2 else 32
    top = 1 << (w - 1)
    fa = np.where(ia < 0, -(ia + top), ia)
    fb = np.where(ib < 0, -(ib + top), ib)
    return np.abs(fa - fb)


@pytest.mark.parametrize("dtype,max_ulp,min_same", [(torch.float16, 1, 0.999), (torch.bfloat16, 1, 0.9999),
                                                    (torch.float32, 3, 0.5)])
def test_decode_embeddings_near_the_plugin_expression(dtype, max_ulp, min_same):
    """64 rows x 7168 against the expression on torch's CPU log/sin/cos. Measured with torch 2.13,
    whose CPU functions take another path on each vector unit: fp16 99.9985% (an earlier x86-64
    host) and 99.9976% (an AVX-512 one) of elements identical, bf16 99.99978% on both, the rest
    1 ulp; fp32 91.2% and 79.7% identical, at most 3 ulp on both. The ulp bounds are the promise; the share
    thresholds leave room for another libm (torch's fp32 bits move with the CPU, pocrand's not)."""
    base, prev, steps = rows(4, 64)
    want = ref_normal(ref_step_seeds(base, steps, prev, 0x0D), 7168).to(dtype)
    got = gp.decode_embeddings(base, steps, prev, 7168, dtype)
    d = ulp_distance(got, want)
    assert d.max() <= max_ulp
    assert (d == 0).mean() >= min_same


# ---- NumPy spec == CPU bit for bit ------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_step_normal_is_the_spec(device, dtype):
    base, prev, steps = rows(5, 9)
    for n in (1, 2, 3, 1001):
        want = spec.step_normal(base.numpy(), steps.numpy(), prev.numpy(), 0x0D, n, dtype)
        got = pr.step_normal(base.to(device), steps.to(device), prev.to(device), 0x0D, n,
                             getattr(torch, dtype))
        assert np.array_equal(bits(got), want.view(np.int16 if dtype != "float32" else np.int32))
        same = pr.normal_from_seeds(pr.step_seeds(base.to(device), steps.to(device),
                                                  prev.to(device), 0x0D), n, getattr(torch, dtype))
        assert np.array_equal(bits(same), bits(got))


def test_hash_mod_and_forced_logits_are_the_spec(device):
    seeds = torch.tensor([0, 1, 2**32 - 1, 0x9747B28C])
    for n, m in ((1, 1), (100, 7), (10, 2**31 - 1)):
        assert np.array_equal(pr.hash_mod(seeds.to(device), n, m).cpu().numpy(),
                              spec.hash_mod(seeds.numpy(), n, m))
    for e, k, lad, step in ((8, 3, 100, None), (256, 8, -2**23, 5), (33, 33, 2**23, None)):
        for dtype in ("float32", "float16", "bfloat16"):
            got = pr.forced_logits(seeds.to(device), e, k, lad, step, getattr(torch, dtype))
            want = spec.forced_logits(seeds.numpy(), e, k, lad, step, dtype)
            assert np.array_equal(bits(got), want.view(np.int16 if dtype != "float32" else np.int32))


# ---- properties -------------------------------------------------------------------------------
u32 = st.integers(0, 2**32 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(u32, i64, i64), min_size=1, max_size=12), u32)
def test_step_seeds_rows_are_independent_and_match_the_spec(rows_, salt):
    base = torch.tensor([r[0] for r in rows_])
    steps = torch.tensor([r[1] for r in rows_])
    prev = torch.tensor([r[2] for r in rows_])
    got = pr.step_seeds(base, steps, prev, salt)
    assert np.array_equal(got.numpy(), spec.step_seeds(base.numpy(), steps.numpy(), prev.numpy(), salt))
    for i in range(len(rows_)):  # a row's seed never depends on the other rows
        assert pr.step_seeds(base[i:i + 1], steps[i:i + 1], prev[i:i + 1], salt)[0] == got[i]


@settings(max_examples=60, deadline=None)
@given(u32, st.integers(0, 2**31), st.integers(1, 300), st.data())
def test_forced_logits_structure(seed, step, n_experts, data):
    top_k = data.draw(st.integers(1, n_experts))
    ladder = data.draw(st.integers(-2**23, 2**23))
    row = pr.forced_logits(torch.tensor([seed]), n_experts, top_k, ladder, step)[0]
    forced = (row != -10000.0).nonzero().view(-1).tolist()
    start = int(spec.murmur3([step], seed)[0]) % n_experts
    assert sorted(forced) == sorted((start + j) % n_experts for j in range(top_k))
    assert [row[(start + j) % n_experts].item() for j in range(top_k)] == \
        [float(ladder + top_k - j) for j in range(top_k)]


# ---- compile, opcheck, bad inputs -------------------------------------------------------------
def decode_step(base, steps, prev, route):
    emb = gp.decode_embeddings(base, steps, prev, 512, torch.bfloat16)
    pick = gp.decode_pick(base, steps, prev, 512, 64)
    tok = gp.decode_pseudo_token_ids(base, steps, prev, 1000)
    logits = gp.expert_logits(route, steps, 64, 4, dtype=torch.bfloat16)
    return emb, pick, tok, logits, pr.step_seeds(base, 3, prev, 0x91)


def test_torch_compile_fullgraph_equals_eager():
    base, prev, steps = rows(6, 16)
    route = base ^ 0x5555
    eager = decode_step(base, steps, prev, route)
    compiled = torch.compile(decode_step, fullgraph=True)(base, steps, prev, route)
    for a, b in zip(eager, compiled):
        assert np.array_equal(bits(a), bits(b))


def test_opcheck():
    base, prev, steps = rows(7, 5)
    cases = [
        (ops.step_seeds.default, (base, prev, steps, None, 0x0D)),
        (ops.step_seeds.default, (base, prev, None, 7, 0x91)),
        (ops.step_normal.default, (base, prev, steps, None, 0x0D, 33, torch.float16)),
        (ops.step_normal.default, (base, prev, None, 2, 0x0D, 8, torch.float32)),
        (ops.hash_mod.default, (base, 9, 1000)),
        (ops.forced_logits.default, (base, steps, None, 16, 3, 100, torch.bfloat16)),
        (ops.forced_logits.default, (base, None, 4, 16, 3, 100, torch.float32)),
        (ops.forced_logits.default, (base, None, None, 16, 3, 100, torch.float16)),
    ]
    for op, args in cases:
        torch.library.opcheck(op, args)


def test_bad_inputs_name_the_argument():
    base, prev, steps = rows(8, 4)
    bad = [
        (TypeError, "base_seeds", lambda: pr.step_seeds([1, 2], 0, prev, 13)),
        (TypeError, "base_seeds", lambda: pr.step_seeds(base.float(), 0, prev, 13)),
        (ValueError, "prev_k", lambda: pr.step_seeds(base, 0, prev[:3], 13)),
        (TypeError, "prev_k", lambda: pr.step_seeds(base, 0, prev.float(), 13)),
        (ValueError, "step", lambda: pr.step_seeds(base, steps[:2], prev, 13)),
        (TypeError, "step", lambda: pr.step_seeds(base, 1.5, prev, 13)),
        (ValueError, "salt", lambda: pr.step_seeds(base, 0, prev, 2**32)),
        (ValueError, "seeds", lambda: ops.step_seeds(base - 2**40, prev, None, 0, 13)),
        (ValueError, "n", lambda: pr.step_normal(base, 0, prev, 13, 0)),
        (ValueError, "dtype", lambda: pr.step_normal(base, 0, prev, 13, 8, torch.int32)),
        (ValueError, "modulus", lambda: pr.hash_mod(base, 3, 0)),
        (ValueError, "top_k", lambda: pr.forced_logits(base, 8, 9, 100)),
        (ValueError, "top_k", lambda: pr.forced_logits(base, 8, 0, 100)),
        (ValueError, "ladder_base", lambda: pr.forced_logits(base, 8, 2, 2**23 + 1)),
        (ValueError, "n_experts", lambda: pr.forced_logits(base, 0, 1, 100)),
        (ValueError, "exactly one", lambda: ops.step_seeds(base, prev, steps, 3, 13)),
        (ValueError, "exactly one", lambda: ops.step_normal(base, prev, None, None, 13, 4, torch.float32)),
        (ValueError, "steps", lambda: ops.forced_logits(base, steps[:1], None, 8, 2, 100, torch.float32)),
        (ValueError, "k must be in", lambda: gp.decode_pick(base, 0, prev, 10, 11)),
        (ValueError, "vocab", lambda: gp.pseudo_input_ids("b", "p", [1], 3, 0)),
        (ValueError, "prev_point_ids", lambda: gp.decode_pick_indices("b", "p", [1, 2], 9, 3,
                                                                      prev_point_ids=[1])),
    ]
    for exc, word, fn in bad:
        with pytest.raises(exc, match=word):
            fn()


# ---- GPU: CPU == GPU, CUDA graphs -------------------------------------------------------------
@requires_cuda
@pytest.mark.parametrize("b", [1, 7, 64, 1024, 4096])
def test_cpu_equals_gpu(b):
    base, prev, steps = rows(9, b)
    route = base ^ 0x1234567
    cpu = decode_step(base, steps, prev, route)
    gpu = decode_step(base.cuda(), steps.cuda(), prev.cuda(), route.cuda())
    for a, g in zip(cpu, gpu):
        assert np.array_equal(bits(a), bits(g))
    ids = [gp.pseudo_input_ids("bh", "pk", list(range(b)), 8, 129280, d) for d in ("cpu", "cuda")]
    assert torch.equal(ids[0], ids[1].cpu())
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        e = [gp.decode_embeddings(x, s, p, 7168, dtype) for x, s, p in
             ((base, steps, prev), (base.cuda(), steps.cuda(), prev.cuda()))]
        assert np.array_equal(bits(e[0]), bits(e[1]))


@requires_cuda
def test_cuda_graph_replay_with_new_seeds_equals_eager():
    b = 64
    base, prev, steps = (t.cuda() for t in rows(10, b))
    route = (base ^ 0x77).clone()
    decode_step(base, steps, prev, route)  # warm up outside capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outs = decode_step(base, steps, prev, route)
    for seed in (11, 12):
        nb, np_, ns = rows(seed, b)
        base.copy_(nb)
        prev.copy_(np_)
        steps.copy_(ns)
        route.copy_(nb ^ 0x99)
        graph.replay()
        torch.cuda.synchronize()
        eager = decode_step(base, steps, prev, route)
        for g, e in zip(outs, eager):
            assert np.array_equal(bits(g), bits(e))


@pytest.mark.parametrize("strings, exc, words", [
    ("ab", TypeError, "strings must be a list or tuple of str"),   # a str is not ['a', 'b']
    ({"a", "b"}, TypeError, "strings must be a list or tuple"),   # unordered: the rows' order
    ({"a": 0}, TypeError, "strings must be a list or tuple"),
    (["a", 5], TypeError, r"strings\[1\] must be a str"),
    (["ok", "\ud800"], ValueError, r"strings\[1\] is not encodable as UTF-8"),
])
def test_decode_pick_strings_seeds_refuses_what_is_no_list_of_strings(strings, exc, words):
    from pocrand_ext.protocols import gonka_poc as gp
    with pytest.raises(exc, match=words):
        gp.decode_pick_strings_seeds(strings)
    assert gp.decode_pick_strings_seeds(("a", "b")).tolist() == [pr.seed_from_string("a"),
                                                                  pr.seed_from_string("b")]
