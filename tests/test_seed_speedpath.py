"""The seed op's fast path (csrc/cpu/seeds.cpp) is bit-identical to hashlib.

derive_seeds compresses with the x86 SHA extensions when the CPU has them and with the portable
code of csrc/core/sha256.h otherwise; the op tests below check whichever path this machine
dispatches to. test_both_compressions_match_hashlib compiles csrc/core/sha256.h and
csrc/cpu/sha256_x86.h into a small torch-free program, so that both paths are checked on any x86
machine with SHA-NI (and the portable one everywhere a C++ compiler is found).
"""
from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import pocrand_ext  # noqa: F401  (registers torch.ops.pocrand)

ROOT = Path(__file__).resolve().parent.parent
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# str(nonce) of every length from 1 to 20 bytes, and the values next to each digit boundary.
NONCES = sorted({0, 1, -1, INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1}
                | {s * v for k in range(1, 19) for v in (10**k - 1, 10**k) for s in (1, -1)})


def seed(message: bytes) -> int:
    return int.from_bytes(hashlib.sha256(message).digest()[:4], "big")


def derive(prefix: str, nonces: list[int], suffix: str) -> list[int]:
    return torch.ops.pocrand.derive_seeds(prefix, nonces, suffix, False).tolist()


def text_of_bytes(n: int, style: int) -> str:
    """A string whose UTF-8 encoding is exactly n bytes: ASCII, or mostly 2-, 3- and 4-byte
    characters topped up with ASCII."""
    wide = ["", "é", "€", "𝄞"][style % 4]
    s = wide * (n // max(len(wide.encode()), 1)) if wide else ""
    s += "a" * (n - len(s.encode()))
    assert len(s.encode()) == n
    return s


def test_every_message_length_matches_hashlib():
    lengths = set()
    for p in range(201):
        for style in range(4):
            prefix = text_of_bytes(p, style)
            for suffix in ["", "_permutations", text_of_bytes(61, style + 1)]:
                want = []
                for n in NONCES:
                    message = f"{prefix}{n}{suffix}".encode()
                    lengths.add(len(message))
                    want.append(seed(message))
                assert derive(prefix, NONCES, suffix) == want, (p, style, suffix)
    # str(nonce) is never empty, so a message through the op has at least one byte.
    assert set(range(1, 201)) <= lengths


def test_random_unicode_matches_hashlib():
    rng = random.Random(20240611)

    def text():
        # Code points from every UTF-8 width; surrogates cannot be encoded, so skip them.
        top = rng.choice([0x7F, 0x7FF, 0xFFFF, 0x10FFFF])
        chars = (rng.randint(1, top) for _ in range(rng.randint(0, 120)))
        return "".join(chr(c) for c in chars if not 0xD800 <= c <= 0xDFFF)

    for _ in range(300):
        prefix, suffix = text(), text()
        nonces = [rng.randint(INT64_MIN, INT64_MAX) for _ in range(rng.randint(1, 20))]
        want = [seed(f"{prefix}{n}{suffix}".encode()) for n in nonces]
        assert derive(prefix, nonces, suffix) == want


def test_large_batch_across_threads():
    """More nonces than one parallel_for grain (256), so several threads hash at once."""
    nonces = list(range(-3000, 3000))
    prefix = "0" * 64 + "_bench_public_key_nonce"
    assert derive(prefix, nonces, "") == [seed(f"{prefix}{n}".encode()) for n in nonces]


def test_result_type_and_range():
    out = torch.ops.pocrand.derive_seeds("x", NONCES, "", False)
    assert out.dtype == torch.int64 and out.shape == (len(NONCES),)
    assert int(out.min()) >= 0 and int(out.max()) < 2**32


def test_empty_nonce_list():
    out = torch.ops.pocrand.derive_seeds("x", [], "", False)
    assert out.dtype == torch.int64 and out.shape == (0,)


# A torch-free program over the two headers: for each message (one hex line on stdin) it prints
# the first word by the portable compression and by SHA-NI ("-" where the CPU or build has none),
# after checking that feeding the stream in two pieces at every split point gives the same word.
# It first checks the SHA-NI compression against the portable one on random states and blocks,
# all eight state words.
PROGRAM = r"""
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>
#include "core/sha256.h"
#include "cpu/sha256_x86.h"
using namespace pocrand;

template <class C> uint32_t word(const std::vector<uint8_t>& m, C c) {
  Sha256Stream s;
  s.update(m.data(), m.size(), c);
  const uint32_t w = s.first_word(c);
  for (size_t cut = 0; cut <= m.size(); ++cut) {
    Sha256Stream t;
    t.update(m.data(), cut, c);
    t.update(m.data() + cut, m.size() - cut, c);
    if (t.first_word(c) != w) { std::printf("split mismatch\n"); std::exit(1); }
  }
  return w;
}

int main() {
  bool sha_ni = false;
#if POCRAND_HAVE_SHA_NI
  sha_ni = sha256_x86::sha_ni_supported();
  auto ni = [](uint32_t h[8], const uint8_t b[64]) { sha256_x86::compress_sha_ni(h, b); };
  uint64_t x = 88172645463325252ull;
  for (int i = 0; sha_ni && i < 10000; ++i) {
    uint32_t h1[8], h2[8];
    uint8_t b[64];
    for (auto& v : h1) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; v = uint32_t(x); }
    for (auto& v : b) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; v = uint8_t(x); }
    std::memcpy(h2, h1, sizeof h1);
    sha256_detail::compress(h1, b);
    ni(h2, b);
    if (std::memcmp(h1, h2, sizeof h1)) { std::printf("state mismatch\n"); return 1; }
  }
#endif
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<uint8_t> m;
    for (size_t i = 0; i + 1 < line.size(); i += 2)
      m.push_back(uint8_t(std::stoi(line.substr(i, 2), nullptr, 16)));
    std::printf("%08x ", word(m, sha256_detail::PortableCompress{}));
#if POCRAND_HAVE_SHA_NI
    if (sha_ni) { std::printf("%08x\n", word(m, ni)); continue; }
#endif
    std::printf("-\n");
  }
}
"""


def test_both_compressions_match_hashlib(tmp_path):
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    (tmp_path / "sha_check.cpp").write_text(PROGRAM)
    exe = tmp_path / "sha_check"
    subprocess.run([cxx, "-std=c++17", "-O2", "-Wall", "-I", str(ROOT / "csrc"),
                    str(tmp_path / "sha_check.cpp"), "-o", str(exe)], check=True)
    rng = random.Random(7)
    messages = [rng.randbytes(n) for n in list(range(301)) + [1000, 4096, 4097]]
    run = subprocess.run([str(exe)], input="\n".join(m.hex() for m in messages) + "\n",
                         capture_output=True, text=True, check=True, timeout=300)
    rows = [line.split() for line in run.stdout.splitlines()]
    assert len(rows) == len(messages)
    for m, (portable, sha_ni) in zip(messages, rows):
        want = f"{seed(m):08x}"
        assert portable == want, len(m)
        assert sha_ni in (want, "-"), len(m)
