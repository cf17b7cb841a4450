// sha256.h — SHA-256 (FIPS 180-4) for seed derivation: seed = the first 4 bytes of
// SHA-256(UTF-8 seed string), big-endian (SPEC.md section 8). Knows no protocol's strings.
//
// Integer operations only, so host and device agree trivially; used by the seed op so that a
// batch of seed strings is hashed in one C++ call instead of a Python loop. The streaming and
// padding code takes the block compression as a parameter: the portable one below by default,
// or a host-only hardware one (csrc/cpu/sha256_x86.h) that the CPU op picks at run time.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pocrand_core.h"  // POCRAND_HD

// The 64 round constants, as a list so that the portable and the x86 compression share one copy
// (a namespace-scope array would not be visible in device code).
#define POCRAND_SHA256_K                                                                        \
  0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,   \
      0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u,             \
      0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u,             \
      0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u,             \
      0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u,             \
      0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u,             \
      0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u,             \
      0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,             \
      0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu,             \
      0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau,             \
      0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u

namespace pocrand {
namespace sha256_detail {

POCRAND_HD uint32_t rotr(uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }

// One 64-byte block into the state h[8].
POCRAND_HD void compress(uint32_t h[8], const uint8_t block[64]) {
  constexpr uint32_t k[64] = {POCRAND_SHA256_K};
  uint32_t w[64];
  for (int i = 0; i < 16; ++i)
    w[i] = (uint32_t{block[4 * i]} << 24) | (uint32_t{block[4 * i + 1]} << 16) |
           (uint32_t{block[4 * i + 2]} << 8) | uint32_t{block[4 * i + 3]};
  for (int i = 16; i < 64; ++i) {
    const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; ++i) {
    const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
    const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

// compress() as a callable: the default compression of Sha256Stream.
struct PortableCompress {
  POCRAND_HD void operator()(uint32_t h[8], const uint8_t block[64]) const { compress(h, block); }
};

}  // namespace sha256_detail

// SHA-256 state after absorbing some bytes: lets many messages that share a prefix hash it once.
// `Compress` is any callable (uint32_t h[8], const uint8_t block[64]) computing what compress()
// computes, so the choice changes speed only.
struct Sha256Stream {
  uint32_t h[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
  uint8_t block[64];
  size_t fill = 0;     // bytes waiting in block (always < 64 between calls)
  uint64_t total = 0;  // bytes absorbed

  template <class Compress = sha256_detail::PortableCompress>
  POCRAND_HD void update(const uint8_t* p, size_t n, Compress compress = {}) {
    if (n == 0) return;  // p may be null then, which memcpy does not allow
    total += n;
    if (fill > 0) {  // top up the waiting block first
      const size_t take = n < 64 - fill ? n : 64 - fill;
      memcpy(block + fill, p, take);
      fill += take; p += take; n -= take;
      if (fill < 64) return;
      compress(h, block);
      fill = 0;
    }
    for (; n >= 64; p += 64, n -= 64) compress(h, p);  // whole blocks straight from the input
    memcpy(block, p, n);
    fill = n;
  }

  // The digest as 8 big-endian words (SPEC.md 9.5's seed_words; word 0 is the seed of section 8).
  // Pads a copy, so the stream can be reused: 0x80, zeros, then the bit length in the last 8
  // bytes, which takes a second block when fewer than 9 bytes are left in this one.
  template <class Compress = sha256_detail::PortableCompress>
  POCRAND_HD void digest_words(uint32_t out[8], Compress compress = {}) const {
    for (int i = 0; i < 8; ++i) out[i] = h[i];
    uint8_t last[64];
    memcpy(last, block, fill);
    last[fill] = 0x80;
    if (fill < 56) {
      memset(last + fill + 1, 0, 55 - fill);
    } else {
      memset(last + fill + 1, 0, 63 - fill);
      compress(out, last);
      memset(last, 0, 56);
    }
    const uint64_t bits = total * 8;
    for (int i = 0; i < 8; ++i) last[56 + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    compress(out, last);
  }

  // The first 32 bits (big-endian) of the digest: the seed of SPEC.md section 8.
  template <class Compress = sha256_detail::PortableCompress>
  POCRAND_HD uint32_t first_word(Compress compress = {}) const {
    uint32_t s[8];
    digest_words(s, compress);
    return s[0];
  }
};

// Python's str(int) of an int64 (SPEC.md 8: nonces are written with str): at most 20 characters
// ("-9223372036854775808"); returns how many were written.
POCRAND_HD int decimal_text(int64_t value, char out[20]) {
  uint64_t u = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  char reversed[20];
  int n = 0;
  do {
    reversed[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  int len = 0;
  if (value < 0) out[len++] = '-';
  while (n > 0) out[len++] = reversed[--n];
  return len;
}

// A family of seed strings that share a prefix, generic (a protocol names the parts: the PoC v2
// strings are built in pocrand_ext/protocols/):
//   prefix + str(a) + middle              (with_index false: one string per nonce a)
//   prefix + str(a) + middle + str(b)     (with_index true: string b of nonce a)
// The prefix is absorbed once (head); host and device finish the strings the same way, so the
// seeds can be derived where they are used.
struct SeedPattern {
  static constexpr int kMaxMiddle = 48;
  Sha256Stream head;
  char middle[kMaxMiddle];
  int middle_len = 0;
  bool with_index = false;

  template <class Compress = sha256_detail::PortableCompress>
  POCRAND_HD uint32_t seed(int64_t a, int64_t b, Compress compress = {}) const {
    Sha256Stream s = head;
    char digits[20];
    s.update(reinterpret_cast<const uint8_t*>(digits), decimal_text(a, digits), compress);
    s.update(reinterpret_cast<const uint8_t*>(middle), middle_len, compress);
    if (with_index) s.update(reinterpret_cast<const uint8_t*>(digits), decimal_text(b, digits), compress);
    return s.first_word(compress);
  }
};

}  // namespace pocrand
