// fp_mode.h — how CPU kernels run under the IEEE floating-point mode (fp_env.h).
//
// The mode is per thread, and a parallel loop runs tasks on worker threads whose mode anything in
// the process may have changed (flush-to-zero set by a fast-math library, in one thread or all).
// So every CPU kernel follows two rules:
//   1. each entry point starts with `const IeeeFpMode ieee;` — its serial parts run in the IEEE
//      mode;
//   2. it never calls at::parallel_for but cpu::parallel_for (parallel.h; ieee_parallel_for is
//      its older name), which runs each task body under its own IeeeFpMode on the thread that
//      runs it.
// The caller's mode (and each worker's) is restored afterwards. tests/test_fp_mode.py runs every
// CPU op with flush-to-zero set in the calling thread and in the worker threads.
#pragma once

#include <stdint.h>

#include "fp_env.h"
#include "parallel.h"

namespace pocrand {

template <class F>
void ieee_parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  cpu::parallel_for(begin, end, grain, fn);
}

}  // namespace pocrand
