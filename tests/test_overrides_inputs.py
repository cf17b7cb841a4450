"""The masked forward-pass overrides (SPEC.md 10.11 embed_synth, 10.12 router_override) refuse bad
inputs with errors that name the argument: the Python forms, the in-place forms over memory they
would write, and the raw ops' own checks."""
from __future__ import annotations

import pytest
import torch

import pocrand_ext as pr
from overrides_helpers import embed_case, normals, ops


def E(o, b, s, p, e, m, **kw):
    return pr.embed_synth(o, b, s, p, e, m, **kw)


BAD_EMBED = [  # (what, call, error, a word of the message)
    ("out not a tensor", lambda o, b, s, p, e, m: E([1.0], b, s, p, e, m), TypeError, "out"),
    ("out 1-D", lambda o, b, s, p, e, m: E(o[0], b, s, p, e, m), ValueError, "out"),
    ("out float64", lambda o, b, s, p, e, m: E(o.double(), b, s, p, e, m), ValueError, "out.dtype"),
    ("out grad", lambda o, b, s, p, e, m: E(o.requires_grad_(), b, s, p, e, m), ValueError, "out"),
    ("base int32", lambda o, b, s, p, e, m: E(o, b.int(), s, p, e, m), TypeError, "base_seeds"),
    ("base short", lambda o, b, s, p, e, m: E(o, b[:2], s, p, e, m), ValueError, "base_seeds"),
    ("step float", lambda o, b, s, p, e, m: E(o, b, s.float(), p, e, m), TypeError, "step"),
    ("step 2-D", lambda o, b, s, p, e, m: E(o, b, s.view(1, -1), p, e, m), ValueError, "step"),
    ("prev short", lambda o, b, s, p, e, m: E(o, b, s, p[:3], e, m), ValueError, "prev_k"),
    ("prev not a tensor", lambda o, b, s, p, e, m: E(o, b, s, [0] * 7, e, m), TypeError, "prev_k"),
    ("embeds width", lambda o, b, s, p, e, m: E(o, b, s, p, e[:, :5], m), ValueError, "embeds"),
    ("embeds rows", lambda o, b, s, p, e, m: E(o, b, s, p, e[:2], m), ValueError, "embeds"),
    ("embeds float64", lambda o, b, s, p, e, m: E(o, b, s, p, e.double(), m), ValueError, "embeds"),
    ("mask int", lambda o, b, s, p, e, m: E(o, b, s, p, e, m.long()), TypeError, "mask"),
    ("mask short", lambda o, b, s, p, e, m: E(o, b, s, p, e, m[:1]), ValueError, "mask"),
    ("salt range", lambda o, b, s, p, e, m: E(o, b, s, p, e, m, salt=2**32), ValueError, "salt"),
    ("salt type", lambda o, b, s, p, e, m: E(o, b, s, p, e, m, salt=1.0), TypeError, "salt"),
    ("in place expanded", lambda o, b, s, p, e, m: pr.embed_synth_(o[:1].expand(4, 8), b, s, p, e, m),
     ValueError, "out"),
    ("in place over embeds", lambda o, b, s, p, e, m: pr.embed_synth_(e[:4], b, s, p, e, m),
     ValueError, "embeds"),
]


@pytest.mark.parametrize("what,call,error,word", BAD_EMBED, ids=[b[0] for b in BAD_EMBED])
def test_embed_synth_bad_inputs_are_named(what, call, error, word):
    o, b, s, p, e, m = embed_case(4, 8, torch.float32, torch.float32)
    with pytest.raises(error, match=word):
        call(o, b, s, p, e, m)


def R(lg, r, s, m, E_=8, k=2, lad=100):
    return pr.router_override(lg, r, s, m, E_, k, lad)


BAD_ROUTER = [
    ("logits not a tensor", lambda lg, r, s, m: R([1.0], r, s, m), TypeError, "logits"),
    ("logits 3-D", lambda lg, r, s, m: R(lg.view(2, 2, 8), r, s, m), ValueError, "logits"),
    ("logits int", lambda lg, r, s, m: R(lg.int(), r, s, m), ValueError, "logits.dtype"),
    ("n_experts mismatch", lambda lg, r, s, m: R(lg, r, s, m, E_=9), ValueError, "n_experts"),
    ("n_experts 0", lambda lg, r, s, m: R(lg[:, :0], r, s, m, E_=0), ValueError, "n_experts"),
    ("top_k 0", lambda lg, r, s, m: R(lg, r, s, m, k=0), ValueError, "top_k"),
    ("top_k > E", lambda lg, r, s, m: R(lg, r, s, m, k=9), ValueError, "top_k"),
    ("top_k float", lambda lg, r, s, m: R(lg, r, s, m, k=2.0), TypeError, "top_k"),
    ("ladder range", lambda lg, r, s, m: R(lg, r, s, m, lad=2**23 + 1), ValueError, "ladder_base"),
    ("route int32", lambda lg, r, s, m: R(lg, r.int(), s, m), TypeError, "route_seeds"),
    ("route short", lambda lg, r, s, m: R(lg, r[:3], s, m), ValueError, "route_seeds"),
    ("step short", lambda lg, r, s, m: R(lg, r, s[:1], m), ValueError, "step"),
    ("mask float", lambda lg, r, s, m: R(lg, r, s, m.float()), TypeError, "mask"),
    ("in place expanded", lambda lg, r, s, m: pr.router_override_(lg[:1].expand(4, 8), r, s, m, 8, 2),
     ValueError, "logits"),
]


@pytest.mark.parametrize("what,call,error,word", BAD_ROUTER, ids=[b[0] for b in BAD_ROUTER])
def test_router_override_bad_inputs_are_named(what, call, error, word):
    logits = normals(1, (4, 8))
    _, r, s, _, _, m = embed_case(4, 8, torch.float32, torch.float32)
    with pytest.raises(error, match=word):
        call(logits, r, s, m)


def test_in_place_forms_refuse_inputs_that_share_the_written_memory():
    raw = torch.zeros(64)
    logits = raw[:32].view(4, 8)
    apart = raw[32:40].view(torch.int64)       # the same storage, not the written elements
    inside = raw[:8].view(torch.int64)         # four of the written elements
    mask = torch.ones(4, dtype=torch.bool)
    pr.router_override_(logits, apart, apart.clone(), mask, 8, 2)
    assert (logits != 0).all()
    for args in ((inside, apart, mask), (apart, inside, mask)):
        with pytest.raises(ValueError, match="route_seeds|step"):
            pr.router_override_(logits, *args, 8, 2)
    out = raw[:32].view(4, 8)
    with pytest.raises(ValueError, match="base_seeds"):
        pr.embed_synth_(out, inside, apart, apart, torch.zeros(4, 8), mask)


def _synth(x, *args):  # the raw op out of place
    ops.embed_synth(torch.empty_like(x), x, *args)


def _route(x, *args):
    ops.router_override(torch.empty_like(x), x, *args)


RAW_BAD = [  # the raw ops' own checks (a direct torch.ops call)
    ("x 1-D", lambda o, b, s, p, e, m: _synth(o[0], b, s, p, e, m, 13), ValueError, "x must be 2-D"),
    ("base dtype", lambda o, b, s, p, e, m: _synth(o, b.int(), s, p, e, m, 13), TypeError, "base_seeds"),
    ("step short", lambda o, b, s, p, e, m: _synth(o, b, s[:1], p, e, m, 13), ValueError, "step"),
    ("embeds width", lambda o, b, s, p, e, m: _synth(o, b, s, p, e[:, :3].contiguous(), m, 13),
     ValueError, "embeds"),
    ("embeds strided", lambda o, b, s, p, e, m: _synth(o, b, s, p, e.t(), m, 13), ValueError, "embeds"),
    ("salt", lambda o, b, s, p, e, m: _synth(o, b, s, p, e, m, -1), ValueError, "salt"),
    ("in place over embeds", lambda o, b, s, p, e, m: ops.embed_synth(e[:4], e[:4], b, s, p, e, m, 13),
     ValueError, "embeds"),
    ("logits width", lambda o, b, s, p, e, m: _route(o, b, s, m, 9, 2, 100), ValueError, "n_experts"),
    ("top_k", lambda o, b, s, p, e, m: _route(o, b, s, m, 8, 9, 100), ValueError, "top_k"),
    ("ladder", lambda o, b, s, p, e, m: _route(o, b, s, m, 8, 2, -2**23 - 1), ValueError, "ladder_base"),
    ("mask dtype", lambda o, b, s, p, e, m: _route(o, b, s, m.int(), 8, 2, 100), TypeError, "mask"),
    ("route strided", lambda o, b, s, p, e, m: _route(o, b[::2], s, m, 8, 2, 100),
     ValueError, "route_seeds"),
]


@pytest.mark.parametrize("what,call,error,word", RAW_BAD, ids=[b[0] for b in RAW_BAD])
def test_raw_ops_refuse_bad_inputs(what, call, error, word):
    o, b, s, p, e, m = embed_case(4, 8, torch.float32, torch.float32)
    with pytest.raises(error, match=word):
        call(o, b, s, p, e, m)


@pytest.mark.parametrize("top_k, ladder_base, message", [
    (9, 100, "top_k must be in [1, min(n_experts, 2^23)], got top_k=9, n_experts=8"),
    (0, 100, "top_k must be in [1, min(n_experts, 2^23)], got top_k=0, n_experts=8"),
    (2, 2**23 + 1, "ladder_base must be in [-2^23, 2^23], got 8388609"),
    (2, -2**23 - 1, "ladder_base must be in [-2^23, 2^23], got -8388609"),
    (2**63, 100, "top_k must fit in int64"),
    (2, -2**63 - 1, "ladder_base must fit in int64"),
])
def test_the_ladder_rule_is_one_rule(top_k, ladder_base, message):
    """forced_logits and router_override refuse the same top_k and ladder_base with the same
    ValueError (the rule is the ops' check_ladder, not restated in Python); the edges themselves
    are accepted by both."""
    seeds, logits = torch.tensor([1, 2]), torch.zeros(2, 8)
    step, mask = torch.tensor([3, 4]), torch.ones(2, dtype=torch.bool)
    for call in (lambda k, lad: pr.forced_logits(seeds, 8, k, lad),
                 lambda k, lad: pr.router_override(logits, seeds, step, mask, 8, k, lad)):
        with pytest.raises(ValueError) as e:
            call(top_k, ladder_base)
        assert message in str(e.value)
        for k, lad in ((8, 2**23), (1, -2**23)):
            call(k, lad)
