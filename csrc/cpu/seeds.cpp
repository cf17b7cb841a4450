// seeds.cpp — seed derivation for a batch of seed strings in one call (seeds.h).
//
// Python's hashlib costs about a microsecond per string once the interpreter loop is counted; here
// a shared prefix is hashed once, each nonce is formatted on the stack (no allocation), and the
// blocks are compressed with the x86 SHA extensions when the CPU has them (sha256_x86.h), else
// with the portable code of csrc/core/sha256.h; both give the same bits.
#include "seeds.h"

#include <string.h>

#include "fp_env.h"
#include "parallel.h"
#include "sha256_x86.h"

namespace pocrand {
namespace cpu {
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
// the calling thread (waking the threads costs more than it saves).
constexpr int64_t kSeedGrain = 512;

void absorb(Sha256Stream& s, std::string_view text, const DispatchedCompress& compress) {
  s.update(reinterpret_cast<const uint8_t*>(text.data()), text.size(), compress);
}

void absorb(Sha256Stream& s, int64_t value, const DispatchedCompress& compress) {
  char digits[20];
  s.update(reinterpret_cast<const uint8_t*>(digits), decimal_text(value, digits), compress);
}

}  // namespace

SeedPattern seed_pattern(std::string_view prefix, std::string_view middle, bool with_index) {
  SeedPattern p;
  absorb(p.head, prefix, DispatchedCompress{best_compress()});  // the shared prefix, hashed once
  memcpy(p.middle, middle.data(), middle.size());
  p.middle_len = static_cast<int>(middle.size());
  p.with_index = with_index;
  return p;
}

void derive_seeds(std::string_view prefix, const int64_t* nonces, int64_t count,
                  std::string_view suffix, int64_t* out) {
  const IeeeFpMode ieee;  // integer work only, but every CPU kernel follows fp_env.h's rules
  const DispatchedCompress compress{best_compress()};
  if (suffix.size() <= SeedPattern::kMaxMiddle) {
    const SeedPattern pattern = seed_pattern(prefix, suffix, false);
    parallel_for(0, count, kSeedGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) out[b] = pattern.seed(nonces[b], 0, compress);
    });
    return;
  }
  Sha256Stream head;  // a long suffix: streamed after the nonce
  absorb(head, prefix, compress);
  parallel_for(0, count, kSeedGrain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      Sha256Stream s = head;
      absorb(s, nonces[b], compress);
      absorb(s, suffix, compress);
      out[b] = s.first_word(compress);
    }
  });
}

void derive_seed_words(std::string_view prefix, const int64_t* nonces, int64_t count,
                       std::string_view suffix, int64_t* out) {
  const IeeeFpMode ieee;
  const DispatchedCompress compress{best_compress()};
  Sha256Stream head;
  absorb(head, prefix, compress);
  parallel_for(0, count, kSeedGrain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      Sha256Stream s = head;
      absorb(s, nonces[b], compress);
      absorb(s, suffix, compress);
      uint32_t words[8];
      s.digest_words(words, compress);
      for (int j = 0; j < 8; ++j) out[b * 8 + j] = words[j];
    }
  });
}

void derive_seed_grid(std::string_view prefix, const int64_t* nonces, int64_t count,
                      std::string_view infix, int64_t columns, int64_t* out) {
  const IeeeFpMode ieee;
  const DispatchedCompress compress{best_compress()};
  const SeedPattern pattern = seed_pattern(prefix, infix, true);
  parallel_for(0, count * columns, kSeedGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) out[t] = pattern.seed(nonces[t / columns], t % columns, compress);
  });
}

void derive_seed_columns(std::string_view prefix, const int64_t* nonces, int64_t count,
                         std::string_view first, std::string_view rest, int64_t columns,
                         int64_t* out) {
  const IeeeFpMode ieee;
  const DispatchedCompress compress{best_compress()};
  const SeedPattern head = seed_pattern(prefix, first, false), tail = seed_pattern(prefix, rest, true);
  parallel_for(0, count * columns, kSeedGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / columns, c = t % columns;
      out[t] = c == 0 ? head.seed(nonces[b], 0, compress) : tail.seed(nonces[b], c - 1, compress);
    }
  });
}

void derive_seeds_of_strings(const std::string_view* strings, int64_t count, int64_t* out) {
  const IeeeFpMode ieee;
  const DispatchedCompress compress{best_compress()};
  parallel_for(0, count, kSeedGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      Sha256Stream s;
      absorb(s, strings[i], compress);
      out[i] = s.first_word(compress);
    }
  });
}

}  // namespace cpu
}  // namespace pocrand
