// ops.cpp — the one place where pocrand's torch ops are declared.
//
// Schemas only; the CPU implementations register in cpu/kernels_cpu.cpp and the CUDA ones in
// cuda/, per dispatch key. Importing the compiled pocrand_ext._C module runs these registrations.
// Seeds travel as int64 tensors holding u32 values (their low 32 bits are used), on the device the
// output should live on, so one launch serves a whole batch of nonces.
#include <Python.h>
#include <torch/library.h>

#include <string>

#ifndef POCRAND_CUDA_ARCHS
#define POCRAND_CUDA_ARCHS ""
#endif

extern "C" {
// An empty module: `import pocrand_ext._C` is only needed for its static registrations below.
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}

namespace pocrand {

// "cpu" or "cpu+cuda:<archs>", fixed at build time.
std::string build_info() {
#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
  return std::string("cpu+cuda:") + POCRAND_CUDA_ARCHS;
#else
  return "cpu";
#endif
}

TORCH_LIBRARY(pocrand, m) {
  m.def("build_info() -> str", &build_info);
  // int64 [len(nonces)] CPU tensor: seed_from_string(prefix + str(nonce) + suffix) per nonce.
  m.def("derive_seeds(str prefix, int[] nonces, str suffix, bool pin_memory) -> Tensor");
  // keys: int64, any shape -> int64 hash values in [0, 2^32), same shape.
  m.def("murmur3(Tensor keys, int seed) -> Tensor");
  // seeds: int64 [B] -> float32 [B, n]: u(i, seed_b).
  m.def("uniform(Tensor seeds, int n) -> Tensor");
  // seeds: int64 [B] -> dtype [B, n]: normal(seed_b, n), rounded to dtype.
  m.def("normal(Tensor seeds, int n, ScalarType dtype) -> Tensor");
  // seeds: int64 [B] -> dtype [B, end - start]: elements [start, end) of normal(seed_b, n), for
  // tensor-parallel shards (bit-identical to the same slice of the whole row).
  m.def("normal_range(Tensor seeds, int n, int start, int end, ScalarType dtype) -> Tensor");
  // The Python API's one-call forms of normal and unit_normal: the seeds are derived (or given)
  // on the host and reach the CUDA kernels inside the launch parameters, so a call is one op with
  // no host-to-device copy. Same bits as the seeds-tensor ops.
  // -> dtype [len(nonces), n] on device: normal(seed_from_string(prefix + str(nonce) + suffix), n).
  m.def("normal_nonces(str prefix, int[] nonces, str suffix, int n, ScalarType dtype, Device device) -> Tensor");
  // seed: a u32 -> dtype [vocab_size] on device: normal(seed, V) / norm.
  m.def("unit_normal_seed(int seed, int vocab_size, ScalarType dtype, Device device) -> Tensor");
  // seeds: int64 [B] -> int64 [B, vocab_size]: indices ordered by ascending hash(i, seed_b).
  m.def("permutations(Tensor seeds, int vocab_size) -> Tensor");
  // seeds: int64 [B] -> dtype [B, vocab_size]: normal(seed_b, V) / norm, rounded to dtype.
  m.def("unit_normal(Tensor seeds, int vocab_size, ScalarType dtype) -> Tensor");
  // logits [B, V] (f32/f16/bf16), permutations int64 [B, V], target [V] -> float32 [B].
  // check=true raises on a permutation entry outside [0, V) (on a GPU this synchronises);
  // check=false never synchronises and gives such a row the canonical NaN instead.
  m.def("distances(Tensor logits, Tensor permutations, Tensor target, bool check=True) -> Tensor");

  // The core's scalar stages, elementwise, for verification (accuracy and CPU == GPU checks over
  // whole domains). Not part of the PoC API.
  // permutations by the GPU bucket sort with its bucket count and shared-memory capacity forced
  // (bucket_bits in [0, 11], capacity in [0, 4096]), so tests reach every path. CUDA only.
  m.def("permutations_bucketed(Tensor seeds, int vocab_size, int bucket_bits, int capacity) -> Tensor");
  // hashes int64 (low 32 bits) -> float32 (u, r, cos(theta), sin(theta)), theta = 2pi*u.
  m.def("core_stages(Tensor hashes) -> (Tensor, Tensor, Tensor, Tensor)");
  // x float32 -> log(x); meaningful for positive normal x.
  m.def("core_log(Tensor x) -> Tensor");
  // theta float32 -> (sin, cos); meaningful for theta in [0, 8).
  m.def("core_sincos(Tensor theta) -> (Tensor, Tensor)");
  // x float32 -> x rounded to dtype (float16 / bfloat16) by core section 6.
  m.def("core_round(Tensor x, ScalarType dtype) -> Tensor");
}

}  // namespace pocrand
