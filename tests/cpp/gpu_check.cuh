// gpu_check.cuh — what the torch-free GPU checks of tests/cpp share: a CUDA call that fails ends
// the program with its file and line, and a machine without a GPU exits 77, which CTest reports
// as skipped (SKIP_RETURN_CODE in CMakeLists.txt).
#pragma once

#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

#define CHECK_CUDA(call)                                                              \
  do {                                                                                \
    const cudaError_t e_ = (call);                                                    \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

constexpr int kSkippedNoGpu = 77;

// True (after saying so) when no CUDA device is visible.
inline bool no_gpu(const char* check) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) return false;
  std::printf("%s: no CUDA device, skipped\n", check);
  return true;
}
