// core/ops/rows.cpp — softmax, log-softmax and row-wise L2 normalization: the three ops
// every margin loss is built from.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

namespace {

Tensor softmax_op(const char* name, const Tensor& x, int axis, bool log) {
  check_floating(name, x);
  axis = normalize_axis(name, axis, x);
  Tensor input = contiguous_data(x);
  Tensor out = empty_like(input);
  backend_of(x).softmax(input.view(), axis, log, out.view());
  return record(out, name, {x}, [axis, log, saved_out = out.detach()](const Tensor& grad) {
    Tensor grad_out = contiguous_data(grad), grad_in = empty_like(saved_out);
    backend_of(grad).softmax_backward(saved_out.view(), grad_out.view(), axis, log,
                                      grad_in.view());
    return std::vector<Tensor>{grad_in};
  });
}

}  // namespace

// p_j = e^{x_j} / Σ_k e^{x_k};  dx = p ⊙ (dp − Σ dp ⊙ p)
Tensor softmax(const Tensor& x, int axis) { return softmax_op("softmax", x, axis, false); }

// log p_j = x_j − log Σ_k e^{x_k};  dx = dlogp − p · Σ dlogp
Tensor log_softmax(const Tensor& x, int axis) { return softmax_op("log_softmax", x, axis, true); }

// x̂ = x / ‖x‖;  dx = (dx̂ − x̂ (dx̂ · x̂)) / ‖x‖ — the gradient has no component along x̂,
// which is why normalized features only ever rotate.
Tensor l2_normalize(const Tensor& x, double eps) {
  check_floating("l2_normalize", x);
  if (x.ndim() != 2) fail("l2_normalize: expected rows [rows, d], got ", x.describe());
  Tensor input = contiguous_data(x);
  Tensor out = empty_like(input);
  Tensor norms = Tensor::empty({x.size(0)}, x.dtype(), x.device());
  backend_of(x).l2_normalize_rows(input.view(), eps, out.view(), norms.view());
  return record(out, "l2_normalize", {x},
                [eps, norms, saved_out = out.detach()](const Tensor& grad) {
                  Tensor grad_out = contiguous_data(grad), grad_in = empty_like(saved_out);
                  backend_of(grad).l2_normalize_rows_backward(saved_out.view(), norms.view(),
                                                              grad_out.view(), eps,
                                                              grad_in.view());
                  return std::vector<Tensor>{grad_in};
                });
}

}  // namespace margin
