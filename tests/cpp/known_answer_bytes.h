// known_answer_bytes.h — the known-answer driver's plumbing (tests/cpp/known_answers.cpp): the
// SHA-256 digest of a case's output bytes, little-endian serialisation, values delivered in a
// dtype, and the shipped CPU kernels called on one seed, one string or one case's tensors.
#pragma once

#include <stdint.h>
#include <string.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../../csrc/core/pocrand_core.h"
#include "../../csrc/core/sha256.h"
#include "../../csrc/cpu/reflect.h"
#include "../../csrc/cpu/seeds.h"
#include "../../csrc/cpu/sort.h"
#include "../../csrc/cpu/streams.h"
#include "json_args.h"

namespace pocrand {

using Bytes = std::vector<uint8_t>;

// ---- SHA-256 of a whole message (sha256.h's compression, with the standard padding) ----------
static std::string sha256_hex(const Bytes& msg) {
  uint32_t h[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
  Bytes m = msg;
  const uint64_t bits = static_cast<uint64_t>(msg.size()) * 8;
  m.push_back(0x80);
  while (m.size() % 64 != 56) m.push_back(0);
  for (int i = 7; i >= 0; --i) m.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  for (size_t off = 0; off < m.size(); off += 64) sha256_detail::compress(h, m.data() + off);
  char hex[65];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 8 * i, 9, "%08x", h[i]);
  return std::string(hex, 64);
}

static uint32_t seed_from_string(const std::string& s) {  // csrc/cpu/seeds.cpp
  const std::string_view view = s;
  int64_t seed = -1;
  cpu::derive_seeds_of_strings(&view, 1, &seed);
  return static_cast<uint32_t>(seed);
}

static std::string str_int(int64_t v) {  // Python's str(int)
  char buf[24];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// ---- little-endian serialisation -------------------------------------------------------------
template <class T>
static void put_le(Bytes& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(uint64_t(v) >> (8 * i)));
}

// float32 values delivered in dtype (SPEC.md section 6).
static Bytes store(const std::vector<float>& v, const std::string& dtype) {
  Bytes out;
  for (float f : v) {
    if (dtype == "float32") put_le(out, pr_bits(f));
    else if (dtype == "float16") put_le(out, float_to_half_bits(f));
    else if (dtype == "bfloat16") put_le(out, float_to_bf16_bits(f));
    else throw std::runtime_error("unknown dtype " + dtype);
  }
  return out;
}

// Rounded to dtype and widened back, exactly as a tensor of that dtype is read (section 6, 8).
static std::vector<float> through(const std::vector<float>& v, const std::string& dtype) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = dtype == "float16"    ? half_bits_to_float(float_to_half_bits(v[i]))
             : dtype == "bfloat16" ? bf16_bits_to_float(float_to_bf16_bits(v[i]))
                                   : v[i];
  return out;
}

// ---- the generators (csrc/cpu/streams.cpp, sort.cpp) on one seed -----------------------------
static cpu::Dtype cpu_dtype(const std::string& dtype) {
  if (dtype == "float16") return cpu::Dtype::kFloat16;
  if (dtype == "bfloat16") return cpu::Dtype::kBFloat16;
  if (dtype == "float32") return cpu::Dtype::kFloat32;
  throw std::runtime_error("unknown dtype " + dtype);
}

// A marker-filled output of `count` elements of dtype: an element a kernel never wrote cannot pass.
static Bytes output(int64_t count, const std::string& dtype) {
  return Bytes(static_cast<size_t>(count * cpu::element_size(cpu_dtype(dtype))), 0xa5);
}

static std::vector<float> normal(uint32_t seed, int64_t n) {
  const int64_t s = seed;
  std::vector<float> out(n, -7.0f);
  cpu::normal_rows(&s, 1, n, 0, n, cpu::Dtype::kFloat32, out.data());
  return out;
}

// normal(seed, n) / norm (with `tiny`, norm + TINY: a unit vector of 9.2) in dtype.
static Bytes unit_row(uint32_t seed, int64_t n, bool tiny, const std::string& dtype) {
  const int64_t s = seed;
  Bytes out = output(n, dtype);
  cpu::unit_rows(&s, 1, n, tiny, cpu_dtype(dtype), out.data());
  return out;
}

static std::vector<float> unit_vector(uint32_t seed, int64_t dim) {  // 9.2, float32
  const Bytes b = unit_row(seed, dim, true, "float32");
  std::vector<float> out(dim);
  memcpy(out.data(), b.data(), b.size());
  return out;
}

static std::vector<int64_t> permutation(uint32_t seed, int64_t v) {  // section 8
  const int64_t s = seed;
  std::vector<int64_t> out(v, -1);
  cpu::permutations(&s, 1, v, out.data());
  return out;
}

static std::string permutations_prefix(const Args& a) {
  return a.str("block_hash") + "_" + a.str("public_key") + "_nonce_";
}

static std::vector<uint32_t> seed_words(const std::string& s) {  // 9.1, core sha256.h
  Sha256Stream st;
  st.update(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  std::vector<uint32_t> w(8);
  st.digest_words(w.data());
  return w;
}

// ---- the shipped CPU kernels (csrc/cpu), called on the cases' inputs --------------------------
// The kernels read and write elements in their stored types; every checked host is little-endian,
// so store()'s bytes are those elements as the kernels see them.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the driver assumes a little-endian host");

// csrc/cpu/reflect.cpp on x [n, copies, hidden] and table [slots, hidden] (values of dtype):
// the output's bytes.
static Bytes reflect_kernel(const std::vector<float>& x, const std::vector<float>& table,
                            int64_t n, int64_t copies, int64_t hidden, const int64_t* row_group,
                            const bool* mask, bool stepwise, const std::string& dtype) {
  const Bytes xb = store(x, dtype), tb = store(table, dtype);
  Bytes out(xb.size(), 0xa5);  // a marker: an element the kernel never wrote cannot pass
  cpu::reflect_rows(cpu_dtype(dtype), xb.data(), out.data(), n, copies, hidden, tb.data(),
                    static_cast<int64_t>(table.size()) / hidden, row_group, mask, stepwise);
  return out;
}

// The table of a reflection case, [slots, H] values of dtype: slot 0 zeros, slot j >= 1
// unit_vector(table_seed + j, H).
static std::vector<float> reflect_table(const Args& a, int64_t H, const std::string& dtype) {
  const int64_t slots = a.num("slots");
  std::vector<float> table(slots * H, 0.0f);
  for (int64_t j = 1; j < slots; ++j) {
    const std::vector<float> v =
        through(unit_vector(static_cast<uint32_t>(a.num("table_seed") + j), H), dtype);
    std::copy(v.begin(), v.end(), table.begin() + j * H);
  }
  return table;
}

// A case's 0/1 list as the kernels' bool array (at least `rows` entries).
static std::unique_ptr<bool[]> bools(const std::vector<int64_t>& values, int64_t rows, const char* what) {
  if (static_cast<int64_t>(values.size()) < rows) throw std::runtime_error(std::string(what) + ": an entry per row");
  std::unique_ptr<bool[]> out(new bool[values.size()]);
  for (size_t r = 0; r < values.size(); ++r) out[r] = values[r] != 0;
  return out;
}

// A per-row int64 list of at least `rows` entries.
static const int64_t* per_row(const std::vector<int64_t>& values, int64_t rows, const char* what) {
  if (static_cast<int64_t>(values.size()) < rows) throw std::runtime_error(std::string(what) + ": an entry per row");
  return values.data();
}

static std::vector<int64_t> pick(uint32_t seed, int64_t dim, int64_t k) {  // 9.4, csrc/cpu/sort.cpp
  const int64_t s = seed;
  std::vector<int64_t> out(k, -1);
  cpu::pick(&s, 1, dim, k, /*host_order=*/false, out.data());
  return out;
}

}  // namespace pocrand
