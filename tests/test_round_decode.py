"""The decode-scheme round (pocrand_ext.round_decode, `pocrand round --scheme decode`): the codebook's
digest from the NumPy spec, the transforms a forward really applies, the chain through k, teacher
forcing, fraud against honest, and the command line."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import subprocess
import sys

import pytest
import torch

import spec_numpy as spec
from conftest import assert_bits_equal, requires_cuda
from pocrand_ext import cli
from pocrand_ext.cli import round as round_cmd
from pocrand_ext import reference_gonka as refg
from pocrand_ext import round_decode as rd
from pocrand_ext.poc_graph import PocrandBackend
from pocrand_ext.protocols import gonka_poc as gp
from pocrand_ext.protocols.gonka_poc import vector
from pocrand_ext.protocols.pocv2 import householder_vectors
from pocrand_ext.reflect import reflect_rows
from pocrand_ext.snap import load_codebook

@pytest.mark.parametrize("dim", sorted(rd.CODEBOOK_SHA256))
def test_codebook_digest_is_the_numpy_specs(dim):
    """The digest written in the code is that of the NumPy spec's unit vectors (SPEC.md 9.2) of
    the same seeds, hashed here from NumPy's bytes: a second path, not the code's own output."""
    rows = spec.unit_vectors([rd.CODEBOOK_SEED + j for j in range(rd.CODEBOOK_POINTS)], dim)
    assert hashlib.sha256(rows.astype("<f4").tobytes()).hexdigest() == rd.CODEBOOK_SHA256[dim]
    cb = rd.codebook(dim)
    assert cb.shape == (16, dim) and cb.dtype == torch.float32
    assert torch.equal(cb, torch.from_numpy(rows))


def test_a_changed_codebook_is_refused():
    cb = rd.codebook(32).clone()
    cb[3, 5] = torch.nextafter(cb[3, 5], torch.tensor(2.0))
    with pytest.raises(ValueError, match="refusing a different codebook"):
        load_codebook(cb, expected_sha256=rd.CODEBOOK_SHA256[32])
    with pytest.raises(ValueError, match="sphere dim must be one of"):
        rd.codebook(48)


transformers = pytest.importorskip("transformers")

CFG = rd.DecodeRoundConfig()


@pytest.fixture(scope="module")
def model():
    return rd.build_model(CFG)


@pytest.fixture(scope="module")
def honest(model):
    return rd.run_scenario(CFG, "devices", "cpu", "cpu", "pocrand", model)


def test_honest_same_device_same_batch_agrees_on_every_step(honest):
    """Teacher forcing reproduces the prover's k exactly, and its scores bit for bit."""
    assert honest.disagreements == 0 and honest.flagged == 0
    assert honest.p_value == 1.0 and honest.fraud is False
    assert honest.steps_total == CFG.batch * (CFG.steps + 1)
    assert torch.equal(honest.validator.k, honest.prover.k)
    assert_bits_equal(honest.validator.scores, honest.prover.scores)
    k = honest.prover.k
    assert ((k >= 0) & (k < 16)).all() and len(set(k.view(-1).tolist())) > 4  # a real trajectory


def test_reference_teacher_forcing_reproduces_its_prover(model):
    res = rd.run_scenario(CFG, "devices", "cpu", "cpu", "reference", model)
    assert res.disagreements == 0 and torch.equal(res.validator.k, res.prover.k)


class Recording(PocrandBackend):
    """pocrand's backend, recording what the decode steps' wrappers are given."""

    def __init__(self):
        super().__init__()
        self.embeds, self.picks, self.routes, self.reflects = [], [], [], []

    def reflect(self, x, table, row_group, mask):
        y = super().reflect(x, table, row_group, mask)
        self.reflects.append((x.clone(), table.clone(), row_group.clone(), mask.clone(), y.clone()))
        return y

    def embed(self, out, base, step, prev_k, embeds, mask):
        y = super().embed(out, base, step, prev_k, embeds, mask)
        self.embeds.append((step.clone(), prev_k.clone(), mask.clone(), base.clone(), out.clone(),
                            y.clone()))
        return y

    def route(self, logits, base, step, mask, n_experts, top_k, ladder):
        y = super().route(logits, base, step, mask, n_experts, top_k, ladder)
        self.routes.append((step.clone(), mask.clone(), base.clone(), logits.clone(), y.clone()))
        return y

    def pick_seeds(self, base, step, prev_k):
        s = super().pick_seeds(base, step, prev_k)
        self.picks.append((step.clone(), prev_k.clone(), s.clone()))
        return s


def decode_calls(calls):
    """The calls of decode steps (one row per sequence), keyed by step."""
    return {int(c[0][0]): c for c in calls if int(c[0][0]) > 0}


def test_the_chain_feeds_k_of_the_previous_step(model, honest):
    claimed = honest.prover.k
    a = Recording()
    rd.run_side(model, CFG, "cpu", a, claimed=claimed)
    pa = decode_calls(a.picks)
    for t in range(1, CFG.steps + 1):
        assert torch.equal(pa[t][1], claimed[:, t - 1])       # prev = the claimed k_{t-1}
    changed = claimed.clone()
    changed[0, 2] = (changed[0, 2] + 1) % 16
    b = Recording()
    res = rd.run_side(model, CFG, "cpu", b, claimed=changed)
    pb, eb = decode_calls(b.picks), decode_calls(b.embeds)
    base = gp.base_seeds(CFG.block_hash, CFG.public_key, rd.nonces(CFG))
    assert torch.equal(pb[3][2], gp.decode_pick_seeds(base, 3, changed[:, 2]))
    assert pb[3][2][0] != pa[3][2][0] and torch.equal(pb[3][2][1:], pa[3][2][1:])
    for t in (1, 2, 4):                                         # only step 3 reads the change
        assert torch.equal(pb[t][2], pa[t][2])
    # step 3's embedding of nonce 0 is the one of the changed k, the others' are unchanged
    ea = decode_calls(a.embeds)
    want = gp.decode_embeddings(base, 3, changed[:, 2], CFG.hidden, torch.float32)
    assert_bits_equal(eb[3][5], want)
    assert not torch.equal(eb[3][5][0], ea[3][5][0]) and torch.equal(eb[3][5][1:], ea[3][5][1:])
    assert torch.equal(res.k[:, :3], claimed[:, :3]) and torch.equal(res.k[1:], claimed[1:])


def test_a_forward_applies_the_transforms_to_poc_rows_only(model):
    """In a validator batch with chat rows: PoC rows get the decode embedding, the seeded
    experts (the reference's forced logits, and the router's own top-k picks their top_k) and
    every layer's reflection; chat rows keep their token embedding, their router's own logits
    and their layer outputs."""
    rec = Recording()
    cfg = dataclasses.replace(CFG, batch=3, steps=2)
    prover = rd.run_side(model, cfg, "cpu", "pocrand")
    m = copy.deepcopy(model)
    layers_out, gates_out = [], []
    for layer in m.layers:
        layer.register_forward_hook(lambda mod, a, o: layers_out.append(o.clone()))
    for gate in rd.seeded_gates(m):
        gate.register_forward_hook(lambda mod, a, o: gates_out.append(o[2].clone()))
    rd.run_side(m, cfg, "cpu", rec, claimed=prover.k, validator_batch=3, chat_rows=2,
                copy_model=False)
    steps = decode_calls(rec.embeds)
    assert sorted(steps) == [1, 2]
    for t, (step, prev, mask, base, out, y) in steps.items():
        assert mask.tolist() == [True, False, True, False, True]   # nonce, chat, nonce, chat, nonce
        poc = mask.nonzero().view(-1)
        assert torch.equal(prev[poc], prover.k[:, t - 1])
        assert_bits_equal(y[poc], gp.decode_embeddings(base[poc], t, prev[poc], cfg.hidden,
                                                        torch.float32))
        assert_bits_equal(y[~mask], out[~mask])
    assert len(rec.routes) == len(gates_out) == 3 * cfg.layers  # prefill and two steps
    for (step, mask, base, logits, y), idx in zip(rec.routes, gates_out):
        forced = refg.ref_forced(base[mask], step[mask], cfg.experts, cfg.top_k)
        assert_bits_equal(y[mask], forced)
        assert_bits_equal(y[~mask], logits[~mask])
        # the router's own selection ran on the forced logits: the ladder's top_k experts
        want = torch.topk(forced, cfg.top_k, dim=-1).indices
        assert torch.equal(idx[mask].sort(-1).values, want.sort(-1).values)
    assert len(layers_out) == len(rec.reflects) == 3 * cfg.layers
    vectors = householder_vectors(cfg.block_hash, cfg.layers, cfg.hidden)
    for i, (out, (x, table, row_group, mask, y)) in enumerate(zip(layers_out, rec.reflects)):
        assert not table[0].any()                           # slot 0: zeros; slot 1: the block's
        assert_bits_equal(table[1], vectors[i % cfg.layers])
        n = x.reshape(-1, cfg.hidden).shape[0]
        assert_bits_equal(out.reshape(y.shape), y)          # the layer returns the reflection
        assert_bits_equal(y.reshape(-1, cfg.hidden),
                          reflect_rows(x.reshape(-1, cfg.hidden), table, row_group[:n],
                                       mask[:n], "stepwise"))
        xr, yr = x.reshape(-1, cfg.hidden), y.reshape(-1, cfg.hidden)
        assert not torch.equal(yr[mask[:n]], xr[mask[:n]])
        assert_bits_equal(yr[~mask[:n]], xr[~mask[:n]])


def test_the_routers_run_their_own_selection_after_the_seam(model):
    """attach wraps each transformers router's one logits call (the seam) and leaves its
    softmax, top-k and weights to the router's own forward (nothing restated): with the seam
    passing the logits on, the re-compiled forward is the router's, bit for bit."""
    from pocrand_ext.poc_graph.router_seam import seamed_forward
    gate = rd.seeded_gates(copy.deepcopy(model))[0]
    cls = type(gate)
    x = torch.randn(5, CFG.hidden, generator=torch.Generator().manual_seed(1))
    gate.__dict__["_pocrand_seam"] = type("Seam", (), {"route": staticmethod(lambda t: t)})()
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(seamed_forward(cls)(gate, x),
                                                       cls.forward(gate, x)))
def test_fraud_shows_more_disagreement_than_honest(model, honest):
    fraud = rd.run_scenario(CFG, "fraud", "cpu", "cpu", "pocrand", model)
    assert fraud.disagreements > honest.disagreements and fraud.flagged > 0 and fraud.fraud


def test_the_vector_channel_separates_fraud_from_honest(model, honest):
    """Honest: the validator's q are the prover's bits, so every step's cosine distance is the
    rounding of identical fp16 slices (|d| < 1e-6) and none diverges; fraud: most steps do."""
    v = honest.vector
    assert v["n_nonces_scored"] == CFG.batch and v["n_bad_steps_total"] == 0
    assert [e["n_steps"] for e in v["per_nonce"]] == [CFG.steps] * CFG.batch   # step 0 not scored
    assert abs(v["max_nonce_dist"]) < 1e-6 and v["diverged_rate"] == 0.0
    assert_bits_equal(honest.validator.q, honest.prover.q)
    fraud = rd.run_scenario(CFG, "fraud", "cpu", "cpu", "pocrand", model)
    assert fraud.vector["mean_dist"] > 1e3 * max(abs(v["max_nonce_dist"]), 1e-9)
    assert fraud.vector["diverged_rate"] > 50.0


def test_the_vector_channel_slices_equal_the_plugin_recipe(honest):
    k_dim = min(12, CFG.sphere_dim)
    for i, n in enumerate(rd.nonces(CFG)):
        q = honest.prover.q[i].numpy()
        assert vector.encode_slices(q, CFG.block_hash, CFG.public_key, n, k_dim) == \
            refg.ref_sph_slices(q, CFG.block_hash, CFG.public_key, n, k_dim)


def test_batch_scenario_on_the_cpu(model):
    res = rd.run_scenario(CFG, "batch", "cpu", "cpu", "pocrand", model)
    assert res.validator.k.shape == res.prover.k.shape
    assert res.flagged == 0 and res.fraud is False


def test_the_fake_quantisation_is_4_bit_per_output_channel(model):
    q = rd.fake_quantize_(copy.deepcopy(model))
    w = dict(q.named_parameters())["layers.0.self_attn.q_proj.weight"]
    s = dict(model.named_parameters())["layers.0.self_attn.q_proj.weight"].abs().amax(-1) / 7
    levels = torch.round(w / s.unsqueeze(-1))
    assert torch.allclose(w, levels * s.unsqueeze(-1)) and levels.abs().max() == 7
    assert torch.equal(dict(q.named_parameters())["embed_tokens.weight"],
                       dict(model.named_parameters())["embed_tokens.weight"])


@pytest.mark.parametrize("name", ["qwen2-moe", "qwen3-moe"])
def test_other_moe_models_round(name):
    cfg = dataclasses.replace(CFG, model=name, batch=4, steps=3)
    res = rd.run_round(cfg, ("devices", "fraud"))["pocrand"]
    assert res["devices"].disagreements == 0
    assert res["fraud"].disagreements > 0


@pytest.mark.slow
def test_fraud_on_a_larger_model():
    cfg = rd.DecodeRoundConfig(hidden=256, layers=4, heads=8, experts=8, top_k=2, batch=16,
                               seq_len=8, steps=8, sphere_dim=256)
    res = rd.run_round(cfg, ("devices", "fraud"))["pocrand"]
    assert res["devices"].disagreements == 0 and res["fraud"].disagreements >= 10
    assert res["fraud"].fraud and not res["devices"].fraud


# --- the command line ------------------------------------------------------------------------

@pytest.fixture
def no_round(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("the round ran before the flags were checked")
    monkeypatch.setattr(round_cmd, "run_decode_round", fail)
    monkeypatch.setattr(round_cmd, "run_round", fail)
    monkeypatch.setattr(rd, "build_model", fail)


@pytest.mark.parametrize("flags, words", [
    (["--top-k", "5"], "--top-k 5 must be <= --experts 4"),
    (["--experts", "0"], "--experts must be >= 1"),
    (["--steps", "0"], "--steps must be >= 1"),
    (["--sphere-dim", "48"], "--sphere-dim must be one of 16, 32, 64, 128, 256"),
    (["--sphere-dim", "128"], "--sphere-dim 128 must be <= --hidden 64"),
    (["--model", "gpt2"], "--model must be one of mixtral, qwen2-moe, qwen3-moe"),
    (["--heads", "5"], "--hidden 64 must be --heads 5 times"),
    (["--tau", "-1"], "--tau must be a finite float >= 0"),
    (["--chat-rows", "-1"], "--chat-rows must be >= 0"),
    (["--k", "3"], "--k applies to --scheme prefill only"),
    (["--validator-batch", "0"], "--validator-batch must be >= 1"),
])
def test_bad_decode_flags_are_refused_first(flags, words, no_round, capsys):
    assert cli.main(["round", "--scheme", "decode", *flags]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("flag", [["--steps", "3"], ["--scenario", "fraud"], ["--top-k", "1"],
                                  ["--vector-channel"]])
def test_decode_flags_are_refused_for_the_prefill_scheme(flag, no_round, capsys):
    assert cli.main(["round", *flag]) == 2
    assert "applies to --scheme decode only" in capsys.readouterr().err


def test_the_decode_flags_parse():
    args = cli.build_parser().parse_args(
        ["round", "--scheme", "decode", "--model", "qwen3-moe", "--experts", "8", "--top-k", "3",
         "--steps", "5", "--sphere-dim", "64", "--tau", "0.05", "--scenario", "batch",
         "--scenario", "fraud", "--prover-device", "cuda", "--validator-device", "cpu",
         "--validator-batch", "2", "--chat-rows", "1", "--reference"])
    assert (args.scheme, args.model, args.experts, args.top_k, args.steps, args.sphere_dim) == \
        ("decode", "qwen3-moe", 8, 3, 5, 64)
    assert args.tau == 0.05 and args.scenario == ["batch", "fraud"] and args.reference
    assert (args.prover, args.validator, args.validator_batch, args.chat_rows) == ("cuda", "cpu", 2, 1)
    assert cli.build_parser().parse_args(["round"]).scheme == "prefill"   # the default scheme


def test_an_unknown_scenario_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["round", "--scheme", "decode", "--scenario", "lucky"])
    assert e.value.code == 2 and "--scenario" in capsys.readouterr().err


def test_cli_decode_round_with_reference_runs_and_reports():
    out = subprocess.run([sys.executable, "-m", "pocrand_ext", "round", "--scheme", "decode",
                          "--batch", "4", "--steps", "2", "--reference"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for backend in ("pocrand", "reference"):
        for scenario in ("devices", "batch", "fraud"):
            assert any(ln.startswith(backend) and f" {scenario} " in ln for ln in lines), out.stdout
    assert "pocrand    devices  (cpu vs cpu): disagreement 0/12 steps" in out.stdout
    assert "vector channel" not in out.stdout


def test_cli_vector_channel_line_per_scenario():
    out = subprocess.run([sys.executable, "-m", "pocrand_ext", "round", "--scheme", "decode",
                          "--batch", "4", "--steps", "3", "--scenario", "devices", "--scenario",
                          "fraud", "--vector-channel", "--reference"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "vector channel:" in ln]
    assert len(lines) == 4, out.stdout          # 2 scenarios x (pocrand, reference)
    honest = [ln for ln in lines if " devices " in ln]
    assert all("diverged 0.0% of steps above 0.01; 4 nonces scored" in ln for ln in honest)


def test_plot_without_matplotlib_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; "
            "from pocrand_ext.__main__ import main; "
            f"sys.exit(main(['round', '--scheme', 'decode', '--plot', {str(tmp_path / 'p.png')!r}]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert "--plot needs matplotlib: pip install 'pocrand[round]'" in out.stderr
    assert "Traceback" not in out.stderr


def test_plot_draws_both_backends(tmp_path, model):
    pytest.importorskip("matplotlib", reason="the figure needs matplotlib (the round extra)")
    cfg = dataclasses.replace(CFG, batch=4, steps=2)
    res = {b: {s: rd.run_scenario(cfg, s, backend=b, model=model) for s in ("devices", "fraud")}
           for b in ("pocrand", "reference")}
    fig = rd.plot(res, tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 0
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["pocrand", "reference"]


# --- on a GPU --------------------------------------------------------------------------------

GPU_CFG = rd.DecodeRoundConfig(hidden=512, layers=4, heads=8, experts=8, top_k=2, batch=32,
                               seq_len=16, steps=16, sphere_dim=256)


@pytest.mark.cuda
@requires_cuda
def test_gpu_prover_cpu_validator():
    """pocrand: the PoC transforms give the same bits on the GPU and the CPU, so only the model's
    own arithmetic separates honest sides, and fraud disagrees more; the reference's CUDA pick
    order differs from the CPU's, so its honest cross-device round disagrees on most steps."""
    res = rd.run_round(GPU_CFG, ("devices", "fraud"), "cuda", "cpu", reference=True)
    print({b: {s: (r.disagreements, r.steps_total, r.flagged) for s, r in d.items()}
           for b, d in res.items()})
    ours, theirs = res["pocrand"], res["reference"]
    assert ours["devices"].disagreements < ours["fraud"].disagreements
    assert not ours["devices"].fraud and ours["fraud"].fraud
    assert theirs["devices"].disagreements > 0.5 * theirs["devices"].steps_total


@pytest.mark.cuda
@requires_cuda
def test_gpu_batch_scenario():
    res = rd.run_round(GPU_CFG, ("batch",), "cuda", "cuda", reference=True)
    print({b: (d["batch"].disagreements, d["batch"].steps_total, d["batch"].flagged)
           for b, d in res.items()})
    assert res["pocrand"]["batch"].flagged == 0
