"""The decode artifacts' wire format (plugin 0.2.0): one byte a step, values 0 ... 255 only, and a
batch that keeps its good nonces when one is not packable."""
from __future__ import annotations

import pytest
import torch

from pocrand_ext.protocols.gonka_poc import pack_k_steps, split_packable, unpack_k_steps


def test_one_byte_a_step_in_order():
    k = [(37 * t + 11) % 256 for t in range(257)]  # k_0 .. k_256
    b = pack_k_steps(k)
    assert len(b) == 257
    assert [b[t] for t in range(257)] == k
    assert unpack_k_steps(b) == k
    assert pack_k_steps(torch.tensor(k)) == b
    assert pack_k_steps(torch.tensor(k, dtype=torch.int32)) == b


@pytest.mark.parametrize("bad, step", [([3, -1, 4], 1), ([256], 0), ([0, 1, 2, 1000], 3)])
def test_a_value_outside_a_byte_names_its_step(bad, step):
    with pytest.raises(ValueError, match=f"k step {step} = {bad[step]}"):
        pack_k_steps(bad)


@pytest.mark.parametrize("bad, error", [([], ValueError), ("ab", TypeError), ([1.0], TypeError),
                                        ([True], TypeError), (torch.ones(3), TypeError),
                                        (torch.ones(2, 2, dtype=torch.int64), TypeError)])
def test_what_is_no_list_of_steps_is_refused(bad, error):
    with pytest.raises(error):
        pack_k_steps(bad)


def test_one_bad_nonce_does_not_lose_the_batch():
    packed, excluded = split_packable({5: [1, 2, 3], 6: [4, -1, 7], 7: [9]})
    assert packed == {5: bytes([1, 2, 3]), 7: bytes([9])}
    assert list(excluded) == [6] and "k step 1 = -1" in excluded[6]
