"""Writes pocrand_ext/known_answers.txt from the independent NumPy implementation of SPEC.md.

    python tests/make_known_answers.py          # rewrite the file
    python tests/make_known_answers.py --check  # exit 1 if the file differs from the spec

The digests come from tests/spec_numpy/, never from the C++ kernels, so the file is an
independent record; the kernels on every device must reproduce it (tests/test_known_answers.py
and `python -m pocrand_ext`). Regenerating it is only legitimate with a new spec version.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spec_numpy as spec  # noqa: E402

# the cases and their constants, re-exported: make_known_answers.grid() etc. keep working
from known_answer_grid import (  # noqa: E402,F401
    I64_MAX, I64_MIN, STRINGS, SUBNORMAL_HOUSEHOLDER, ZERO_HAAR_NONCE, ZERO_TARGET_PK,
    ZERO_V_SEEDS, grid, grid_fused, grid_gonka, grid_overrides, grid_reflect, grid_v2,
)

OUT = Path(__file__).resolve().parent.parent / "pocrand_ext" / "known_answers.txt"
HEADER = """\
# pocrand-v1 known answers (see SPEC.md). One case a line:
#   <op> TAB <arguments as a JSON object> TAB <SHA-256 hex of the output bytes>
# Output bytes: the result in row-major order, little-endian, in its own dtype (int64, float32,
# float16 or bfloat16 bit patterns). seed_from_string's output is the seed as one int64.
# murmur3_32 hashes keys_start .. keys_start + keys_count - 1. distances uses
# logits = normal(logits_seed, B*V) viewed [B, V], rows in zero_rows set to 0, rounded to
# logits_dtype; the permutations and target of the same block_hash/public_key/nonces.
# PoC v2 (SPEC.md section 9): seed_words outputs the 8 words as int64 [8]. inputs_concat,
# target_v2 and pick_indices are the operations on their arguments. unit_vectors is float32
# [len(seeds), dim]. householder uses x = normal(x_seed, rows*dim) viewed [rows, dim] and
# delivered in dtype (section 6), and v = unit_vector(v_seed, dim) delivered in dtype, or with
# per_row true, unit_vectors([(v_seed + r) mod 2^32 for r < rows], dim) [rows, dim] delivered in
# dtype; the output is apply_householder(x, v). With x_scale_exp e, x is normal(x_seed, ...)
# times 2^e in binary32 before delivery (exact: every scaled x is a normal float) so that the
# products x[i] * v[i] are subnormal and a flush-to-zero build changes the digest. haar_rotate
# uses x = normal(x_seed, B*k) viewed [B, k] delivered in dtype, and the Haar seeds of
# block_hash/public_key/nonces/k. artifacts uses hidden = normal(x_seed, B*hidden) viewed
# [B, hidden], rows in zero_rows set to 0, then element 0 of rows in nan_rows set to NaN (bits
# 0x7fc00000), then delivered in dtype; its output bytes are
# the fp16 [B, k] artifacts followed by the B flags, one byte each (0 or 1). Seeds 6925118 and
# 58668268 have u(0) = 1.0, so their dim-1 and dim-2 unit vectors are zero (SPEC 9.2); the Haar
# seed of nonce 37431792 (block_hash "0"*64, public_key "pk", k = 2, j = 0) and the PoC v2
# target seed of block_hash "0"*64, public_key "pk-zero-87929097" are seeds of that kind too.
# gonka-poc (SPEC.md section 10): step_seeds, step_normal, hash_mod and forced_logits are the
# operations on their arguments (a list step is one step per row, an int one for all; forced_logits
# without a step takes the seeds as route seeds); pseudo_input_ids, route_base_seeds and decode_pick
# (pick of the step seeds with salt 0x91 of the base seeds of block_hash/public_key/nonces) are
# 10.5's; decode_pick_string picks by the seed of the string form of each nonce (with
# _k_{prev} when prev, one per nonce, is given).
# snap (SPEC.md 10.7) uses h = normal(x_seed, B*hidden) viewed [B, hidden], rows in zero_rows
# set to 0, element 0 of rows in nan_rows set to NaN and of rows in inf_rows set to +Inf, then
# delivered in dtype; codebook = unit_vectors([codebook_seed + j for j < points], dim); its output
# bytes are k (int64 [B]), bad (one byte each), scores (float32 [B, points]), q (float32 [B, dim]).
# reflect_rows (SPEC.md 10.10) uses x = normal(x_seed, rows*copies*hidden) viewed [rows, copies,
# hidden] delivered in dtype, and a table [slots, hidden] whose slot 0 is zeros and slot j >= 1 is
# unit_vector(table_seed + j, hidden) delivered in dtype; mask lists 1 (true) or 0 (false) per
# entry; its output is reflect_rows(x, table, row_group, mask, mode) in x's dtype.
# embed_synth (SPEC.md 10.11) uses x = normal(x_seed, rows*hidden) viewed [rows, hidden] delivered
# in dtype and embeds = normal(embeds_seed, embeds_rows*hidden) viewed [embeds_rows, hidden]
# delivered in embeds_dtype; router_override (10.12) uses logits = normal(x_seed, rows*n_experts)
# viewed [rows, n_experts] delivered in dtype; the per-row lists (mask: 1 true, 0 false) may be
# longer than rows; the output is the operation's, in x's (logits') dtype.
# fused_add_rms_norm_reflect (SPEC.md 10.14) uses x = normal(x_seed, ...), residual =
# normal(residual_seed, ...) (each viewed [rows, copies, hidden] and delivered in dtype), weight =
# normal(weight_seed, hidden) delivered in dtype, reflect_rows' table, and eps the binary32 of
# bits eps_bits; its output bytes
# are the new x, then the new residual.
# Generated by tests/make_known_answers.py from tests/spec_numpy/ (written from SPEC.md alone).
"""


def reflect_table(a: dict) -> np.ndarray:
    """The table of a reflect_rows case, float32 before delivery."""
    t = np.zeros((a["slots"], a["hidden"]), dtype=np.float32)
    for j in range(1, a["slots"]):
        t[j] = spec.unit_vector(a["table_seed"] + j, a["hidden"])
    return t


def _round(x: np.ndarray, dtype: str) -> np.ndarray:
    """float32 -> the dtype's storage (float32 / float16 / bf16 bit patterns as uint16)."""
    if dtype == "float32":
        return x
    if dtype == "float16":
        return spec.to_fp16_bits(x).view(np.float16)
    return spec.to_bf16_bits(x)


def _widen(x: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "float32":
        return x
    if dtype == "float16":
        return x.astype(np.float32)  # exact
    return (x.astype(np.uint32) << np.uint32(16)).view(np.float32)


def spec_output(op: str, a: dict) -> np.ndarray:
    if op == "seed_from_string":
        return np.array([spec.seed_from_string(a["s"])], dtype=np.int64)
    if op == "murmur3_32":
        keys = np.arange(a["keys_start"], a["keys_start"] + a["keys_count"], dtype=np.int64)
        return spec.murmur3_32(keys, a["seed"])
    if op == "uniform":
        return spec.uniform(a["seed"], a["n"])
    if op == "normal":
        return spec.normal(a["seed"], a["n"])
    if op == "inputs":
        return spec.generate_inputs(a["block_hash"], a["public_key"], a["nonces"], a["dim"],
                                    a["seq_len"], a["dtype"])
    if op == "permutations":
        return spec.generate_permutations(a["block_hash"], a["public_key"], a["nonces"],
                                          a["vocab_size"])
    if op == "target":
        return spec.generate_target(a["block_hash"], a["vocab_size"], a["dtype"])
    if op == "distances":
        b, v = len(a["nonces"]), a["vocab_size"]
        logits = spec.normal(a["logits_seed"], b * v).reshape(b, v).copy()
        logits[a["zero_rows"]] = np.float32(0)
        logits = _widen(_round(logits, a["logits_dtype"]), a["logits_dtype"])
        perms = spec.generate_permutations(a["block_hash"], a["public_key"], a["nonces"], v)
        target = _widen(spec.generate_target(a["block_hash"], v, a["target_dtype"]),
                        a["target_dtype"])
        return spec.compute_distances(logits, perms, target)
    if op == "seed_words":
        return np.array(spec.seed_words(a["s"]), dtype=np.int64)
    if op == "inputs_concat":
        return spec.generate_inputs_concat(a["block_hash"], a["public_key"], a["nonces"],
                                           a["dim"], a["seq_len"], a["dtype"])
    if op == "unit_vectors":
        return spec.unit_vectors(a["seeds"], a["dim"])
    if op == "target_v2":
        return spec.generate_target_v2(a["block_hash"], a["public_key"], a["dim"], a["dtype"])
    if op == "householder":
        rows, dim, dtype = a["rows"], a["dim"], a["dtype"]
        x = householder_x(a)
        if a["per_row"]:
            v = spec.unit_vectors([(a["v_seed"] + r) % 2**32 for r in range(rows)], dim)
        else:
            v = spec.unit_vector(a["v_seed"], dim)
        return spec.householder(x, _round(v, dtype), dtype)
    if op == "pick_indices":
        return spec.pick_indices(a["block_hash"], a["public_key"], a["nonces"], a["dim"], a["k"])
    if op == "haar_rotate":
        b, k, dtype = len(a["nonces"]), a["k"], a["dtype"]
        x = _round(spec.normal(a["x_seed"], b * k).reshape(b, k), dtype)
        seeds = spec.haar_seeds(a["block_hash"], a["public_key"], a["nonces"], k)
        return spec.haar_rotate(x, seeds, dtype)
    if op == "artifacts":
        b, h, dtype = len(a["nonces"]), a["hidden"], a["dtype"]
        hid = spec.normal(a["x_seed"], b * h).reshape(b, h).copy()
        hid[a["zero_rows"]] = np.float32(0)
        hid[a["nan_rows"], 0] = np.array([spec.CANONICAL_NAN_BITS], np.uint32).view(np.float32)[0]
        out, flags = spec.artifacts(_round(hid, dtype), dtype, a["block_hash"], a["public_key"],
                                    a["nonces"], a["k"])
        return np.frombuffer(le_bytes(out) + flags.astype(np.uint8).tobytes(), dtype=np.uint8)
    if op in GONKA_OPS:
        return gonka_spec_output(op, a)
    if op == "snap":
        b, h, dtype = len(a["seeds"]), a["hidden"], a["dtype"]
        hid = spec.normal(a["x_seed"], b * h).reshape(b, h).copy()
        hid[a["zero_rows"]] = np.float32(0)
        hid[a["nan_rows"], 0] = np.float32(np.nan)
        hid[a["inf_rows"], 0] = np.float32(np.inf)
        C = spec.unit_vectors([a["codebook_seed"] + j for j in range(a["points"])], a["dim"])
        k, bad, scores, q = spec.snap(_round(hid, dtype), dtype, a["seeds"], C)
        return np.frombuffer(le_bytes(k) + bad.astype(np.uint8).tobytes() + le_bytes(scores)
                             + le_bytes(q), dtype=np.uint8)
    if op == "reflect_rows":
        shape, dtype = (a["rows"], a["copies"], a["hidden"]), a["dtype"]
        x = _round(spec.normal(a["x_seed"], int(np.prod(shape))).reshape(shape), dtype)
        return spec.reflect_rows(x, _round(reflect_table(a), dtype), a["row_group"], a["mask"],
                                 dtype, a["mode"])
    if op == "fused_add_rms_norm_reflect":
        shape, dtype = (a["rows"], a["copies"], a["hidden"]), a["dtype"]
        x = _round(spec.normal(a["x_seed"], int(np.prod(shape))).reshape(shape), dtype)
        r = _round(spec.normal(a["residual_seed"], int(np.prod(shape))).reshape(shape), dtype)
        w = _round(spec.normal(a["weight_seed"], a["hidden"]), dtype)
        eps = float(np.uint32(a["eps_bits"]).view(np.float32))
        y, s = spec.fused_add_rms_norm_reflect(x, r, w, eps, _round(reflect_table(a), dtype),
                                               a["row_group"], a["mask"], dtype, a["mode"])
        return np.frombuffer(le_bytes(y) + le_bytes(s), dtype=np.uint8)
    if op == "embed_synth":
        x = _round(spec.normal(a["x_seed"], a["rows"] * a["hidden"]).reshape(a["rows"], a["hidden"]),
                   a["dtype"])
        emb = spec.normal(a["embeds_seed"], a["embeds_rows"] * a["hidden"])
        emb = _round(emb.reshape(a["embeds_rows"], a["hidden"]), a["embeds_dtype"])
        return spec.embed_synth(x, a["dtype"], a["base_seeds"], a["step"], a["prev_k"], emb,
                                a["embeds_dtype"], a["mask"], a["salt"])
    if op == "router_override":
        e = a["n_experts"]
        x = _round(spec.normal(a["x_seed"], a["rows"] * e).reshape(a["rows"], e), a["dtype"])
        return spec.router_override(x, a["dtype"], a["route_seeds"], a["step"], a["mask"], e,
                                    a["top_k"], a["ladder_base"])
    raise ValueError(op)


GONKA_OPS = {"step_seeds", "step_normal", "hash_mod", "forced_logits", "pseudo_input_ids",
             "route_base_seeds", "decode_pick", "decode_pick_string"}


def gonka_spec_output(op: str, a: dict) -> np.ndarray:
    if op == "step_seeds":
        return spec.step_seeds(a["base_seeds"], a["step"], a["prev_k"], a["salt"])
    if op == "step_normal":
        return spec.step_normal(a["base_seeds"], a["step"], a["prev_k"], a["salt"], a["n"], a["dtype"])
    if op == "hash_mod":
        return spec.hash_mod(a["seeds"], a["n"], a["modulus"])
    if op == "forced_logits":
        return spec.forced_logits(a["seeds"], a["n_experts"], a["top_k"], a["ladder_base"],
                                  a.get("step"), a["dtype"])
    if op == "pseudo_input_ids":
        return spec.gonka_pseudo_input_ids(a["block_hash"], a["public_key"], a["nonces"],
                                           a["seq_len"], a["vocab"])
    if op == "route_base_seeds":
        return spec.gonka_route_base_seeds(a["block_hash"], a["nonces"], a["num_gates"])
    if op == "decode_pick":
        base = spec.gonka_base_seeds(a["block_hash"], a["public_key"], a["nonces"])
        return spec.gonka_decode_pick(base, a["step"], a["prev_k"], a["dim"], a["k"])
    if op == "decode_pick_string":
        prev = a.get("prev") or [None] * len(a["nonces"])
        return np.stack([spec.pick(spec.seed_from_string(spec.gonka_decode_pick_string(
            a["block_hash"], a["public_key"], n, a["k"], a["step"], p)), a["dim"], a["k"])
            for n, p in zip(a["nonces"], prev)])
    raise ValueError(op)


def householder_x(a: dict) -> np.ndarray:
    """The x of a householder case, delivered in its dtype."""
    x = spec.normal(a["x_seed"], a["rows"] * a["dim"]).reshape(a["rows"], a["dim"])
    if "x_scale_exp" in a:
        x = x * np.float32(2.0 ** a["x_scale_exp"])
        assert np.abs(x).min() >= np.float32(2.0**-126), "a scaled x must stay a normal float"
    return _round(x, a["dtype"])


def le_bytes(x: np.ndarray) -> bytes:
    x = np.ascontiguousarray(x)
    return x.astype(x.dtype.newbyteorder("<"), copy=False).tobytes()


def render() -> str:
    lines = [HEADER]
    for op, args in grid():
        d = hashlib.sha256(le_bytes(spec_output(op, args))).hexdigest()
        lines.append(f"{op}\t{json.dumps(args, ensure_ascii=False, sort_keys=True)}\t{d}\n")
    return "".join(lines)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        same = OUT.read_text(encoding="utf-8") == text
        print("known_answers.txt matches the NumPy spec" if same else "known_answers.txt DIFFERS")
        sys.exit(0 if same else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({text.count(chr(10)) - HEADER.count(chr(10))} cases)")
