"""PoC v2's Python API and drop-in module: bad arguments give TypeError/ValueError naming the
argument, `out=` writes in place, every op passes opcheck and traces under torch.compile, and
pocrand_ext.gpu_random_v2 has the deployed module's names, signatures and errors. (The raw ops'
own bad-argument cases are in tests/test_bad_inputs.py, with every other op's.)"""
from __future__ import annotations

import inspect

import pytest
import torch

import pocrand_ext as pr
from pocrand_ext import gpu_random_v2
from conftest import assert_bits_equal

OK = dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=8, seq_len=4)


@pytest.mark.parametrize("fn", [pr.generate_inputs, pr.generate_inputs_concat])
def test_out_is_written_in_place(fn, device):
    want = fn(**OK, device=device, dtype=torch.bfloat16)
    out = torch.full((2, 4, 8), 7.0, dtype=torch.bfloat16, device=device)
    assert fn(**OK, device=device, dtype=torch.bfloat16, out=out) is out
    assert_bits_equal(out, want)
    # a strided view of a bigger buffer (a KV-cache slice) is written too
    big = torch.zeros(2, 4, 16, dtype=torch.bfloat16, device=device)
    view = big[:, :, 4:12]
    fn(**OK, device=device, dtype=torch.bfloat16, out=view)
    assert_bits_equal(view, want)
    assert (big[:, :, :4] == 0).all() and (big[:, :, 12:] == 0).all()


@pytest.mark.parametrize("fn", [pr.generate_inputs, pr.generate_inputs_concat])
@pytest.mark.parametrize("out,error", [
    (torch.empty(2, 4, 7, dtype=torch.float16), ValueError),   # shape
    (torch.empty(2, 4, 8, dtype=torch.float32), ValueError),   # dtype differs from dtype=
    ([0.0], TypeError),
])
def test_out_is_checked(fn, out, error):
    with pytest.raises(error, match="out"):
        fn(**OK, dtype=torch.float16, out=out)


BAD_CALLS = [
    (lambda: pr.generate_inputs_concat("bh", "pk", [], 8, 4), ValueError, "nonces"),
    (lambda: pr.generate_inputs_concat("bh", "pk", [0], 0, 4), ValueError, "dim"),
    (lambda: pr.generate_inputs_concat("bh", "pk", [0], 2**16, 2**16), ValueError, "seq_len"),
    (lambda: pr.generate_inputs_concat(1, "pk", [0], 8, 4), TypeError, "block_hash"),
    (lambda: pr.generate_inputs_concat("bh", "pk", [0], 8, 4, dtype=torch.int32), ValueError, "dtype"),
    (lambda: pr.generate_inputs_concat("bh", "pk", [0], 8, 4, device="meta"), ValueError, "device"),
    (lambda: pr.generate_inputs_concat_slice("bh", "pk", [0], 8, 4, 5, 5), ValueError, "start"),
    (lambda: pr.unit_vectors("abc", 8), TypeError, "seed_strings"),
    (lambda: pr.unit_vectors([], 8), ValueError, "seed_strings"),
    (lambda: pr.unit_vectors(["a", 3], 8), TypeError, r"seed_strings\[1\]"),
    (lambda: pr.unit_vectors(["a"], 0), ValueError, "dim"),
    (lambda: pr.householder_vectors("bh", 0, 8), ValueError, "num_layers"),
    (lambda: pr.generate_target_v2("bh", "pk", 2**31), ValueError, "dim"),
    (lambda: pr.pick_indices("bh", "pk", [0], 10, 0), ValueError, "k"),
    (lambda: pr.pick_indices("bh", "pk", [0], 10, 11), ValueError, "k"),
    (lambda: pr.pick_indices("bh", "pk", [0], 10, 2.0), TypeError, "k"),
    (lambda: pr.apply_householder(torch.randn(3, 4), torch.randn(4).half()), TypeError, "dtype"),
    (lambda: pr.apply_householder(torch.randn(3, 4), torch.randn(5)), ValueError, "v must be"),
    (lambda: pr.apply_householder(torch.randn(3, 4), torch.randn(2, 4)), ValueError, "v must be"),
    (lambda: pr.apply_householder(torch.randn(3, 4).double(), torch.randn(4).double()), ValueError, "x.dtype"),
    (lambda: pr.apply_householder(torch.tensor(1.0), torch.tensor(1.0)), ValueError, "x"),
    (lambda: pr.apply_householder([1.0], torch.randn(1)), TypeError, "x"),
    (lambda: pr.haar_rotate("bh", "pk", [0, 1], torch.randn(3, 4)), ValueError, "nonces"),
    (lambda: pr.haar_rotate("bh", "pk", [0], torch.randn(1, 0)), ValueError, "k must be positive"),
    (lambda: pr.haar_rotate("bh", "pk", [0], torch.randn(4)), ValueError, "2-D"),
    (lambda: pr.haar_rotate("bh", "pk", [0], torch.randn(1, 4).to(torch.int32)), ValueError, "x.dtype"),
    (lambda: pr.artifacts(torch.randn(2, 16), "bh", "pk", [0], 12), ValueError, "nonces"),
    (lambda: pr.artifacts(torch.randn(2, 16), "bh", "pk", [0, 1], 17), ValueError, "k"),
    (lambda: pr.artifacts(torch.randn(2, 16), "bh", "pk", [0, 1], 0), ValueError, "k"),
    (lambda: pr.artifacts(torch.randn(16), "bh", "pk", [0], 12), ValueError, "hidden"),
    (lambda: pr.artifacts(torch.randn(1, 16), "bh", None, [0], 12), TypeError, "public_key"),
]


@pytest.mark.parametrize("call,error,match", BAD_CALLS, ids=[str(i) for i in range(len(BAD_CALLS))])
def test_bad_arguments_raise_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


SEEDS = torch.tensor([0, 1, 2**32 - 1], dtype=torch.int64)
X = torch.randn(5, 33)
OPCHECK = [
    (torch.ops.pocrand.derive_seeds.default, ("bh_pk_nonce", [0, -1, 2**63 - 1], "", False, -1, True)),
    (torch.ops.pocrand.derive_seeds.default, ("bh_pk_nonce_", [0, 5], "_haar_hh_1_", False, 0)),
    (torch.ops.pocrand.derive_seeds.default, ("bh_pk_nonce_", [0, 5], "_haar_hh_12_", False, 11)),
    (torch.ops.pocrand.derive_seeds_of_strings.default, (["a", "bé"], False)),
    (torch.ops.pocrand.concat_normal.default, (SEEDS.repeat(8).view(3, 8), 33, 0, 33, torch.float16)),
    (torch.ops.pocrand.concat_normal.default, (SEEDS.repeat(8).view(3, 8), 33, 4, 29, torch.bfloat16)),
    (torch.ops.pocrand.normal_nonces.default, ("bh_pk_nonce", [0, 9], "", 33, torch.float16,
                                               torch.device("cpu"), True)),
    (torch.ops.pocrand.unit_vectors.default, (SEEDS, 100, torch.float32)),
    (torch.ops.pocrand.unit_vectors_by_value.default, ([0, 5], 100, torch.bfloat16, torch.device("cpu"))),
    (torch.ops.pocrand.unit_vectors_by_value.default, ([0, -7, 2**40], 100, torch.float32,
                                                       torch.device("cpu"), "bh_layer_", "_householder")),
    (torch.ops.pocrand.pick.default, (SEEDS, 100, 12)),
    (torch.ops.pocrand.reflect_rows.default, (torch.empty(5, 1, 33), X.view(5, 1, 33), None, None,
                                              torch.randn(1, 33), None, None, "once")),
    (torch.ops.pocrand.reflect_rows.default, (torch.empty(5, 1, 33).half(), X.half().view(5, 1, 33), None, None,
                                              torch.randn(5, 33).half(), None, None, "once")),
    (torch.ops.pocrand.haar_rotate.default, (X[:, :12].contiguous(), SEEDS.repeat(20)[:55].view(5, 11))),
    (torch.ops.pocrand.artifacts.default, (X, SEEDS.repeat(20)[:60].view(5, 12), 12)),
    (torch.ops.pocrand.artifacts_nonces.default, (X, "bh_pk_nonce_", [0, 1, -1, 2**63 - 1, 5], 12, "_pick_12", "_haar_hh_12_")),

]


@pytest.mark.parametrize("op,args", OPCHECK, ids=[f"{o[0]}-{i}" for i, o in enumerate(OPCHECK)])
def test_opcheck(op, args):
    torch.library.opcheck(op, args)


def test_opcheck_of_the_into_ops():
    out = torch.empty(2, 33, dtype=torch.float16)
    for concat in (False, True):
        torch.library.opcheck(torch.ops.pocrand.normal_nonces_into.default,
                              ("bh_pk_nonce", [0, 9], "", out, concat))


def pocv2_step(hidden, x, v, pick_seeds, haar_seeds, artifact_seeds):
    """The PoC v2 raw ops as a compiled model would call them (seeds already on the device)."""
    y = torch.empty_like(x)
    torch.ops.pocrand.reflect_rows(y.unsqueeze(1), x.unsqueeze(1), None, None, v.view(1, -1), None, None, "once")
    idx = torch.ops.pocrand.pick(pick_seeds, hidden.shape[1], 12)
    g = torch.gather(hidden, 1, idx)
    rot = torch.ops.pocrand.haar_rotate(g, haar_seeds)
    art, flags = torch.ops.pocrand.artifacts(hidden, artifact_seeds, 12)
    vecs = torch.ops.pocrand.unit_vectors(pick_seeds, 64, torch.float32)
    words = artifact_seeds[:, :8].contiguous()
    concat = torch.ops.pocrand.concat_normal(words, 300, 0, 300, torch.bfloat16)
    part = torch.ops.pocrand.concat_normal(words, 300, 7, 99, torch.float16)
    h2, r2 = torch.empty_like(x), torch.empty_like(x)
    torch.ops.pocrand.reflect_rows(h2.unsqueeze(1), x.unsqueeze(1), r2.unsqueeze(1), x.flip(0).unsqueeze(1),
                                   v.view(1, -1), None, None, "once")
    return y, idx, rot, art, flags, vecs, concat, part, h2, r2


def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(3)
    hidden = torch.randn(4, 256, generator=gen).to(device)
    x = torch.randn(16, 64, generator=gen).bfloat16().to(device)
    v = pr.unit_vectors(["v"], 64, device)[0].bfloat16()
    seeds = torch.arange(4 * 12, dtype=torch.int64, device=device).view(4, 12) * 7919
    args = (hidden, x, v, seeds[:, 0].contiguous(), seeds[:, 1:].contiguous(), seeds)
    compiled = torch.compile(pocv2_step, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(*args), pocv2_step(*args)):
        assert_bits_equal(a, b)


def test_drop_in_module_has_the_deployed_names_and_signatures():
    expected = {
        "generate_inputs": ["block_hash", "public_key", "nonces", "dim", "seq_len", "device", "dtype"],
        "generate_inputs_concat_murmur": ["block_hash", "public_key", "nonces", "dim", "seq_len",
                                          "device", "dtype"],
        "generate_target": ["block_hash", "public_key", "dim", "device", "dtype"],
        "generate_householder_vector": ["seed_str", "dim", "device"],
        "apply_householder": ["x", "v"],
        "random_pick_indices": ["block_hash", "public_key", "nonces", "dim", "k", "device"],
        "apply_haar_rotation": ["block_hash", "public_key", "nonces", "x", "device"],
        "_seed_from_string": ["s"],
        "_murmur3_32": ["keys", "seed"],
        "_uniform": ["seed", "n", "device"],
        "_normal": ["seed", "n", "device"],
        "_batched_murmur3_32": ["keys", "seeds"],
        "_batched_normal": ["seeds", "n", "device"],
    }
    for name, params in expected.items():
        sig = inspect.signature(getattr(gpu_random_v2, name))
        assert list(sig.parameters)[:len(params)] == params, name
    assert inspect.signature(gpu_random_v2.generate_inputs).parameters["dtype"].default == torch.float16
    assert inspect.signature(gpu_random_v2.generate_target).parameters["dtype"].default == torch.float32
    assert "out" in inspect.signature(gpu_random_v2.generate_inputs_concat_murmur).parameters


def test_drop_in_module_behaves_like_the_deployed_one(device):
    g = gpu_random_v2
    with pytest.raises(ValueError, match=r"k must be in \[1, dim\], got k=0, dim=10"):
        g.random_pick_indices("bh", "pk", [0], 10, 0, device)
    with pytest.raises(ValueError, match="k must be positive, got k=0"):
        g.apply_haar_rotation("bh", "pk", [0], torch.empty(1, 0, device=device), device)
    x = torch.randn(3, 16).bfloat16().to(device)
    v = g.generate_householder_vector("s", 16, device)
    assert v.dtype == torch.float32 and g.apply_householder(x, v).dtype == torch.float32
    assert g.apply_householder(x, v.bfloat16()).dtype == torch.bfloat16
    assert_bits_equal(g.apply_householder(x, v), pr.apply_householder(x.float(), v))
    assert_bits_equal(g.generate_target("bh", "pk", 16, device), pr.generate_target_v2("bh", "pk", 16, device))
    assert_bits_equal(g.generate_inputs_concat_murmur("bh", "pk", [1], 8, 2, device),
                      pr.generate_inputs_concat("bh", "pk", [1], 8, 2, device))
    keys = torch.arange(10, dtype=torch.int32).expand(2, -1).to(device)
    seeds = torch.tensor([[5], [2**32 - 1]], device=device)
    rows = g._batched_murmur3_32(keys, seeds)
    assert torch.equal(rows[1], g._murmur3_32(keys[1], 2**32 - 1))
    assert_bits_equal(g._batched_normal([5, 6], 9, device)[1], g._normal(6, 9, device))
    assert_bits_equal(g.apply_haar_rotation("bh", "pk", [0], x.float()[:1], device),
                      pr.haar_rotate("bh", "pk", [0], x.float()[:1]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_unit_vectors_by_value_from_strings(dtype, device):
    """With prefix, row i is unit_vector(seed_from_string(prefix + str(ids[i]) + suffix)): the
    same bits as the seeds derived first and passed by value."""
    ids = [0, 1, -7, 2**40, 79]
    seeds = [pr.seed_from_string(f"bh_layer_{i}_householder") for i in ids]
    by_value = torch.ops.pocrand.unit_vectors_by_value(seeds, 257, dtype, torch.device(device))
    by_string = torch.ops.pocrand.unit_vectors_by_value(ids, 257, dtype, torch.device(device),
                                                        "bh_layer_", "_householder")
    assert_bits_equal(by_string, by_value)
    with pytest.raises(ValueError, match="seeds"):
        torch.ops.pocrand.unit_vectors_by_value([], 8, dtype, torch.device(device), "p", "s")
