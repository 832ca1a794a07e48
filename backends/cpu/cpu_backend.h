// backends/cpu/cpu_backend.h — the CPU backend: Eigen for dense algebra, OpenMP for loops.
// Each kernel's contract is in backends/backend.h; the definitions are split by family
// across this folder (memory, elementwise, reduce, linalg, conv, pool, rows, norm, index,
// optim).
#pragma once
#include "backends/backend.h"

namespace margin {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return kCPU; }

#include "backends/kernel_overrides.inc"
};

}  // namespace margin
