"""The CLI's device helpers: the devices a check runs on, and the kernel image each GPU runs
from this build (by CUDA's cubin and PTX rules)."""
from __future__ import annotations

import re

import torch

from .. import api

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def devices() -> list[torch.device]:
    """The CPU, and each visible GPU that this build has a kernel image for."""
    found = [torch.device("cpu")]
    info = api.build_info()
    if "cuda" in info and torch.cuda.is_available():
        found += [torch.device("cuda", i) for i in range(torch.cuda.device_count())
                  if kernel_image(torch.cuda.get_device_capability(i), info)]
    return found


def device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"


def print_build_info():
    cuda = torch.version.cuda or "none"
    print(f"pocrand {api.SPEC_VERSION}  build: {api.build_info()}  torch {torch.__version__}  "
          f"CUDA {cuda}")
    for dev in devices():
        print(f"  {dev}: {device_name(dev)}")


def built_archs(info: str) -> list[tuple[int, int, str, bool]]:
    """The arch list of build_info() ('cpu+cuda:7.5;8.0;...;12.0+PTX') as (major, minor,
    suffix, ptx) entries: '9.0a+PTX' -> (9, 0, 'a', True). Entries it cannot read are left out."""
    if "cuda:" not in info:
        return []
    out = []
    for entry in re.split(r"[;\s]+", info.split("cuda:", 1)[1]):
        m = re.fullmatch(r"(\d+)\.(\d+)([a-z]?)(\+PTX)?", entry)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), m.group(3), bool(m.group(4))))
    return out


def kernel_image(capability: tuple[int, int], info: str) -> str | None:
    """What a card of compute capability `capability` runs from this build, by CUDA's rules: a
    cubin sm_XY runs on X.Z for Z >= Y (an arch-specific sm_XYa on X.Y only), and the driver
    prefers the newest such cubin; otherwise it JIT-compiles the newest PTX compute_XY with
    X.Y <= the card's (arch-specific PTX again on X.Y only). None: no kernel image."""
    major, minor = capability
    archs = built_archs(info)

    def runs(a):
        return (a[0], a[1]) == (major, minor) or (not a[2] and a[0] == major and a[1] <= minor)

    cubins = [a for a in archs if runs(a)]
    if cubins:
        a = max(cubins, key=lambda a: (a[1], a[2]))
        return f"sm_{a[0]}{a[1]}{a[2]} cubin"
    ptx = [a for a in archs if a[3] and ((a[0], a[1]) == (major, minor) or
                                          (not a[2] and (a[0], a[1]) <= (major, minor)))]
    if ptx:
        a = max(ptx, key=lambda a: (a[0], a[1]))
        return f"compute_{a[0]}{a[1]}{a[2]} PTX, JIT-compiled by the driver"
    return None


