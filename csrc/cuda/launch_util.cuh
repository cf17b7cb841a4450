// launch_util.cuh — grid shapes and thread indexing shared by the CUDA kernel files.
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include <algorithm>
#include <atomic>

namespace pocrand {
namespace cuda {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridX = 1 << 20;   // grid-stride beyond this many blocks
constexpr int64_t kMaxGridY = 65535;     // rows beyond this are walked by a y-stride loop

inline dim3 grid_for(int64_t items, int64_t rows, int threads = kThreads) {
  const int64_t x = std::max<int64_t>(1, std::min((items + threads - 1) / threads, kMaxGridX));
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(std::min(rows, kMaxGridY)));
}

// The blocks of a launch that gives each (row, copy) unit a block by a grid stride (the generic
// reflection kernels): one per unit, at most kMaxUnitBlocks, each owning its slice of scratch.
constexpr int64_t kMaxUnitBlocks = 8192;
inline int64_t unit_blocks(int64_t units) {
  return std::max<int64_t>(1, std::min(units, kMaxUnitBlocks));
}

inline size_t align_up(size_t x) { return (x + 255) & ~size_t{255}; }

// A launch's answer about the current device, asked once: slot_of(device) is where it is kept
// (0: not asked yet; devices past the first kCachedDevices ask every time) and ask(device)
// computes it. The queries cost microseconds, on every one of a forward pass's launches otherwise.
constexpr int kCachedDevices = 64;
template <typename SlotOf, typename Ask>
int per_device(SlotOf&& slot_of, Ask&& ask) {
  int device = 0;
  cudaGetDevice(&device);
  std::atomic<int>* slot = device < kCachedDevices ? slot_of(device) : nullptr;
  if (slot != nullptr) {
    const int known = slot->load(std::memory_order_relaxed);
    if (known != 0) return known;
  }
  const int value = ask(device);
  if (slot != nullptr) slot->store(value, std::memory_order_relaxed);
  return value;
}

// An attribute of the current device, asked once per device.
template <cudaDeviceAttr Attribute>
int device_attribute() {
  static std::atomic<int> cache[kCachedDevices] = {};
  return per_device([](int device) { return &cache[device]; }, [](int device) {
    int value = 0;
    cudaDeviceGetAttribute(&value, Attribute, device);
    return value;
  });
}

// The current device's multiprocessor count (the persistent kernels' grids: the blocks that fit
// a multiprocessor, each walking many rows).
inline int device_multiprocessors() {
  const int count = device_attribute<cudaDevAttrMultiProcessorCount>();
  return count > 0 ? count : 1;
}

// Rows of a few hundred columns (an MoE gate's logits: 8 to 512 experts). A block for each row
// leaves each block half a kilobyte to write: a launch of 63,488 such blocks (every gate of a
// step at once) took 66 us on an H100, 5x its write floor. Here a row's columns go to `block.x`
// lanes, `per_lane` columns each (a `tile`; tiles along grid y), and a block holds block.y rows
// (rows along grid x, a stride beyond it). per_lane is 8 when the launch still fills every
// multiprocessor with threads so (26 us for those 63,488 rows), else 1, a block a row of up to
// 256 columns as before: one gate's 1024 rows packed 8 a lane ran at 0.6x the speed.
constexpr int64_t kShortRowPacked = 8;
struct ShortRowGrid {
  dim3 grid, block;
  uint32_t per_lane;
};
inline ShortRowGrid short_row_grid(int64_t cols, int64_t rows) {
  const int64_t fill = int64_t{device_multiprocessors()} * 2048;  // resident threads, all SMs
  const int64_t per_lane = rows * cols >= kShortRowPacked * fill ? kShortRowPacked : 1;
  const int64_t lanes = (cols + per_lane - 1) / per_lane;
  const int64_t tx = std::min<int64_t>(kThreads, std::max<int64_t>(32, (lanes + 31) / 32 * 32));
  const int64_t ty = kThreads / tx;
  const int64_t tile = tx * per_lane;
  const int64_t gx = std::max<int64_t>(1, std::min((rows + ty - 1) / ty, kMaxGridX));
  const int64_t gy = std::max<int64_t>(1, std::min((cols + tile - 1) / tile, kMaxGridY));
  return {dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)),
          dim3(static_cast<unsigned>(tx), static_cast<unsigned>(ty)),
          static_cast<uint32_t>(per_lane)};
}

// The blocks of Kernel launched with `warps` warps (0 <= warps <= MaxWarps, no dynamic shared
// memory) that fit a multiprocessor of the current device, at least 1, asked once per device and
// block size.
template <auto Kernel, int MaxWarps>
int resident_blocks_per_sm(int warps) {
  static std::atomic<int> cache[kCachedDevices][MaxWarps + 1] = {};
  return per_device([warps](int device) { return &cache[device][warps]; }, [warps](int) {
    int per_sm = 0;
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, Kernel, warps * 32, 0);
    return std::max(per_sm, 1);
  });
}

// The grid of a persistent kernel over `units`: as many blocks of `warps` warps as fit on the
// device at once (each walking units gridDim.x apart), and no more than there are units.
template <auto Kernel, int MaxWarps>
unsigned resident_grid(int warps, int64_t units) {
  const int64_t fit =
      int64_t{resident_blocks_per_sm<Kernel, MaxWarps>(warps)} * device_multiprocessors();
  return static_cast<unsigned>(std::min(units, fit));
}

// Whether a pointer is 16-byte aligned (the one-pass kernels load rows as 16-byte vectors).
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// A thread's rows of a ShortRowGrid launch: for (r = short_row_first(); r < rows; r +=
// short_row_stride()), and each row's columns by short_row_cols(cols, per_lane, f): f(c) for
// every column c of this thread (a lane's columns are blockDim.x apart, so a warp's stores are
// contiguous).
__device__ __forceinline__ int64_t short_row_first() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.y + threadIdx.y;
}
__device__ __forceinline__ int64_t short_row_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.y;
}
template <typename F>
__device__ __forceinline__ void short_row_cols(uint32_t cols, uint32_t per_lane, F&& f) {
  const uint32_t tile = blockDim.x * per_lane;  // cols < 2^31: no u32 overflow below
  for (uint32_t t0 = blockIdx.y * tile; t0 < cols; t0 += gridDim.y * tile) {
    const uint32_t end = t0 + tile < cols ? t0 + tile : cols;
    for (uint32_t c = t0 + threadIdx.x; c < end; c += blockDim.x) f(c);
  }
}

}  // namespace cuda
}  // namespace pocrand
