// reflect_kernels.cu — the CUDA reflection kernels on their own, without torch (needs a GPU), in
// apply_householder's shape: one slot, no mask, no row_group.
//
// 1. Bits: launch_reflect_rows (the chunk kernel where the rows allow it) against the generic
//    kernel (the plainest formulation of SPEC.md 9.3 / 10.10, itself tested against the CPU
//    kernel and the NumPy spec) for each element type and both roundings, row lengths around the
//    chunk boundaries up to 16384, 1 to 700 rows (so that blocks walk several rows and reuse the
//    chunk-sum slots), one tensor or the pair, out of place or in place.
// 2. Time (skipped with `check`): launch_reflect_rows on [8192, 8192] and [4096, 16384] bf16,
//    alone and as a pair, beside the read+write floor of a 1 GiB device copy in the same run.
//
//   nvcc -std=c++17 -O3 -fmad=false --ftz=false -Xcompiler=-ffp-contract=off -arch=sm_90 \
//        scripts/reflect_kernels.cu -o reflect_kernels
//   ./reflect_kernels
//   compute-sanitizer --tool racecheck ./reflect_kernels check
#include "../csrc/cuda/reflect_rows.cu"  // the kernels themselves, not a copy

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "../tests/cpp/gpu_check.cuh"  // CHECK_CUDA, as the torch-free GPU checks

using namespace pocrand;
using namespace pocrand::cuda;

// Normal values of scale `scale`, rounded to E's storage.
template <typename E>
std::vector<typename E::Bits> normals(size_t n, float scale, std::mt19937& gen) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<typename E::Bits> out(n);
  for (auto& bits : out) {
    const float f = dist(gen);
    if constexpr (std::is_same<E, F32>::value) bits = f;
    else if constexpr (std::is_same<E, BF16>::value) bits = float_to_bf16_bits(f);
    else bits = float_to_half_bits(f);
  }
  return out;
}

template <typename T>
T* to_device(const std::vector<T>& host) {
  T* p = nullptr;
  CHECK_CUDA(cudaMalloc(&p, host.size() * sizeof(T)));
  CHECK_CUDA(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

template <typename T>
std::vector<T> to_host(const T* p, size_t n) {
  std::vector<T> host(n);
  CHECK_CUDA(cudaMemcpy(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

// Bit equality (float == would take -0 for +0 and miss NaN == NaN).
template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// One case: both tensors through the generic kernel, then through launch_reflect_rows.
template <typename E, bool Stepwise>
bool same_bits(int64_t rows, int64_t dim, bool pair, bool in_place, std::mt19937& gen) {
  using Bits = typename E::Bits;
  const size_t n = static_cast<size_t>(rows * dim);
  auto hx = normals<E>(n, 1.0f, gen), hr = normals<E>(n, 3.0f, gen);
  const auto hv = normals<E>(dim, 1.0f / std::sqrt(static_cast<float>(dim)), gen);
  Bits *x = to_device(hx), *r = to_device(hr), *v = to_device(hv);
  std::vector<Bits> zeros(n);
  Bits *want_x = to_device(zeros), *want_r = to_device(zeros);
  Bits *got_x = in_place ? x : to_device(zeros), *got_r = in_place ? r : to_device(zeros);
  float* scratch = nullptr;
  CHECK_CUDA(cudaMalloc(&scratch, (reflect_rows_scratch_floats(2 * rows, dim) + 1) * sizeof(float)));
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(rows, 1024));
  const int64_t per_block = dim <= kChunk ? 0 : block_tree_scratch(dim);
  for (const ReflectSet set : {ReflectSet{x, want_x}, ReflectSet{r, want_r}})
    reflect_rows_kernel<E, Stepwise><<<blocks, 256>>>(set, set, 1, rows, 1, dim, v, 1, nullptr,
                                                       nullptr, scratch, per_block);
  CHECK_CUDA(cudaDeviceSynchronize());
  const ReflectSet sets[2] = {{x, got_x}, {r, got_r}};
  const FloatType type = std::is_same<E, F32>::value    ? FloatType::kFloat32
                         : std::is_same<E, F16>::value ? FloatType::kFloat16
                                                        : FloatType::kBFloat16;
  CHECK_CUDA(launch_reflect_rows(sets, pair ? 2 : 1, rows, 1, dim, v, 1, nullptr, nullptr, Stepwise,
                                 type, scratch, 0));
  CHECK_CUDA(cudaDeviceSynchronize());
  const bool ok = same_bytes(to_host(want_x, n), to_host(got_x, n)) &&
                  (!pair || same_bytes(to_host(want_r, n), to_host(got_r, n)));
  if (!ok)
    std::printf("  MISMATCH: %zu-byte elements, stepwise %d, rows %lld, dim %lld, pair %d, in place %d\n",
                sizeof(Bits), Stepwise, static_cast<long long>(rows), static_cast<long long>(dim), pair,
                in_place);
  for (void* p : {static_cast<void*>(x), static_cast<void*>(r), static_cast<void*>(v),
                  static_cast<void*>(want_x), static_cast<void*>(want_r), static_cast<void*>(scratch)})
    cudaFree(p);
  if (!in_place) {
    cudaFree(got_x);
    cudaFree(got_r);
  }
  return ok;
}

// Median CUDA-event time of launch(), in microseconds.
template <typename Launch>
float median_us(Launch launch, int repeats) {
  cudaEvent_t start, end;
  cudaEventCreate(&start);
  cudaEventCreate(&end);
  for (int i = 0; i < 3; ++i) launch();
  std::vector<float> us;
  for (int i = 0; i < repeats; ++i) {
    cudaEventRecord(start);
    launch();
    cudaEventRecord(end);
    cudaEventSynchronize(end);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, end);
    us.push_back(ms * 1000.0f);
  }
  CHECK_CUDA(cudaGetLastError());
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

int main(int argc, char** argv) {
  const bool check_only = argc > 1 && std::strcmp(argv[1], "check") == 0;
  cudaDeviceProp prop;
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("%s, %d multiprocessors\n", prop.name, prop.multiProcessorCount);

  std::mt19937 gen(1);
  bool ok = true;
  for (int64_t dim : {8, 16, 24, 1000, 1016, 1024, 1032, 2048, 3000, 4096, 5120, 8184, 8192, 8200,
                      9000, 10240, 12288, 16376, 16384})
    for (int64_t rows : {1, 3, 700})
      for (bool pair : {false, true})
        for (bool in_place : {false, true}) {
          ok &= same_bits<BF16, false>(rows, dim, pair, in_place, gen);
          ok &= same_bits<BF16, true>(rows, dim, pair, in_place, gen);
          ok &= same_bits<F16, false>(rows, dim, pair, in_place, gen);
          ok &= same_bits<F16, true>(rows, dim, pair, in_place, gen);
          if (dim % 4 == 0) ok &= same_bits<F32, false>(rows, dim, pair, in_place, gen);
        }
  std::printf("launch_reflect_rows vs generic kernel: %s\n", ok ? "all bits equal" : "MISMATCH");
  if (check_only || !ok) return ok ? 0 : 1;

  const int64_t D = 8192;
  const size_t bytes = D * D * sizeof(uint16_t), big = size_t{1} << 30;
  const auto hx = normals<BF16>(D * D, 1.0f, gen);
  const auto hv = normals<BF16>(2 * D, 1.0f / 128.0f, gen);
  uint16_t *x = to_device(hx), *r = to_device(hx), *v = to_device(hv), *out = nullptr, *out_r = nullptr;
  void *copy_from = nullptr, *copy_to = nullptr;
  float* scratch = nullptr;
  CHECK_CUDA(cudaMalloc(&out, bytes));
  CHECK_CUDA(cudaMalloc(&out_r, bytes));
  CHECK_CUDA(cudaMalloc(&copy_from, big));
  CHECK_CUDA(cudaMalloc(&copy_to, big));
  CHECK_CUDA(cudaMalloc(&scratch, (reflect_rows_scratch_floats(2 * D, 2 * D) + 1) * sizeof(float)));
  const float copy = median_us([&] { cudaMemcpyAsync(copy_to, copy_from, big, cudaMemcpyDeviceToDevice); }, 20);
  const float floor = copy * static_cast<float>(bytes) / static_cast<float>(big);
  std::printf("1 GiB copy %.1f us: read+write floor of [8192, 8192] bf16 %.1f us\n", copy, floor);
  for (const int64_t dim : {D, 2 * D}) {  // [8192, 8192] and [4096, 16384]: the same bytes
    const int64_t rows = D * D / dim;
    const ReflectSet two[2] = {{x, out}, {r, out_r}};
    const float single = median_us([&] {
      launch_reflect_rows(two, 1, rows, 1, dim, v, 1, nullptr, nullptr, false, FloatType::kBFloat16,
                          scratch, 0);
    }, 30);
    const float both = median_us([&] {
      launch_reflect_rows(two, 2, rows, 1, dim, v, 1, nullptr, nullptr, false, FloatType::kBFloat16,
                          scratch, 0);
    }, 30);
    std::printf("[%lld, %lld] bf16: %.1f us = %.2fx the floor; pair %.1f us = %.2fx the floor of both\n",
                static_cast<long long>(rows), static_cast<long long>(dim), single, single / floor,
                both, both / (2 * floor));
  }
  return 0;
}
