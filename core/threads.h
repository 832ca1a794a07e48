// core/threads.h — the --threads flag of margin's programs, checked where it is read.
#pragma once
#include <omp.h>

#include "backends/types.h"

namespace margin {

// Sets OpenMP's thread count for what follows; margin::Error for fewer than 1 or more than
// 1024 threads.
inline void set_threads(int threads) {
  if (threads < 1 || threads > 1024) fail("--threads ", threads, " (expected 1 to 1024 CPU threads)");
  omp_set_num_threads(threads);
}

}  // namespace margin
