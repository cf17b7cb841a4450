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

#include <string.h>

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

// Strings per task: a seed costs about 0.1 us with SHA-NI, so batches below this are hashed on
// the calling thread (waking the thread pool costs more than it saves).
constexpr int64_t kSeedGrain = 512;

void absorb(Sha256Stream& s, c10::string_view text, const DispatchedCompress& compress) {
  s.update(reinterpret_cast<const uint8_t*>(text.data()), text.size(), compress);
}

void absorb(Sha256Stream& s, int64_t value, const DispatchedCompress& compress) {
  char digits[20];
  s.update(reinterpret_cast<const uint8_t*>(digits), decimal_text(value, digits), compress);
}

at::Tensor seed_tensor(at::IntArrayRef sizes, bool pin_memory) {
  return at::empty(sizes, at::TensorOptions().dtype(at::kLong).pinned_memory(pin_memory));
}

}  // namespace

SeedPattern seed_pattern(c10::string_view prefix, c10::string_view middle, bool with_index) {
  TORCH_CHECK_VALUE(middle.size() <= SeedPattern::kMaxMiddle, "a seed string's text after the "
                    "nonce must be at most " + std::to_string(SeedPattern::kMaxMiddle) + " bytes");
  SeedPattern p;
  absorb(p.head, prefix, DispatchedCompress{best_compress()});  // the shared prefix, hashed once
  memcpy(p.middle, middle.data(), middle.size());
  p.middle_len = static_cast<int>(middle.size());
  p.with_index = with_index;
  return p;
}

at::Tensor derive_seeds(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                        bool pin_memory) {
  const IeeeFpMode ieee;  // integer work only, but every CPU op follows fp_mode.h's rules
  auto out = seed_tensor({static_cast<int64_t>(nonces.size())}, pin_memory);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  if (suffix.size() <= SeedPattern::kMaxMiddle) {
    const SeedPattern pattern = seed_pattern(prefix, suffix, false);
    ieee_parallel_for(0, static_cast<int64_t>(nonces.size()), kSeedGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) o[b] = pattern.seed(nonces[b], 0, compress);
    });
    return out;
  }
  Sha256Stream head;  // a long suffix: streamed after the nonce
  absorb(head, prefix, compress);
  ieee_parallel_for(0, static_cast<int64_t>(nonces.size()), kSeedGrain, [&](int64_t b0, int64_t b1) {
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
  const IeeeFpMode ieee;  // integer work only, but every CPU op follows fp_mode.h's rules
  const auto B = static_cast<int64_t>(nonces.size());
  auto out = seed_tensor({B, 8}, pin_memory);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  Sha256Stream head;
  absorb(head, prefix, compress);
  ieee_parallel_for(0, B, kSeedGrain, [&](int64_t b0, int64_t b1) {
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
  const IeeeFpMode ieee;  // integer work only, but every CPU op follows fp_mode.h's rules
  TORCH_CHECK_VALUE(count >= 0, "count must be >= 0, got " + std::to_string(count));
  const auto B = static_cast<int64_t>(nonces.size());
  auto out = seed_tensor({B, count}, pin_memory);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  const SeedPattern pattern = seed_pattern(prefix, infix, true);
  ieee_parallel_for(0, B * count, kSeedGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) o[t] = pattern.seed(nonces[t / count], t % count, compress);
  });
  return out;
}

at::Tensor derive_seed_columns(const SeedPattern& first, const SeedPattern& rest,
                               at::IntArrayRef nonces, int64_t columns) {
  const auto B = static_cast<int64_t>(nonces.size());
  auto out = seed_tensor({B, columns}, false);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  ieee_parallel_for(0, B * columns, kSeedGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / columns, c = t % columns;
      o[t] = c == 0 ? first.seed(nonces[b], 0, compress) : rest.seed(nonces[b], c - 1, compress);
    }
  });
  return out;
}

at::Tensor derive_seeds_of_strings(const std::vector<c10::string_view>& strings, bool pin_memory) {
  const auto n = static_cast<int64_t>(strings.size());
  auto out = seed_tensor({n}, pin_memory);
  int64_t* o = out.data_ptr<int64_t>();
  const DispatchedCompress compress{best_compress()};
  ieee_parallel_for(0, n, kSeedGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      Sha256Stream s;
      absorb(s, strings[i], compress);
      o[i] = s.first_word(compress);
    }
  });
  return out;
}

namespace {
// The op: one family of strings prefix + str(nonce) + suffix, as seeds [B], all eight words
// [B, 8] (words) or a grid [B, count] of prefix + str(nonce) + suffix + str(j) (count >= 0;
// -1, the default, for no grid).
at::Tensor derive_seeds_op(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                           bool pin_memory, int64_t count, bool words) {
  const IeeeFpMode ieee;  // integer work only, but every CPU op follows fp_mode.h's rules
  TORCH_CHECK_VALUE(count >= -1, "count must be >= 0 (or -1: no grid), got " + std::to_string(count));
  TORCH_CHECK_VALUE(!(words && count >= 0), "words and count: give one of them, not both");
  if (words) return derive_seed_words(prefix, nonces, suffix, pin_memory);
  if (count >= 0) return derive_seed_grid(prefix, nonces, suffix, count, pin_memory);
  return derive_seeds(prefix, nonces, suffix, pin_memory);
}

at::Tensor derive_seeds_of_strings_op(std::vector<std::string> strings, bool pin_memory) {
  const IeeeFpMode ieee;  // integer work only, but every CPU op follows fp_mode.h's rules
  return derive_seeds_of_strings(std::vector<c10::string_view>(strings.begin(), strings.end()),
                                 pin_memory);
}
}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CompositeExplicitAutograd, m) {
  m.impl("derive_seeds", &derive_seeds_op);
  m.impl("derive_seeds_of_strings", &derive_seeds_of_strings_op);
}

}  // namespace pocrand
