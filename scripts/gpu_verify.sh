#!/usr/bin/env bash
# GPU verification, from a clean tree on a CUDA machine (see VERIFICATION.md):
#   bash scripts/gpu_verify.sh [LOG_DIR] [native|ptx|all]
# 1. builds the extension for the default architectures (TORCH_CUDA_ARCH_LIST unset),
# 2. runs the self-check, the whole test suite (GPU tests included), the exhaustive check of the
#    scalar stages and the CPU == GPU sweep through the generating kernels (kernel_sweep.py),
# 3. rebuilds with compute_80 PTX only and checks the known answers again (the driver JIT-compiles
#    the PTX for the local card), recording which code each build embedded.
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${1:-build/verify}
PHASE=${2:-all}
mkdir -p "$LOG"
export POCRAND_REQUIRE_CUDA=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-16}
PY=${PYTHON:-python3}
status=0
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
nvcc --version | tail -2
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpus', torch.cuda.device_count())"

if [ "$PHASE" != ptx ]; then
step "build: default architectures"
rm -rf build/temp* pocrand_ext/_C*.so
env -u TORCH_CUDA_ARCH_LIST $PY setup.py build_ext --inplace > "$LOG/build_native.log" 2>&1 || { tail -50 "$LOG/build_native.log"; exit 1; }
grep "pocrand:" "$LOG/build_native.log"
cuobjdump --list-elf --list-ptx pocrand_ext/_C*.so | sed 's/.*\.\(sm_[0-9a-z]*\|compute_[0-9a-z]*\)\..*/\1/' | sort | uniq -c

step "self-check"
$PY -m pocrand_ext || status=1

step "test suite"
$PY -X faulthandler -m pytest -q -rs tests -p no:cacheprovider > "$LOG/pytest.log" 2>&1
rc=$?
grep -E "^(FAILED|ERROR|SKIPPED)|passed|failed|Fatal Python error|^  File \"$PWD" "$LOG/pytest.log" | head -40
[ "$rc" -eq 0 ] || status=1

if [ "${SKIP_EXHAUSTIVE:-0}" != 1 ]; then
  step "exhaustive check"
  $PY scripts/exhaustive_check.py --json "$LOG/exhaustive.json" || status=1
fi

step "kernel sweep: every element of 2^31 - 1 rows, edge sizes, all dtypes, cuda vs cpu"
$PY scripts/kernel_sweep.py --json "$LOG/kernel_sweep.json" || status=1

fi

if [ "$PHASE" != native ]; then
step "build: compute_80 PTX only (JIT-compiled by the driver)"
rm -rf build/temp* pocrand_ext/_C*.so
TORCH_CUDA_ARCH_LIST="8.0+PTX" $PY setup.py build_ext --inplace > "$LOG/build_ptx.log" 2>&1 \
  || { tail -50 "$LOG/build_ptx.log"; exit 1; }
grep "pocrand:" "$LOG/build_ptx.log"
cuobjdump --list-elf --list-ptx pocrand_ext/_C*.so | sed 's/.*\.\(sm_[0-9a-z]*\|compute_[0-9a-z]*\)\..*/\1/' | sort | uniq -c
echo "(an sm_80 cubin cannot run on a newer major architecture: there the compute_80 PTX is JIT-compiled)"
CUDA_CACHE_DISABLE=1 $PY -m pocrand_ext || status=1
CUDA_CACHE_DISABLE=1 $PY -m pytest -q -p no:cacheprovider tests/test_known_answers.py tests/test_cuda.py 2>&1 | tail -3
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
CUDA_CACHE_DISABLE=1 $PY scripts/kernel_sweep.py --scale quick --json "$LOG/kernel_sweep_ptx.json" || status=1
fi

step "done: status $status"
exit $status
