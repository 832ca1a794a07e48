// core/ops/reduce.cpp — sums, means and maxima, over an axis or everything.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

// Σ over the broadcast dims; the gradient copies back along them (expand).
Tensor sum_to(const Tensor& x, const Shape& shape) {
  check_floating("sum_to", x);
  if (x.shape() == shape) return x;
  if (broadcast_shapes(x.shape(), shape, "sum_to") != x.shape())
    fail("sum_to: ", x.describe(), " cannot be summed to ", shape_str(shape),
         " (", shape_str(shape), " must broadcast to x's shape)");
  Shape padded(x.ndim() - shape.size(), 1);  // align from the right, as broadcasting does
  padded.insert(padded.end(), shape.begin(), shape.end());
  Tensor input = contiguous_data(x);
  Tensor out = Tensor::empty(padded, x.dtype(), x.device());
  backend_of(x).sum_to(input.view(), out.view());
  out = Tensor::make(out.impl()->storage, 0, shape, contiguous_strides(shape), x.dtype());
  return record(out, "sum_to", {x}, [source = x.shape()](const Tensor& grad) {
    return std::vector<Tensor>{expand(grad, source)};
  });
}

Tensor sum(const Tensor& x) { return sum_to(x, {}); }

Tensor sum(const Tensor& x, int axis, bool keepdim) {
  check_floating("sum", x);
  axis = normalize_axis("sum", axis, x);
  Tensor kept = sum_to(x, with_size(x.shape(), axis, 1));
  return keepdim ? kept : kept.reshape(without_axis(x.shape(), axis));
}

Tensor mean(const Tensor& x) {
  check_floating("mean", x);
  if (x.numel() == 0) fail("mean: ", x.describe(), " has no elements");
  return sum(x) * (1.0 / static_cast<double>(x.numel()));
}

Tensor mean(const Tensor& x, int axis, bool keepdim) {
  check_floating("mean", x);
  axis = normalize_axis("mean", axis, x);
  if (x.shape()[axis] == 0) fail("mean: axis ", axis, " of ", x.describe(), " is empty");
  return sum(x, axis, keepdim) * (1.0 / static_cast<double>(x.shape()[axis]));
}

namespace {

// Values and first arg-max along `axis`, both with that axis kept at size 1.
std::pair<Tensor, Tensor> max_with_index(const char* op, const Tensor& x, int axis) {
  check_floating(op, x);
  if (x.shape()[axis] == 0) fail(op, ": axis ", axis, " of ", x.describe(), " is empty");
  Tensor input = contiguous_data(x);
  Shape kept = with_size(x.shape(), axis, 1);
  Tensor values = Tensor::empty(kept, x.dtype(), x.device());
  Tensor indices = Tensor::empty(kept, DType::I64, x.device());
  backend_of(x).max_along(input.view(), axis, values.view(), indices.view());
  return {values, indices};
}

}  // namespace

// The gradient goes to the (first) maximal element only: the adjoint of gathering it.
Tensor max(const Tensor& x, int axis, bool keepdim) {
  check_floating("max", x);
  axis = normalize_axis("max", axis, x);
  auto [values, indices] = max_with_index("max", x, axis);
  Tensor out = record(values, "max", {x},
                      [axis, indices = indices, source = x.shape()](const Tensor& grad) {
                        Tensor grad_out = contiguous_data(grad).reshape(indices.shape());
                        Tensor grad_in = Tensor::empty(source, grad.dtype(), grad.device());
                        backend_of(grad).gather_backward(grad_out.view(), indices.view(), axis,
                                                         grad_in.view());
                        return std::vector<Tensor>{grad_in};
                      });
  return keepdim ? out : out.reshape(without_axis(x.shape(), axis));
}

Tensor max(const Tensor& x) {
  check_floating("max", x);
  return max(x.reshape({-1}), 0, false);
}

Tensor argmax(const Tensor& x, int axis) {
  check_floating("argmax", x);
  axis = normalize_axis("argmax", axis, x);
  return max_with_index("argmax", x, axis).second.reshape(without_axis(x.shape(), axis));
}

}  // namespace margin
