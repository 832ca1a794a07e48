// backends/cpu/optim.cpp — the optimizer update, one pass over each parameter.
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

void CpuBackend::sgd_step(const SgdParams& params, const View& param, const View& grad,
                          const View& velocity) {
  dispatch_floating(param.dtype, "sgd_step", [&](auto t) {
    using T = decltype(t);
    T *p = param.ptr<T>(), *v = velocity.ptr<T>();
    const T* g = grad.ptr<T>();
    T lr(params.lr), momentum(params.momentum), decay(params.weight_decay);
    int64_t n = param.numel();
    // One loop per variant, so none tests a flag per element and each vectorizes.
    if (momentum == T(0)) {
#pragma omp parallel for simd if (worth_threads(n))
      for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + decay * p[i]);
    } else if (params.nesterov) {
#pragma omp parallel for simd if (worth_threads(n))
      for (int64_t i = 0; i < n; ++i) {
        T step = g[i] + decay * p[i];
        v[i] = momentum * v[i] + step;
        p[i] -= lr * (step + momentum * v[i]);
      }
    } else {
#pragma omp parallel for simd if (worth_threads(n))
      for (int64_t i = 0; i < n; ++i) {
        v[i] = momentum * v[i] + g[i] + decay * p[i];
        p[i] -= lr * v[i];
      }
    }
  });
}

}  // namespace margin
