// snap_pick_gpu.cu — the snap kernel's pick (csrc/cuda/snap_pick.cuh) against SPEC.md 9.4 restated
// on the host (needs a GPU; without one it exits 77, which CTest reports as skipped). The snap's
// GPU tests compare whole rows with the CPU kernel, but with the kernel's own first pass the
// rarely taken branches never run: the first count's assumption failing (fewer than k scores
// below 2^(lo + 11)), and more digit passes when many scores share T's top digits. Here the first
// pass's lo is also forced (0, 10, 21: lo = 0 almost always fails the assumption, lo = 21 assumes
// nothing) and the list is turned off (ListMax = 0: every digit counted down to bit 0), for every
// J the snap kernel uses, dims around each block-size boundary, k from 1 to 1024, edge seeds.
// Each branch must have been taken in some case, or the program fails.
//   nvcc -std=c++17 -O3 -arch=sm_90 -I csrc tests/cpp/snap_pick_gpu.cu -o snap_pick_gpu && ./snap_pick_gpu
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gpu_check.cuh"
#include "spec_pick.h"
#include "../../csrc/cuda/snap_pick.cuh"

using namespace pocrand;
using namespace pocrand::cuda;

// One row a block, as snap_kernel runs the pick (rows differ by seed).
template <int J, int ListMax>
__global__ void __launch_bounds__(1024) pick_kernel(const uint32_t* seeds, int dim, int k, int lo,
                                                    int64_t* out) {
  __shared__ SnapPickShared sh;
  __shared__ int idx[kSnapMax];
  const int first = static_cast<int>(threadIdx.x) * J;
  const int n = max(0, min(J, dim - first));
  snap_pick_begin(sh);
  uint32_t score[J];
  snap_pick_hash<J>(seeds[blockIdx.x], first, score);
  __syncthreads();
  const uint32_t T = snap_pick_threshold<J, ListMax>(score, n, k, lo, sh);
  snap_pick_compact<J>(score, n, first, k, T, sh, idx);
  for (int m = threadIdx.x; m < k; m += blockDim.x) out[blockIdx.x * static_cast<int64_t>(k) + m] = idx[m];
}

struct Paths {  // how often each branch of snap_pick_threshold ran (from the host's scores)
  long restart = 0, list = 0, to_bit_0 = 0, cases = 0, failed = 0;
};

template <int J, int ListMax>
void run(int dim, int k, int lo, const std::vector<uint32_t>& seeds, Paths& paths) {
  const int rows = static_cast<int>(seeds.size());
  uint32_t* d_seeds;
  int64_t* d_out;
  CHECK_CUDA(cudaMalloc(&d_seeds, rows * sizeof(uint32_t)));
  CHECK_CUDA(cudaMalloc(&d_out, static_cast<size_t>(rows) * k * sizeof(int64_t)));
  CHECK_CUDA(cudaMemcpy(d_seeds, seeds.data(), rows * sizeof(uint32_t), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(d_out, 0xff, static_cast<size_t>(rows) * k * sizeof(int64_t)));
  const int threads = std::max(32, ((dim + J - 1) / J + 31) / 32 * 32);
  pick_kernel<J, ListMax><<<rows, threads>>>(d_seeds, dim, k, lo, d_out);
  CHECK_CUDA(cudaGetLastError());
  std::vector<int64_t> got(static_cast<size_t>(rows) * k);
  CHECK_CUDA(cudaMemcpy(got.data(), d_out, got.size() * sizeof(int64_t), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaFree(d_seeds));
  CHECK_CUDA(cudaFree(d_out));
  for (int r = 0; r < rows; ++r) {
    std::vector<uint32_t> s(dim);
    for (int i = 0; i < dim; ++i) s[i] = murmur3(static_cast<uint32_t>(i), seeds[r]);
    uint32_t T;
    const std::vector<int64_t> want = spec_pick(s, k, &T);
    ++paths.cases;
    if (!std::equal(want.begin(), want.end(), got.begin() + static_cast<int64_t>(r) * k)) {
      if (++paths.failed <= 10)
        std::fprintf(stderr, "FAIL J=%d ListMax=%d dim=%d k=%d lo=%d seed=%u\n", J, ListMax, dim,
                     k, lo, seeds[r]);
    }
    // The branches this row took, replayed on the host from its scores.
    const uint64_t bound = uint64_t{1} << (lo + kSnapPickBits);
    long below = 0;
    for (int i = 0; i < dim; ++i) below += s[i] < bound;
    int l = below >= k ? lo : 32 - kSnapPickBits;
    if (below < k) ++paths.restart;
    for (;;) {  // the scores sharing T's bits from l up
      long share = 0;
      for (int i = 0; i < dim; ++i) share += (s[i] >> l) == (T >> l);
      if (l == 0) { ++paths.to_bit_0; break; }
      if (share <= ListMax) { ++paths.list; break; }
      l -= std::min(kSnapPickBits, l);
    }
  }
}

// The J of each of the snap kernel's ranges of dim (snap.cu), and J = 16 for all of them.
template <int J>
void run_dims(const std::vector<int>& dims, int lo_dim, int hi_dim,
              const std::vector<uint32_t>& seeds, Paths& paths) {
  for (int dim : dims) {
    if (dim < lo_dim || dim > hi_dim || dim > 1024 * J) continue;
    for (int k : {1, 2, 7, 32, 33, 256, 1000, 1024, dim}) {
      if (k > dim || k > kSnapMax) continue;
      for (int lo : {snap_pick_first_lo(dim, k), 0, 10, 21}) {
        run<J, kSnapPickList>(dim, k, lo, seeds, paths);
        run<J, 0>(dim, k, lo, seeds, paths);
      }
    }
  }
}

int main() {
  if (no_gpu("snap_pick_gpu")) return kSkippedNoGpu;
  std::vector<uint32_t> seeds = {0u, 1u, 2u, 0x7fffffffu, 0x80000000u, 0xffffffffu};
  for (uint32_t i = 0; i < 10; ++i) seeds.push_back(murmur3(i, 0x5eed5eedu));
  const std::vector<int> dims = {1, 2, 31, 32, 33, 255, 256, 257, 1000, 1024, 2047, 2048, 2049,
                                 3072, 4096, 4097, 7167, 7168, 7169, 8192, 12288, 16383, 16384};
  Paths paths;
  run_dims<8>(dims, 1, 256 * 8, seeds, paths);
  run_dims<16>(dims, 1, 1024 * 16, seeds, paths);
  run_dims<28>(dims, 256 * 16 + 1, 256 * 28, seeds, paths);
  std::printf("snap_pick_gpu: %ld rows, %ld failed; branches: first count redone %ld, list %ld, "
              "counted to bit 0 %ld\n", paths.cases, paths.failed, paths.restart, paths.list,
              paths.to_bit_0);
  if (paths.restart == 0 || paths.list == 0 || paths.to_bit_0 == 0) {
    std::printf("snap_pick_gpu: a branch was never taken\n");
    return 1;
  }
  return paths.failed == 0 ? 0 : 1;
}
