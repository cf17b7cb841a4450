// seeds_cpu.cpp — seed derivation for a batch of nonces in one call (SPEC.md section 8):
// seed = first 4 bytes, big-endian, of SHA-256(prefix || str(nonce) || suffix).
//
// Python's hashlib costs about a microsecond per nonce once the interpreter loop is counted; a
// batch of 64 seed strings hashed here takes a few. The result is an int64 CPU tensor, optionally
// in pinned memory so that the copy to a GPU can be asynchronous.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <string>

#include "../core/sha256.h"

namespace pocrand {
namespace {

at::Tensor derive_seeds(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                        bool pin_memory) {
  auto out = at::empty({static_cast<int64_t>(nonces.size())},
                       at::TensorOptions().dtype(at::kLong).pinned_memory(pin_memory));
  int64_t* o = out.data_ptr<int64_t>();
  Sha256Stream head;  // the shared prefix, hashed once
  head.update(reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size());
  const std::string suffix_str(suffix);
  at::parallel_for(0, static_cast<int64_t>(nonces.size()), 256, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const std::string tail = std::to_string(nonces[b]) + suffix_str;  // str(int) for int64
      Sha256Stream s = head;
      s.update(reinterpret_cast<const uint8_t*>(tail.data()), tail.size());
      o[b] = s.first_word();
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CompositeExplicitAutograd, m) { m.impl("derive_seeds", &derive_seeds); }

}  // namespace pocrand
