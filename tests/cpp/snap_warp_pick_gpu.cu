// snap_warp_pick_gpu.cu — the snap row kernel's pick (csrc/cuda/snap_warp_pick.cuh)
// against SPEC.md 9.4 restated on the host (needs a GPU; without one it exits 77, which CTest
// reports as skipped). The snap's GPU tests compare whole rows with the CPU kernel, but with the
// kernel's own bound the fallbacks never run: here the bound is also forced, to 0 (fewer than k
// candidates: every index hashed again), to every score (the list overflows beyond 1024) and to a
// quarter of the kernel's (often fewer than k), for dims up to the kernel's 16384, k from 1 to
// 512 and edge seeds, with the selection's early end on and off, in four lists (the kernel's) and
// in one. Each branch (the lists, both fallbacks, the selection's early end and its count down to
// bit 0) must have been taken in some case, or the program fails.
//   nvcc -std=c++17 -O3 -arch=sm_90 -I csrc tests/cpp/snap_warp_pick_gpu.cu -o snap_warp_pick_gpu && ./snap_warp_pick_gpu
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gpu_check.cuh"
#include "spec_pick.h"
#include "../../csrc/cuda/snap_warp_pick.cuh"

using namespace pocrand;
using namespace pocrand::cuda;

// One row a block of Lists warps, as snap_row_kernel runs the pick: warp w lists its range of
// the indices, then the block picks; used[row] = whether the lists were used.
template <bool EarlyEnd, int Lists>
__global__ void __launch_bounds__(32 * Lists) pick_kernel(const uint32_t* seeds, int dim, int k,
                                                          uint32_t lim, int64_t* out, int* used) {
  __shared__ SnapPickLists<Lists> sh;
  __shared__ uint16_t idx[kSnapWarpMaxPick];
  const uint32_t seed = seeds[blockIdx.x];
  const int warp = threadIdx.x / 32;
  int lo, hi, count = 0;
  snap_list_range<Lists>(dim, warp, lo, hi);
  const int steps = (hi - lo + 32 * kSnapListRun - 1) / (32 * kSnapListRun);
  snap_warp_list_steps(seed, lo, hi, 0, steps, lim, sh.entry[warp], SnapPickLists<Lists>::kCap,
                       count);
  if (threadIdx.x % 32 == 0) sh.count[warp] = count;
  for (int b = threadIdx.x; b < 256; b += blockDim.x) sh.hist[0][b] = 0;
  __syncthreads();
  const bool list = snap_block_pick<EarlyEnd>(seed, dim, k, lim, sh, idx);
  for (int m = threadIdx.x; m < k; m += blockDim.x) out[blockIdx.x * static_cast<int64_t>(k) + m] = idx[m];
  if (threadIdx.x == 0) used[blockIdx.x] = list ? 1 : 0;
}

// Whether the lists can hold the answer, replayed on the host: every list within its capacity
// and at least k candidates in all.
template <int Lists>
bool lists_hold(const std::vector<uint32_t>& s, int k, uint32_t lim) {
  const int dim = static_cast<int>(s.size());
  const int quarter = snap_list_quarter<Lists>(dim);
  long total = 0;
  for (int w = 0; w < Lists; ++w) {
    long n = 0;
    for (int i = std::min(dim, w * quarter); i < std::min(dim, (w + 1) * quarter); ++i) n += s[i] <= lim;
    if (n > SnapPickLists<Lists>::kCap) return false;
    total += n;
  }
  return total >= k;
}

struct Paths {  // how often each branch ran (the fallbacks from the host's count and the kernel)
  long list = 0, too_few = 0, overflow = 0, early = 0, to_bit_0 = 0, cases = 0, failed = 0;
};

// Whether the selection over `values` for rank k ends early (a digit holding one score above
// bit 0), replayed as the kernel counts: 8 bits at a time from bit `bits` - 1 down (32 for the
// rehash's snap_warp_kth, the bound's bit length for snap_block_pick over the lists).
bool ends_early(const std::vector<uint32_t>& values, int k, int bits) {
  uint32_t prefix = 0, mask = 0;
  int lo = bits, rank = k;
  while (lo > 0) {
    const int width = std::min(8, lo);
    lo -= width;
    const uint32_t digits = (1u << width) - 1u;
    std::vector<int> hist(256, 0);
    for (uint32_t v : values)
      if ((v & mask) == prefix) ++hist[(v >> lo) & digits];
    int b = 0;
    while (rank > hist[b]) rank -= hist[b++];
    prefix |= static_cast<uint32_t>(b) << lo;
    mask |= digits << lo;
    if (hist[b] == 1 && lo > 0) return true;
  }
  return false;
}

template <bool EarlyEnd, int Lists>
void run(int dim, int k, uint32_t lim, const std::vector<uint32_t>& seeds, Paths& paths) {
  const int rows = static_cast<int>(seeds.size());
  uint32_t* d_seeds;
  int64_t* d_out;
  int* d_used;
  CHECK_CUDA(cudaMalloc(&d_seeds, rows * sizeof(uint32_t)));
  CHECK_CUDA(cudaMalloc(&d_out, static_cast<size_t>(rows) * k * sizeof(int64_t)));
  CHECK_CUDA(cudaMalloc(&d_used, rows * sizeof(int)));
  CHECK_CUDA(cudaMemcpy(d_seeds, seeds.data(), rows * sizeof(uint32_t), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(d_out, 0xff, static_cast<size_t>(rows) * k * sizeof(int64_t)));
  pick_kernel<EarlyEnd, Lists><<<rows, 32 * Lists>>>(d_seeds, dim, k, lim, d_out, d_used);
  CHECK_CUDA(cudaGetLastError());
  std::vector<int64_t> got(static_cast<size_t>(rows) * k);
  std::vector<int> used(rows);
  CHECK_CUDA(cudaMemcpy(got.data(), d_out, got.size() * sizeof(int64_t), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(used.data(), d_used, rows * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaFree(d_seeds));
  CHECK_CUDA(cudaFree(d_out));
  CHECK_CUDA(cudaFree(d_used));
  for (int r = 0; r < rows; ++r) {
    std::vector<uint32_t> s(dim), listed;
    for (int i = 0; i < dim; ++i) {
      s[i] = murmur3(static_cast<uint32_t>(i), seeds[r]);
      if (s[i] <= lim) listed.push_back(s[i]);
    }
    uint32_t T;
    const std::vector<int64_t> want = spec_pick(s, k, &T);
    ++paths.cases;
    const long n = static_cast<long>(listed.size());
    const bool list = lists_hold<Lists>(s, k, lim);
    if (!std::equal(want.begin(), want.end(), got.begin() + static_cast<int64_t>(r) * k) ||
        used[r] != (list ? 1 : 0)) {
      if (++paths.failed <= 10)
        std::fprintf(stderr, "FAIL lists=%d dim=%d k=%d lim=%u seed=%u (list %d, expected %d)\n",
                     Lists, dim, k, lim, seeds[r], used[r], list ? 1 : 0);
    }
    if (list) ++paths.list;
    else if (n < k) ++paths.too_few;
    else ++paths.overflow;
    const int bits = list ? (lim == 0 ? 1 : 32 - __builtin_clz(lim)) : 32;
    if (EarlyEnd && ends_early(list ? listed : s, k, bits)) ++paths.early;
    else ++paths.to_bit_0;
  }
}

int main() {
  if (no_gpu("snap_warp_pick_gpu")) return kSkippedNoGpu;
  std::vector<uint32_t> seeds = {0u, 1u, 2u, 0x7fffffffu, 0x80000000u, 0xffffffffu};
  for (uint32_t i = 0; i < 10; ++i) seeds.push_back(murmur3(i, 0x5eed5eedu));
  const std::vector<int> dims = {1, 2, 31, 32, 33, 255, 256, 257, 1000, 1024, 1025, 2048, 3072,
                                 4097, 7168, 8192, 12288, 16383, 16384};
  Paths paths;
  for (int dim : dims) {
    for (int k : {1, 2, 7, 32, 33, 256, 300, 511, 512, dim}) {
      if (k > dim || k > kSnapWarpMaxPick) continue;
      const uint32_t lim = snap_warp_pick_lim(dim, k);
      for (uint32_t l : {lim, 0u, 0xffffffffu, lim / 4}) {
        run<true, 4>(dim, k, l, seeds, paths);  // the row kernel's four lists
        run<false, 4>(dim, k, l, seeds, paths);
        run<true, 1>(dim, k, l, seeds, paths);  // one list of the whole capacity
        run<false, 1>(dim, k, l, seeds, paths);
      }
    }
  }
  std::printf("snap_warp_pick_gpu: %ld rows, %ld failed; branches: list %ld, too few candidates "
              "%ld, list overflowed %ld, selection ended early %ld, counted to bit 0 %ld\n",
              paths.cases, paths.failed, paths.list, paths.too_few, paths.overflow, paths.early,
              paths.to_bit_0);
  if (paths.list == 0 || paths.too_few == 0 || paths.overflow == 0 || paths.early == 0 ||
      paths.to_bit_0 == 0) {
    std::printf("snap_warp_pick_gpu: a branch was never taken\n");
    return 1;
  }
  return paths.failed == 0 ? 0 : 1;
}
