"""Exhaustive CPU == GPU check of every scalar stage, over whole 32-bit domains (needs a GPU).

    python scripts/exhaustive_check.py            # every value (a few minutes on an H100 node)
    python scripts/exhaustive_check.py --stride 97  # a quick sample

1. For every 32-bit hash h: u = f32(h)·2^-32, r = √(−2·log(max(u, 1e-10))), cos θ, sin θ with
   θ = f32(2π)·u, on the CPU and on the GPU: bit-identical, and all finite.
2. For every float32 bit pattern x: the fp16 and bf16 rounding of x, CPU == GPU.
3. The maximum error, in ulp against float64, of log over every float of [f32(1e-10), 1] and of
   sin/cos over every float of [0, f32(2π)] (computed by the GPU kernels, which by 1. and the
   CPU tests equal the CPU's).
Prints a summary and exits 1 on any mismatch, non-finite value or error above 1 ulp.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from pocrand_ext import stages

MIN_U1_BITS = 0x2EDBE6FF  # bits of float32(1e-10)
ONE_BITS = 0x3F800000
TWO_PI_BITS = 0x40C90FDB  # bits of float32(2*pi)


def chunks(lo: int, hi: int, size: int, stride: int):
    """[start, stop) blocks covering lo .. hi-1 (stride > 1 samples every stride-th value)."""
    step = size * stride
    for start in range(lo, hi, step):
        yield start, min(hi, start + step)


def values(start: int, stop: int, stride: int, device) -> torch.Tensor:
    return torch.arange(start, stop, stride, dtype=torch.int64, device=device)


def as_float(bits: torch.Tensor) -> torch.Tensor:
    """int64 holding uint32 bit patterns -> float32 with those bits."""
    return torch.where(bits >= 2**31, bits - 2**32, bits).to(torch.int32).view(torch.float32)


def ulp_error(got: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    _, e = torch.frexp(exact.abs())
    err = (got.double() - exact).abs() / torch.ldexp(torch.ones_like(exact), e - 24)
    return torch.where(exact == 0, torch.where(got == 0, 0.0, float("inf")), err)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stride", type=int, default=1, help="check every stride-th value (1 = all)")
    ap.add_argument("--chunk", type=int, default=1 << 26, help="values per block")
    ap.add_argument("--json", help="write the summary here as JSON")
    args = ap.parse_args()
    dev = torch.device("cuda")
    t0 = time.time()
    report = {"device": torch.cuda.get_device_name(dev), "stride": args.stride}

    # 1. scalar stages over every hash
    checked = mismatched = nonfinite = 0
    for start, stop in chunks(0, 2**32, args.chunk, args.stride):
        h = values(start, stop, args.stride, "cpu")
        cpu = stages.stages(h)
        gpu = stages.stages(h.to(dev))
        for c, g in zip(cpu, gpu):
            mismatched += int((c.to(dev).view(torch.int32) != g.view(torch.int32)).sum())
            nonfinite += int((~torch.isfinite(g)).sum())
        checked += h.numel()
    report["stages"] = {"hashes": checked, "mismatched": mismatched, "nonfinite": nonfinite}
    print(f"stages: {checked} hashes, {mismatched} CPU/GPU mismatches, {nonfinite} non-finite "
          f"({time.time() - t0:.0f} s)", flush=True)

    # 2. rounding over every float32 bit pattern
    checked = mismatched = 0
    for start, stop in chunks(0, 2**32, args.chunk, args.stride):
        x = as_float(values(start, stop, args.stride, "cpu"))
        xg = x.to(dev)
        for dtype in (torch.float16, torch.bfloat16):
            c = stages.round_to(x, dtype).view(torch.int16).to(dev)
            mismatched += int((c != stages.round_to(xg, dtype).view(torch.int16)).sum())
        checked += x.numel()
    report["rounding"] = {"patterns": checked, "mismatched": mismatched}
    print(f"rounding: {checked} float32 patterns x (fp16, bf16), {mismatched} mismatches "
          f"({time.time() - t0:.0f} s)", flush=True)

    # 3. accuracy against float64 over the whole domains
    worst = {"log": (0.0, None), "sin": (0.0, None), "cos": (0.0, None)}

    def note(name, err, arg):
        m = int(err.argmax())
        if float(err[m]) > worst[name][0]:
            worst[name] = (float(err[m]), float(arg[m]))

    count = {"log": 0, "sincos": 0}
    for start, stop in chunks(MIN_U1_BITS, ONE_BITS + 1, args.chunk, args.stride):
        x = as_float(values(start, stop, args.stride, dev))
        note("log", ulp_error(stages.log(x), torch.log(x.double())), x)
        count["log"] += x.numel()
    for start, stop in chunks(0, TWO_PI_BITS + 1, args.chunk, args.stride):
        t = as_float(values(start, stop, args.stride, dev))
        s, c = stages.sincos(t)
        note("sin", ulp_error(s, torch.sin(t.double())), t)
        note("cos", ulp_error(c, torch.cos(t.double())), t)
        count["sincos"] += t.numel()
    report["accuracy"] = {k: {"max_ulp": v[0], "at": v[1]} for k, v in worst.items()}
    report["accuracy"]["points"] = count
    for k, (err, at) in worst.items():
        pts = count["log" if k == "log" else "sincos"]
        print(f"{k}: max error {err:.4f} ulp at {at!r} over {pts} floats")

    ok = (report["stages"]["mismatched"] == 0 and report["stages"]["nonfinite"] == 0
          and report["rounding"]["mismatched"] == 0 and all(v[0] <= 1.0 for v in worst.values()))
    report["ok"] = ok
    report["seconds"] = round(time.time() - t0, 1)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    print("EXHAUSTIVE CHECK PASSED" if ok else "EXHAUSTIVE CHECK FAILED", f"({report['seconds']} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
