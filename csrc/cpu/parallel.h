// parallel.h — the CPU kernels' parallel loop, torch-free: the same split as at::parallel_for
// (OpenMP, one contiguous chunk a thread, no more threads than grain-sized chunks), with every
// chunk run under IeeeFpMode (fp_env.h) on the thread that runs it.
//
// Why not at::parallel_for: the CPU kernels must build without torch, so that the known-answer
// driver (tests/cpp/known_answers.cpp) and the three CI toolchains compile and run the code that
// ships. The extension and torch share one libgomp (one soname in the process), so the thread
// count here is torch.get_num_threads(). Without OpenMP (the driver's build) the loop is serial.
// Results never depend on the split: every sum has the fixed order of core section 7.
#pragma once

#include <stdint.h>

#include <algorithm>
#include <atomic>
#include <exception>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "fp_env.h"

namespace pocrand {
namespace cpu {

// fn(chunk_begin, chunk_end) over [begin, end), chunks of at least `grain` elements, each in the
// IEEE mode. An exception thrown by fn is rethrown on the calling thread.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  if (begin >= end) return;
  grain = std::max<int64_t>(grain, 1);
#if defined(_OPENMP)
  if (end - begin > grain && !omp_in_parallel() && omp_get_max_threads() > 1) {
    std::atomic_flag failed = ATOMIC_FLAG_INIT;
    std::exception_ptr error;
#pragma omp parallel
    {
      const int64_t threads =
          std::min<int64_t>(omp_get_num_threads(), (end - begin + grain - 1) / grain);
      const int64_t chunk = (end - begin + threads - 1) / threads;
      const int64_t b = begin + omp_get_thread_num() * chunk;
      if (b < end) {
        try {
          const IeeeFpMode ieee;
          fn(b, std::min(end, b + chunk));
        } catch (...) {
          if (!failed.test_and_set()) error = std::current_exception();
        }
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  const IeeeFpMode ieee;
  fn(begin, end);
}

}  // namespace cpu
}  // namespace pocrand
