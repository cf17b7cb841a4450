// spec_pick.h — SPEC.md 9.4 restated on the host, from a row's scores alone, by a full selection
// independent of the kernels' digit counts: the torch-free known-answer driver's pick
// (known_answers.cpp) and the GPU pick checks' reference (snap_pick_gpu.cu,
// snap_warp_pick_gpu.cu).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

// SPEC.md 9.4: T the k-th smallest score, then the indices below T in index order, T's last.
inline std::vector<int64_t> spec_pick(const std::vector<uint32_t>& s, int k, uint32_t* T_out) {
  const int dim = static_cast<int>(s.size());
  std::vector<uint32_t> sorted = s;
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
  const uint32_t T = sorted[k - 1];
  std::vector<int64_t> out;
  int64_t at_T = -1;
  for (int i = 0; i < dim; ++i) {
    if (s[i] < T) out.push_back(i);
    if (s[i] == T) at_T = i;
  }
  out.push_back(at_T);
  *T_out = T;
  return out;
}

