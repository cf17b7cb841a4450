"""Every public function, given one bad argument, raises TypeError or ValueError naming that
argument (the unclear-errors harness): for each function a valid call (checked to run), then
each argument in turn replaced by each value of JUNK. A call that still runs is fine (the value was
acceptable); any other exception, or a message that names no argument the user passed under that
name, is a failure listed with its message."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pocrand_ext as pr
from pocrand_ext.gonka_poc import data, decode_random as dr, fused, runtime, sphere, validation
from pocrand_ext.protocols import gonka_poc as gp
from pocrand_ext.protocols.gonka_poc import pack_k_steps, split_packable, unpack_k_steps

JUNK = [None, "x", -1, 0, 2**70, float("nan"), 1.5, True, [], object(), torch.empty(0),
        torch.ones(2, 4, dtype=torch.float64), torch.ones(3, 5, dtype=torch.int32),
        torch.ones(2, 4).requires_grad_(), torch.device("meta"), torch.tensor(1.0),
        torch.ones(2, 4, device="meta")]

X24 = lambda: torch.randn(2, 4, generator=torch.Generator().manual_seed(1))  # noqa: E731
ROWS2 = lambda: torch.tensor([1, 2])  # noqa: E731
MASK2 = lambda: torch.tensor([True, False])  # noqa: E731
TABLE = lambda: torch.nn.functional.normalize(torch.ones(2, 4), dim=1)  # noqa: E731

VALID = {  # function: a fresh valid call's keyword arguments
    pr.seed_from_string: lambda: dict(s="x"),
    pr.seed_words: lambda: dict(s="x"),
    pr.murmur3_32: lambda: dict(keys=torch.arange(4), seed=5),
    pr.uniform: lambda: dict(seed=5, n=8, device="cpu"),
    pr.normal: lambda: dict(seed=5, n=8, device="cpu"),
    pr.unit_vectors: lambda: dict(seed_strings=["a", "b"], dim=8, device="cpu"),
    pr.apply_householder: lambda: dict(x=X24(), v=TABLE()[0]),
    pr.apply_householder_: lambda: dict(x=X24(), v=TABLE()[0]),
    pr.apply_householder_pair: lambda: dict(hidden=X24(), residual=X24() * 2, v=TABLE()[0]),
    pr.apply_householder_pair_: lambda: dict(hidden=X24(), residual=X24() * 2, v=TABLE()[0]),
    pr.compute_distances: lambda: dict(logits=torch.ones(2, 16),
                                       permutations=pr.generate_permutations("bh", "pk", [0, 1], 16),
                                       target=pr.generate_target("bh", 16), check=True),
    pr.inputs_seed: lambda: dict(block_hash="bh", public_key="pk", nonce=3),
    pr.permutations_seed: lambda: dict(block_hash="bh", public_key="pk", nonce=3),
    pr.target_seed: lambda: dict(block_hash="bh"),
    pr.generate_inputs: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=8,
                                     seq_len=4, device="cpu", dtype=torch.float16, out=None),
    pr.generate_inputs_slice: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=8,
                                           seq_len=4, start=0, end=8, device="cpu",
                                           dtype=torch.float16),
    pr.generate_permutations: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1],
                                           vocab_size=16, device="cpu"),
    pr.generate_target: lambda: dict(block_hash="bh", vocab_size=16, device="cpu",
                                     dtype=torch.float32),
    pr.pick_seed: lambda: dict(block_hash="bh", public_key="pk", nonce=3, k=4),
    pr.haar_seed: lambda: dict(block_hash="bh", public_key="pk", nonce=3, k=4, j=1),
    pr.layer_seed: lambda: dict(block_hash="bh", layer=3),
    pr.target_v2_seed: lambda: dict(block_hash="bh", public_key="pk"),
    pr.generate_inputs_concat: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1],
                                            dim=8, seq_len=4, device="cpu", dtype=torch.float16,
                                            out=None),
    pr.generate_inputs_concat_slice: lambda: dict(block_hash="bh", public_key="pk",
                                                  nonces=[0, 1], dim=8, seq_len=4, start=0,
                                                  end=8, device="cpu", dtype=torch.float16),
    pr.householder_vectors: lambda: dict(block_hash="bh", num_layers=2, dim=8, device="cpu",
                                         dtype=torch.float32),
    pr.generate_target_v2: lambda: dict(block_hash="bh", public_key="pk", dim=8, device="cpu",
                                        dtype=torch.float32),
    pr.pick_indices: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=8, k=4,
                                  device="cpu"),
    pr.haar_rotate: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1], x=X24()),
    pr.artifacts: lambda: dict(hidden=torch.randn(2, 16), block_hash="bh", public_key="pk",
                               nonces=[0, 1], k=4),
    pr.step_seeds: lambda: dict(base_seeds=ROWS2(), step=3, prev_k=torch.tensor([0, 15]),
                                salt=0x0D),
    pr.step_normal: lambda: dict(base_seeds=ROWS2(), step=3, prev_k=torch.tensor([0, 15]),
                                 salt=0x0D, n=8, dtype=torch.float32),
    pr.normal_from_seeds: lambda: dict(seeds=ROWS2(), n=8, dtype=torch.float32),
    pr.pick_from_seeds: lambda: dict(seeds=ROWS2(), dim=8, k=4, host_order=False),
    pr.hash_mod: lambda: dict(seeds=ROWS2(), n=8, modulus=151936),
    pr.forced_logits: lambda: dict(seeds=ROWS2(), n_experts=8, top_k=2, ladder_base=100, step=3,
                                   dtype=torch.float32),
    pr.snap: lambda: dict(h=torch.randn(2, 16), seeds=ROWS2(), codebook=TABLE(), out=None),
    pr.claimed_margin: lambda: dict(scores=torch.zeros(1, 2, 16), claimed_k=torch.tensor([[0, 3]])),
    pr.codebook_sha256: lambda: dict(codebook=TABLE()),
    pr.decode_validation: lambda: dict(claimed_k=torch.tensor([[0, 3]]),
                                       validator_k=torch.tensor([[0, 5]]),
                                       scores=torch.zeros(1, 2, 16), tau=0.05, p_mismatch=0.01,
                                       fraud_threshold=0.01, requested=None),
    pr.binomial_upper_tail: lambda: dict(flagged=1, total=3, p=0.1),
    pr.missing_nonce_cap: lambda: dict(n_requested=10),
    pr.reflect_rows: lambda: dict(x=X24(), table=TABLE(), row_group=ROWS2() - 1, mask=MASK2(),
                                  mode="once"),
    pr.reflect_rows_: lambda: dict(x=X24(), table=TABLE(), row_group=ROWS2() - 1, mask=MASK2(),
                                   mode="once"),
    pr.reflect_rows_pair: lambda: dict(hidden=X24(), residual=X24() * 2, table=TABLE(),
                                       row_group=ROWS2() - 1, mask=MASK2(), mode="once"),
    pr.reflect_rows_pair_: lambda: dict(hidden=X24(), residual=X24() * 2, table=TABLE(),
                                        row_group=ROWS2() - 1, mask=MASK2(), mode="once"),
    pr.fused_add_rms_norm_reflect: lambda: dict(x=X24(), residual=X24() * 2, weight=torch.ones(4),
                                                eps=1e-6, table=TABLE(), row_group=ROWS2() - 1,
                                                mask=MASK2(), mode="stepwise"),
    pr.embed_synth: lambda: dict(out=X24(), base_seeds=ROWS2(), step=torch.tensor([3, 4]),
                                 prev_k=torch.tensor([0, -1]), embeds=X24(), mask=MASK2(),
                                 salt=13),
    pr.embed_synth_: lambda: dict(out=X24(), base_seeds=ROWS2(), step=torch.tensor([3, 4]),
                                  prev_k=torch.tensor([0, -1]), embeds=X24(), mask=MASK2(),
                                  salt=13),
    pr.router_override: lambda: dict(logits=torch.ones(2, 8), route_seeds=ROWS2(),
                                     step=torch.tensor([3, 4]), mask=MASK2(), n_experts=8,
                                     top_k=2, ladder_base=100),
    pr.router_override_: lambda: dict(logits=torch.ones(2, 8), route_seeds=ROWS2(),
                                      step=torch.tensor([3, 4]), mask=MASK2(), n_experts=8,
                                      top_k=2, ladder_base=100),
    # the vector channel and the wire format (plugin 0.2.0)
    data.encode_vector: lambda: dict(vector=np.ones(4, np.float32)),
    data.decode_vector: lambda: dict(b64=data.encode_vector(np.ones(4, np.float32))),
    runtime.encode_sph_slices: lambda: dict(q_host=np.ones((2, 256), np.float32), block_hash="bh",
                                            public_key="pk", nonce=3, k_dim=12, debug=False),
    validation.score_vector_channel: lambda: dict(
        computed_artifacts=[{"nonce": 1, "sph_values_steps": ["AAA8AAA8", "AAA8AAA8"]}],
        ref_vectors={1: ["AAA8AAA8", "AAA8AAA8"]}),
    pack_k_steps: lambda: dict(k=[1, 2, 255]),
    unpack_k_steps: lambda: dict(b=bytes([1, 2])),
    split_packable: lambda: dict(artifacts={1: [1, 2]}),
    # the gonka-poc protocol layer
    gp.base_seeds: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1], device="cpu"),
    gp.route_base_seeds: lambda: dict(block_hash="bh", nonces=[0, 1], num_gates=3, device="cpu"),
    gp.pseudo_input_ids: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1], seq_len=4,
                                      vocab=100, device="cpu"),
    gp.decode_embeddings: lambda: dict(base=ROWS2(), step=3, prev_k=torch.tensor([0, 5]),
                                       hidden=8, dtype=torch.float16),
    gp.decode_pick_seeds: lambda: dict(base=ROWS2(), step=3, prev_k=torch.tensor([0, 5])),
    gp.decode_pick: lambda: dict(base=ROWS2(), step=3, prev_k=torch.tensor([0, 5]), dim=16, k=4),
    gp.decode_pseudo_token_ids: lambda: dict(base=ROWS2(), step=3, prev_k=torch.tensor([0, 5]),
                                             vocab=100),
    gp.expert_logits: lambda: dict(route_base=ROWS2(), steps=3, n_experts=8, top_k=2,
                                   ladder_base=100, dtype=torch.float32),
    gp.decode_pick_string: lambda: dict(block_hash="bh", public_key="pk", nonce=3, k=4, step=1,
                                        prev=None),
    gp.decode_pick_strings_seeds: lambda: dict(strings=["a", "b"], device="cpu"),
    gp.decode_pick_indices: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1], dim=16,
                                         k=4, device="cpu", prev_point_ids=None, step=0,
                                         host_order=False),
    gp.decode_pick_indices_steps: lambda: dict(block_hash="bh", public_key="pk", nonce=3, dim=16,
                                               k=4, steps=[0, 1], device="cpu", host_order=True),
    # the plugin's names (drop-ins)
    dr.decode_base_seeds: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1],
                                       device="cpu"),
    dr.generate_decode_inputs_gpu: lambda: dict(base_seeds=ROWS2(), prev_k=torch.tensor([0, 5]),
                                                step=3, dim=8, device="cpu", dtype=torch.float16),
    dr.random_pick_indices_gpu: lambda: dict(base_seeds=ROWS2(), prev_k=torch.tensor([0, 5]),
                                             step=3, dim=16, k=4, device="cpu"),
    dr.decode_pseudo_token_ids: lambda: dict(base_seeds=ROWS2(), step=3,
                                             prev_k=torch.tensor([0, 5]), vocab=100),
    dr.expert_logits_from_base: lambda: dict(base_ints=ROWS2(), steps=torch.tensor([3, 4]),
                                             n_experts=8, top_k=2, device="cpu"),
    dr.random_pick_indices_decode: lambda: dict(block_hash="bh", public_key="pk", nonces=[0, 1],
                                                dim=16, k=4, device="cpu", prev_point_ids=None,
                                                step=0),
    dr.random_pick_indices_decode_steps: lambda: dict(block_hash="bh", public_key="pk", nonce=3,
                                                      dim=16, k=4, device="cpu", steps=[0, 1]),
    fused.router_override: lambda: dict(logits=torch.ones(2, 8), base=ROWS2(),
                                        step=torch.tensor([3, 4]), mask=MASK2(), n_experts=8,
                                        top_k=2, ladder=100),
    fused.reflect_rows: lambda: dict(x=X24(), table=TABLE(), row_group=ROWS2() - 1,
                                     mask=MASK2()),
    fused.householder: lambda: dict(x=X24(), v=TABLE()[0]),
    fused.embed_synth: lambda: dict(out=X24(), base=ROWS2(), step=torch.tensor([3, 4]),
                                    prev_k=torch.tensor([0, -1]), embeds=X24(), mask=MASK2(),
                                    hidden=4, salt=13, mix_a=gp.MIX_A, mix_b=gp.MIX_B),
    sphere.project_to_sphere: lambda: dict(v=X24()),
    sphere.nearest_sphere_index: lambda: dict(query=TABLE(), codebook=TABLE()),
    sphere.snap_with_scores: lambda: dict(query=TABLE(), codebook=TABLE()),
    sphere.claimed_margin: lambda: dict(scores=torch.zeros(2, 4), claimed_k=torch.tensor([0, 3])),
    sphere.snap_hidden: lambda: dict(h=torch.randn(2, 16), seeds=ROWS2(), codebook=TABLE()),
}
# Arguments whose errors may name a part of them instead (what the user sees in the message).
ALSO = {"computed_artifacts": ("nonce", "sph_values_steps"), "ref_vectors": ("nonce",),
        "artifacts": ("nonce",), "source": ("codebook",)}


def test_every_public_function_has_a_valid_call():
    public = {getattr(pr, n) for n in pr.__all__ if callable(getattr(pr, n))}
    missing = public - set(VALID) - {pr.build_info, pr.load_codebook, pr.install_householder_hooks}
    assert not missing, sorted(f.__name__ for f in missing)
    for fn, call in VALID.items():
        fn(**call())


@pytest.mark.parametrize("fn", list(VALID), ids=lambda f: f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}")
def test_a_bad_argument_is_named(fn):
    unclear = []
    for name in VALID[fn]():
        for junk in JUNK:
            kwargs = VALID[fn]()
            kwargs[name] = junk
            try:
                fn(**kwargs)
            except (TypeError, ValueError) as e:
                words = (name,) + ALSO.get(name, ())
                if not any(w in str(e) for w in words):
                    unclear.append(f"{name}={junk!r:.40}: {type(e).__name__}: {str(e)[:160]}")
            except Exception as e:  # noqa: BLE001 - any other exception is the failure itself
                unclear.append(f"{name}={junk!r:.40}: {type(e).__name__} (not a Type/ValueError): "
                               f"{str(e)[:160]}")
    assert not unclear, "\n".join(unclear)


def test_named_as_renames_whole_words_and_keeps_the_kind():
    from pocrand_ext._checks import named_as
    with pytest.raises(TypeError, match=r"^route_base must be a torch.Tensor \(one per row of "
                                        r"base_ints\), steps too; seedsX stays$"):
        with named_as(seeds="route_base", base_seeds="base_ints", step="steps"):
            raise TypeError("seeds must be a torch.Tensor (one per row of base_seeds), step too; "
                            "seedsX stays")
    with pytest.raises(ValueError, match="dim must be"):
        with named_as(x="dim"):
            raise UnicodeError("x must be text")  # a ValueError subclass: raised as ValueError
    with pytest.raises(KeyError):  # other exceptions pass through untouched
        with named_as(seeds="route_base"):
            raise KeyError("seeds")
