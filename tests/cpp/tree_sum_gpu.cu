// tree_sum_gpu.cu — the device's fixed-order sums against the host's (needs a GPU; without one it
// exits 77, which CTest reports as skipped). Every instantiation of csrc/cuda/tree_sum.cuh's
// chunk_tree that a kernel uses, and the specialised copy chunk_dot (chunk_dot.cuh), on
// adversarial terms: cancellations, mixed magnitudes, subnormals, signed zeros, inf and NaN, every
// length up to 33 and lengths around each chunk and level boundary (partial last chunks).
//   - block_tree_sum (warp_chunk_sum = chunk_tree<32, 1>) == the core's tree_sum, bit for bit;
//   - block_chunk_sum (chunk_tree<4, 8>) == chunk_tree_sum of each zero-padded chunk;
//   - warp_small_sum (chunk_tree<1, 1, kBroadcast>) and chunk_tree<1, 1, kEveryLane> (the
//     chunk kernels' last level) == tree_sum, in every lane;
//   - chunk_dot<E> == chunk_tree<32, 1, kEveryLane> over the same products, in every lane, for
//     float32, fp16 and bf16 rows of every length (in 16-byte vectors) up to two chunks; the same
//     for the stepwise products of the one-pass reflect_rows kernel (reflect_rows_chunk.cuh).
// A NaN result must be a NaN on both sides (the device's NaN is canonical; the host keeps
// payloads); every other result must have the same bits, the sign of zero included.
//   nvcc -std=c++17 -O3 -fmad=false --ftz=false -Xcompiler=-ffp-contract=off -arch=sm_90 \
//        tests/cpp/tree_sum_gpu.cu -o tree_sum_gpu && ./tree_sum_gpu
#include <cstdio>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "gpu_check.cuh"
#include "../../csrc/cuda/chunk_dot.cuh"
#include "../../csrc/cuda/reflect_rows_chunk.cuh"
#include "../../csrc/cuda/tree_sum.cuh"

using namespace pocrand;
using namespace pocrand::cuda;

// ---- the kernels under test ----
__global__ void block_tree_kernel(const float* x, int64_t n, float* scratch, float* out) {
  const float s = block_tree_sum(RowTerms<F32, false>{x}, n, scratch);
  out[threadIdx.x] = s;  // every thread has the sum
}

__global__ void __launch_bounds__(kChunkThreads) block_chunk_kernel(const float* x, int64_t n, float* out) {
  __shared__ float partial[kChunkThreads];
  const float v = block_chunk_sum(RowTerms<F32, false>{x}, n, blockIdx.x, partial);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

__global__ void small_kernel(const float* x, int n, float* out) {
  const int lane = threadIdx.x & 31;
  const float t = lane < n ? x[lane] : 0.0f;
  out[lane] = warp_small_sum(t, n);
  out[32 + lane] = chunk_tree<1, 1, TreeResult::kEveryLane>([&](int i) { return x[i]; }, lane, n);
}

// One warp a chunk of a row of dim elements: chunk_dot's value and the template's, in every lane.
template <typename E, typename Product>
__global__ void chunk_dot_kernel(const typename E::Bits* x, const typename E::Bits* v, int dim,
                                 float* copy, float* tmpl, Product product) {
  constexpr int P = ChunkShape<E>::kPerLane;
  const int warp = blockIdx.x, lane = threadIdx.x & 31;
  const int vectors = dim / ChunkShape<E>::kVec;
  const int base = warp * (kChunk / ChunkShape<E>::kVec);
  uint4 xr[P], vr[P];
  load_chunk<E>(x, base, vectors, xr);
  load_chunk<E>(v, base, vectors, vr);
  copy[warp * 32 + lane] = chunk_dot<E>(xr, vr, base, vectors, product);
  tmpl[warp * 32 + lane] = chunk_tree<32, 1, TreeResult::kEveryLane>(
      [&](int64_t i) { return product(x[i], v[i]); },
      static_cast<int64_t>(warp) * kChunk + lane, static_cast<int64_t>(dim));
}

// ---- inputs ----
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

constexpr int kPatterns = 8;
// Term i of pattern p (float32 bits).
uint32_t term_bits(int p, std::mt19937& g) {
  const uint32_t r = g(), sign = r & 0x80000000u;
  switch (p) {
    case 0: return sign | ((g() % 255u) << 23) | (r & 0x7fffffu);       // any finite magnitude
    case 1: return sign | ((g() % 40u + 100u) << 23) | (r & 0x7fffffu);  // near 1, cancelling
    case 2: return sign | (r & 0x7fffffu);                              // subnormals and zeros
    case 3: return (r & 1u) ? 0x80000000u : (r & 2u ? 0x3f800000u : 0x80000000u);  // -0, 1
    case 4: return 0x80000000u;                                          // only -0
    case 5: {                                                            // +-max, +-inf, NaNs
      const uint32_t s[] = {0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00001u,
                            0xffa00000u, 0x3f800000u, 0x00000001u};
      return (r >> 8) % 16u < 1u ? s[r % 8u] : sign | ((g() % 255u) << 23) | (r & 0x7fffffu);
    }
    case 6: return r;                                                    // any bits
    default: return sign | ((g() % 24u + 127u) << 23);                   // powers of two
  }
}

// Pairs of opposite terms far apart in the tree, so that partial sums cancel exactly.
void add_cancellations(std::vector<float>& x, std::mt19937& g) {
  for (size_t i = 0; i + 1 < x.size(); i += 2) {
    const size_t j = g() % x.size();
    x[j] = -x[i];
  }
}

bool same(float a, float b) { return (a != a && b != b) || bits_of(a) == bits_of(b); }

int failures = 0;
void expect(bool ok, const char* what, int p, int64_t n, int lane, float got, float want) {
  if (ok) return;
  if (++failures <= 20)
    std::printf("FAIL %s pattern %d n %lld lane %d: %08x, want %08x\n", what, p,
                static_cast<long long>(n), lane, bits_of(got), bits_of(want));
}

float host_sum(const std::vector<float>& x) {
  std::vector<float> levels(tree_scratch(static_cast<int64_t>(x.size())));
  return tree_sum([&](int64_t i) { return x[i]; }, static_cast<int64_t>(x.size()), levels.data());
}

template <typename E, typename Product = ArithProduct<E>>
void check_chunk_dot(const char* name, std::mt19937& g, int64_t* checks) {
  using Bits = typename E::Bits;
  constexpr int V = ChunkShape<E>::kVec;
  const int max_dim = 2 * kChunk + 4 * V;
  Bits *dx, *dv;
  float *dcopy, *dtmpl;
  CHECK_CUDA(cudaMalloc(&dx, max_dim * sizeof(Bits)));
  CHECK_CUDA(cudaMalloc(&dv, max_dim * sizeof(Bits)));
  CHECK_CUDA(cudaMalloc(&dcopy, 3 * 32 * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dtmpl, 3 * 32 * sizeof(float)));
  using Raw = std::conditional_t<sizeof(Bits) == 4, uint32_t, uint16_t>;  // the stored bits
  std::vector<Raw> x(max_dim), v(max_dim);
  std::vector<float> copy(3 * 32), tmpl(3 * 32);
  for (int p = 0; p < kPatterns; ++p) {
    for (int dim = V; dim <= max_dim; dim += V) {
      for (int i = 0; i < dim; ++i) {
        const uint32_t a = term_bits(p, g), b = term_bits(p == 4 ? 7 : p, g);
        x[i] = static_cast<Raw>(sizeof(Raw) == 4 ? a : a >> 16);
        v[i] = static_cast<Raw>(sizeof(Raw) == 4 ? b : b >> 16);
        if (p == 1 && i % 2 == 1) {  // the negated product of an earlier pair: exact cancellation
          const int j = static_cast<int>(g() % i);
          x[i] = static_cast<Raw>(x[j] ^ (sizeof(Raw) == 4 ? 0x80000000u : 0x8000u));
          v[i] = v[j];
        }
      }
      CHECK_CUDA(cudaMemcpy(dx, x.data(), dim * sizeof(Bits), cudaMemcpyHostToDevice));
      CHECK_CUDA(cudaMemcpy(dv, v.data(), dim * sizeof(Bits), cudaMemcpyHostToDevice));
      const int chunks = (dim + kChunk - 1) / kChunk;
      chunk_dot_kernel<E><<<chunks, 32>>>(dx, dv, dim, dcopy, dtmpl, Product{});
      CHECK_CUDA(cudaGetLastError());
      CHECK_CUDA(cudaMemcpy(copy.data(), dcopy, chunks * 32 * sizeof(float), cudaMemcpyDeviceToHost));
      CHECK_CUDA(cudaMemcpy(tmpl.data(), dtmpl, chunks * 32 * sizeof(float), cudaMemcpyDeviceToHost));
      for (int i = 0; i < chunks * 32; ++i) {
        expect(bits_of(copy[i]) == bits_of(tmpl[i]), name, p, dim, i, copy[i], tmpl[i]);
        ++*checks;
      }
    }
  }
  cudaFree(dx);
  cudaFree(dv);
  cudaFree(dcopy);
  cudaFree(dtmpl);
}

int main() {
  if (no_gpu("tree_sum_gpu")) return kSkippedNoGpu;
  std::mt19937 g(20240607u);
  int64_t checks = 0;
  const int64_t lengths[] = {1,    2,    3,    31,   32,   33,   63,   64,    255,   256,
                             257,  511,  512,  513,  1000, 1023, 1024, 1025,  1500,  2047,
                             2048, 2049, 3072, 4095, 4097, 9000, 16384, 16385, 1 << 20,
                             (1 << 20) + 1, 1024 * 1025 + 7};
  const int64_t max_n = 1024 * 1025 + 7;
  float *dx, *dscratch, *dout;
  CHECK_CUDA(cudaMalloc(&dx, max_n * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dscratch, tree_scratch(max_n) * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&dout, 2048 * sizeof(float)));
  std::vector<float> out(2048);
  for (int p = 0; p < kPatterns; ++p) {
    for (int cancel = 0; cancel < 2; ++cancel) {
      for (const int64_t n : lengths) {
        std::vector<float> x(n);
        for (auto& e : x) e = from_bits(term_bits(p, g));
        if (cancel) add_cancellations(x, g);
        const float want = host_sum(x);
        CHECK_CUDA(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
        for (const int threads : {32, 256, 1024}) {
          block_tree_kernel<<<1, threads>>>(dx, n, dscratch, dout);
          CHECK_CUDA(cudaGetLastError());
          CHECK_CUDA(cudaMemcpy(out.data(), dout, threads * sizeof(float), cudaMemcpyDeviceToHost));
          for (int t = 0; t < threads; ++t) {
            expect(same(out[t], want), "block_tree_sum", p, n, t, out[t], want);
            ++checks;
          }
        }
        const int64_t chunks = (n + kChunk - 1) / kChunk;
        if (chunks <= 2048) {
          block_chunk_kernel<<<static_cast<unsigned>(chunks), kChunkThreads>>>(dx, n, dout);
          CHECK_CUDA(cudaGetLastError());
          CHECK_CUDA(cudaMemcpy(out.data(), dout, chunks * sizeof(float), cudaMemcpyDeviceToHost));
          for (int64_t c = 0; c < chunks; ++c) {
            float buf[kChunk] = {};
            for (int64_t i = c * kChunk; i < n && i < (c + 1) * kChunk; ++i) buf[i - c * kChunk] = x[i];
            const float chunk_want = chunk_tree_sum(buf);
            expect(same(out[c], chunk_want), "block_chunk_sum", p, n, static_cast<int>(c), out[c],
                   chunk_want);
            ++checks;
          }
        }
      }
      for (int n = 1; n <= 32; ++n) {
        std::vector<float> x(n);
        for (auto& e : x) e = from_bits(term_bits(p, g));
        if (cancel) add_cancellations(x, g);
        const float want = host_sum(x);
        CHECK_CUDA(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
        small_kernel<<<1, 32>>>(dx, n, dout);
        CHECK_CUDA(cudaGetLastError());
        CHECK_CUDA(cudaMemcpy(out.data(), dout, 64 * sizeof(float), cudaMemcpyDeviceToHost));
        for (int l = 0; l < 32; ++l) {
          expect(same(out[l], want), "warp_small_sum", p, n, l, out[l], want);
          expect(same(out[32 + l], want), "chunk_tree<1,1,kEveryLane>", p, n, l, out[32 + l], want);
          checks += 2;
        }
      }
    }
  }
  cudaFree(dx);
  cudaFree(dscratch);
  cudaFree(dout);
  check_chunk_dot<F32>("chunk_dot<F32>", g, &checks);
  check_chunk_dot<F16>("chunk_dot<F16>", g, &checks);
  check_chunk_dot<BF16>("chunk_dot<BF16>", g, &checks);
  check_chunk_dot<F32, ReflectProduct<F32, true>>("chunk_dot<F32> stepwise", g, &checks);
  check_chunk_dot<F16, ReflectProduct<F16, true>>("chunk_dot<F16> stepwise", g, &checks);
  check_chunk_dot<BF16, ReflectProduct<BF16, true>>("chunk_dot<BF16> stepwise", g, &checks);
  std::printf("%lld checks, %d failed\n", static_cast<long long>(checks), failures);
  return failures == 0 ? 0 : 1;
}
