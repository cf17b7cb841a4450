"""Builds pocrand_ext._C with torch.utils.cpp_extension.

CUDA or not is decided by the toolchain, never by torch.cuda.is_available() (a GPU-less build host
must still build the CUDA kernels): a CUDAExtension when the installed torch is a CUDA build and a
CUDA toolkit (CUDA_HOME) is found, a CppExtension otherwise. POCRAND_CUDA=1 forces CUDA (and fails
loudly if it cannot), POCRAND_CUDA=0 forces CPU only.

Floating-point flags are part of pocrand's contract: -ffp-contract=off everywhere (no FMA
contraction), never fast-math; device code uses _rn intrinsics, and nvcc also gets -fmad=false.
"""
import glob
import os
import re
import subprocess

from setuptools import setup
import torch
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

# -fno-math-errno only drops errno for sqrt of negatives (never reached); it lets sqrt vectorise.
# -fopenmp: at::parallel_for only runs in parallel in code compiled with OpenMP.
HOST_FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-fopenmp"]
LINK_FLAGS = ["-fopenmp"]
DEFAULT_ARCHS = ["8.0", "8.6", "8.9", "9.0"]


def want_cuda():
    switch = os.environ.get("POCRAND_CUDA", "").strip()
    have = torch.version.cuda is not None and CUDA_HOME is not None
    if switch not in ("", "0", "1"):
        raise SystemExit(f"POCRAND_CUDA must be 0 or 1, got {switch!r}")
    if switch == "1" and not have:
        raise SystemExit(
            "POCRAND_CUDA=1 but no CUDA build is possible: "
            f"torch.version.cuda={torch.version.cuda!r}, CUDA_HOME={CUDA_HOME!r}")
    return have if switch == "" else switch == "1"


def nvcc_supported_archs():
    """Compute capabilities the installed nvcc can compile for, e.g. {'8.0', '9.0', ...}."""
    out = subprocess.run([os.path.join(CUDA_HOME, "bin", "nvcc"), "--list-gpu-arch"],
                         capture_output=True, text=True, check=True).stdout
    return {f"{m[:-1]}.{m[-1]}" for m in re.findall(r"compute_(\d+)", out)}


def cuda_arch_list():
    """TORCH_CUDA_ARCH_LIST if set, else the default list with PTX for the newest; only archs
    the installed nvcc supports are kept. Sets TORCH_CUDA_ARCH_LIST for cpp_extension."""
    requested = os.environ.get("TORCH_CUDA_ARCH_LIST")
    if requested:
        chosen = requested
    else:
        supported = nvcc_supported_archs()
        keep = [a for a in DEFAULT_ARCHS if a in supported]
        if not keep:
            raise SystemExit(f"nvcc supports none of {DEFAULT_ARCHS}")
        chosen = ";".join(keep[:-1] + [keep[-1] + "+PTX"])
    os.environ["TORCH_CUDA_ARCH_LIST"] = chosen
    print(f"pocrand: building CUDA kernels for TORCH_CUDA_ARCH_LIST={chosen}")
    return chosen


def extension():
    sources = sorted(glob.glob("csrc/*.cpp")) + sorted(glob.glob("csrc/cpu/*.cpp"))
    if want_cuda():
        archs = cuda_arch_list()
        sources += sorted(glob.glob("csrc/cuda/*.cu")) + sorted(glob.glob("csrc/cuda/*.cpp"))
        nvcc_flags = ["-O3", "-fmad=false", "--prec-div=true", "--prec-sqrt=true",
                      "--ftz=false", "-Xcompiler", "-ffp-contract=off"]
        macros = [("POCRAND_WITH_CUDA", "1"), ("POCRAND_CUDA_ARCHS", f'"{archs}"')]
        return CUDAExtension("pocrand_ext._C", sources, define_macros=macros,
                             extra_compile_args={"cxx": HOST_FLAGS, "nvcc": nvcc_flags},
                             extra_link_args=LINK_FLAGS)
    print("pocrand: building the CPU-only extension")
    return CppExtension("pocrand_ext._C", sources, define_macros=[("POCRAND_WITH_CUDA", "0")],
                        extra_compile_args={"cxx": HOST_FLAGS}, extra_link_args=LINK_FLAGS)


setup(ext_modules=[extension()], cmdclass={"build_ext": BuildExtension})
