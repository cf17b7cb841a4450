// seeds.h — batched seed derivation (SHA-256 of seed strings, SPEC.md 8 and 9.5) for the host
// ops that derive seeds themselves; the same functions back the derive_* torch ops. Every result
// is an int64 CPU tensor of u32 values (pinned when asked, for an asynchronous upload).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace pocrand {

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
