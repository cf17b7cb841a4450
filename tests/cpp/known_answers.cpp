// known_answers.cpp — pocrand_ext/known_answers.txt recomputed without torch, by the shipped CPU
// kernels (csrc/cpu: every kernel file, linked as they are built into the extension) and the
// core header they share.
//
// The digests in that file come from the NumPy implementation of SPEC.md. This driver computes
// the outputs of every case, hashes their little-endian bytes with SHA-256, and compares. CI
// builds it with x86-64 GCC, x86-64 clang and aarch64 GCC (run under qemu-user): the three must
// print the same lines, so no compiler or host changes a bit (FMA contraction would:
// docs/building.md).
//
//   known_answers FILE [--flush | --flush-unguarded] [--only OP[,OP...]]
// prints "<ok|MISMATCH> <digest> <op> <args>" per case, "skip <op>" for ops it does not compute,
// and exits 1 on any mismatch. --flush sets flush-to-zero first and computes under IeeeFpMode
// (csrc/cpu/fp_env.h), as the CPU kernels do. --flush-unguarded computes in the flushing mode
// itself; built with POCRAND_TEST_ONLY_NO_FP_GUARD (the kernels' guard left out, as a build with
// flush-to-zero would compute) it must report mismatches (the householder cases with
// x_scale_exp have subnormal products), so that the known answers are seen to catch FTZ.
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../../csrc/core/pocrand_core.h"
#include "../../csrc/core/sha256.h"
#include "../../csrc/cpu/artifacts.h"
#include "../../csrc/cpu/decode.h"
#include "../../csrc/cpu/distances.h"
#include "../../csrc/cpu/fp_env.h"
#include "../../csrc/cpu/overrides.h"
#include "../../csrc/cpu/reflect.h"
#include "../../csrc/cpu/seeds.h"
#include "../../csrc/cpu/snap.h"
#include "../../csrc/cpu/sort.h"
#include "../../csrc/cpu/streams.h"
#include "flush_mode.h"
#include "json_args.h"
#include "known_answer_bytes.h"

using namespace pocrand;

static bool compute_pocv2(const std::string& op, const Args& a, Bytes& out) {
  // "{block_hash}_{public_key}", for the ops whose seed strings start with it.
  const std::string nonce_prefix =
      a.has("block_hash") && a.has("public_key") ? a.str("block_hash") + "_" + a.str("public_key") : "";
  if (op == "seed_words") {
    for (uint32_t w : seed_words(a.str("s"))) put_le(out, int64_t{w});
  } else if (op == "inputs_concat") {
    const int64_t n = a.num("seq_len") * a.num("dim");
    const std::vector<int64_t>& nonces = a.nums("nonces");
    const auto B = static_cast<int64_t>(nonces.size());
    std::vector<int64_t> words(B * 8);
    cpu::derive_seed_words(nonce_prefix + "_nonce", nonces.data(), B, "", words.data());
    out = output(B * n, a.str("dtype"));
    cpu::concat_normal_rows(words.data(), B, n, 0, n, cpu_dtype(a.str("dtype")), out.data());
  } else if (op == "unit_vectors") {
    for (int64_t seed : a.nums("seeds")) {
      const Bytes b = unit_row(static_cast<uint32_t>(seed), a.num("dim"), true, "float32");
      out.insert(out.end(), b.begin(), b.end());
    }
  } else if (op == "target_v2") {
    out = unit_row(seed_from_string(nonce_prefix + "_target"), a.num("dim"), true, a.str("dtype"));
  } else if (op == "householder") {
    const int64_t rows = a.num("rows"), dim = a.num("dim");
    const std::string dtype = a.str("dtype");
    std::vector<float> x = normal(static_cast<uint32_t>(a.num("x_seed")), rows * dim);
    if (a.has("x_scale_exp")) {  // exact: every scaled element stays a normal float
      const float scale = std::ldexp(1.0f, static_cast<int>(a.num("x_scale_exp")));
      for (float& e : x) e = pr_mul(e, scale);
    }
    x = through(x, dtype);
    // 9.3 is the reflection with one slot (or one per row) and no mask, rounded once.
    std::vector<float> table;
    for (int64_t r = 0; r < (a.num("per_row") ? rows : 1); ++r) {
      const std::vector<float> v = through(unit_vector(static_cast<uint32_t>((a.num("v_seed") + r) & 0xffffffff), dim), dtype);
      table.insert(table.end(), v.begin(), v.end());
    }
    out = reflect_kernel(x, table, rows, 1, dim, nullptr, nullptr, false, dtype);
  } else if (op == "pick_indices") {
    for (int64_t nonce : a.nums("nonces"))
      for (int64_t i : pick(seed_from_string(nonce_prefix + "_nonce_" + str_int(nonce) + "_pick_" +
                                             str_int(a.num("k"))),
                            a.num("dim"), a.num("k")))
        put_le(out, i);
  } else if (op == "haar_rotate") {  // 9.10: x [B, k] in dtype
    const std::vector<int64_t>& nonces = a.nums("nonces");
    const auto B = static_cast<int64_t>(nonces.size());
    const int64_t k = a.num("k");
    const std::string dtype = a.str("dtype");
    const Bytes x = store(normal(static_cast<uint32_t>(a.num("x_seed")), B * k), dtype);
    std::vector<int64_t> seeds(B * (k - 1));
    cpu::derive_seed_grid(nonce_prefix + "_nonce_", nonces.data(), B, "_haar_hh_" + str_int(k) + "_",
                          k - 1, seeds.data());
    out = output(B * k, dtype);
    cpu::haar_rotate(cpu_dtype(dtype), x.data(), seeds.data(), B, k, out.data());
  } else if (op == "artifacts") {  // 9.11: fp16 [B, k], then one byte a flag
    const std::vector<int64_t>& nonces = a.nums("nonces");
    const int64_t B = static_cast<int64_t>(nonces.size()), H = a.num("hidden"), k = a.num("k");
    std::vector<float> hidden = normal(static_cast<uint32_t>(a.num("x_seed")), B * H);
    for (int64_t r : a.nums("zero_rows")) std::fill_n(hidden.begin() + r * H, H, 0.0f);
    for (int64_t r : a.nums("nan_rows")) hidden[r * H] = pr_from_bits(kCanonicalNaN);
    const Bytes h = store(hidden, a.str("dtype"));
    std::vector<int64_t> seeds(B * k);
    cpu::derive_seed_columns(nonce_prefix + "_nonce_", nonces.data(), B, "_pick_" + str_int(k),
                             "_haar_hh_" + str_int(k) + "_", k, seeds.data());
    std::vector<uint16_t> values(B * k, 0x5a5a);
    std::unique_ptr<bool[]> flags(new bool[B]);
    cpu::artifacts(cpu_dtype(a.str("dtype")), h.data(), seeds.data(), B, H, k, values.data(), flags.get());
    for (uint16_t v : values) put_le(out, v);
    for (int64_t b = 0; b < B; ++b) out.push_back(flags[b] ? 1 : 0);
  } else if (op == "fused_add_rms_norm_reflect") {  // 10.14: new x, then new residual
    const int64_t rows = a.num("rows"), copies = a.num("copies"), H = a.num("hidden");
    const int64_t slots = a.num("slots"), n = rows * copies * H;
    const std::string dtype = a.str("dtype");
    Bytes x = store(through(normal(static_cast<uint32_t>(a.num("x_seed")), n), dtype), dtype);
    Bytes r = store(through(normal(static_cast<uint32_t>(a.num("residual_seed")), n), dtype), dtype);
    const Bytes w = store(through(normal(static_cast<uint32_t>(a.num("weight_seed")), H), dtype), dtype);
    const std::vector<float> table = reflect_table(a, H, dtype);
    const Bytes tb = store(table, dtype);
    const std::vector<int64_t>& groups = a.nums("row_group");
    per_row(groups, rows, "row_group");
    cpu::fused_add_rms_norm_reflect(cpu_dtype(dtype), x.data(), r.data(), w.data(),
                                    pr_from_bits(static_cast<uint32_t>(a.num("eps_bits"))), rows,
                                    copies, H, tb.data(), slots, groups.data(),
                                    bools(a.nums("mask"), rows, "mask").get(),
                                    a.str("mode") == "stepwise");
    out = x;
    out.insert(out.end(), r.begin(), r.end());
  } else if (op == "reflect_rows") {  // 10.10: x [rows, copies, hidden] in dtype
    const int64_t rows = a.num("rows"), copies = a.num("copies"), H = a.num("hidden");
    const std::string dtype = a.str("dtype");
    const bool stepwise = a.str("mode") == "stepwise";
    const std::vector<float> x = through(normal(static_cast<uint32_t>(a.num("x_seed")), rows * copies * H), dtype);
    const std::vector<float> table = reflect_table(a, H, dtype);
    const std::vector<int64_t>& groups = a.nums("row_group");
    const std::vector<int64_t>& mask_values = a.nums("mask");
    per_row(groups, rows, "row_group");
    out = reflect_kernel(x, table, rows, copies, H, groups.data(), bools(mask_values, rows, "mask").get(),
                         stepwise, dtype);
  } else if (op == "snap") {  // 10.7: k int64 [B], bad (a byte each), scores f32 [B, P], q f32 [B, d]
    const std::vector<int64_t> seeds = a.nums("seeds");
    const int64_t B = static_cast<int64_t>(seeds.size()), H = a.num("hidden");
    const int64_t d = a.num("dim"), P = a.num("points");
    std::vector<float> hidden = normal(static_cast<uint32_t>(a.num("x_seed")), B * H);
    for (int64_t r : a.nums("zero_rows")) std::fill_n(hidden.begin() + r * H, H, 0.0f);
    for (int64_t r : a.nums("nan_rows")) hidden[r * H] = pr_from_bits(kCanonicalNaN);
    for (int64_t r : a.nums("inf_rows")) hidden[r * H] = pr_from_bits(0x7f800000u);
    hidden = through(hidden, a.str("dtype"));
    std::vector<std::vector<float>> C;
    for (int64_t j = 0; j < P; ++j)
      C.push_back(unit_vector(static_cast<uint32_t>(a.num("codebook_seed") + j), d));
    std::vector<float> codebook;
    for (const std::vector<float>& point : C) codebook.insert(codebook.end(), point.begin(), point.end());
    const Bytes hb = store(hidden, a.str("dtype"));
    // Outputs pre-filled with a marker, so an element the kernel never wrote cannot pass.
    std::vector<int64_t> ks(B, 0x5a5a5a5a);
    std::unique_ptr<bool[]> bads(new bool[B]);
    std::vector<float> scores(B * P, -7.0f), qs(B * d, -7.0f);
    cpu::snap(cpu_dtype(a.str("dtype")), hb.data(), B, H, seeds.data(), codebook.data(), P, d, ks.data(),
              bads.get(), scores.data(), qs.data());
    for (int64_t k : ks) put_le(out, k);
    for (int64_t b = 0; b < B; ++b) out.push_back(bads[b] ? 1 : 0);
    for (float f : scores) put_le(out, pr_bits(f));
    for (float f : qs) put_le(out, pr_bits(f));
  } else {
    return false;
  }
  return true;
}

// ---- SPEC.md section 10 (gonka-poc: 10.1-10.5) as plain loops ----------------------------------
constexpr uint32_t kSaltPick = 0x91u;  // 10.5: the decode pick's step-seed salt

// A step argument: one value for every row, or one per row (10.1).
static uint32_t step_of(const Args& a, size_t row) {
  const std::vector<int64_t>& t = a.nums("step");
  return static_cast<uint32_t>(t.size() == 1 ? t[0] : t.at(row));
}

// A case's step as the kernels take it: one value for every row, or one per row of `rows`.
static cpu::Steps steps_of(const Args& a, size_t rows) {
  const std::vector<int64_t>& t = a.nums("step");
  if (t.size() == 1) return {nullptr, static_cast<uint32_t>(t[0])};
  if (t.size() < rows) throw std::runtime_error("step: one value or one per row");
  return {t.data(), 0};
}

static void put_hash_mod_row(Bytes& out, uint32_t seed, int64_t n, int64_t m) {  // csrc/cpu/decode.cpp
  const int64_t s = seed;
  std::vector<int32_t> row(n, -7);
  cpu::hash_mod(&s, 1, n, static_cast<uint32_t>(m), row.data());
  for (int32_t v : row) put_le(out, v);
}

static bool compute_gonka(const std::string& op, const Args& a, Bytes& out) {
  const std::string bh_pk =
      a.has("block_hash") && a.has("public_key") ? a.str("block_hash") + "_" + a.str("public_key") : "";
  if (op == "step_seeds" || op == "step_normal") {  // csrc/cpu/decode.cpp
    const std::vector<int64_t>& base = a.nums("base_seeds");
    const auto B = static_cast<int64_t>(base.size());
    const int64_t* prev = per_row(a.nums("prev_k"), B, "prev_k");
    const auto salt = static_cast<uint32_t>(a.num("salt"));
    if (op == "step_seeds") {
      std::vector<int64_t> seeds(B, -7);
      cpu::step_seeds(base.data(), prev, B, steps_of(a, B), salt, seeds.data());
      for (int64_t v : seeds) put_le(out, v);
    } else {
      const int64_t n = a.num("n");
      out.assign(static_cast<size_t>(B * n * cpu::element_size(cpu_dtype(a.str("dtype")))), 0xa5);
      cpu::step_normal(base.data(), prev, B, steps_of(a, B), salt, n, cpu_dtype(a.str("dtype")), out.data());
    }
  } else if (op == "hash_mod") {
    for (int64_t s : a.nums("seeds")) put_hash_mod_row(out, static_cast<uint32_t>(s), a.num("n"), a.num("modulus"));
  } else if (op == "forced_logits") {
    const std::vector<int64_t>& seeds = a.nums("seeds");
    const auto B = static_cast<int64_t>(seeds.size());
    const int64_t E = a.num("n_experts");
    const bool fold = a.has("step");
    out.assign(static_cast<size_t>(B * E * cpu::element_size(cpu_dtype(a.str("dtype")))), 0xa5);
    cpu::forced_logits(seeds.data(), B, fold ? steps_of(a, B) : cpu::Steps{nullptr, 0}, fold, E,
                       a.num("top_k"), a.num("ladder_base"), cpu_dtype(a.str("dtype")), out.data());
  } else if (op == "pseudo_input_ids") {
    for (int64_t n : a.nums("nonces"))
      put_hash_mod_row(out, seed_from_string(bh_pk + "_nonce" + str_int(n) + "_input_ids"),
                       a.num("seq_len"), a.num("vocab"));
  } else if (op == "route_base_seeds") {
    for (int64_t n : a.nums("nonces"))
      for (int64_t l = 0; l < a.num("num_gates"); ++l)
        put_le(out, int64_t{seed_from_string(a.str("block_hash") + "_n" + str_int(n) +
                                             "_route_layer_" + str_int(l))});
  } else if (op == "decode_pick") {
    const std::vector<int64_t>& nonces = a.nums("nonces");
    const std::vector<int64_t>& prev = a.nums("prev_k");
    for (size_t b = 0; b < nonces.size(); ++b) {
      const uint32_t base = seed_from_string(bh_pk + "_nonce" + str_int(nonces[b]));
      const uint32_t s = step_seed(base, static_cast<uint32_t>(prev.at(b)), step_of(a, b), kSaltPick);
      for (int64_t i : pick(s, a.num("dim"), a.num("k"))) put_le(out, i);
    }
  } else if (op == "decode_pick_string") {
    const std::vector<int64_t>& nonces = a.nums("nonces");
    const bool with_prev = a.has("prev") && !a.nums("prev").empty();
    for (size_t b = 0; b < nonces.size(); ++b) {
      std::string s = bh_pk + "_nonce_" + str_int(nonces[b]) + "_pick_" + str_int(a.num("k")) +
                      "_decode" + str_int(a.num("step"));
      if (with_prev) s += "_k_" + str_int(a.nums("prev").at(b));
      for (int64_t i : pick(seed_from_string(s), a.num("dim"), a.num("k"))) put_le(out, i);
    }
  } else if (op == "embed_synth") {  // 10.11: x [rows, hidden] in dtype
    const int64_t rows = a.num("rows"), H = a.num("hidden");
    const std::string dtype = a.str("dtype"), edtype = a.str("embeds_dtype");
    const std::vector<float> x = normal(static_cast<uint32_t>(a.num("x_seed")), rows * H);
    // through() widens exactly what a tensor of embeds_dtype holds; NaN-free, so a same-dtype row
    // stored again keeps its bits (10.11 copies them)
    const std::vector<float> emb =
        through(normal(static_cast<uint32_t>(a.num("embeds_seed")), a.num("embeds_rows") * H), edtype);
    const Bytes xb = store(x, dtype), eb = store(emb, edtype);
    out.assign(xb.size(), 0xa5);  // a marker: an element the kernel never wrote cannot pass
    cpu::embed_synth(cpu_dtype(dtype), xb.data(), out.data(), rows, H, per_row(a.nums("base_seeds"), rows, "base_seeds"),
                     per_row(a.nums("step"), rows, "step"), per_row(a.nums("prev_k"), rows, "prev_k"),
                     cpu_dtype(edtype), eb.data(), bools(a.nums("mask"), rows, "mask").get(),
                     static_cast<uint32_t>(a.num("salt")));
  } else if (op == "router_override") {  // 10.12: logits [rows, n_experts] in dtype
    const int64_t rows = a.num("rows"), E = a.num("n_experts");
    const std::vector<float> x = normal(static_cast<uint32_t>(a.num("x_seed")), rows * E);
    const Bytes xb = store(x, a.str("dtype"));
    out.assign(xb.size(), 0xa5);
    cpu::router_override(cpu_dtype(a.str("dtype")), xb.data(), out.data(), rows, E,
                         per_row(a.nums("route_seeds"), rows, "route_seeds"), per_row(a.nums("step"), rows, "step"),
                         bools(a.nums("mask"), rows, "mask").get(), a.num("top_k"), a.num("ladder_base"));

  } else {
    return false;
  }
  return true;
}

// The output bytes of one case, or false when this driver does not compute `op`.
static bool compute(const std::string& op, const Args& a, Bytes& out) {
  if (op == "seed_from_string") {
    put_le(out, int64_t{seed_from_string(a.str("s"))});
  } else if (op == "murmur3_32") {  // csrc/cpu/streams.cpp
    std::vector<int64_t> keys(a.num("keys_count")), hashes(keys.size(), -1);
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = a.num("keys_start") + static_cast<int64_t>(i);
    cpu::hash_keys(keys.data(), static_cast<int64_t>(keys.size()), static_cast<uint32_t>(a.num("seed")),
                   hashes.data());
    for (int64_t h : hashes) put_le(out, h);
  } else if (op == "uniform") {
    const int64_t seed = a.num("seed");
    std::vector<float> u(a.num("n"), -7.0f);
    cpu::uniform_rows(&seed, 1, a.num("n"), u.data());
    out = store(u, "float32");
  } else if (op == "normal") {
    out = store(normal(static_cast<uint32_t>(a.num("seed")), a.num("n")), "float32");
  } else if (op == "inputs") {
    const std::vector<int64_t>& nonces = a.nums("nonces");
    const auto B = static_cast<int64_t>(nonces.size());
    const int64_t n = a.num("seq_len") * a.num("dim");
    std::vector<int64_t> seeds(B);
    cpu::derive_seeds(a.str("block_hash") + "_" + a.str("public_key") + "_nonce", nonces.data(), B, "",
                      seeds.data());
    out = output(B * n, a.str("dtype"));
    cpu::normal_rows(seeds.data(), B, n, 0, n, cpu_dtype(a.str("dtype")), out.data());
  } else if (op == "permutations") {
    for (int64_t nonce : a.nums("nonces"))
      for (int64_t i : permutation(seed_from_string(permutations_prefix(a) + str_int(nonce) +
                                                    "_permutations"),
                                   a.num("vocab_size")))
        put_le(out, i);
  } else if (op == "target") {
    out = unit_row(seed_from_string(a.str("block_hash") + "_target"), a.num("vocab_size"), false,
                   a.str("dtype"));
  } else if (op == "distances") {  // csrc/cpu/distances.cpp
    const std::vector<int64_t>& nonces = a.nums("nonces");
    const int64_t b = static_cast<int64_t>(nonces.size()), v = a.num("vocab_size");
    std::vector<float> logits = normal(static_cast<uint32_t>(a.num("logits_seed")), b * v);
    for (int64_t row : a.nums("zero_rows")) std::fill_n(logits.begin() + row * v, v, 0.0f);
    const Bytes lb = store(logits, a.str("logits_dtype"));
    const Bytes tb = unit_row(seed_from_string(a.str("block_hash") + "_target"), v, false,
                              a.str("target_dtype"));
    std::vector<int64_t> perm;
    for (int64_t r = 0; r < b; ++r) {
      const auto p = permutation(
          seed_from_string(permutations_prefix(a) + str_int(nonces[r]) + "_permutations"), v);
      perm.insert(perm.end(), p.begin(), p.end());
    }
    std::vector<float> dist(b, -7.0f);
    std::vector<int64_t> first_bad(b, -7);
    cpu::distances(cpu_dtype(a.str("logits_dtype")), lb.data(), perm.data(),
                   cpu_dtype(a.str("target_dtype")), tb.data(), b, v, dist.data(), first_bad.data());
    out = store(dist, "float32");
  } else {
    return compute_pocv2(op, a, out) || compute_gonka(op, a, out);
  }
  return true;
}

static std::set<std::string> split_commas(const std::string& s) {
  std::set<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.insert(item);
  return out;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s known_answers.txt [--flush | --flush-unguarded] "
                 "[--only OP[,OP...]]\n", argv[0]);
    return 2;
  }
  bool flush = false, guarded = true;
  std::set<std::string> only;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--flush") flush = true;
    else if (arg == "--flush-unguarded") flush = true, guarded = false;
    else if (arg == "--only" && i + 1 < argc) only = split_commas(argv[++i]);
    else { std::fprintf(stderr, "unknown argument %s\n", arg.c_str()); return 2; }
  }
  std::ifstream file(argv[1]);
  if (!file) { std::fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
  if (flush) {
    if (!pocrand_test::kCanSetFlush) { std::fprintf(stderr, "--flush: not on this CPU\n"); return 2; }
    pocrand_test::set_flush(true);
  }
  int ok = 0, bad = 0;
  std::map<std::string, int> skipped;
  for (std::string line; std::getline(file, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t t1 = line.find('\t'), t2 = line.rfind('\t');
    const std::string op = line.substr(0, t1), args = line.substr(t1 + 1, t2 - t1 - 1);
    const std::string want = line.substr(t2 + 1);
    if (!only.empty() && !only.count(op)) continue;
    Bytes out;
    bool known;
    if (guarded) {
      const IeeeFpMode ieee;  // a no-op unless --flush changed the mode
      known = compute(op, Args::parse(args), out);
    } else {
      known = compute(op, Args::parse(args), out);
    }
    if (!known) { ++skipped[op]; continue; }
    const std::string got = sha256_hex(out);
    const bool same = got == want;
    (same ? ok : bad) += 1;
    std::printf("%-8s %s %s %s\n", same ? "ok" : "MISMATCH", got.c_str(), op.c_str(), args.c_str());
    if (!same) std::printf("         %s expected\n", want.c_str());
  }
  for (const auto& [op, n] : skipped) std::printf("skip     %d case(s) of %s (not computed here)\n", n, op.c_str());
  std::printf("%d of %d computed known answers match\n", ok, ok + bad);
  return bad == 0 && ok > 0 ? 0 : 1;
}
