// backends/cuda/optim.cu — the optimizer update, one thread per parameter element, the same
// arithmetic as backends/cpu/optim.cpp (PyTorch's SGD).
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace margin {
namespace cuda {

template <class T>
void sgd_typed(const SgdParams& params, const View& param, const View& grad,
               const View& velocity) {
  T *p = param.ptr<T>(), *v = velocity.ptr<T>();
  const T* g = grad.ptr<T>();
  T lr(params.lr), momentum(params.momentum), decay(params.weight_decay);
  bool nesterov = params.nesterov;
  parallel_for(param.numel(), "sgd_step", [=] __device__(int64_t i) {
    T step = g[i] + decay * p[i];
    if (momentum != T(0)) {
      v[i] = momentum * v[i] + step;
      step = nesterov ? step + momentum * v[i] : v[i];
    }
    p[i] -= lr * step;
  });
}

}  // namespace cuda

void CudaBackend::sgd_step(const SgdParams& params, const View& param, const View& grad,
                           const View& velocity) {
  activate();
  dispatch_floating(param.dtype, "sgd_step", [&](auto t) {
    cuda::sgd_typed<decltype(t)>(params, param, grad, velocity);
  });
}

}  // namespace margin
