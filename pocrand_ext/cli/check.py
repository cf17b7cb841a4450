"""`pocrand check` (and the bare `pocrand`): build info, each GPU's kernel image and the known
answers on every device; exit 1 on a mismatch or on a GPU this build cannot run on."""
from __future__ import annotations

import sys

import torch

from .. import api, known_answers
from .devices import device_name, devices, kernel_image, print_build_info  # noqa: F401


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.live = sys.stderr.isatty()

    def step(self):
        self.done += 1
        if self.live:
            filled = 30 * self.done // self.total
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
                             f"{self.done}/{self.total}")
            sys.stderr.flush()

    def close(self):
        if self.live:
            sys.stderr.write("\r" + " " * (len(self.label) + 45) + "\r")
            sys.stderr.flush()


def check_gpus() -> bool:
    """Reports each visible GPU's compute capability and the kernel image it runs; False when a
    GPU is visible but the build has no CUDA kernels, or a card has no kernel image."""
    if not torch.cuda.is_available():
        return True
    info = api.build_info()
    if "cuda" not in info:
        print(f"FAILED: {torch.cuda.device_count()} CUDA GPU(s) visible "
              f"({torch.cuda.get_device_name(0)}), but this pocrand build has no CUDA kernels "
              f"(build: {info}). Reinstall with the CUDA toolkit matching torch "
              f"{torch.version.cuda} (set CUDA_HOME; POCRAND_CUDA=1 makes a missing toolkit an "
              "error).")
        return False
    ok = True
    for i in range(torch.cuda.device_count()):
        major, minor = torch.cuda.get_device_capability(i)
        image = kernel_image((major, minor), info)
        line = f"cuda:{i} ({torch.cuda.get_device_name(i)}): sm_{major}{minor}, "
        if image:
            print(line + f"runs the {image}")
        else:
            print(line + f"FAILED: no kernel image in this build ({info}); rebuild with "
                  f"TORCH_CUDA_ARCH_LIST including {major}.{minor}, or +PTX on an older entry")
            ok = False
    return ok


def check_known_answers() -> bool:
    cases = known_answers.load_cases()
    ok = True
    for dev in devices():
        progress = Progress(len(cases), f"checking {dev}")
        mismatches = []
        for case in cases:
            got = known_answers.digest(known_answers.compute(case.op, case.args, dev))
            if got != case.digest:
                mismatches.append((case, got))
            progress.step()
        progress.close()
        status = "OK" if not mismatches else "MISMATCH"
        print(f"{dev} ({device_name(dev)}): {len(cases) - len(mismatches)}/{len(cases)} "
              f"known answers match  [{status}]")
        for case, got in mismatches:
            print(f"  mismatch: {case.label()}\n    expected {case.digest}\n    got      {got}")
        ok &= not mismatches
    return ok


def add_parser(sub) -> None:
    sub.add_parser("check", help="build info and the known answers on every device (exit 1 on a "
                   "mismatch)", description="Prints the spec version and the build, each GPU's "
                   "kernel image (a cubin or JIT-compiled PTX), then checks every known answer "
                   "on the CPU and on every visible GPU. Exits 1 on a mismatch or on a GPU "
                   "this build cannot run on, 0 otherwise.")


def run(args, bench_after: bool = False) -> int:
    """The check; with bench_after (the bare `pocrand`), the throughput lines before the verdict."""
    from .bench import print_throughput
    print_build_info()
    gpus_ok = check_gpus()
    answers_ok = check_known_answers()
    if bench_after:
        print_throughput()
    ok = gpus_ok and answers_ok
    print("all known answers match" if ok else
          "FAILED: outputs differ from pocrand-v1" if not answers_ok else
          "FAILED: a visible GPU cannot run this build's kernels (see above)")
    return 0 if ok else 1
