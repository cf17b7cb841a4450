// op_checks.h — argument checks shared by the CPU and CUDA implementations of the pocrand ops.
//
// The Python API validates user input first and gives friendlier messages; these checks guard the
// raw torch.ops.pocrand.* entry points, so a direct call can never read out of bounds or write a
// tensor of the wrong shape. Every message names the argument it is about, and every failure is
// a Python TypeError (a tensor of the wrong dtype) or ValueError (a wrong value, shape, layout or
// device), as from the API: TORCH_CHECK_TYPE / TORCH_CHECK_VALUE, never a bare RuntimeError.
#pragma once

#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace pocrand {

// Numbers and shapes in messages go through std::to_string, never through an ostream: with some
// pairings of compiler and the libstdc++ a Python process loads (seen with g++ 13.3 and a CUDA
// torch 2.11 wheel), ostream's integer insertion inside c10::str crashes the process.
inline std::string num(int64_t v) { return std::to_string(v); }

inline std::string shape(at::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + num(sizes[i]);
  return s + "]";
}

// A dtype as Python users write it (torch.float32, not c10's Float), in every op's messages.
inline std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "torch.float32";
    case at::kDouble: return "torch.float64";
    case at::kHalf: return "torch.float16";
    case at::kBFloat16: return "torch.bfloat16";
    case at::kLong: return "torch.int64";
    case at::kInt: return "torch.int32";
    case at::kShort: return "torch.int16";
    case at::kChar: return "torch.int8";
    case at::kByte: return "torch.uint8";
    case at::kBool: return "torch.bool";
    default: return c10::toString(t);
  }
}

constexpr int64_t kMaxCount = 2147483647;  // 2^31 - 1: per-nonce element count / vocabulary size
constexpr int64_t kMaxSeed = 4294967295;   // 2^32 - 1: seeds are u32 values

inline void check_count(int64_t n, const char* name) {
  TORCH_CHECK_VALUE(n >= 1 && n <= kMaxCount, std::string(name) + " must be in [1, 2^31 - 1], got " + num(n));
}

inline void check_between(int64_t v, int64_t lo, int64_t hi, const char* name) {
  TORCH_CHECK_VALUE(v >= lo && v <= hi, std::string(name) + " must be in [" + num(lo) + ", " + num(hi) +
                    "], got " + num(v));
}

inline void check_seed(int64_t seed, const char* name) { check_between(seed, 0, kMaxSeed, name); }

// A tensor of seeds (int64, contiguous, 1-D or 2-D) holds u32 values: checked where they can be
// read for free, on the CPU. A CUDA tensor is not read back (that would synchronise the stream,
// and seeds uploaded asynchronously would then cost a wait); its kernels use each value's low 32
// bits. The Python API only ever passes u32 seeds.
inline void check_seed_values(const at::Tensor& t, const char* name) {
  if (!t.is_cpu()) return;
  const int64_t* s = t.data_ptr<int64_t>();
  const int64_t cols = t.dim() == 2 ? t.size(1) : 0;
  for (int64_t i = 0; i < t.numel(); ++i)
    TORCH_CHECK_VALUE(s[i] >= 0 && s[i] <= kMaxSeed, std::string(name) + "[" +
                      (cols ? num(i / cols) + ", " + num(i % cols) : num(i)) + "] = " + num(s[i]) +
                      " is not a u32 seed: seeds must be in [0, 2^32 - 1]");
}

inline void check_seeds(const at::Tensor& seeds) {
  TORCH_CHECK_VALUE(seeds.dim() == 1, "seeds must be a 1-D tensor, got " + num(seeds.dim()) + " dimensions");
  TORCH_CHECK_TYPE(seeds.scalar_type() == at::kLong, "seeds must be int64, got " + dtype_name(seeds.scalar_type()));
  TORCH_CHECK_VALUE(seeds.numel() >= 1, "seeds must hold at least one seed");
  TORCH_CHECK_VALUE(seeds.is_contiguous(), "seeds must be contiguous");
  check_seed_values(seeds, "seeds");
}

inline void check_range(int64_t n, int64_t start, int64_t end) {
  TORCH_CHECK_VALUE(0 <= start && start < end && end <= n, "the range [start, end) must satisfy "
                    "0 <= start < end <= n, got start = " + num(start) + ", end = " + num(end) +
                    ", n = " + num(n));
}

inline void check_float_dtype(at::ScalarType dtype, const char* name) {
  TORCH_CHECK_VALUE(dtype == at::kFloat || dtype == at::kHalf || dtype == at::kBFloat16,
                    std::string(name) + " must be float32, float16 or bfloat16, got " + dtype_name(dtype));
}

// The ops that make rows of normals from seeds (normal, unit_normal, unit_vectors): seeds, a row
// length named `name`, a float output dtype.
inline void check_seed_rows_args(const at::Tensor& seeds, int64_t n, const char* name,
                                 at::ScalarType dtype) {
  check_seeds(seeds);
  check_count(n, name);
  check_float_dtype(dtype, "dtype");
}

// The slice [start, end) of rows of n elements in a float dtype (normal_range and concat_normal,
// after the check of their seeds or words).
inline void check_slice_args(int64_t n, int64_t start, int64_t end, at::ScalarType dtype) {
  check_count(n, "n");
  check_range(n, start, end);
  check_float_dtype(dtype, "dtype");
}

// ---- memory overlap (an in-place or out= write must not read or write an element twice) ----

// Whether t's elements may share memory. ATen's has_internal_overlap decides dense layouts and
// stride-0 dimensions; a layout it calls too hard to decide (a strided view such as
// as_strided((2, 2, 8), (12, 8, 1))) is accepted only when its dimensions, sorted by stride,
// each step past the whole span of the smaller ones, which proves no two elements meet.
inline bool may_self_overlap(const at::Tensor& t) {
  const auto verdict = at::has_internal_overlap(t);
  if (verdict != at::MemOverlap::TooHard) return verdict == at::MemOverlap::Yes;
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size) of dimensions of size > 1
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.size(d) > 1) dims.emplace_back(std::llabs(t.stride(d)), t.size(d));
  std::sort(dims.begin(), dims.end());
  int64_t span = 0;  // largest offset reached by the dimensions so far
  for (const auto& [stride, size] : dims) {
    if (stride <= span) return true;
    span += stride * (size - 1);
  }
  return false;
}

inline void check_no_self_overlap(const at::Tensor& t, const char* name) {
  TORCH_CHECK_VALUE(!may_self_overlap(t), std::string(name) + " has elements that share memory "
                    "(strides " + shape(t.strides()) + " for shape " + shape(t.sizes()) +
                    "): writing it would give some elements two values; pass a tensor whose "
                    "elements are distinct (e.g. " + name + ".clone())");
}

// a and b (contiguous, so ATen decides exactly) must not share any memory: one is written while
// the other is read.
inline void check_no_overlap(const at::Tensor& a, const char* a_name, const at::Tensor& b,
                             const char* b_name) {
  const auto status = at::get_overlap_status(a, b);
  TORCH_CHECK_VALUE(status != at::MemOverlapStatus::Full && status != at::MemOverlapStatus::Partial,
                    std::string(a_name) + " and " + b_name + " share memory; an in-place "
                    "reflection writes " + a_name + " while it reads " + b_name +
                    ", so they must not overlap (pass a copy)");
}

// "permutations[b, i] = v is out of range [0, V)"
inline std::string out_of_range_message(int64_t flat, int64_t value, int64_t V) {
  return "permutations[" + num(flat / V) + ", " + num(flat % V) + "] = " + num(value) +
         " is out of range [0, " + num(V) + ")";
}

inline void check_float32(const at::Tensor& t, const char* name) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat, std::string(name) + " must be float32, got " +
                   dtype_name(t.scalar_type()));
  TORCH_CHECK_VALUE(t.is_contiguous(), std::string(name) + " must be contiguous");
}

inline void check_keys(const at::Tensor& keys, const char* name) {
  TORCH_CHECK_TYPE(keys.scalar_type() == at::kLong, std::string(name) + " must be int64, got " +
                   dtype_name(keys.scalar_type()));
  TORCH_CHECK_VALUE(keys.is_contiguous(), std::string(name) + " must be contiguous");
}

// murmur3_rows(keys int64 [B, n], seeds int64 [B]).
inline void check_murmur3_rows_args(const at::Tensor& keys, const at::Tensor& seeds) {
  check_keys(keys, "keys");
  TORCH_CHECK_VALUE(keys.dim() == 2, "keys must be 2-D [B, n], got " + num(keys.dim()) + "-D");
  TORCH_CHECK_TYPE(seeds.scalar_type() == at::kLong, "seeds must be int64, got " +
                   dtype_name(seeds.scalar_type()));
  TORCH_CHECK_VALUE(seeds.dim() == 1 && seeds.size(0) == keys.size(0), "seeds must be [B] = [" +
                    num(keys.size(0)) + "], got " + shape(seeds.sizes()));
  TORCH_CHECK_VALUE(seeds.is_contiguous(), "seeds must be contiguous");
  TORCH_CHECK_VALUE(seeds.device() == keys.device(), "keys and seeds must be on one device, got " +
                    keys.device().str() + " and " + seeds.device().str());
  check_seed_values(seeds, "seeds");
}

inline void check_distance_args(const at::Tensor& logits, const at::Tensor& permutations,
                                const at::Tensor& target) {
  TORCH_CHECK_VALUE(logits.dim() == 2, "logits must be 2-D [batch, vocab], got " + num(logits.dim()) + "-D");
  check_float_dtype(logits.scalar_type(), "logits dtype");
  TORCH_CHECK_TYPE(permutations.scalar_type() == at::kLong, "permutations must be int64, got " +
                   dtype_name(permutations.scalar_type()));
  TORCH_CHECK_VALUE(permutations.sizes() == logits.sizes(), "permutations shape " +
                    shape(permutations.sizes()) + " must equal logits shape " + shape(logits.sizes()));
  TORCH_CHECK_VALUE(target.dim() == 1 && target.size(0) == logits.size(1),
                    "target must be 1-D of length " + num(logits.size(1)) +
                    " (the vocab size), got shape " + shape(target.sizes()));
  check_float_dtype(target.scalar_type(), "target dtype");
  TORCH_CHECK_VALUE(logits.size(0) >= 1, "logits must have at least one row");
  check_count(logits.size(1), "vocab size (logits.shape[1])");
  TORCH_CHECK_VALUE(permutations.device() == logits.device() && target.device() == logits.device(),
                    "logits, permutations and target must be on one device, got " +
                    logits.device().str() + ", " + permutations.device().str() + " and " +
                    target.device().str());
  TORCH_CHECK_VALUE(logits.is_contiguous(), "logits must be contiguous");
  TORCH_CHECK_VALUE(permutations.is_contiguous(), "permutations must be contiguous");
  TORCH_CHECK_VALUE(target.is_contiguous(), "target must be contiguous");
}

// ---- PoC v2 ----

// words: int64 [B, 8], the concat sub-seeds of B rows.
inline void check_words(const at::Tensor& words) {
  TORCH_CHECK_VALUE(words.dim() == 2 && words.size(1) == 8, "words must be int64 [B, 8], got shape " +
                    shape(words.sizes()));
  TORCH_CHECK_TYPE(words.scalar_type() == at::kLong, "words must be int64, got " +
                   dtype_name(words.scalar_type()));
  TORCH_CHECK_VALUE(words.size(0) >= 1, "words must hold at least one row");
  TORCH_CHECK_VALUE(words.is_contiguous(), "words must be contiguous");
  check_seed_values(words, "words");
}

// The `out` of the *_into ops: len(nonces) rows of out.numel() / len(nonces) elements. Returns
// the row length.
inline int64_t into_row_length(at::IntArrayRef nonces, const at::Tensor& out) {
  TORCH_CHECK_VALUE(!nonces.empty(), "nonces must not be empty");
  check_float_dtype(out.scalar_type(), "out dtype");
  const auto B = static_cast<int64_t>(nonces.size());
  TORCH_CHECK_VALUE(out.numel() % B == 0 && out.numel() > 0, "out must hold len(nonces) = " +
                    num(B) + " non-empty rows, got shape " + shape(out.sizes()));
  const int64_t n = out.numel() / B;
  check_count(n, "out's row length");
  check_no_self_overlap(out, "out");
  return n;
}

// The rows of an artifacts op (2-D, checked before): float32/float16/bfloat16, a width in
// [1, 2^31 - 1], contiguous. Shared by artifacts and artifacts_nonces, whose CUDA form launches on
// the seeds it derives and never reaches artifacts' checks.
inline void check_hidden_rows(const at::Tensor& hidden) {
  check_float_dtype(hidden.scalar_type(), "hidden dtype");
  check_count(hidden.size(1), "hidden size (hidden.shape[1])");
  TORCH_CHECK_VALUE(hidden.is_contiguous(), "hidden must be contiguous");
}

// artifacts_nonces(hidden [len(nonces), H], prefix, nonces, k), before its seeds are derived.
inline void check_artifact_nonces(const at::Tensor& hidden, at::IntArrayRef nonces, int64_t k) {
  const auto B = static_cast<int64_t>(nonces.size());
  TORCH_CHECK_VALUE(B >= 1, "nonces must not be empty");
  TORCH_CHECK_VALUE(hidden.dim() == 2 && hidden.size(0) == B, "hidden must be [len(nonces), H] = [" +
                    num(B) + ", H], got " + shape(hidden.sizes()));
  check_hidden_rows(hidden);
  check_between(k, 1, hidden.size(1), "k");
}


// haar_rotate(x [B, k], seeds int64 [B, k - 1]).
inline void check_haar_args(const at::Tensor& x, const at::Tensor& seeds) {
  TORCH_CHECK_VALUE(x.dim() == 2, "x must be 2-D [batch, k], got " + num(x.dim()) + "-D");
  check_float_dtype(x.scalar_type(), "x dtype");
  check_count(x.size(1), "k (x.shape[1])");
  TORCH_CHECK_TYPE(seeds.scalar_type() == at::kLong, "seeds must be int64, got " +
                   dtype_name(seeds.scalar_type()));
  TORCH_CHECK_VALUE(seeds.dim() == 2 && seeds.size(0) == x.size(0) && seeds.size(1) == x.size(1) - 1,
              "seeds must be [batch, k - 1] = [" + num(x.size(0)) + ", " + num(x.size(1) - 1) +
              "], got " + shape(seeds.sizes()));
  TORCH_CHECK_VALUE(seeds.device() == x.device(), "x and seeds must be on one device, got " +
              x.device().str() + " and " + seeds.device().str());
  TORCH_CHECK_VALUE(x.is_contiguous(), "x must be contiguous");
  TORCH_CHECK_VALUE(seeds.is_contiguous(), "seeds must be contiguous");
  check_seed_values(seeds, "seeds");
}

// artifacts(hidden [B, H], seeds int64 [B, k], k).
inline void check_artifact_args(const at::Tensor& hidden, const at::Tensor& seeds, int64_t k) {
  TORCH_CHECK_VALUE(hidden.dim() == 2, "hidden must be 2-D [batch, hidden], got " + num(hidden.dim()) + "-D");
  TORCH_CHECK_VALUE(hidden.size(0) >= 1, "hidden must have at least one row");
  check_hidden_rows(hidden);
  check_between(k, 1, hidden.size(1), "k");
  TORCH_CHECK_TYPE(seeds.scalar_type() == at::kLong, "seeds must be int64, got " +
                   dtype_name(seeds.scalar_type()));
  TORCH_CHECK_VALUE(seeds.dim() == 2 && seeds.size(0) == hidden.size(0) && seeds.size(1) == k,
              "seeds must be [batch, k] = [" + num(hidden.size(0)) + ", " + num(k) + "], got " +
              shape(seeds.sizes()));
  TORCH_CHECK_VALUE(seeds.device() == hidden.device(), "hidden and seeds must be on one device, got " +
              hidden.device().str() + " and " + seeds.device().str());
  TORCH_CHECK_VALUE(seeds.is_contiguous(), "seeds must be contiguous");
  check_seed_values(seeds, "seeds");
}

}  // namespace pocrand
