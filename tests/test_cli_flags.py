"""The command line refuses bad flags before doing any work, with one line naming the flag, and
documents every subcommand and flag; `round --plot` draws a readable figure."""
from __future__ import annotations

import sys

import pytest

from pocrand_ext import cli
from pocrand_ext.cli import digest, round as round_cmd, round_prefill as rnd
from pocrand_ext.cli.round_prefill import RoundConfig, RoundResult

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None


def test_a_huge_nonce_range_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["digest", "--block-hash", "b", "--public-key", "p", "--nonces",
                  "0-10000000000", "--vocab-size", "8"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--nonces" in err and f"more than {digest.MAX_CLI_NONCES} nonces" in err
    with pytest.raises(Exception):
        digest.parse_nonces(f"0-{digest.MAX_CLI_NONCES}")  # one more than the cap
    assert len(digest.parse_nonces(f"1-{digest.MAX_CLI_NONCES}")) == digest.MAX_CLI_NONCES


@pytest.fixture
def no_round(monkeypatch):
    """A round that must not start: the flags are refused before it."""
    def fail(*a, **k):
        raise AssertionError("the round ran before the flags were checked")
    monkeypatch.setattr(round_cmd, "run_round", fail)
    monkeypatch.setattr(rnd, "build_model", fail)


@pytest.mark.parametrize("flags, words", [
    (["--heads", "5"], "--hidden 64 must be --heads 5 times"),
    (["--hidden", "0"], "--hidden must be >= 1"),
    (["--kv-heads", "3"], "--heads 4 must be a multiple of --kv-heads 3"),
    (["--kv-heads", "0"], "--kv-heads must be >= 1"),
    (["--layers", "0"], "--layers must be >= 1"),
    (["--intermediate", "-1"], "--intermediate must be >= 1"),
    (["--hidden", "8", "--heads", "2"], "--k 12 must be <= --hidden 8"),
    (["--seq-len", "0"], "--seq-len must be >= 1"),
])
def test_model_flags_are_checked_first(flags, words, no_round, capsys):
    assert cli.main(["round", *flags]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("path", ["/nonexistent/x.png", "/"])
def test_plot_path_is_checked_before_the_round(path, no_round, capsys):
    assert cli.main(["round", "--plot", path]) == 2
    assert f"--plot {path}" in capsys.readouterr().err


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_the_round_extra_brings_matplotlib():
    from pathlib import Path
    meta = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    extra = meta["project"]["optional-dependencies"]["round"]
    assert any(r.startswith("matplotlib") for r in extra)
    assert any(r.startswith("transformers") for r in extra)


@pytest.mark.parametrize("command, words", [
    ("check", "known answer"), ("bench", "throughput"), ("digest", "SHA-256"),
    ("round", "honest mismatch rate of 0.001")])
def test_every_subcommand_has_a_description(command, words, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    body = out.split("\n\n", 1)[1]  # what follows the usage lines
    assert words in body.split("options:")[0].replace("\n", " "), out


def test_every_round_flag_has_help(capsys):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["round"]
    for action in sub._actions:
        assert action.help, f"{action.option_strings} has no help"
    dtype = next(a for a in sub._actions if a.dest == "dtype")
    assert "default" in dtype.help and dtype.default == "float32"
    assert "binomial test, p = 0.001" not in (sub.description or "")


def fake(distances, mismatches=0, fraud=False):
    return RoundResult(distances=distances, mismatches=mismatches, p_value=1.0, fraud=fraud,
                       prover=None, validator=None)


def test_the_plot_names_devices_and_verdicts_and_shows_pocrand_on_top(tmp_path):
    pytest.importorskip("matplotlib", reason="the figure needs matplotlib (the round extra)")
    d = [0.0, 1e-4, 2e-4, 3e-3]
    fig = rnd.plot({"pocrand": fake(d), "reference": fake(d, 4, True)}, tmp_path / "r.png",
                   "cuda", "cpu")
    assert (tmp_path / "r.png").stat().st_size > 0
    ax = fig.axes[0]
    title = ax.get_title()
    assert "prover cuda" in title and "validator cpu" in title
    assert "pocrand honest" in title and "reference FRAUD flagged" in title
    assert "rank" in ax.get_xlabel()
    lines = {ln.get_label().split(" ")[0]: ln for ln in ax.get_lines()}
    assert lines["pocrand"].get_zorder() > lines["reference"].get_zorder()
    legend = [t.get_text().split(" ")[0] for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["pocrand", "reference"]
