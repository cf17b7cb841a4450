// seeds_cpu.cpp — seed derivation for a batch of nonces in one call (SPEC.md section 8):
// seed = first 4 bytes, big-endian, of SHA-256(prefix || str(nonce) || suffix).
//
// Python's hashlib costs about a microsecond per nonce once the interpreter loop is counted; here
// the prefix is hashed once, each nonce is formatted on the stack (no allocation), and the blocks
// are compressed with the x86 SHA extensions when the CPU has them (csrc/cpu/sha256_x86.h), else
// with the portable code of csrc/core/sha256.h; both give the same bits. The result is an int64
// CPU tensor, optionally in pinned memory so that the copy to a GPU can be asynchronous.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <charconv>

#include "../core/sha256.h"
#include "fp_mode.h"
#include "sha256_x86.h"

namespace pocrand {
namespace {

using CompressFn = void (*)(uint32_t h[8], const uint8_t block[64]);

// The fastest compression this CPU runs, decided once per process.
CompressFn best_compress() {
  static const CompressFn fn = [] {
#if POCRAND_HAVE_SHA_NI
    if (sha256_x86::sha_ni_supported()) return &sha256_x86::compress_sha_ni;
#endif
    return &sha256_detail::compress;
  }();
  return fn;
}

struct DispatchedCompress {
  CompressFn fn;
  void operator()(uint32_t h[8], const uint8_t block[64]) const { fn(h, block); }
};

at::Tensor derive_seeds(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                        bool pin_memory) {
  const IeeeFpMode ieee;  // integer work only, but every CPU op follows fp_mode.h's rules
  auto out = at::empty({static_cast<int64_t>(nonces.size())},
                       at::TensorOptions().dtype(at::kLong).pinned_memory(pin_memory));
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  Sha256Stream head;  // the shared prefix, hashed once
  head.update(reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size(), compress);
  const auto* sfx = reinterpret_cast<const uint8_t*>(suffix.data());
  ieee_parallel_for(0, static_cast<int64_t>(nonces.size()), 256, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      // str(int) for int64: to_chars writes the same shortest decimal, '-' for negatives; 20
      // characters at most ("-9223372036854775808").
      char digits[20];
      const char* end = std::to_chars(digits, digits + sizeof digits, nonces[b]).ptr;
      Sha256Stream s = head;
      s.update(reinterpret_cast<const uint8_t*>(digits), end - digits, compress);
      s.update(sfx, suffix.size(), compress);
      o[b] = s.first_word(compress);
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CompositeExplicitAutograd, m) { m.impl("derive_seeds", &derive_seeds); }

}  // namespace pocrand
