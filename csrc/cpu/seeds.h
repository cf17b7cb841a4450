// seeds.h — batched seed derivation (SHA-256 of seed strings, SPEC.md 8 and 9.5) for the host
// ops that derive seeds themselves; the same functions back the derive_* torch ops. Every result
// is an int64 CPU tensor of u32 values (pinned when asked, for an asynchronous upload). Generic:
// the strings are families prefix + str(nonce) + suffix whose parts the caller gives; which
// strings a protocol uses is written in pocrand_ext/protocols/ and csrc/protocols/.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "../core/sha256.h"

namespace pocrand {

// The strings prefix + str(a) + middle [+ str(b)] with the prefix absorbed (core sha256.h), for
// kernels that derive their seeds where they use them. middle: at most SeedPattern::kMaxMiddle.
SeedPattern seed_pattern(c10::string_view prefix, c10::string_view middle, bool with_index);
// [len(nonces), columns]: column 0 first.seed(nonce), column c >= 1 rest.seed(nonce, c - 1)
// (a protocol's pair of seed families, such as PoC v2's pick and Haar: protocols/pocv2_seeds.h).
at::Tensor derive_seed_columns(const SeedPattern& first, const SeedPattern& rest,
                               at::IntArrayRef nonces, int64_t columns);
// [len(nonces)]: seed(prefix + str(nonce) + suffix).
at::Tensor derive_seeds(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                        bool pin_memory);
// [len(nonces), 8]: seed_words(prefix + str(nonce) + suffix).
at::Tensor derive_seed_words(c10::string_view prefix, at::IntArrayRef nonces,
                             c10::string_view suffix, bool pin_memory);
// [len(nonces), count]: seed(prefix + str(nonce) + infix + str(j)) for j < count.
at::Tensor derive_seed_grid(c10::string_view prefix, at::IntArrayRef nonces,
                            c10::string_view infix, int64_t count, bool pin_memory);
// [len(strings)]: seed(string).
at::Tensor derive_seeds_of_strings(const std::vector<c10::string_view>& strings, bool pin_memory);

}  // namespace pocrand
