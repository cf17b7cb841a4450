// ops.cpp — the pocrand library (TORCH_LIBRARY) and the schemas of the topics not yet moved to a
// binding file of their own (csrc/bind/<topic>.cpp declares, checks and registers its topic's ops
// with TORCH_LIBRARY_FRAGMENT; docs/architecture.md lists the topics).
//
// The schemas here have their CPU implementations in cpu/*_cpu.cpp and host_seed_ops.cpp and the
// CUDA ones in cuda/ops_cuda.cpp, per dispatch key. Importing the compiled pocrand_ext._C module
// runs every registration.
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
  // int64 CPU tensors of u32 values (pinned when asked), for the strings prefix + str(nonce) +
  // suffix: [len(nonces)] seed_from_string per nonce; with words, [len(nonces), 8] seed_words
  // (9.1); with count >= 0, [len(nonces), count] seed(prefix + str(nonce) + suffix + str(j)),
  // j < count (the Haar seeds).
  m.def("derive_seeds(str prefix, int[] nonces, str suffix, bool pin_memory=False, int count=-1, "
        "bool words=False) -> Tensor");
  // keys: int64, any shape -> int64 hash values in [0, 2^32), same shape, by `seed`; or, given
  // seeds int64 [B] (u32 values), keys [B, n] with row b hashed by seeds[b] (the deployed
  // module's _batched_murmur3_32, in one launch).
  m.def("murmur3(Tensor keys, int seed=0, Tensor? seeds=None) -> Tensor");
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
  // -> dtype [len(nonces), n] on device: normal(seed_from_string(prefix + str(nonce) + suffix), n),
  // or with concat, concat_normal(seed_words(prefix + str(nonce) + suffix), n) (9.1).
  m.def("normal_nonces(str prefix, int[] nonces, str suffix, int n, ScalarType dtype, Device device, "
        "bool concat=False) -> Tensor");
  // seed: a u32 -> dtype [vocab_size] on device: normal(seed, V) / norm.
  m.def("unit_normal_seed(int seed, int vocab_size, ScalarType dtype, Device device) -> Tensor");
  // seeds: int64 [B] -> dtype [B, vocab_size]: normal(seed_b, V) / norm, rounded to dtype.
  m.def("unit_normal(Tensor seeds, int vocab_size, ScalarType dtype) -> Tensor");
  // logits [B, V] (f32/f16/bf16), permutations int64 [B, V], target [V] -> float32 [B].
  // check=true raises on a permutation entry outside [0, V) (on a GPU this synchronises);
  // check=false never synchronises and gives such a row the canonical NaN instead.
  m.def("distances(Tensor logits, Tensor permutations, Tensor target, bool check=True) -> Tensor");

  // ---- PoC v2 (SPEC.md section 9) ----
  // Seeds of many strings in one call: [len(strings)] seed(string).
  m.def("derive_seeds_of_strings(str[] strings, bool pin_memory) -> Tensor");
  // words: int64 [B, 8] -> dtype [B, end - start]: elements [start, end) of concat_normal(words_b, n).
  m.def("concat_normal(Tensor words, int n, int start, int end, ScalarType dtype) -> Tensor");
  // normal_nonces written into `out` (any shape whose rows hold out.numel() / len(nonces)
  // elements; its dtype and device decide the output's).
  m.def("normal_nonces_into(str prefix, int[] nonces, str suffix, Tensor(a!) out, bool concat=False) -> ()");
  // seeds: int64 [B] -> dtype [B, dim]: unit_vector(seed_b, dim) (9.2), rounded to dtype.
  m.def("unit_vectors(Tensor seeds, int dim, ScalarType dtype) -> Tensor");
  // The same for seeds given as values (no upload; the layer vectors and PoC v2's target).
  m.def("unit_vectors_by_value(int[] seeds, int dim, ScalarType dtype, Device device) -> Tensor");
  // x [B, k] (f32/f16/bf16), seeds int64 [B, k - 1] -> [B, k] in x's dtype (9.10).
  m.def("haar_rotate(Tensor x, Tensor seeds) -> Tensor");
  // hidden [B, H] (f32/f16/bf16), seeds int64 [B, k] (column 0 the pick seed, columns 1 .. k - 1
  // the Haar seeds j = 0 .. k - 2) -> (fp16 [B, k] artifacts, bool [B] non-finite-row flags) (9.11).
  m.def("artifacts(Tensor hidden, Tensor seeds, int k) -> (Tensor, Tensor)");
  // The same with the pick and Haar seeds of each nonce derived by the op itself from `prefix`
  // (the PoC v2 patterns of csrc/protocols/pocv2_seeds.h; on a GPU inside the launch: no upload).
  m.def("artifacts_nonces(Tensor hidden, str prefix, int[] nonces, int k) -> (Tensor, Tensor)");

  // ---- gonka-poc decode ops (SPEC.md 10.1-10.4): csrc/bind/decode.cpp ----

  // the core's scalar stages (core_stage, verification only): csrc/bind/stages.cpp
  // ---- orders by hash (permutations, pick): csrc/bind/sort.cpp ----

  // ---- the decode scheme's snap (SPEC.md 10.6, 10.7): csrc/bind/snap.cpp ----
  // ---- the reflection (SPEC.md 9.3, 10.10): csrc/bind/reflect.cpp ----

  // ---- the masked forward-pass overrides (SPEC.md 10.11, 10.12): csrc/bind/overrides.cpp ----
}

}  // namespace pocrand
