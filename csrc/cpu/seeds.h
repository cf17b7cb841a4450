// seeds.h — seed derivation on the CPU, torch-free (SPEC.md 8 and 9.5): seed(s) = the first 4
// bytes, big-endian, of SHA-256(s); seed_words(s) = all 8 such words. Generic: the strings are
// families prefix + str(nonce) + suffix [+ str(j)] whose parts the caller gives; which strings a
// protocol uses is written in pocrand_ext/protocols/ alone. Results are int64 holding u32 values.
// Arguments are checked by the caller (csrc/bind/seeds.cpp).
#pragma once

#include <stdint.h>

#include <string_view>

#include "../core/sha256.h"

namespace pocrand {
namespace cpu {

// The strings prefix + str(a) + middle [+ str(b)] with the prefix absorbed once (core sha256.h),
// for kernels that derive their seeds where they use them. middle: at most SeedPattern::kMaxMiddle
// bytes (checked by the caller).
SeedPattern seed_pattern(std::string_view prefix, std::string_view middle, bool with_index);

// out[b] = seed(prefix + str(nonces[b]) + suffix), b < count.
void derive_seeds(std::string_view prefix, const int64_t* nonces, int64_t count,
                  std::string_view suffix, int64_t* out);
// out[b * 8 + j] = seed_words(prefix + str(nonces[b]) + suffix)[j].
void derive_seed_words(std::string_view prefix, const int64_t* nonces, int64_t count,
                       std::string_view suffix, int64_t* out);
// out[b * columns + c] = seed(prefix + str(nonces[b]) + infix + str(c)); infix at most
// SeedPattern::kMaxMiddle bytes.
void derive_seed_grid(std::string_view prefix, const int64_t* nonces, int64_t count,
                      std::string_view infix, int64_t columns, int64_t* out);
// out[b * columns + c]: column 0 seed(prefix + str(nonce) + first), column c >= 1
// seed(prefix + str(nonce) + rest + str(c - 1)) (a protocol's pair of seed families, such as PoC
// v2's pick and Haar seeds); first and rest at most SeedPattern::kMaxMiddle bytes.
void derive_seed_columns(std::string_view prefix, const int64_t* nonces, int64_t count,
                         std::string_view first, std::string_view rest, int64_t columns,
                         int64_t* out);
// out[i] = seed(strings[i]).
void derive_seeds_of_strings(const std::string_view* strings, int64_t count, int64_t* out);

}  // namespace cpu
}  // namespace pocrand
