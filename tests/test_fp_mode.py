"""CPU ops give the same bits whatever floating-point mode the process is in.

A fast-math library, or torch.set_flush_denormal(True), sets flush-to-zero (FTZ) and
denormals-are-zero (DAZ) in some threads. The CPU kernels must switch every thread they compute
on to the IEEE mode and back (csrc/cpu/fp_env.h). Each CPU op runs here in normal mode, then
with FTZ+DAZ set in the calling thread, in the worker threads only, and in both; the outputs must
be bit-identical, and each thread's mode must be left as it was. The inputs include values whose
results are subnormal (distances over 1e-22 logits, whose squares are about 1e-44; sincos of
subnormal angles), which flushing would change.

The worker threads are reached through a small OpenMP library built here with the C compiler: it
sets the mode in each thread of an OpenMP team, and since torch's libgomp is already loaded, the
team's threads are the ones at::parallel_for runs on (the fixture checks that on torch's own
arithmetic first).
"""
from __future__ import annotations

import ctypes
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import pocrand_ext  # noqa: F401  (registers torch.ops.pocrand)
import spec_numpy as spec
from conftest import assert_bits_equal

ROOT = Path(__file__).resolve().parent.parent
THREADS = 4  # more than the 2 cores of CI, so at::parallel_for has several workers
ops = torch.ops.pocrand

HELPER_C = r"""
#include <omp.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#define FLUSH_BITS 0x8040u /* MXCSR FTZ | DAZ */
static unsigned long get_mode(void) { return _mm_getcsr(); }
static void put_mode(unsigned long m) { _mm_setcsr((unsigned)m); }
#elif defined(__aarch64__)
#define FLUSH_BITS (1ul << 24) /* FPCR FZ */
static unsigned long get_mode(void) { unsigned long v; __asm__ volatile("mrs %0, fpcr" : "=r"(v)); return v; }
static void put_mode(unsigned long m) { __asm__ volatile("msr fpcr, %0" : : "r"(m)); }
#endif
/* Sets (flush = 1) or clears flush-to-zero in every thread of an OpenMP team of `threads`,
   except the calling thread (team member 0) when skip_caller; returns how many were changed. */
int set_flush(int flush, int threads, int skip_caller) {
  int n = 0;
#pragma omp parallel num_threads(threads) reduction(+ : n)
  if (!(skip_caller && omp_get_thread_num() == 0)) {
    put_mode(flush ? (get_mode() | FLUSH_BITS) : (get_mode() & ~FLUSH_BITS));
    n += 1;
  }
  return n;
}
/* How many threads of such a team have flush-to-zero set. */
int count_flushing(int threads) {
  int n = 0;
#pragma omp parallel num_threads(threads) reduction(+ : n)
  n += (get_mode() & FLUSH_BITS) != 0;
  return n;
}
int caller_flushing(void) { return (get_mode() & FLUSH_BITS) != 0; }
"""


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    if platform.machine() not in ("x86_64", "AMD64", "aarch64", "arm64"):
        pytest.skip(f"no flush-mode helper for {platform.machine()}")
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) to build the flush-mode helper")
    d = tmp_path_factory.mktemp("fpmode")
    (d / "flush.c").write_text(HELPER_C)
    lib = d / "libflush.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-fopenmp", str(d / "flush.c"), "-o",
                    str(lib)], check=True, capture_output=True)
    h = ctypes.CDLL(str(lib))
    for name in ("set_flush", "count_flushing", "caller_flushing"):
        getattr(h, name).restype = ctypes.c_int
    return h


def tiny_logits(rows: int, v: int) -> torch.Tensor:
    """1e-22 * normal deviates: each square is about 1e-44, a subnormal float32."""
    return (ops.normal(torch.tensor([5]), rows * v, torch.float32).view(rows, v) * 1e-22)


def subnormal_floats() -> torch.Tensor:
    bits = torch.cat([torch.arange(1, 0x800000, 977), torch.tensor([0x7FFFFF, 0x400000, 1])])
    return torch.cat([bits, bits | 0x80000000]).to(torch.int32).view(torch.float32)


SEEDS = torch.tensor([0, 1, 4294967295, 12345, 7, 99, 3, 4])
V = 5000  # distances: one task per row (grain 1), so the rows spread over the threads
PERMS = ops.permutations(torch.arange(8), V)
TARGET = ops.unit_normal(torch.tensor([11]), V, torch.float32)[0]

# One or more calls per CPU op; each returns a tensor or a tuple of tensors.
CASES = {
    "derive_seeds": lambda: ops.derive_seeds("bh_pk_nonce", list(range(-500, 500)), "", False),
    "murmur3": lambda: ops.murmur3(torch.arange(-50000, 50000), 0x9747B28C),
    "murmur3/rows": lambda: ops.murmur3(torch.arange(-50000, 50000).view(4, -1),
                                        seeds=torch.tensor([0, 1, 2**32 - 1, 0x9747B28C])),
    "uniform": lambda: ops.uniform(SEEDS, 20001),
    "normal": lambda: ops.normal(SEEDS, 20001, torch.float32),
    "normal/fp16": lambda: ops.normal(SEEDS, 20001, torch.float16),
    "normal/bf16": lambda: ops.normal(SEEDS, 20001, torch.bfloat16),
    "normal_range": lambda: ops.normal_range(SEEDS, 50001, 3, 40000, torch.float16),
    "normal_nonces": lambda: ops.normal_nonces("bh_pk_nonce", [0, -1, 7], "", 30001,
                                               torch.bfloat16, torch.device("cpu")),
    "unit_normal_seed": lambda: ops.unit_normal_seed(42, 151936, torch.float32,
                                                     torch.device("cpu")),
    "permutations": lambda: ops.permutations(SEEDS, 20000),
    "unit_normal": lambda: ops.unit_normal(SEEDS[:3], 151936, torch.float16),
    "distances": lambda: ops.distances(ops.normal(torch.tensor([9]), 8 * V, torch.float32)
                                       .view(8, V), PERMS, TARGET),
    "distances/tiny": lambda: ops.distances(tiny_logits(8, V), PERMS, TARGET),
    "distances/fp16": lambda: ops.distances(ops.normal(torch.tensor([9]), 8 * V, torch.float16)
                                            .view(8, V), PERMS, TARGET.to(torch.bfloat16)),
    "core_stage/box_muller": lambda: tuple(ops.core_stage("box_muller", torch.arange(0, 2**32, 4099))),
    "core_stage/log": lambda: tuple(ops.core_stage("log", torch.linspace(1e-10, 1.0, 100000))),
    "core_stage/sincos": lambda: tuple(ops.core_stage("sincos", torch.cat([torch.linspace(0, 6.3, 50000),
                                                                           subnormal_floats().abs()]))),
    "core_stage/round_fp16": lambda: tuple(ops.core_stage("round", torch.cat([torch.linspace(-7e4, 7e4, 50000),
                                                                              subnormal_floats()]), torch.float16)),
    "core_stage/round_bf16": lambda: tuple(ops.core_stage("round", subnormal_floats(), torch.bfloat16)),
    # PoC v2
    "derive_seeds/words": lambda: ops.derive_seeds("bh_pk_nonce", list(range(-300, 300)), "", False, words=True),
    "derive_seeds/grid": lambda: ops.derive_seeds("bh_pk_nonce_", list(range(60)), "_haar_hh_12_", False, 11),
    "derive_seeds_of_strings": lambda: ops.derive_seeds_of_strings([f"s{i}" for i in range(700)], False),
    "concat_normal": lambda: ops.concat_normal(SEEDS[:8].repeat(2).view(2, 8), 40001, 0, 40001, torch.float16),
    "concat_normal/slice": lambda: ops.concat_normal(SEEDS[:8].repeat(2).view(2, 8), 40001, 7, 39000, torch.float32),
    "normal_nonces/concat": lambda: ops.normal_nonces("bh_pk_nonce", [0, -1, 7], "", 30001,
                                                      torch.bfloat16, torch.device("cpu"), True),
    "normal_nonces_into": lambda: into(ops.normal_nonces_into, torch.float16),
    "normal_nonces_into/concat": lambda: into(ops.normal_nonces_into, torch.float32, True),
    "unit_vectors": lambda: ops.unit_vectors(SEEDS[:3], 70001, torch.float32),
    "unit_vectors_by_value": lambda: ops.unit_vectors_by_value([1, 2], 8192, torch.bfloat16, torch.device("cpu")),
    "pick": lambda: ops.pick(SEEDS[:4], 100003, 37),
    # the reflection, householder-shaped (one slot, no mask, "once"): out of place, in place, pair
    "reflect_rows/householder": lambda: reflect(tiny_logits(8, V), TARGET),
    "reflect_rows/householder_": lambda: reflect(tiny_logits(8, V), TARGET, in_place=True),
    "reflect_rows/householder_pair": lambda: reflect(tiny_logits(8, V), TARGET, tiny_logits(8, V) * 7),
    "reflect_rows/householder_pair_": lambda: reflect(tiny_logits(8, V), TARGET, tiny_logits(8, V) * 7, in_place=True),
    "reflect_rows/householder_bf16": lambda: reflect(tiny_logits(8, V).to(torch.bfloat16), TARGET.to(torch.bfloat16)),
    "haar_rotate/tiny": lambda: ops.haar_rotate(tiny_logits(8, 40), torch.arange(8 * 39).view(8, 39)),
    "artifacts/tiny": lambda: ops.artifacts(tiny_logits(8, V), torch.arange(8 * 12).view(8, 12), 12),
    "artifacts_nonces": lambda: ops.artifacts_nonces(ops.normal(torch.tensor([3]), 8 * V, torch.float32)
                                                     .view(8, V), "bh_pk_nonce_", list(range(8)), 100,
                                                     "_pick_100", "_haar_hh_100_"),
    # gonka-poc (SPEC.md section 10)
    "step_seeds": lambda: ops.step_seeds(SEEDS, torch.arange(-4, 4), torch.arange(8) * 3, None, 0x91),
    "step_normal": lambda: ops.step_normal(SEEDS, torch.arange(-4, 4), None, 5, 0x0D, 20001, torch.bfloat16),
    "hash_mod": lambda: ops.hash_mod(SEEDS, 5001, 151936),
    "forced_logits": lambda: ops.forced_logits(SEEDS, torch.arange(8), None, 256, 8, 100, torch.float16),
    "snap/tiny": lambda: snap_into(tiny_logits(8, V)),
    "snap/bf16": lambda: snap_into(tiny_logits(8, V).bfloat16()),
    "reflect_rows/tiny": lambda: reflect(tiny_logits(8, V).view(4, 2, V), TARGET.repeat(2, 1), row_group=torch.tensor([1, 0, 1, 1]),
                                         mask=torch.tensor([True, True, False, True])),
    "reflect_rows/stepwise": lambda: reflect(tiny_logits(8, V).view(8, 1, V).bfloat16(), TARGET.repeat(2, 1).bfloat16(),
                                             row_group=torch.arange(8) % 2, mask=torch.ones(8, dtype=torch.bool),
                                             rounding="stepwise"),
    "reflect_rows/stepwise_": lambda: reflect(tiny_logits(8, V).view(8, 1, V), TARGET.repeat(2, 1), row_group=torch.arange(8) % 2,
                                              mask=torch.ones(8, dtype=torch.bool), rounding="stepwise", in_place=True),
    "reflect_rows/pair": lambda: reflect(tiny_logits(8, V).view(8, 1, V), TARGET.repeat(2, 1), tiny_logits(8, V).view(8, 1, V) * 7,
                                         row_group=torch.arange(8) % 2, mask=torch.ones(8, dtype=torch.bool)),
    "reflect_rows/pair_stepwise_": lambda: reflect(tiny_logits(8, V).view(8, 1, V), TARGET.repeat(2, 1),
                                                   tiny_logits(8, V).view(8, 1, V) * 7, row_group=torch.arange(8) % 2,
                                                   mask=torch.ones(8, dtype=torch.bool), rounding="stepwise", in_place=True),
    "fused_add_rms_norm_reflect": lambda: fused_norm(tiny_logits(8, V).view(8, 1, V), tiny_logits(8, V).view(8, 1, V) * 7,
                                                     TARGET.repeat(2, 1), "stepwise"),
    "fused_add_rms_norm_reflect/bf16": lambda: fused_norm(tiny_logits(8, V).view(4, 2, V).bfloat16(),
                                                          tiny_logits(8, V).view(4, 2, V).bfloat16() * 3,
                                                          TARGET.repeat(2, 1).bfloat16(), "once"),
    # the masked overrides (SPEC.md 10.11, 10.12): decode, prefill and kept rows; subnormal
    # float32 rows kept and copied from embeds
    "embed_synth": lambda: out_of_place(ops.embed_synth, ops.normal(torch.tensor([6]), 8 * V, torch.float16).view(8, V),
                                           SEEDS, torch.arange(-4, 4), OVERRIDE_PREV,
                                           tiny_logits(8, V) * 1e17, OVERRIDE_MASK, 0x0D),
    "embed_synth/f32": lambda: out_of_place(ops.embed_synth, tiny_logits(8, V), SEEDS, torch.arange(8), OVERRIDE_PREV,
                                               SUBNORMAL_EMBEDS, OVERRIDE_MASK, 0x0D),
    "embed_synth_": lambda: synth_inplace(tiny_logits(8, V).bfloat16()),
    "router_override": lambda: out_of_place(ops.router_override, tiny_logits(8, 256).half(), SEEDS, torch.arange(8),
                                                   OVERRIDE_MASK, 256, 8, 100),
    "router_override_": lambda: router_inplace(tiny_logits(8, 256)),
}

def fused_norm(x, residual, table, rounding):
    """fused_add_rms_norm_reflect in place on copies; rows alternate slots 0 and 1, row 2 off."""
    x, residual = x.clone(), residual.clone()
    n = x.shape[0]
    mask = torch.ones(n, dtype=torch.bool)
    mask[2] = False
    ops.fused_add_rms_norm_reflect(x, residual, torch.full((x.shape[-1],), 1.5, dtype=x.dtype), 1e-30,
                                   table, torch.arange(n) % 2, mask, rounding)
    return x, residual


OVERRIDE_PREV = torch.tensor([0, -1, 3, -1, 5, -2, 7, 1])
OVERRIDE_MASK = torch.tensor([True, True, False, True, True, False, True, True])
# made here, in the IEEE mode (a product computed by torch under flush-to-zero would be 0)
SUBNORMAL_EMBEDS = tiny_logits(8, V) * 1e-18
assert (SUBNORMAL_EMBEDS != 0).all() and (SUBNORMAL_EMBEDS.abs() < 2**-126).all()


def out_of_place(op, x, *args):
    """An op that writes its out, given a new one."""
    out = torch.empty_like(x)
    op(out, x, *args)
    return out


def synth_inplace(x):
    ops.embed_synth(x, x, SEEDS, torch.arange(8) * 5, OVERRIDE_PREV, tiny_logits(8, V), OVERRIDE_MASK, 0x0D)
    return x


def router_inplace(x):
    ops.router_override(x, x, SEEDS, torch.arange(8), OVERRIDE_MASK, 256, 8, -3)
    return x


def reflect(x, table, residual=None, row_group=None, mask=None, rounding="once", in_place=False):
    """The reflection op on x ([rows, hidden] or [rows, copies, hidden]) and, given, residual:
    into new tensors, or into x and residual themselves."""
    x3 = x.view(x.shape[0], -1, x.shape[-1])
    r3 = None if residual is None else residual.view(x3.shape)
    out = x3 if in_place else torch.empty_like(x3)
    r_out = r3 if in_place or r3 is None else torch.empty_like(r3)
    ops.reflect_rows(out, x3, r_out, r3, table.view(-1, x.shape[-1]), row_group, mask, rounding)
    return (out,) if residual is None else (out, r_out)


def snap_into(h):
    out = (torch.empty(8, dtype=torch.int64), torch.empty(8, dtype=torch.bool), torch.empty(8, 16),
           torch.empty(8, 256))
    ops.snap(h, torch.arange(8), ops.unit_vectors(torch.arange(16), 256, torch.float32) * 1e-20,
                  *out)
    return out


def into(op, dtype, concat=False):
    out = torch.empty(3, 30001, dtype=dtype)
    op("bh_pk_nonce", [0, -1, 7], "", out, concat)
    return out
NO_CPU_ARITHMETIC = {"build_info"}  # a string


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.fixture(scope="module")
def normal_mode_outputs():
    """Every case computed in the normal (IEEE) mode, with the default thread count."""
    return {name: as_tuple(fn()) for name, fn in CASES.items()}


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield THREADS
    torch.set_num_threads(before)


@pytest.fixture(params=["caller", "caller-one-thread", "workers", "all"])
def flush(request, helper, threads):
    """Sets FTZ+DAZ where the parameter says, checks that it took effect on torch's own
    arithmetic, and clears it afterwards."""
    where = request.param
    if where == "caller-one-thread":
        torch.set_num_threads(1)
    x = torch.full((1 << 20,), 2.0**-126)  # x * 0.5 is subnormal: zero where flushed
    if where in ("caller", "caller-one-thread", "all"):
        assert torch.set_flush_denormal(True), "torch cannot set flush-to-zero on this CPU"
        assert helper.caller_flushing() == 1
    if where in ("workers", "all"):
        assert helper.set_flush(1, threads, 1) == threads - 1
        flushed = (x * 0.5 == 0).float().mean().item()
        assert 0.0 < flushed < 1.0 or where == "all", "the workers' mode did not reach torch"
    try:
        yield where
    finally:
        torch.set_flush_denormal(False)
        helper.set_flush(0, threads, 0)
    assert helper.count_flushing(threads) == 0 and (x * 0.5 != 0).all()


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_bits_under_flush_to_zero(case, flush, helper, normal_mode_outputs):
    want = normal_mode_outputs[case]
    flushing_before = (helper.caller_flushing(), helper.count_flushing(torch.get_num_threads()))
    got = as_tuple(CASES[case]())
    for g, w in zip(got, want):
        assert_bits_equal(g, w)
    # pocrand restores every thread's mode: the caller's and the workers' flush stays as set.
    after = (helper.caller_flushing(), helper.count_flushing(torch.get_num_threads()))
    assert after == flushing_before


def test_tiny_logits_distances_are_the_spec_values(normal_mode_outputs):
    """The subnormal case is really exercised: finite distances equal to the NumPy spec's."""
    got = normal_mode_outputs["distances/tiny"][0]
    want = spec.compute_distances(tiny_logits(8, V).numpy(), PERMS.numpy(), TARGET.numpy())
    assert np.isfinite(got.numpy()).all()
    assert_bits_equal(got, torch.from_numpy(want))


def test_every_cpu_op_is_covered():
    """A new op with a CPU kernel needs a case above, so that it is run under flush-to-zero."""
    names = {n.split("::")[1] for n in torch._C._dispatch_get_all_op_names()
             if n.startswith("pocrand::")}
    covered = {c.split("/")[0] for c in CASES}
    assert names - covered - NO_CPU_ARITHMETIC == set()


def test_cpu_kernels_use_ieee_parallel_for():
    """csrc/cpu/fp_env.h's second rule: CPU kernels run their tasks through cpu::parallel_for
    (parallel.h), which sets the IEEE mode in each worker; a plain at::parallel_for would compute
    in whatever mode the worker thread is in."""
    for path in sorted((ROOT / "csrc" / "cpu").glob("*.[ch]*")):
        assert not re.search(r"\bat::parallel_(for|reduce)\s*\(", path.read_text()), path.name


def test_cpu_ops_start_in_ieee_mode():
    """fp_env.h's first rule: every CPU function registered from csrc/cpu or csrc/bind starts with
    `const IeeeFpMode ieee;`, so its serial parts (on the calling thread) run in the IEEE mode."""
    sources = {p.name: p.read_text() for folder in ("cpu", "bind")
               for p in sorted((ROOT / "csrc" / folder).glob("*.[ch]*"))}
    registered = []
    for text in sources.values():
        for block in re.findall(r"TORCH_LIBRARY_IMPL\(pocrand, (?:CPU|CompositeExplicitAutograd).*?\n\}", text, re.S):
            for line in re.findall(r"m\.impl\(.*", block):
                fn = re.search(r"m\.impl\(\"\w+\",\s*(?:&|TORCH_FN\()?\s*([\w:]+)", line)
                assert fn, f"cannot read the kernel of {line!r}: name it with &function"
                registered.append(fn.group(1).split("::")[-1])
    assert registered
    for fn in registered:
        bodies = [m for text in sources.values()
                  for m in re.finditer(rf"\b{fn}\([^;{{]*\)\s*\{{\s*\n([^\n]*)", text)]
        assert bodies, f"no definition of {fn} in csrc/cpu or csrc/bind"
        for body in bodies:
            assert "IeeeFpMode" in body.group(1), f"{fn} does not start with an IeeeFpMode guard"
