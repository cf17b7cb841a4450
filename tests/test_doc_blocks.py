"""Every code block of README.md and docs/ runs, so that none can drift from the code (the
torch.gather example of docs/integration.md once used the 3-D inputs and raised).

Blocks run on the CPU, in order, one namespace a file (doctest-style): "cuda" is replaced by
"cpu", and each block gets the few names it takes from its surroundings (a prelude below: small
tensors, a tiny model, `vllm.poc` standing for the deployed module it replaces). A block is
skipped only with a stated reason (installing or building); untagged blocks are not code."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
FILES = ["README.md", "docs/api.md", "docs/cli.md", "docs/integration.md", "docs/building.md"]

TINY_MODEL = '''
import torch
class _Layer(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.lin = torch.nn.Linear(d, d)
    def forward(self, x):
        return self.lin(x)
class _Inner(torch.nn.Module):
    def __init__(self, d, n):
        super().__init__()
        self.layers = torch.nn.ModuleList(_Layer(d) for _ in range(n))
class _Model(torch.nn.Module):  # a decoder-like model: layers at model.model.layers
    def __init__(self, d=64, n=2):
        super().__init__()
        self.model = _Inner(d, n)
    def forward(self, inputs_embeds):
        x = inputs_embeds
        for layer in self.model.layers:
            x = layer(x)
        return x
torch.manual_seed(0)
model = _Model().eval()
x = torch.randn(3, 4, 64)
'''

COMMON = '''
import torch
import pocrand_ext
block_hash, public_key, nonces = "bh", "pk", [0, 1, 2]
bh, pk = block_hash, public_key
'''

# (file, first line of the block) -> code run before it, or a reason to skip it.
PRELUDES = {
    ("docs/api.md", "import torch"): "logits = torch.randn(3, 151936)",
    ("docs/api.md", "bh, pk, nonces = block_hash, public_key, list(range(32))"):
        "h = torch.randn(2, 4, 8192)\ni = 3\ng = torch.randn(32, 12)\n"
        "last_hidden = torch.randn(32, 8192)",
    ("docs/api.md", "hooks = pr.install_householder_hooks(model, bh)"): TINY_MODEL,
    ("docs/integration.md", "# before\nfrom vllm.poc import gpu_random\n# after\n"
                            "from pocrand_ext import gpu_random_v2"): "dim = hidden = 64\nseq_len, k, i = 4, 12, 5\n"
        "device, dtype = 'cpu', torch.float16\n"
        "kv_cache_slice = torch.empty(8, 4, 128, dtype=dtype)[:3, :, 32:96]\n"
        "h = torch.randn(3, 4, 64, dtype=dtype)\nvocab_size = 1000\n"
        "logits = torch.randn(3, vocab_size)",
    ("docs/integration.md", "# before\nfrom gonka_poc.poc import"):
        "hidden, vocab = 512, 1000\nprev_k, step = torch.tensor([0, 3, 7]), 2\n"
        "route_base, steps = torch.tensor([11, 12, 13]), torch.tensor([2, 2, 2])\n"
        "n_experts, top_k = 8, 2",
    ("docs/integration.md", "# before\nfrom vllm.poc import gpu_random\n# after\n"
                            "from pocrand_ext import gpu_random\n"):
        "logits = torch.randn(3, vocab_size)",
    ("docs/integration.md", "import pocrand_ext as pr"): TINY_MODEL + "\nlast_hidden = torch.randn(3, 64)",
    ("docs/integration.md", "# elements [start, end) of every nonce's flattened [seq_len * dim] inputs"):
        "dim, seq_len, start, end, device = 64, 4, 10, 200, 'cpu'\nr0, r1, vocab_size = 1, 3, 1000",
    ("docs/integration.md", "seeds = torch.tensor([pocrand_ext.inputs_seed(bh, pk, n) for n in nonces], device=\"cuda\")"):
        "dim, seq_len, start, end, vocab_size = 64, 4, 10, 200, 1000\n"
        "perm_seeds = torch.tensor([pocrand_ext.permutations_seed(bh, pk, n) for n in nonces])\n"
        "target_seed_tensor = torch.tensor([pocrand_ext.target_seed(bh)])\n"
        "logits = torch.randn(3, vocab_size)",
}
SKIP = {
    ("README.md", "pip install torch==2.13.0"): "installs torch and builds the extension: .ci/run "
                                                "runs it on a clean clone",
    ("README.md", "python -m pytest -q tests"): "the test suite itself: .ci/run runs it",
    ("docs/building.md", "pip install --no-build-isolation -e ."): "builds and installs the "
                                                                   "extension (.ci/run builds it)",
    ("docs/integration.md", "pip install --no-build-isolation -e /path/to/pocrand"):
        "builds and installs the extension (.ci/run builds it)",
    ("docs/integration.md", "torchrun --nproc-per-node 2 scripts/tp_check.py"):
        "launches two ranks (one a GPU in its first line): tests/test_scripts.py runs the "
        "--device cpu form, both checks, on two gloo ranks",
}


def blocks(name: str):
    text = (ROOT / name).read_text(encoding="utf-8")
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        if m.group(1) in ("python", "bash"):
            yield text[:m.start()].count("\n") + 1, m.group(1), m.group(2)


def on_cpu(code: str) -> str:
    return code.replace('"cuda"', '"cpu"').replace(" cuda ", " cpu ").replace(" cuda\n", " cpu\n")


CASES = [(name, line, lang, code) for name in FILES for line, lang, code in blocks(name)]


def lookup(table: dict, name: str, code: str):
    """The entry of `table` for a block: its key is the file and the start of the block."""
    found = [v for (n, start), v in table.items() if n == name and code.startswith(start)]
    assert len(found) <= 1
    return found[0] if found else None


def test_every_prelude_and_skip_names_a_block():
    for table in (PRELUDES, SKIP):
        for name, start in table:
            assert sum(n == name and c.startswith(start) for n, _, _, c in CASES) == 1, start
    assert len(CASES) >= 12


@pytest.fixture(scope="module")
def namespaces():
    return {}


@pytest.fixture
def fake_vllm(monkeypatch):
    """`from vllm.poc import gpu_random` and `from gonka_poc.poc import ...` (the lines a block
    replaces) import stand-ins."""
    for top in ("vllm", "gonka_poc"):
        pkg, poc = types.ModuleType(top), types.ModuleType(f"{top}.poc")
        for name in ("gpu_random", "decode_random"):
            setattr(poc, name, types.ModuleType(f"{top}.poc.{name}"))
        pkg.poc = poc
        monkeypatch.setitem(sys.modules, top, pkg)
        monkeypatch.setitem(sys.modules, f"{top}.poc", poc)


def run_shell_line(line: str):
    """A `pocrand ...` command, as python -m pocrand_ext (the script need not be installed)."""
    argv = shlex.split(line.split("#")[0])
    assert argv[0] == "pocrand", line
    r = subprocess.run([sys.executable, "-m", "pocrand_ext", *argv[1:]], cwd=ROOT,
                       capture_output=True, text=True, timeout=600,
                       env={**__import__("os").environ, "BH": "bh", "PK": "pk"})
    assert r.returncode == 0, (line, r.stdout[-2000:], r.stderr[-2000:])


@pytest.mark.parametrize("name, line, lang, code", CASES,
                         ids=[f"{n}:{ln}" for n, ln, _, _ in CASES])
def test_block_runs(name, line, lang, code, namespaces, fake_vllm):
    if lookup(SKIP, name, code):
        pytest.skip(lookup(SKIP, name, code))
    if lang == "bash":
        joined = on_cpu(code).replace("\\\n", " ")
        for cmd in (c.strip() for c in joined.splitlines()):
            if cmd and not cmd.startswith("#"):
                run_shell_line(cmd.replace('"$BH"', "bh").replace('"$PK"', "pk"))
        return
    ns = namespaces.setdefault(name, {})
    exec(compile(COMMON + (lookup(PRELUDES, name, code) or ""), f"{name}:{line}:prelude", "exec"), ns)
    exec(compile(on_cpu(code), f"{name}:{line}", "exec"), ns)  # as written: grad mode as a user has it
