// fp_mode.h — how CPU kernels run under the IEEE floating-point mode (fp_env.h).
//
// The mode is per thread, and at::parallel_for runs tasks on worker threads whose mode anything in
// the process may have changed (flush-to-zero set by a fast-math library, in one thread or all).
// So every CPU kernel file follows two rules:
//   1. each op starts with `const IeeeFpMode ieee;` — its serial parts run in the IEEE mode;
//   2. it never calls at::parallel_for itself but ieee_parallel_for, which has the same
//      signature and runs each task body under its own IeeeFpMode on the thread that runs it.
// The caller's mode (and each worker's) is restored afterwards. tests/test_fp_mode.py runs every
// CPU op with flush-to-zero set in the calling thread and in the worker threads, and
// test_cpu_kernels_use_ieee_parallel_for fails on a plain at::parallel_for in csrc/cpu.
#pragma once

#include <ATen/Parallel.h>

#include <stdint.h>

#include "fp_env.h"

namespace pocrand {

// at::parallel_for(begin, end, grain, fn), with fn(chunk_begin, chunk_end) run in the IEEE mode.
template <class F>
void ieee_parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  at::parallel_for(begin, end, grain, [&fn](int64_t b, int64_t e) {
    const IeeeFpMode ieee;
    fn(b, e);
  });
}

}  // namespace pocrand
