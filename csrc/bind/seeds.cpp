// bind/seeds.cpp — seed derivation (SPEC.md 8, 9.1, 9.5): the ops' schemas, their argument checks
// and their implementation (cpu/seeds.cpp). The seeds are always derived on the host, into int64
// CPU tensors of u32 values (pinned when asked, so that an upload can be asynchronous); no tensor
// argument, so one CompositeExplicitAutograd kernel serves every device.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <string>
#include <string_view>
#include <vector>

#include "../cpu/fp_env.h"
#include "../cpu/seeds.h"
#include "bind_common.h"

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // int64 CPU tensors of u32 values (pinned when asked), for the strings prefix + str(nonce) +
  // suffix: [len(nonces)] seed_from_string per nonce; with words, [len(nonces), 8] seed_words
  // (9.1); with count >= 0, [len(nonces), count] seed(prefix + str(nonce) + suffix + str(j)),
  // j < count (the Haar seeds).
  m.def("derive_seeds(str prefix, int[] nonces, str suffix, bool pin_memory=False, int count=-1, "
        "bool words=False) -> Tensor");
  // [len(strings)] seed(string), for many unrelated strings in one call.
  m.def("derive_seeds_of_strings(str[] strings, bool pin_memory) -> Tensor");
}

namespace {

at::Tensor seed_tensor(at::IntArrayRef sizes, bool pin_memory) {
  return at::empty(sizes, at::TensorOptions().dtype(at::kLong).pinned_memory(pin_memory));
}

// The op: one family of strings prefix + str(nonce) + suffix, as seeds [B], all eight words
// [B, 8] (words) or a grid [B, count] of prefix + str(nonce) + suffix + str(j) (count >= 0;
// -1, the default, for no grid).
at::Tensor derive_seeds(c10::string_view prefix, at::IntArrayRef nonces, c10::string_view suffix,
                        bool pin_memory, int64_t count, bool words) {
  const IeeeFpMode ieee;  // fp_env.h
  TORCH_CHECK_VALUE(count >= -1, "count must be >= 0 (or -1: no grid), got " + num(count));
  TORCH_CHECK_VALUE(!(words && count >= 0), "words and count: give one of them, not both");
  const auto B = static_cast<int64_t>(nonces.size());
  if (count >= 0) {
    TORCH_CHECK_VALUE(suffix.size() <= SeedPattern::kMaxMiddle, "suffix of a seed grid must be at "
                      "most " + num(SeedPattern::kMaxMiddle) + " bytes, got " + num(suffix.size()));
    TORCH_CHECK_VALUE(count == 0 || B <= kMaxCount / count, "a seed grid of len(nonces) * count = " +
                      num(B) + " * " + num(count) + " seeds is more than 2^31 - 1");
  }
  if (words) {
    auto out = seed_tensor({B, 8}, pin_memory);
    cpu::derive_seed_words(prefix, nonces.data(), B, suffix, out.data_ptr<int64_t>());
    return out;
  }
  if (count >= 0) {
    auto out = seed_tensor({B, count}, pin_memory);
    cpu::derive_seed_grid(prefix, nonces.data(), B, suffix, count, out.data_ptr<int64_t>());
    return out;
  }
  auto out = seed_tensor({B}, pin_memory);
  cpu::derive_seeds(prefix, nonces.data(), B, suffix, out.data_ptr<int64_t>());
  return out;
}

at::Tensor derive_seeds_of_strings(std::vector<std::string> strings, bool pin_memory) {
  const IeeeFpMode ieee;
  const std::vector<std::string_view> views(strings.begin(), strings.end());
  auto out = seed_tensor({static_cast<int64_t>(views.size())}, pin_memory);
  cpu::derive_seeds_of_strings(views.data(), static_cast<int64_t>(views.size()),
                               out.data_ptr<int64_t>());
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CompositeExplicitAutograd, m) {
  m.impl("derive_seeds", &derive_seeds);
  m.impl("derive_seeds_of_strings", &derive_seeds_of_strings);
}

}  // namespace pocrand
