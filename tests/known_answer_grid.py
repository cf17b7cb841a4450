"""The cases of pocrand_ext/known_answers.txt: one (op, arguments) pair a line, in the file's
order (the Phase-2 cases, then PoC v2, gonka-poc, the reflections, the overrides and the fused
add + RMSNorm).

tests/make_known_answers.py computes their digests from the NumPy spec;
tests/test_known_answers.py checks that the file covers exactly this grid.
"""
from __future__ import annotations

I64_MIN, I64_MAX = -(2**63), 2**63 - 1

STRINGS = ["", "0" * 64, "blöck-π-ハッシュ", "a_b_nonce1"]
# normal(114, 3000) has no element below 2^-11 in magnitude, so x = normal * 2^-115 is normal
# everywhere (>= 2^-126) and its scaling exact, while many products x[i] * v[i] (|v[i]| ~ 2^-5)
# fall below 2^-126: subnormal, flushed to zero by an FTZ build.
SUBNORMAL_HOUSEHOLDER = {"x_seed": 114, "v_seed": 115, "rows": 3, "dim": 1000, "x_scale_exp": -115}


def grid() -> list[tuple[str, dict]]:
    cases: list[tuple[str, dict]] = []
    for s in STRINGS + ["abc", "hello world"]:
        cases.append(("seed_from_string", {"s": s}))
    for seed in (0, 1, 0x9747B28C, 0xFFFFFFFF):
        cases.append(("murmur3_32", {"keys_start": 0, "keys_count": 4096, "seed": seed}))
    cases.append(("murmur3_32", {"keys_start": 2**32 - 2048, "keys_count": 4096, "seed": 42}))
    cases.append(("murmur3_32", {"keys_start": -2048, "keys_count": 4096, "seed": 42}))
    for seed, n in ((0, 1), (1, 1000), (0xFFFFFFFF, 4097)):
        cases.append(("uniform", {"seed": seed, "n": n}))
    for seed, n in ((0, 1), (7, 2), (7, 3), (12345, 1001), (0xFFFFFFFF, 4096)):
        cases.append(("normal", {"seed": seed, "n": n}))
    nonce_sets = [[0], [0, 1, -1], [I64_MAX, I64_MIN, 2**31, -(2**31) - 1]]
    for dtype in ("float32", "float16", "bfloat16"):
        for bh, pk, nonces, dim, seq_len in (
                ("", "", nonce_sets[0], 1, 1),
                (STRINGS[1], "pk", nonce_sets[1], 5, 3),
                (STRINGS[2], STRINGS[3], nonce_sets[2], 64, 16)):
            cases.append(("inputs", {"block_hash": bh, "public_key": pk, "nonces": nonces,
                                     "dim": dim, "seq_len": seq_len, "dtype": dtype}))
    for v in (1, 2, 1000, 151936):
        cases.append(("permutations", {"block_hash": STRINGS[1], "public_key": "pk",
                                       "nonces": [0, -1, 7], "vocab_size": v}))
    for v in (1, 2, 1000, 151936):
        for dtype in ("float32", "float16", "bfloat16"):
            cases.append(("target", {"block_hash": STRINGS[2], "vocab_size": v, "dtype": dtype}))
    for logits_dtype, target_dtype in (("float32", "float32"), ("float16", "float32"),
                                       ("bfloat16", "bfloat16")):
        cases.append(("distances", {"block_hash": "abc", "public_key": "pk", "nonces": [0, 1, 2, 3],
                                    "vocab_size": 1000, "logits_seed": 99,
                                    "logits_dtype": logits_dtype, "target_dtype": target_dtype,
                                    "zero_rows": [2]}))
    cases.append(("distances", {"block_hash": "abc", "public_key": "pk", "nonces": [5, 6],
                                "vocab_size": 151936, "logits_seed": 3, "logits_dtype": "float32",
                                "target_dtype": "float32", "zero_rows": []}))
    cases += grid_v2()
    cases += grid_gonka()
    cases += grid_reflect()
    cases += grid_overrides()
    cases += grid_fused()
    return cases


# Seeds whose normal(seed, 1 or 2) is all zeros (hash(0, seed) >= 2^32 - 128, so u(0) = 1.0 and
# r = -0): their unit vectors of dim 1 and 2 are zero vectors (SPEC 9.2's t = 0 case); the first
# gives +0, the second -0 for dim 1. The self-check of spec_numpy derives all 128 such seeds.
ZERO_V_SEEDS = [6925118, 58668268]
# A nonce whose Haar seed (block_hash "0"*64, public_key "pk", k = 2, j = 0) is a zero-vector seed.
ZERO_HAAR_NONCE = 37431792
# A public_key whose PoC v2 target seed (block_hash "0"*64) is a zero-vector seed.
ZERO_TARGET_PK = "pk-zero-87929097"


def grid_v2() -> list[tuple[str, dict]]:
    """PoC v2 cases (SPEC.md section 9), appended after the Phase-2 cases."""
    cases: list[tuple[str, dict]] = []
    ext = [I64_MAX, I64_MIN, 2**31, -(2**31) - 1]
    for s in STRINGS + ["abc"]:
        cases.append(("seed_words", {"s": s}))
    for dtype in ("float32", "float16", "bfloat16"):
        for bh, pk, nonces, dim, seq_len in (
                ("", "", [0], 1, 1),
                (STRINGS[1], "pk", [0, 1, -1], 1, 7),
                (STRINGS[2], STRINGS[3], ext, 3, 3),
                ("abc", "pk", [0, 1, -1], 17, 1),
                (STRINGS[2], STRINGS[3], ext, 64, 16),
                (STRINGS[1], "pk", [I64_MIN, 0, I64_MAX], 4099, 1)):
            cases.append(("inputs_concat", {"block_hash": bh, "public_key": pk, "nonces": nonces,
                                            "dim": dim, "seq_len": seq_len, "dtype": dtype}))
    small = [0, 1, 0x9747B28C, 0xFFFFFFFF]
    for dim, seeds in ((1, small + ZERO_V_SEEDS), (2, small + ZERO_V_SEEDS), (3, small),
                       (1000, small), (8192, [0, 1, 0xFFFFFFFF]), (1048577, [12345])):
        cases.append(("unit_vectors", {"seeds": seeds, "dim": dim}))
    for dim in (1, 2, 1000, 8192):
        for dtype in ("float32", "float16", "bfloat16"):
            cases.append(("target_v2", {"block_hash": STRINGS[2], "public_key": STRINGS[3],
                                        "dim": dim, "dtype": dtype}))
    for dim in (1, 2):  # the t = 0 case of SPEC 9.2
        for dtype in ("float32", "float16", "bfloat16"):
            cases.append(("target_v2", {"block_hash": STRINGS[1], "public_key": ZERO_TARGET_PK,
                                        "dim": dim, "dtype": dtype}))
    all3 = ("float32", "float16", "bfloat16")
    hh = []  # (x_seed, v_seed, rows, dim, dtypes, per_row)
    hh += [(1, 2, 3, 1, all3, False), (1, 2, 3, 1, ("float32",), True)]
    hh += [(3, ZERO_V_SEEDS[0], 3, 1, all3, False), (3, ZERO_V_SEEDS[1], 3, 1, ("float32",), True)]
    hh += [(19, ZERO_V_SEEDS[1], 3, 2, ("float32", "bfloat16"), False)]
    hh += [(4, 0xFFFFFFF8, 16, 3, all3, True), (5, 6, 1, 3, ("float32",), False)]
    hh += [(7, 8, 3, 1000, all3, False), (7, 8, 3, 1000, ("float16",), True)]
    hh += [(9, 10, 16, 1025, all3, True)]
    hh += [(11, 12, 16, 8192, all3, False), (13, 14, 3, 8192, ("bfloat16",), True)]
    hh += [(15, 16, 1, 2097153, all3, False), (17, 18, 1, 2097153, ("float16",), True)]
    # Rows of 8193 .. 16384 elements (the GPU's 16-warp chunk kernel; per row v: the others).
    hh += [(21, 22, 3, 12288, all3, False), (23, 24, 2, 16384, all3, False),
           (25, 26, 2, 16384, ("float32",), True)]
    for x_seed, v_seed, rows, dim, dtypes, per_row in hh:
        for dtype in dtypes:
            cases.append(("householder", {"x_seed": x_seed, "v_seed": v_seed, "rows": rows,
                                          "dim": dim, "dtype": dtype, "per_row": per_row}))
    # Subnormal products (SUBNORMAL_HOUSEHOLDER): a flush-to-zero or fast-math build fails these.
    for dtype, per_row in (("float32", False), ("bfloat16", False), ("float32", True)):
        cases.append(("householder", {**SUBNORMAL_HOUSEHOLDER, "dtype": dtype,
                                      "per_row": per_row}))
    for dim, k in ((1, 1), (2, 1), (2, 2), (100, 1), (100, 12), (100, 100), (8192, 12),
                   (8192, 8191), (1000003, 37)):
        cases.append(("pick_indices", {"block_hash": "abc", "public_key": "pk",
                                       "nonces": [0, -1, I64_MAX, I64_MIN], "dim": dim, "k": k}))
    for k, dtypes, nonces in ((1, all3, [0, -1]), (2, ("float32",), [0, 1, -1]),
                              (3, ("float32",), ext), (12, all3, [0, 1, -1, I64_MAX]),
                              (100, ("float32",), [0, I64_MIN]), (1500, ("float32",), [0, -1])):
        for dtype in dtypes:
            cases.append(("haar_rotate", {"block_hash": STRINGS[2], "public_key": STRINGS[3],
                                          "nonces": nonces, "k": k, "x_seed": 21 + k,
                                          "dtype": dtype}))
    for dtype in all3:  # k = 2 with a zero reflection vector in the first row
        cases.append(("haar_rotate", {"block_hash": STRINGS[1], "public_key": "pk",
                                      "nonces": [ZERO_HAAR_NONCE, 0], "k": 2, "x_seed": 23,
                                      "dtype": dtype}))
    art = [(1, 1, ("float32",)), (12, 12, ("float32",)), (512, 12, all3), (8192, 12, ("float32",)),
           (8192, 100, ("float32",))]
    for hidden, k, dtypes in art:
        for dtype in dtypes:
            cases.append(("artifacts", {"block_hash": "abc", "public_key": "pk",
                                        "nonces": [0, 1, -1, I64_MAX], "hidden": hidden, "k": k,
                                        "x_seed": 31 + hidden, "dtype": dtype, "nan_rows": [],
                                        "zero_rows": []}))
    for dtype in ("float32", "float16"):
        cases.append(("artifacts", {"block_hash": "abc", "public_key": "pk",
                                    "nonces": [0, 1, 2, I64_MIN], "hidden": 512, "k": 12,
                                    "x_seed": 77, "dtype": dtype, "nan_rows": [1, 3],
                                    "zero_rows": [2]}))
    cases.append(("artifacts", {"block_hash": STRINGS[1], "public_key": "pk",
                                "nonces": [ZERO_HAAR_NONCE, 0], "hidden": 12, "k": 2,
                                "x_seed": 78, "dtype": "float32", "nan_rows": [],
                                "zero_rows": []}))
    snaps = [(1, 1, 1, ("float32",)), (300, 7, 5, ("float32",)), (7168, 256, 16, all3),
             (3072, 256, 16, ("bfloat16",)), (2049, 1024, 3, ("float32",))]
    for hid, dim, points, dtypes in snaps:
        for dtype in dtypes:
            cases.append(("snap", {"seeds": [0, 1, 2**31, 2**32 - 1, 977], "hidden": hid,
                                   "dim": dim, "points": points, "codebook_seed": 1000,
                                   "x_seed": 91 + hid, "dtype": dtype, "nan_rows": [1],
                                   "inf_rows": [3], "zero_rows": [2]}))
    return cases


def grid_gonka() -> list[tuple[str, dict]]:
    """gonka-poc cases (SPEC.md section 10), appended after the PoC v2 cases."""
    cases: list[tuple[str, dict]] = []
    base = [0, 1, 0x9747B28C, 0xFFFFFFFF]
    prev = [-1, 0, 15, I64_MAX]
    for step, salt in ((0, 0x0D), (1, 0x91), (255, 0x57), (-1, 0xFFFFFFFF)):
        cases.append(("step_seeds", {"base_seeds": base, "prev_k": prev, "step": step, "salt": salt}))
    cases.append(("step_seeds", {"base_seeds": base, "prev_k": prev, "step": [0, 1, I64_MIN, 2**32 + 5],
                                 "salt": 0x0D}))
    for n in (1, 2, 7, 3072, 7168):
        for dtype in ("float32", "float16", "bfloat16"):
            cases.append(("step_normal", {"base_seeds": base, "prev_k": prev, "step": [1, 2, 3, 256],
                                          "salt": 0x0D, "n": n, "dtype": dtype}))
    for n, m in ((1, 1), (1, 151936), (4096, 129280), (17, 2**31 - 1)):
        cases.append(("hash_mod", {"seeds": base, "n": n, "modulus": m}))
    for e, k, lad, step in ((1, 1, 100, None), (8, 3, 100, 0), (256, 8, 100, [0, 1, 2, 2**32 + 3]),
                            (256, 6, 0, 7), (257, 257, -2**23, 1), (129, 2, 2**23, None)):
        for dtype in ("float32", "float16", "bfloat16"):
            args = {"seeds": base, "n_experts": e, "top_k": k, "ladder_base": lad, "dtype": dtype}
            cases.append(("forced_logits", args if step is None else {**args, "step": step}))
    for seq_len, vocab in ((1, 1), (16, 151936), (2048, 129280)):
        cases.append(("pseudo_input_ids", {"block_hash": STRINGS[2], "public_key": STRINGS[3],
                                           "nonces": [0, -1, I64_MAX, I64_MIN], "seq_len": seq_len,
                                           "vocab": vocab}))
    cases.append(("route_base_seeds", {"block_hash": STRINGS[1], "nonces": [0, -1, I64_MAX, I64_MIN],
                                       "num_gates": 62}))
    for dim, k in ((1, 1), (3072, 256), (7168, 256)):
        cases.append(("decode_pick", {"block_hash": "abc", "public_key": "pk", "nonces": [0, 1, -1],
                                      "step": [1, 2, 256], "prev_k": [15, 0, 7], "dim": dim, "k": k}))
    args = {"block_hash": "abc", "public_key": "pk", "nonces": [0, 1, -1], "step": 0, "dim": 7168,
            "k": 256}
    cases += [("decode_pick_string", args), ("decode_pick_string", {**args, "prev": [0, 15, 3]})]
    return cases


def grid_reflect() -> list[tuple[str, dict]]:
    """Masked row-group reflection cases (SPEC.md 10.10), appended last."""
    cases: list[tuple[str, dict]] = []
    # rows 0..5: slot 1, masked off, slot 0 (zeros), slot 3, slot -1 and slot 4 (out of range)
    groups, mask = [1, 2, 0, 3, -1, 4, 7], [1, 0, 1, 1, 1, 1, 0]  # mask: 1 true, 0 false
    for hidden, copies in ((1, 1), (7, 3), (1025, 2), (4097, 1)):
        for dtype in ("float32", "float16", "bfloat16"):
            for mode in ("once", "stepwise"):
                if dtype == "float32" and mode == "stepwise" and hidden != 7:
                    continue
                cases.append(("reflect_rows", {"x_seed": 500 + hidden, "rows": 6, "copies": copies,
                                               "hidden": hidden, "slots": 4, "table_seed": 600,
                                               "row_group": groups, "mask": mask, "dtype": dtype,
                                               "mode": mode}))
    return cases


def grid_overrides() -> list[tuple[str, dict]]:
    """Masked forward-pass override cases (SPEC.md 10.11, 10.12), appended after the reflections."""
    cases: list[tuple[str, dict]] = []
    # rows 0..5 of 6 (the per-row lists have 7 entries): decode (prev 3), masked off, prefill
    # (prev -1), decode (prev I64_MAX: u32 0xFFFFFFFF), prefill (prev I64_MIN), decode (prev 0)
    prev = [3, 5, -1, I64_MAX, I64_MIN, 0, 2]
    mask = [1, 0, 1, 1, 1, 1, 1]
    base = [0, 1, 0x9747B28C, 0xFFFFFFFF, 2**40 + 7, -5, 9]
    steps = [0, 1, 256, -1, 2**32 + 3, I64_MIN, 4]
    all3 = ("float32", "float16", "bfloat16")
    for hidden, pairs in ((1, [(d, d) for d in all3]),
                          (7, [(d, e) for d in all3 for e in all3]),
                          (3072, [("bfloat16", "float32"), ("float16", "float16")]),
                          (7168, [(d, "bfloat16") for d in all3])):
        for dtype, embeds_dtype in pairs:
            cases.append(("embed_synth", {"x_seed": 700 + hidden, "rows": 6, "hidden": hidden,
                                          "dtype": dtype, "embeds_seed": 800 + hidden,
                                          "embeds_rows": 7, "embeds_dtype": embeds_dtype,
                                          "base_seeds": base, "step": steps, "prev_k": prev,
                                          "mask": mask, "salt": 0x0D}))
    cases.append(("embed_synth", {"x_seed": 707, "rows": 6, "hidden": 7, "dtype": "float32",
                                  "embeds_seed": 807, "embeds_rows": 6, "embeds_dtype": "float32",
                                  "base_seeds": base, "step": steps, "prev_k": prev,
                                  "mask": mask, "salt": 0xFFFFFFFF}))
    rmask = [1, 0, 1, 1, 0, 1, 1]
    for e, k, lad in ((1, 1, 100), (8, 3, 100), (256, 8, 100), (257, 257, -2**23), (129, 2, 2**23)):
        for dtype in all3:
            cases.append(("router_override", {"x_seed": 900 + e, "rows": 6, "n_experts": e,
                                              "top_k": k, "ladder_base": lad, "dtype": dtype,
                                              "route_seeds": base, "step": steps, "mask": rmask}))
    return cases


def grid_fused() -> list[tuple[str, dict]]:
    """Fused add + RMSNorm cases with the reflection (SPEC.md 10.14), appended last: the rows of
    grid_reflect (reflected, masked off, slot 0, out of range), every dtype and rounding."""
    cases: list[tuple[str, dict]] = []
    groups, mask = [1, 2, 0, 3, -1, 4, 7], [1, 0, 1, 1, 1, 1, 0]
    for hidden, copies in ((1, 1), (7, 3), (1025, 2), (3072, 1)):
        for dtype in ("float32", "float16", "bfloat16"):
            for mode in ("once", "stepwise"):
                if mode == "once" and hidden not in (7, 1025):
                    continue
                cases.append(("fused_add_rms_norm_reflect",
                              {"x_seed": 1000 + hidden, "residual_seed": 1100 + hidden,
                               "weight_seed": 1200 + hidden, "rows": 6, "copies": copies,
                               "hidden": hidden, "slots": 4, "table_seed": 600,
                               "eps_bits": 0x358637BD,  # binary32 1e-6
                               "row_group": groups, "mask": mask, "dtype": dtype, "mode": mode}))
    return cases
