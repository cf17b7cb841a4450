// bind/sort.cpp — orders by hash (SPEC.md section 8 permutations, 9.4 pick): the ops' schemas,
// their argument checks, and their CPU (cpu/sort.cpp) and CUDA (cuda/permutations.cu, pick.cu)
// implementations.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../cpu/fp_env.h"
#include "../cpu/host_order.h"
#include "../cpu/sort.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // seeds int64 [B] -> int64 [B, vocab_size]: indices ordered by ascending hash(i, seed_b).
  // bucket_bits and capacity force the GPU bucket sort's bucket count (in [0, 11]) and
  // shared-memory capacity (in [0, 4096]), for verification: every path gives the same result.
  // Both default (-1) to the sort's own choice; forcing them is CUDA only.
  m.def("permutations(Tensor seeds, int vocab_size, int bucket_bits=-1, int capacity=-1) -> Tensor");
  // seeds int64 [B] -> int64 [B, k]: pick(seed_b, dim, k) (9.4). host_order: the same indices in
  // 9.4's host order (torch's CPU topk order, which the vector channel's host-side pick uses,
  // 10.13); CPU only.
  m.def("pick(Tensor seeds, int dim, int k, bool host_order=False) -> Tensor");
}

namespace {

// Whether the bucket sort's parameters are forced (both given) or left to it (both -1).
bool forced_buckets(int64_t bucket_bits, int64_t capacity) {
  TORCH_CHECK_VALUE((bucket_bits == -1) == (capacity == -1),
                    "bucket_bits and capacity go together: give both or neither");
  return bucket_bits != -1;
}

at::Tensor permutations_cpu(const at::Tensor& seeds, int64_t vocab_size, int64_t bucket_bits,
                            int64_t capacity) {
  const IeeeFpMode ieee;  // fp_env.h
  check_seeds(seeds);
  check_count(vocab_size, "vocab_size");
  TORCH_CHECK_VALUE(!forced_buckets(bucket_bits, capacity),
                    "bucket_bits and capacity force the GPU bucket sort; the CPU has none");
  auto out = at::empty({seeds.numel(), vocab_size}, seeds.options().dtype(at::kLong));
  cpu::permutations(seeds.data_ptr<int64_t>(), seeds.numel(), vocab_size, out.data_ptr<int64_t>());
  return out;
}

at::Tensor pick_cpu(const at::Tensor& seeds, int64_t dim, int64_t k, bool host_order) {
  const IeeeFpMode ieee;  // fp_env.h
  check_seeds(seeds);
  check_count(dim, "dim");
  check_between(k, 1, dim, "k");
  if (host_order) check_between(dim, 1, cpu::kHostOrderMaxDim, "dim");
  auto out = at::empty({seeds.numel(), k}, seeds.options().dtype(at::kLong));
  cpu::pick(seeds.data_ptr<int64_t>(), seeds.numel(), dim, k, host_order, out.data_ptr<int64_t>());
  return out;
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
at::Tensor permutations_cuda(const at::Tensor& seeds, int64_t vocab_size, int64_t bucket_bits,
                             int64_t capacity) {
  check_seeds(seeds);
  check_count(vocab_size, "vocab_size");
  const bool forced = forced_buckets(bucket_bits, capacity);
  if (forced) {
    check_between(bucket_bits, 0, cuda::kMaxPermutationBucketBits, "bucket_bits");
    check_between(capacity, 0, cuda::kMaxPermutationBucketCapacity, "capacity");
  }
  const c10::cuda::CUDAGuard guard(seeds.device());
  const int64_t rows = seeds.numel();
  auto out = at::empty({rows, vocab_size}, seeds.options().dtype(at::kLong));
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  if (forced) {
    const size_t bytes = cuda::bucket_sort_scratch_bytes(rows, vocab_size, static_cast<int>(bucket_bits));
    auto scratch = at::empty({static_cast<int64_t>(bytes)}, seeds.options().dtype(at::kByte));
    C10_CUDA_CHECK(cuda::launch_bucket_sort(seeds.data_ptr<int64_t>(), rows, vocab_size,
                                            static_cast<int>(bucket_bits), static_cast<int>(capacity),
                                            out.data_ptr<int64_t>(), scratch.data_ptr(), stream));
    return out;
  }
  const size_t bytes =
      cuda::permutation_scratch_bytes(cuda::permutation_batch_rows(rows, vocab_size), vocab_size);
  auto scratch = at::empty({static_cast<int64_t>(bytes)}, seeds.options().dtype(at::kByte));
  C10_CUDA_CHECK(cuda::launch_permutations(seeds.data_ptr<int64_t>(), rows, vocab_size,
                                           out.data_ptr<int64_t>(), scratch.data_ptr(), bytes, stream));
  return out;
}

at::Tensor pick_cuda(const at::Tensor& seeds, int64_t dim, int64_t k, bool host_order) {
  check_seeds(seeds);
  check_count(dim, "dim");
  check_between(k, 1, dim, "k");
  TORCH_CHECK_VALUE(!host_order, "host_order is the order of a pick made on the host: pass seeds "
                    "on the CPU");
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = at::empty({seeds.numel(), k}, seeds.options().dtype(at::kLong));
  C10_CUDA_CHECK(cuda::launch_pick(seeds.data_ptr<int64_t>(), seeds.numel(), dim, k,
                                   out.data_ptr<int64_t>(), at::cuda::getCurrentCUDAStream()));
  return out;
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "permutations", permutations_cpu);
  POCRAND_TENSOR_GUARD(m, "pick", pick_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("permutations", &permutations_cpu);
  m.impl("pick", &pick_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("permutations", &permutations_cuda);
  m.impl("pick", &pick_cuda);
}
#endif

}  // namespace pocrand
