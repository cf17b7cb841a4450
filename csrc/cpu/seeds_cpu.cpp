// seeds_cpu.cpp — seed derivation for a batch of seed strings in one call (SPEC.md 8 and 9.5):
// seed = first 4 bytes, big-endian, of SHA-256(seed string); seed_words = all 8 such words.
//
// Python's hashlib costs about a microsecond per string once the interpreter loop is counted; here
// a shared prefix is hashed once, each nonce is formatted on the stack (no allocation), and the
// blocks are compressed with the x86 SHA extensions when the CPU has them (csrc/cpu/sha256_x86.h),
// else with the portable code of csrc/core/sha256.h; both give the same bits. Results are int64
// CPU tensors holding u32 values, optionally in pinned memory so that a copy to a GPU can be
// asynchronous.
#include "seeds.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <charconv>

#include "../core/sha256.h"
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

constexpr int64_t kSeedGrain = 64;  // strings per task

void absorb(Sha256Stream& s, c10::string_view text, const DispatchedCompress& compress) {
  s.update(reinterpret_cast<const uint8_t*>(text.data()), text.size(), compress);
}

// str(int) for int64: to_chars writes the same shortest decimal, '-' for negatives; 20
// characters at most ("-9223372036854775808").
void absorb(Sha256Stream& s, int64_t value, const DispatchedCompress& compress) {
  char digits[20];
  const char* end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  s.update(reinterpret_cast<const uint8_t*>(digits), end - digits, compress);
}

at::Tensor seed_tensor(at::IntArrayRef sizes, bool pin_memory) {
  return at::empty(sizes, at::TensorOptions().dtype(at::kLong).pinned_memory(pin_memory));
}

}  // namespace

at::Tensor derive_seeds(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                        bool pin_memory) {
  auto out = seed_tensor({static_cast<int64_t>(nonces.size())}, pin_memory);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  Sha256Stream head;  // the shared prefix, hashed once
  absorb(head, prefix, compress);
  at::parallel_for(0, static_cast<int64_t>(nonces.size()), kSeedGrain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      Sha256Stream s = head;
      absorb(s, nonces[b], compress);
      absorb(s, suffix, compress);
      o[b] = s.first_word(compress);
    }
  });
  return out;
}

at::Tensor derive_seed_words(c10::string_view prefix, at::IntArrayRef nonces,
                             c10::string_view suffix, bool pin_memory) {
  const auto B = static_cast<int64_t>(nonces.size());
  auto out = seed_tensor({B, 8}, pin_memory);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  Sha256Stream head;
  absorb(head, prefix, compress);
  at::parallel_for(0, B, kSeedGrain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      Sha256Stream s = head;
      absorb(s, nonces[b], compress);
      absorb(s, suffix, compress);
      uint32_t words[8];
      s.digest_words(words, compress);
      for (int j = 0; j < 8; ++j) o[b * 8 + j] = words[j];
    }
  });
  return out;
}

at::Tensor derive_seed_grid(c10::string_view prefix, at::IntArrayRef nonces,
                            c10::string_view infix, int64_t count, bool pin_memory) {
  TORCH_CHECK_VALUE(count >= 0, "count must be >= 0, got " + std::to_string(count));
  const auto B = static_cast<int64_t>(nonces.size());
  auto out = seed_tensor({B, count}, pin_memory);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  Sha256Stream head;
  absorb(head, prefix, compress);
  at::parallel_for(0, B * count, kSeedGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1;) {  // the string up to the infix is hashed once per nonce
      const int64_t b = t / count;
      Sha256Stream row = head;
      absorb(row, nonces[b], compress);
      absorb(row, infix, compress);
      for (; t < t1 && t / count == b; ++t) {
        Sha256Stream s = row;
        absorb(s, t % count, compress);
        o[t] = s.first_word(compress);
      }
    }
  });
  return out;
}

at::Tensor derive_seeds_of_strings(const std::vector<c10::string_view>& strings, bool pin_memory) {
  const auto n = static_cast<int64_t>(strings.size());
  auto out = seed_tensor({n}, pin_memory);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  at::parallel_for(0, n, kSeedGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      Sha256Stream s;
      absorb(s, strings[i], compress);
      o[i] = s.first_word(compress);
    }
  });
  return out;
}

namespace {
at::Tensor derive_seeds_of_strings_op(std::vector<std::string> strings, bool pin_memory) {
  return derive_seeds_of_strings(std::vector<c10::string_view>(strings.begin(), strings.end()),
                                 pin_memory);
}
}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CompositeExplicitAutograd, m) {
  m.impl("derive_seeds", &derive_seeds);
  m.impl("derive_seed_words", &derive_seed_words);
  m.impl("derive_seed_grid", &derive_seed_grid);
  m.impl("derive_seeds_of_strings", &derive_seeds_of_strings_op);
}

}  // namespace pocrand
