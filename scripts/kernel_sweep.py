"""CPU == GPU through the generating kernels, at scale: the ops that produce pocrand's outputs, not
only the scalar stages that scripts/exhaustive_check.py sweeps.

    python scripts/kernel_sweep.py                          # cuda vs cpu, full (about a minute
                                                            # on a 16-core H200 node)
    python scripts/kernel_sweep.py --scale quick            # the same sections, smaller
    python scripts/kernel_sweep.py --a cpu --b cpu --scale tiny   # the logic alone, no GPU

Device `a` is checked against device `b` (the CPU reference), bit for bit, in sections:

rows      normal rows of n = 2^31 - 1 elements (the largest; odd, so pair j is elements j and
          2^30 + j): EVERY element of each row, from the whole-row kernel (`normal`, a batch of
          rows, so totals pass 2^31) and from the random-access kernel (`normal_range`), in
          float32, float16 and bfloat16, against the reference's normal_range windows (float32)
          and their fp16/bf16 rounding. Every pair position is covered as a first and a second
          element. --stride k checks every k-th window only.
sizes     `normal` and `uniform` over sizes at every tiling edge, odd and even, batches of seeds.
by_value  `normal_nonces` / `unit_normal_seed` (seeds inside the launch) against the seeds-tensor
          ops of the reference.
target    `unit_normal` over large and edge vocabularies, all dtypes.
sort      `permutations` over the bucket-sort and radix-sort sizes.
distances `distances` over dtypes, zero / NaN rows, large V, check=False rows.

Prints one line per section and exits 1 on any mismatch (2 if device `a` is unusable);
--json writes the summary. tests/test_kernel_sweep.py runs it CPU vs CPU and checks that a
flipped bit in any section is reported.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import pocrand_ext as pr  # noqa: E402
from pocrand_ext import stages  # noqa: E402

OPS = torch.ops.pocrand
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_N = 2**31 - 1

# Sizes per scale: row length and window of the `rows` section, and the size lists of the others.
SCALES = {
    "full": dict(rows_n=MAX_N, rows=2, window=1 << 26,
                 sizes=[1, 2, 3, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536,
                        65537, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, (1 << 24) + 3, 100_000_001],
                 uniform_n=(1 << 28) + 3, batch=300, vocab=[1, 2, 3, 1023, 1024, 1025, 151936,
                 1 << 20, (1 << 20) + 1, (1 << 22) + 3, 10_000_019],
                 sort=[1, 2, 3, 3072, 3073, 4097, 151936, 196609, 1 << 21, (1 << 21) + 1,
                       (1 << 24) + 7], dist=[(64, 151936), (3, (1 << 20) + 1), (256, 4099)]),
    "quick": dict(rows_n=(1 << 26) + 1, rows=2, window=1 << 22,
                  sizes=[1, 2, 3, 1023, 1024, 1025, 65537, (1 << 20) + 1], uniform_n=(1 << 22) + 3,
                  batch=130, vocab=[1, 3, 1025, 151936, (1 << 20) + 1], sort=[1, 3, 3073, 151936,
                  (1 << 21) + 1], dist=[(16, 151936), (3, (1 << 20) + 1)]),
    "tiny": dict(rows_n=4097, rows=2, window=1000, sizes=[1, 2, 3, 257, 1025], uniform_n=3001,
                 batch=5, vocab=[1, 2, 1025], sort=[1, 3, 1000], dist=[(4, 1025)]),
}


@dataclass
class Result:
    checked: int = 0
    mismatched: int = 0
    first: list = field(default_factory=list)   # descriptions of the first few mismatches


def bit_view(t: torch.Tensor) -> torch.Tensor:
    """An integer view, so that equality is bit equality (NaN payloads, -0 vs +0 included)."""
    t = t.contiguous()
    ints = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}
    return t.view(ints[t.dtype]) if t.dtype in ints else t


def compare(res: Result, what: str, got: torch.Tensor, want: torch.Tensor) -> None:
    """Count the elements of `got` whose bits differ from `want` (moved to got's device)."""
    if got.shape != want.shape or got.dtype != want.dtype:
        res.mismatched += max(got.numel(), 1)
        res.first.append(f"{what}: {tuple(got.shape)} {got.dtype} vs "
                         f"{tuple(want.shape)} {want.dtype}")
        return
    differ = bit_view(got) != bit_view(want.to(got.device, non_blocking=True))
    count = int(differ.sum())
    res.checked += got.numel()
    if count:
        res.mismatched += count
        if len(res.first) < 5:
            at = tuple(differ.nonzero()[0].tolist())
            res.first.append(f"{what} at {at}: {got[at].item()!r} vs {want[at].item()!r} "
                             f"({count} elements differ)")


class Sweep:
    """The sections, over devices `a` (checked) and `b` (reference). Every op call goes through
    `call`, the one place a test can intercept."""

    def __init__(self, a: str, b: str, scale: dict, stride: int = 1):
        self.a, self.b, self.s, self.stride = torch.device(a), torch.device(b), scale, stride

    def call(self, device: torch.device, op, *args):
        return op(*args)

    def seeds(self, device, values):
        return torch.tensor(values, dtype=torch.int64, device=device)

    def both(self, res: Result, what: str, op, args_on) -> None:
        """op(*args_on(a)) on device a against op(*args_on(b)) on device b."""
        compare(res, what, self.call(self.a, op, *args_on(self.a)),
                self.call(self.b, op, *args_on(self.b)))

    def rows(self) -> Result:
        res, n, window = Result(), self.s["rows_n"], self.s["window"]
        values = [pr.inputs_seed("sweep", "rows", r) for r in range(self.s["rows"])]
        whole = {d: self.call(self.a, OPS.normal, self.seeds(self.a, values), n, d) for d in DTYPES}
        for r, seed in enumerate(values):
            for w0 in range(0, n, window * self.stride):
                w1 = min(n, w0 + window)
                ref = self.call(self.b, OPS.normal_range, self.seeds(self.b, [seed]), n, w0, w1,
                                torch.float32)[0]
                for d in DTYPES:
                    want = ref if d == torch.float32 else self.call(self.b, stages.round_to, ref, d)
                    compare(res, f"normal row {r} [{w0}, {w1}) {d}", whole[d][r, w0:w1], want)
                    got = self.call(self.a, OPS.normal_range, self.seeds(self.a, [seed]), n, w0,
                                    w1, d)[0]
                    compare(res, f"normal_range row {r} [{w0}, {w1}) {d}", got, want)
        return res

    def sizes(self) -> Result:
        res = Result()
        values = [0, 1, 0xFFFFFFFF, pr.inputs_seed("sweep", "sizes", 0)]
        for n in self.s["sizes"]:
            for d in DTYPES:
                self.both(res, f"normal n={n} {d}", OPS.normal,
                          lambda dev: (self.seeds(dev, values), n, d))
        n = self.s["uniform_n"]
        self.both(res, f"uniform n={n}", OPS.uniform, lambda dev: (self.seeds(dev, values[:2]), n))
        return res

    def by_value(self) -> Result:
        res = Result()
        nonces = [k * 7919 - 1000 for k in range(self.s["batch"])] + [2**63 - 1, -(2**63)]
        ref_seeds = OPS.derive_seeds("sweep_by_value_nonce", nonces, "", False).to(self.b)
        for d in DTYPES:
            got = self.call(self.a, OPS.normal_nonces, "sweep_by_value_nonce", nonces, "", 4097, d,
                            self.a)
            want = self.call(self.b, OPS.normal, ref_seeds, 4097, d)
            compare(res, f"normal_nonces {d}", got, want)
            for v in self.s["vocab"][:3]:
                got = self.call(self.a, OPS.unit_normal_seed, 0xFFFFFFFF, v, d, self.a)
                want = self.call(self.b, OPS.unit_normal, self.seeds(self.b, [0xFFFFFFFF]), v, d)
                compare(res, f"unit_normal_seed V={v} {d}", got, want[0])
        return res

    def target(self) -> Result:
        res = Result()
        values = [pr.target_seed(f"sweep{r}") for r in range(2)]
        for v in self.s["vocab"]:
            for d in DTYPES:
                self.both(res, f"unit_normal V={v} {d}", OPS.unit_normal,
                          lambda dev: (self.seeds(dev, values), v, d))
        return res

    def sort(self) -> Result:
        res = Result()
        for v in self.s["sort"]:
            rows = 64 if v <= 4097 else 2
            values = [pr.permutations_seed("sweep", "sort", r) for r in range(rows)]
            self.both(res, f"permutations V={v}", OPS.permutations,
                      lambda dev: (self.seeds(dev, values), v))
        return res

    def distances(self) -> Result:
        res = Result()
        for batch, v in self.s["dist"]:
            g = torch.Generator().manual_seed(batch * v)
            logits = torch.randn(batch, v, generator=g) * 4
            logits[1] = 0                                   # zero norm: canonical NaN
            logits[2 % batch, 0] = float("nan")
            perms = OPS.permutations(self.seeds("cpu", list(range(batch))), v)
            bad = perms.clone()
            bad[batch - 1, v // 2] = v                      # out of range: NaN with check=False
            for ld in DTYPES:
                for td in DTYPES:
                    target = OPS.unit_normal(self.seeds("cpu", [7]), v, td)[0]
                    for p, check in ((perms, True), (bad, False)):
                        tensors = (logits.to(ld), p, target)
                        self.both(res, f"distances B={batch} V={v} {ld}/{td} check={check}",
                                  OPS.distances,
                                  lambda dev: (*(t.to(dev) for t in tensors), check))
        return res


SECTIONS = ("rows", "sizes", "by_value", "target", "sort", "distances")


def run(sweep: Sweep, sections=SECTIONS, out=print) -> dict:
    report, t0 = {"a": str(sweep.a), "b": str(sweep.b), "stride": sweep.stride}, time.time()
    for name in sections:
        res = getattr(sweep, name)()
        if sweep.a.type == "cuda":
            torch.cuda.synchronize(sweep.a)
        report[name] = {"checked": res.checked, "mismatched": res.mismatched, "first": res.first}
        out(f"{name}: {res.checked:,} elements, {res.mismatched} mismatched "
            f"({time.time() - t0:.0f} s)" + "".join(f"\n  {line}" for line in res.first))
    report["ok"] = all(report[s]["mismatched"] == 0 and report[s]["checked"] > 0 for s in sections)
    report["seconds"] = round(time.time() - t0, 1)
    return report


def main(argv=None, sweep_class=Sweep) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", default="cuda", help="device checked (default cuda)")
    ap.add_argument("--b", default="cpu", help="reference device (default cpu)")
    ap.add_argument("--scale", choices=sorted(SCALES), default="full")
    ap.add_argument("--stride", type=int, default=1, help="rows section: every k-th window")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--json", help="write the summary here")
    args = ap.parse_args(argv)
    for dev in (args.a, args.b):
        if torch.device(dev).type == "cuda" and not (torch.cuda.is_available()
                                                     and "cuda" in pr.build_info()):
            print(f"device {dev}: needs a CUDA device and a CUDA build (build: {pr.build_info()})")
            return 2
    report = run(sweep_class(args.a, args.b, SCALES[args.scale], args.stride),
                 [s for s in args.sections.split(",") if s])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    verdict = "KERNEL SWEEP PASSED" if report["ok"] else "KERNEL SWEEP FAILED"
    print(f"{verdict} ({report['seconds']} s)")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
