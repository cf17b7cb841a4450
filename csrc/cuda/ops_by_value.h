// ops_by_value.h — the CUDA halves of the host-seed ops (csrc/host_seed_ops.cpp):
// seeds given as host values go to the kernels inside their launch parameters.
#pragma once

#include <ATen/ATen.h>

#include <stdint.h>

namespace pocrand {

// seeds[0 .. rows) on the host -> dtype [rows, n] on `device`.
at::Tensor normal_by_value_cuda(const int64_t* seeds, int64_t rows, int64_t n,
                                at::ScalarType dtype, at::Device device);
// -> dtype [vocab_size] on `device`.
at::Tensor unit_normal_by_value_cuda(uint32_t seed, int64_t vocab_size, at::ScalarType dtype,
                                     at::Device device);

// seeds[0 .. rows) on the host -> dtype [rows, dim] on `device`: PoC v2's unit vectors.
at::Tensor unit_vectors_by_value_cuda(const int64_t* seeds, int64_t rows, int64_t dim,
                                      at::ScalarType dtype, at::Device device);
// words[0 .. rows * 8) on the host -> dtype [rows, n] on `device`: concat inputs.
at::Tensor concat_normal_by_value_cuda(const int64_t* words, int64_t rows, int64_t n,
                                       at::ScalarType dtype, at::Device device);

}  // namespace pocrand
