"""Totals that cannot be allocated are refused up front, with a ValueError naming the arguments
that make them, before any seed is hashed (they used to hash for tens of seconds and then fail
in the allocator with a RuntimeError)."""
from __future__ import annotations

import re
import time

import pytest

import pocrand_ext as pr
from pocrand_ext import _checks

BIG = 2**31 - 1


@pytest.mark.parametrize("call, words", [
    (lambda: pr.householder_vectors("bh", 2**28, BIG), "num_layers * dim"),
    (lambda: pr.unit_vectors(["a"] * 2**24, BIG), "len(seed_strings) * dim"),
    (lambda: pr.generate_inputs("bh", "pk", range(2**20), 2**15, 2**15), "len(nonces) * seq_len * dim"),
    (lambda: pr.generate_inputs_concat("bh", "pk", range(2**20), 2**15, 2**15), "len(nonces) * seq_len * dim"),
    (lambda: pr.generate_inputs_slice("bh", "pk", range(2**20), 2**15, 2**15, 0, 2**30), "len(nonces) * (end - start)"),
    (lambda: pr.generate_inputs_concat_slice("bh", "pk", range(2**20), 2**15, 2**15, 0, 2**30), "len(nonces) * (end - start)"),
    (lambda: pr.generate_permutations("bh", "pk", range(2**20), BIG), "len(nonces) * vocab_size"),
], ids=["householder_vectors", "unit_vectors", "inputs", "inputs_concat", "inputs_slice",
        "inputs_concat_slice", "permutations"])
def test_impossible_totals_are_refused_at_once(call, words):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=re.escape(words)):
        call()
    assert time.perf_counter() - t0 < 10


def test_the_limit_is_the_device_memory(monkeypatch):
    monkeypatch.setattr(_checks, "device_memory", lambda dev: 1000)
    pr.householder_vectors("bh", 10, 25)            # 1000 bytes: fits
    with pytest.raises(ValueError, match=r"num_layers \* dim = 251 elements"):
        pr.householder_vectors("bh", 1, 251)
