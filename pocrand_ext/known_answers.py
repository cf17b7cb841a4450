"""Known-answer vectors: digests of pocrand-v1 outputs for a fixed grid of cases.

`known_answers.txt` (beside this file) is plain text, one case a line:

    <op> TAB <arguments as a JSON object> TAB <SHA-256 hex of the output bytes>

The output bytes are the result tensor in row-major order, little-endian, in its own dtype
(int64, float32, float16 or bfloat16 bit patterns). The digests were produced by the independent
NumPy implementation of SPEC.md (tests/spec_numpy/, tests/make_known_answers.py); the CPU and
CUDA kernels must reproduce them on every device. A changed digest is a breaking change.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

from . import api

KNOWN_ANSWERS_PATH = Path(__file__).with_name("known_answers.txt")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Case:
    op: str
    args: dict
    digest: str

    def label(self) -> str:
        return f"{self.op} {json.dumps(self.args, ensure_ascii=False, sort_keys=True)}"


def load_cases(path: Path = KNOWN_ANSWERS_PATH) -> list[Case]:
    cases = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        op, args, digest = line.split("\t")
        cases.append(Case(op, json.loads(args), digest))
    return cases


def tensor_bytes(t: torch.Tensor) -> bytes:
    """Row-major little-endian bytes of a tensor in its own dtype."""
    t = t.detach().to("cpu").contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()


def _reflect_table(a: dict, h: int, dtype: torch.dtype, device) -> torch.Tensor:
    """A reflection case's table [slots, h]: slot 0 zeros, slot j >= 1 unit_vector(table_seed + j)."""
    table = torch.zeros(a["slots"], h, dtype=dtype, device=device)
    seeds = torch.tensor([a["table_seed"] + j for j in range(1, a["slots"])], device=device)
    table[1:] = torch.ops.pocrand.unit_vectors(seeds, h, dtype)
    return table


def compute(op: str, a: dict, device) -> torch.Tensor:
    """The output tensor of one case on `device`."""
    if op == "seed_from_string":
        return torch.tensor([api.seed_from_string(a["s"])], dtype=torch.int64)
    if op == "murmur3_32":
        keys = torch.arange(a["keys_start"], a["keys_start"] + a["keys_count"], device=device)
        return api.murmur3_32(keys, a["seed"])
    if op == "uniform":
        return api.uniform(a["seed"], a["n"], device)
    if op == "normal":
        return api.normal(a["seed"], a["n"], device)
    if op == "inputs":
        return api.generate_inputs(a["block_hash"], a["public_key"], a["nonces"], a["dim"],
                                   a["seq_len"], device, _DTYPES[a["dtype"]])
    if op == "permutations":
        return api.generate_permutations(a["block_hash"], a["public_key"], a["nonces"],
                                         a["vocab_size"], device)
    if op == "target":
        return api.generate_target(a["block_hash"], a["vocab_size"], device, _DTYPES[a["dtype"]])
    if op == "distances":
        b, v = len(a["nonces"]), a["vocab_size"]
        logits = api.normal(a["logits_seed"], b * v, device).view(b, v)
        for row in a["zero_rows"]:
            logits[row] = 0.0
        logits = logits.to(_DTYPES[a["logits_dtype"]])
        perms = api.generate_permutations(a["block_hash"], a["public_key"], a["nonces"], v, device)
        target = api.generate_target(a["block_hash"], v, device, _DTYPES[a["target_dtype"]])
        return api.compute_distances(logits, perms, target)
    if op == "seed_words":
        return torch.tensor(api.seed_words(a["s"]), dtype=torch.int64)
    if op == "inputs_concat":
        return api.generate_inputs_concat(a["block_hash"], a["public_key"], a["nonces"], a["dim"],
                                          a["seq_len"], device, _DTYPES[a["dtype"]])
    if op == "unit_vectors":
        seeds = torch.tensor(a["seeds"], dtype=torch.int64, device=device)
        return torch.ops.pocrand.unit_vectors(seeds, a["dim"], torch.float32)
    if op == "target_v2":
        return api.generate_target_v2(a["block_hash"], a["public_key"], a["dim"], device,
                                      _DTYPES[a["dtype"]])
    if op == "householder":
        rows, dim, dtype = a["rows"], a["dim"], _DTYPES[a["dtype"]]
        x = api.normal(a["x_seed"], rows * dim, device).view(rows, dim)
        if "x_scale_exp" in a:  # exact: every scaled element stays a normal float
            x = x * 2.0 ** a["x_scale_exp"]
        x = x.to(dtype)
        v_seeds = [(a["v_seed"] + r) % 2**32 for r in range(rows if a["per_row"] else 1)]
        v = torch.ops.pocrand.unit_vectors(torch.tensor(v_seeds, device=device), dim, dtype)
        return api.apply_householder(x, v if a["per_row"] else v[0])
    if op == "pick_indices":
        return api.pick_indices(a["block_hash"], a["public_key"], a["nonces"], a["dim"], a["k"],
                                device)
    if op == "haar_rotate":
        b, k = len(a["nonces"]), a["k"]
        x = api.normal(a["x_seed"], b * k, device).view(b, k).to(_DTYPES[a["dtype"]])
        return api.haar_rotate(a["block_hash"], a["public_key"], a["nonces"], x)
    if op == "artifacts":
        b, h = len(a["nonces"]), a["hidden"]
        hidden = api.normal(a["x_seed"], b * h, device).view(b, h)
        hidden[a["zero_rows"]] = 0.0
        hidden[a["nan_rows"], 0] = float("nan")
        out, flags = api.artifacts(hidden.to(_DTYPES[a["dtype"]]), a["block_hash"],
                                   a["public_key"], a["nonces"], a["k"])
        return torch.cat([out.view(torch.uint8).view(-1), flags.to(torch.uint8).view(-1).cpu()
                          .to(out.device)])
    if op in _GONKA_OPS:
        return _gonka(op, a, device)
    if op == "snap":
        b, h = len(a["seeds"]), a["hidden"]
        hidden = api.normal(a["x_seed"], b * h, device).view(b, h)
        hidden[a["zero_rows"]] = 0.0
        hidden[a["nan_rows"], 0] = float("nan")
        hidden[a["inf_rows"], 0] = float("inf")
        seeds = torch.tensor(a["seeds"], dtype=torch.int64, device=device)
        cb_seeds = torch.tensor([a["codebook_seed"] + j for j in range(a["points"])], device=device)
        codebook = torch.ops.pocrand.unit_vectors(cb_seeds, a["dim"], torch.float32)
        k, bad, scores, q = api.snap(hidden.to(_DTYPES[a["dtype"]]), seeds, codebook)
        return torch.cat([k.view(torch.uint8).view(-1), bad.view(torch.uint8).view(-1),
                          scores.view(torch.uint8).view(-1), q.view(torch.uint8).view(-1)])
    if op == "reflect_rows":
        n, c, h, dtype = a["rows"], a["copies"], a["hidden"], _DTYPES[a["dtype"]]
        x = api.normal(a["x_seed"], n * c * h, device).view(n, c, h).to(dtype)
        table = _reflect_table(a, h, dtype, device)
        return api.reflect_rows(x, table, torch.tensor(a["row_group"], device=device),
                                torch.tensor(a["mask"], dtype=torch.bool, device=device),
                                a["mode"])
    if op == "fused_add_rms_norm_reflect":
        n, c, h, dtype = a["rows"], a["copies"], a["hidden"], _DTYPES[a["dtype"]]
        x = api.normal(a["x_seed"], n * c * h, device).view(n, c, h).to(dtype)
        r = api.normal(a["residual_seed"], n * c * h, device).view(n, c, h).to(dtype)
        w = api.normal(a["weight_seed"], h, device).to(dtype)
        table = _reflect_table(a, h, dtype, device)
        eps = struct.unpack("<f", struct.pack("<I", a["eps_bits"]))[0]  # exact as a double
        api.fused_add_rms_norm_reflect(x, r, w, eps, table,
                                       torch.tensor(a["row_group"], device=device),
                                       torch.tensor(a["mask"], dtype=torch.bool, device=device),
                                       a["mode"])
        return torch.cat([x.view(torch.uint8).view(-1), r.view(torch.uint8).view(-1)])
    if op == "embed_synth":
        n, h, dtype = a["rows"], a["hidden"], _DTYPES[a["dtype"]]
        x = api.normal(a["x_seed"], n * h, device).view(n, h).to(dtype)
        embeds = api.normal(a["embeds_seed"], a["embeds_rows"] * h, device)
        embeds = embeds.view(a["embeds_rows"], h).to(_DTYPES[a["embeds_dtype"]])
        ints = {k: torch.tensor(a[k], dtype=torch.int64, device=device)
                for k in ("base_seeds", "step", "prev_k")}
        return api.embed_synth(x, ints["base_seeds"], ints["step"], ints["prev_k"], embeds,
                               torch.tensor(a["mask"], dtype=torch.bool, device=device), a["salt"])
    if op == "router_override":
        n, e, dtype = a["rows"], a["n_experts"], _DTYPES[a["dtype"]]
        logits = api.normal(a["x_seed"], n * e, device).view(n, e).to(dtype)
        return api.router_override(logits, torch.tensor(a["route_seeds"], device=device),
                                   torch.tensor(a["step"], device=device),
                                   torch.tensor(a["mask"], dtype=torch.bool, device=device), e,
                                   a["top_k"], a["ladder_base"])
    raise ValueError(f"unknown known-answer op {op!r}")


_GONKA_OPS = {"step_seeds", "step_normal", "hash_mod", "forced_logits", "pseudo_input_ids",
              "route_base_seeds", "decode_pick", "decode_pick_string"}


def _gonka(op: str, a: dict, device) -> torch.Tensor:
    """The gonka-poc cases (SPEC.md section 10)."""
    from .protocols import gonka_poc

    def ints(key):
        return torch.tensor(a[key], dtype=torch.int64, device=device)

    def step():
        s = a["step"]
        return ints("step") if isinstance(s, list) else s

    if op == "step_seeds":
        return api.step_seeds(ints("base_seeds"), step(), ints("prev_k"), a["salt"])
    if op == "step_normal":
        return api.step_normal(ints("base_seeds"), step(), ints("prev_k"), a["salt"], a["n"],
                               _DTYPES[a["dtype"]])
    if op == "hash_mod":
        return api.hash_mod(ints("seeds"), a["n"], a["modulus"])
    if op == "forced_logits":
        return api.forced_logits(ints("seeds"), a["n_experts"], a["top_k"], a["ladder_base"],
                                 step() if "step" in a else None, _DTYPES[a["dtype"]])
    if op == "pseudo_input_ids":
        return gonka_poc.pseudo_input_ids(a["block_hash"], a["public_key"], a["nonces"],
                                          a["seq_len"], a["vocab"], device)
    if op == "route_base_seeds":
        return gonka_poc.route_base_seeds(a["block_hash"], a["nonces"], a["num_gates"], device)
    if op == "decode_pick":
        base = gonka_poc.base_seeds(a["block_hash"], a["public_key"], a["nonces"], device)
        return gonka_poc.decode_pick(base, ints("step"), ints("prev_k"), a["dim"], a["k"])
    prevs = a.get("prev")
    if prevs is None:
        return gonka_poc.decode_pick_indices(a["block_hash"], a["public_key"], a["nonces"],
                                             a["dim"], a["k"], device, step=a["step"])
    return gonka_poc.decode_pick_indices(a["block_hash"], a["public_key"], a["nonces"], a["dim"],
                                         a["k"], device, prev_point_ids=prevs, step=a["step"])


def digest(t: torch.Tensor) -> str:
    return hashlib.sha256(tensor_bytes(t)).hexdigest()
