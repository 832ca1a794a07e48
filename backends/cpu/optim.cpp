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
#pragma omp parallel for if (worth_threads(n))
    for (int64_t i = 0; i < n; ++i) {
      T step = g[i] + decay * p[i];
      if (momentum != T(0)) {
        v[i] = momentum * v[i] + step;
        step = params.nesterov ? step + momentum * v[i] : v[i];
      }
      p[i] -= lr * step;
    }
  });
}

}  // namespace margin
