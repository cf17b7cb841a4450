"""Builds pocrand_ext._C with torch.utils.cpp_extension.

CUDA or not is decided by the toolchain, never by torch.cuda.is_available() (a GPU-less build host
must still build the CUDA kernels): a CUDAExtension when the installed torch is a CUDA build and a
CUDA compiler (CUDA_HOME/bin/nvcc) is found. A CUDA torch without one is an error, not a silent
CPU-only build (which would pass `pocrand check` on a GPU node while serving nothing from the
GPU). POCRAND_CUDA=1 forces CUDA (and fails loudly if it cannot), POCRAND_CUDA=0 asks for CPU only.

Floating-point flags are part of pocrand's contract: -ffp-contract=off everywhere (no FMA
contraction; GCC contracts by default on aarch64), never fast-math; device code uses _rn
intrinsics, and nvcc also gets -fmad=false. A host compiler that rejects -ffp-contract=off is
refused before anything is compiled.

Architectures: TORCH_CUDA_ARCH_LIST if set, else DEFAULT_ARCHS cut to what the installed nvcc
supports, with PTX for the newest so that newer cards JIT-compile it instead of failing with
"no kernel image". `pocrand check` reports which one a card runs.
"""
import glob
import os
import re
import shutil
import subprocess

from setuptools import setup
import torch
from torch.utils.cpp_extension import (CUDA_HOME, BuildExtension, CppExtension, CUDAExtension,
                                       get_cxx_compiler)

# -fno-math-errno only drops errno for sqrt of negatives (never reached); it lets sqrt vectorise.
# -fopenmp: at::parallel_for only runs in parallel in code compiled with OpenMP.
HOST_FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-fopenmp"]
LINK_FLAGS = ["-fopenmp"]
# T4 (7.5), A100 (8.0), A10/RTX 30 (8.6), L4/L40/RTX 40 (8.9), H100/H200 (9.0),
# B200/GB200 (10.0), RTX 50 / RTX PRO Blackwell (12.0).
DEFAULT_ARCHS = ["7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0"]


def nvcc_path():
    """CUDA_HOME/bin/nvcc when it exists (CUDA_HOME alone can point at a toolkit-less runtime)."""
    if CUDA_HOME is None:
        return None
    path = os.path.join(CUDA_HOME, "bin", "nvcc")
    return path if os.path.exists(path) else None


def want_cuda():
    switch = os.environ.get("POCRAND_CUDA", "").strip()
    if switch not in ("", "0", "1"):
        raise SystemExit(f"POCRAND_CUDA must be 0 or 1, got {switch!r}")
    if switch == "0":
        return False
    if torch.version.cuda is not None and nvcc_path() is not None:
        return True
    if switch == "1":
        raise SystemExit(
            "POCRAND_CUDA=1 but no CUDA build is possible: "
            f"torch.version.cuda={torch.version.cuda!r}, CUDA_HOME={CUDA_HOME!r}, nvcc not found")
    if torch.version.cuda is not None:
        raise SystemExit(
            f"pocrand: torch {torch.__version__} is a CUDA {torch.version.cuda} build, but no CUDA "
            f"compiler was found (CUDA_HOME={CUDA_HOME!r}, no bin/nvcc there). Building now "
            "would give an extension without GPU kernels. Either install the CUDA toolkit "
            f"{torch.version.cuda} (its nvcc) and set CUDA_HOME to it, or set POCRAND_CUDA=0 to "
            "build the CPU-only extension on purpose.")
    return False


def nvcc_supported_archs():
    """Compute capabilities the installed nvcc can compile for, e.g. {'8.0', '9.0', ...}."""
    out = subprocess.run([nvcc_path(), "--list-gpu-arch"],
                         capture_output=True, text=True, check=True).stdout
    return {f"{m[:-1]}.{m[-1]}" for m in re.findall(r"compute_(\d+)", out)}


def default_arch_list(supported):
    """DEFAULT_ARCHS that nvcc supports, the newest with +PTX, as TORCH_CUDA_ARCH_LIST text."""
    keep = [a for a in DEFAULT_ARCHS if a in supported]
    if not keep:
        raise SystemExit(f"nvcc supports none of {DEFAULT_ARCHS} (it lists {sorted(supported)})")
    return ";".join(keep[:-1] + [keep[-1] + "+PTX"])


def cuda_arch_list():
    """TORCH_CUDA_ARCH_LIST if set, else the default list. Sets TORCH_CUDA_ARCH_LIST for
    cpp_extension and returns it (';'-separated, as build_info() reports it)."""
    requested = [a for a in re.split(r"[;\s]+", os.environ.get("TORCH_CUDA_ARCH_LIST", "")) if a]
    chosen = ";".join(requested) if requested else default_arch_list(nvcc_supported_archs())
    # Named entries (Hopper, ...) carry +PTX in torch's table; plain numbers need it written.
    if all(re.fullmatch(r"\d+\.\d+a?", a) for a in chosen.split(";")):
        print(f"pocrand: warning: TORCH_CUDA_ARCH_LIST={chosen} has no +PTX entry; cards newer "
              "than its archs will fail with 'no kernel image' (write +PTX on the newest)")
    os.environ["TORCH_CUDA_ARCH_LIST"] = chosen
    print(f"pocrand: building CUDA kernels for TORCH_CUDA_ARCH_LIST={chosen}")
    return chosen


def check_fp_contract_off(compiler):
    """SystemExit unless `compiler` accepts -ffp-contract=off (with -Werror: clang only warns
    about some flags it ignores)."""
    cmd = [compiler, "-Werror", "-ffp-contract=off", "-fsyntax-only", "-x", "c++", "-"]
    try:
        r = subprocess.run(cmd, input="int main() { return 0; }\n", capture_output=True,
                           text=True, timeout=120)
        ok, why = r.returncode == 0, (r.stderr or r.stdout).strip()
    except OSError as e:
        ok, why = False, str(e)
    if not ok:
        raise SystemExit(
            f"pocrand: the host compiler {compiler!r} rejects -ffp-contract=off ({why}). pocrand "
            "needs it: without it a*b + c may be fused into one FMA and change output bits. Use "
            "GCC or clang (set CXX).")


class Build(BuildExtension):
    def build_extensions(self):
        compilers = {get_cxx_compiler()}
        if not self.use_ninja:
            compilers.add(self.compiler.compiler_so[0])
        for compiler in sorted(compilers):
            check_fp_contract_off(shutil.which(compiler) or compiler)
        super().build_extensions()


def extension():
    sources = (sorted(glob.glob("csrc/*.cpp")) + sorted(glob.glob("csrc/cpu/*.cpp"))
               + sorted(glob.glob("csrc/bind/*.cpp")))
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


if __name__ == "__main__":  # also under pip / build (setuptools runs this file as __main__)
    setup(ext_modules=[extension()], cmdclass={"build_ext": Build})
