"""The PoC v2 rows of the benchmark (benchmarks/bench.py --section pocv2 and --section round): the
production shape's inputs, layer vectors, artifacts and reflections beside the reference, and the
random steps' share of a round beside a Llama-70B-shaped forward."""
from __future__ import annotations

import torch

import pocrand_ext as pr
from bench_common import BH, PK, fmt, gpu_ms, nonce_sets, seeds_sets, wall_ms
from pocrand_ext import reference_pocv2 as ref2
from pocrand_ext.protocols import pocv2


def bench_pocv2(repeats: int, write_bw: float, copy_bw: float):
    """The PoC v2 rows at the production shape: B = 32 nonces, seq_len 256, hidden 8192, k = 12."""
    rows = []

    def row(op, shape, kernel, e2e, reference, torch_base, floor, target, met):
        rows.append(dict(op=op, shape=shape, kernel=kernel, e2e=e2e, reference=reference,
                         torch=torch_base, floor=floor, target=target, met=met))

    B, S, D, L, K = 32, 256, 8192, 80, 12
    # concat inputs: kernel against generate_inputs' kernel on the same shape
    words = [(torch.ops.pocrand.derive_seeds(f"{BH}_{PK}_nonce", list(range(s * 1000, s * 1000 + B)),
                                             "", False, words=True).cuda(),) for s in range(4)]
    k = gpu_ms(lambda w: torch.ops.pocrand.concat_normal(w, S * D, 0, S * D, torch.bfloat16), words, repeats)
    plain = gpu_ms(lambda s: torch.ops.pocrand.normal(s, S * D, torch.bfloat16),
                   seeds_sets(pr.inputs_seed, B), repeats)
    e = wall_ms(lambda n: pr.generate_inputs_concat(BH, PK, n, D, S, "cuda", torch.bfloat16),
                nonce_sets(B), repeats)
    r = gpu_ms(lambda n: ref2.generate_inputs_concat(BH, PK, n, D, S, "cuda", torch.bfloat16),
               nonce_sets(B, 1), 1, warmup=1)
    row("generate_inputs_concat bf16", f"{B}x{S}x{D}", k, e, r, plain, B * S * D * 2 / write_bw / 1e6,
        f"kernel <= 1.1x generate_inputs' kernel ({fmt(plain)}, in the torch column)", k <= 1.1 * plain)

    # 80 layer vectors of 8192 from their seed strings
    bhs = [(f"{BH}{i}",) for i in range(4)]
    seeds = [(torch.tensor([pr.layer_seed(bh, i) for i in range(L)], device="cuda"),) for (bh,) in bhs]
    k = gpu_ms(lambda s: torch.ops.pocrand.unit_vectors(s, D, torch.float32), seeds, repeats)
    e = wall_ms(lambda bh: pr.householder_vectors(bh, L, D, "cuda"), bhs, 4 * repeats)
    r = wall_ms(lambda bh: [ref2.householder_vector(f"{bh}_layer_{i}_householder", D, "cuda")
                            for i in range(L)], bhs[:1], 3, warmup=1)
    row("householder_vectors", f"{L}x{D}", k, e, r, None, L * D * 4 / write_bw / 1e6,
        "end-to-end <= 0.040 ms", e <= 0.040)

    # pick + Haar rotation + artifacts from [32, 8192] float32 last hidden states
    hs = [(torch.randn(B, D, device="cuda"), list(range(s * 1000, s * 1000 + B))) for s in range(4)]
    prefix = pocv2.nonce_prefix(BH, PK)
    k = gpu_ms(lambda h, n: torch.ops.pocrand.artifacts_nonces(h, prefix, n, K, pocv2.pick_suffix(K),
                                                               pocv2.haar_infix(K)), hs, repeats)
    e = wall_ms(lambda h, n: pr.artifacts(h, BH, PK, n, K), hs, 4 * repeats)
    r = wall_ms(lambda h, n: ref2.artifacts(h, BH, PK, n, K), hs[:1], 3, warmup=1)
    row("artifacts (pick + Haar + fp16)", f"{B}x{D}, k={K}", k, e, r, None, B * D * 4 / copy_bw / 1e6,
        "end-to-end <= 0.040 ms", e <= 0.040)

    # The same with the seeds derived on the host and uploaded (pinned, asynchronous), instead of
    # derived by the kernels from the strings' parts: the cost of dropping the device seed path.
    def host_seeds(h, n):
        pick = torch.ops.pocrand.derive_seeds(prefix, n, pocv2.pick_suffix(K), True)
        haar = torch.ops.pocrand.derive_seeds(prefix, n, pocv2.haar_infix(K), True, K - 1)
        seeds = torch.cat([pick.view(-1, 1), haar], 1).pin_memory().to("cuda", non_blocking=True)
        return torch.ops.pocrand.artifacts(h, seeds, K)

    e_host = wall_ms(host_seeds, hs, 4 * repeats)
    row("artifacts, seeds uploaded from the host", f"{B}x{D}, k={K}", None, e_host, None, e, None,
        f"end-to-end - artifacts' ({fmt(e)}, in the torch column) <= 0.005 ms: else keep the "
        "device seed path", e_host - e <= 0.005)

    # apply_householder [8192, 8192] bf16: one read and one write of x per call. The kernel
    # column is the reflection op itself (out preallocated, one slot, no mask, "once").
    xs = [(torch.randn(D, D, device="cuda", dtype=torch.bfloat16),) for _ in range(3)]
    v = pr.householder_vectors(BH, 1, D, "cuda")[0].bfloat16()
    table = v.view(1, D)
    outs = [torch.empty(D, 1, D, device="cuda", dtype=torch.bfloat16) for _ in range(2)]

    def reflect(x, out, residual=None, residual_out=None):
        torch.ops.pocrand.reflect_rows(out, x.view(-1, 1, D), residual_out,
                                       None if residual is None else residual.view(-1, 1, D),
                                       table, None, None, "once")

    f = 2 * D * D * 2 / copy_bw / 1e6
    k = gpu_ms(lambda x: reflect(x, outs[0]), xs, repeats)
    e = wall_ms(lambda x: pr.apply_householder(x, v), xs, repeats)
    r = gpu_ms(lambda x: ref2.apply_householder(x, v), xs, repeats)
    row("apply_householder bf16", f"{D}x{D}", k, e, r, None, f, "kernel <= 1.3x read+write floor",
        k <= 1.3 * f)
    k = gpu_ms(lambda x: reflect(x, x.view(-1, 1, D)), xs, repeats)
    row("apply_householder_ bf16 (in place)", f"{D}x{D}", k, None, r, None, f,
        "kernel <= 1.3x read+write floor", k <= 1.3 * f)
    pairs = [(xs[i][0], xs[(i + 1) % 3][0]) for i in range(3)]
    k = gpu_ms(lambda a, b: reflect(a, outs[0], b, outs[1]), pairs, repeats)
    r = gpu_ms(lambda a, b: (ref2.apply_householder(a, v), ref2.apply_householder(b, v)), pairs, repeats)
    row("apply_householder_pair bf16", f"2x {D}x{D}", k, None, r, None, 2 * f,
        "kernel <= 1.3x floor of both", k <= 2.6 * f)
    return rows


def bench_round_cost(repeats: int):
    """The random steps of a PoC v2 round beside its forward: one real Llama-70B-shaped decoder
    layer (hidden 8192, 64 heads, 8 KV heads, MLP 28672, bf16) on 32 x 256 tokens, times 80
    layers; the random steps for L = 80: inputs, the 80 layer vectors, 2 L reflections of
    [8192, 8192], the artifacts. Reference and pocrand in the same run."""
    from transformers import LlamaConfig, LlamaModel
    B, S, D, L, K = 32, 256, 8192, 80, 12
    cfg = LlamaConfig(hidden_size=D, num_hidden_layers=1, num_attention_heads=64,
                      num_key_value_heads=8, intermediate_size=28672, vocab_size=128,
                      max_position_embeddings=S)
    with torch.device("cuda"):
        layer_model = LlamaModel(cfg).to(torch.bfloat16).eval()
    x = torch.randn(B, S, D, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        fwd = gpu_ms(lambda: layer_model(inputs_embeds=x), [()], max(5, repeats // 3))
    del layer_model
    torch.cuda.empty_cache()
    ns = nonce_sets(B, 2)
    h = x.view(B * S, D)
    r_ = x.view(B * S, D).flip(0).contiguous()
    last = torch.randn(B, D, device="cuda")
    vecs = pr.householder_vectors(BH, L, D, "cuda").bfloat16()
    reps = max(3, repeats // 5)
    ours = {
        "inputs": wall_ms(lambda n: pr.generate_inputs(BH, PK, n, D, S, "cuda", torch.bfloat16), ns, reps),
        "layer vectors": wall_ms(lambda: pr.householder_vectors(BH, L, D, "cuda"), [()], reps),
        "2L reflections": L * gpu_ms(lambda: pr.apply_householder_pair(h, r_, vecs[0]), [()], reps),
        "artifacts": wall_ms(lambda n: pr.artifacts(last, BH, PK, n, K), ns, reps),
    }
    v32 = vecs[0].float()
    theirs = {
        "inputs": wall_ms(lambda n: ref2.generate_inputs(BH, PK, n, D, S, "cuda", torch.bfloat16), ns[:1], 1, warmup=1),
        "layer vectors": wall_ms(lambda: [ref2.householder_vector(f"{BH}_layer_{i}_householder", D, "cuda")
                                          for i in range(L)], [()], 1, warmup=1),
        "2L reflections": 2 * L * gpu_ms(lambda: ref2.apply_householder(h, v32.bfloat16()), [()], reps),
        "artifacts": wall_ms(lambda n: ref2.artifacts(last, BH, PK, n, K), ns[:1], 3, warmup=1),
    }
    forward = L * fwd
    return dict(layer_ms=fwd, forward_ms=forward, ours=ours, theirs=theirs,
                ours_share=sum(ours.values()) / (forward + sum(ours.values())),
                theirs_share=sum(theirs.values()) / (forward + sum(theirs.values())))


def round_table(cost) -> str:
    lines = ["", f"Round cost: one Llama-70B-shaped layer forward on 32x256 tokens (bf16) "
             f"{fmt(cost['layer_ms'])}, x 80 layers = {fmt(cost['forward_ms'])}", "",
             "| random step (L = 80, B = 32, seq 256, hidden 8192) | pocrand | reference (torch ops) |",
             "|---|---|---|"]
    for step in cost["ours"]:
        lines.append(f"| {step} | {fmt(cost['ours'][step])} | {fmt(cost['theirs'][step])} |")
    lines.append(f"| **share of the round** (target <= 1%) | **{100 * cost['ours_share']:.2f}%** | "
                 f"{100 * cost['theirs_share']:.2f}% |")
    return "\n".join(lines)
