// core/ops/index.cpp — picking elements by integer index (the target logit), one-hot rows.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

namespace {

void check_indices(const char* op, const Tensor& index) {
  if (!index.defined()) fail(op, ": index is an undefined tensor");
  if (index.dtype() != DType::I64) fail(op, ": expected int64 indices, got ", index.describe());
}

}  // namespace

// y = x[index] along axis; dx = the adjoint: dy scattered back, summed where indices repeat.
Tensor gather(const Tensor& x, int axis, const Tensor& index) {
  check_floating("gather", x);
  check_indices("gather", index);
  axis = normalize_axis("gather", axis, x);
  if (index.device() != x.device())
    fail("gather: index ", index.describe(), " and x ", x.describe(), " are on different devices");
  bool fits = index.ndim() == x.ndim();
  for (int i = 0; fits && i < x.ndim(); ++i) fits = i == axis || index.size(i) == x.size(i);
  if (!fits)
    fail("gather: index ", index.describe(), " must match x ", x.describe(),
         " in every dim but axis ", axis);
  Tensor idx = contiguous_data(index);
  int64_t bad = backend_of(x).find_out_of_range(idx.view(), 0, x.size(axis));
  if (bad >= 0)
    fail("gather: index ", idx.reshape({-1}).slice(0, bad, bad + 1).to_indices()[0],
         " at flat position ", bad, " is outside [0, ", x.size(axis), ") along axis ", axis,
         " of ", x.describe());
  Tensor input = contiguous_data(x);
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  backend_of(x).gather(input.view(), idx.view(), axis, out.view());
  return record(out, "gather", {x}, [axis, idx, source = x.shape()](const Tensor& grad) {
    Tensor grad_out = contiguous_data(grad);
    Tensor grad_in = Tensor::empty(source, grad.dtype(), grad.device());
    backend_of(grad).gather_backward(grad_out.view(), idx.view(), axis, grad_in.view());
    return std::vector<Tensor>{grad_in};
  });
}

Tensor one_hot(const Tensor& labels, int64_t classes, DType dtype) {
  check_indices("one_hot", labels);
  if (labels.ndim() != 1) fail("one_hot: expected labels [B], got ", labels.describe());
  if (!is_floating(dtype)) fail("one_hot: the result dtype must be floating");
  Tensor idx = contiguous_data(labels);
  int64_t bad = backend_of(labels).find_out_of_range(idx.view(), -1, classes);
  if (bad >= 0)
    fail("one_hot: label ", idx.slice(0, bad, bad + 1).to_indices()[0], " in row ", bad,
         " is outside [0, ", classes, ") (or −1 for an ignored row)");
  Tensor out = Tensor::empty({labels.size(0), classes}, dtype, labels.device());
  backend_of(labels).one_hot(idx.view(), out.view());
  return out;
}

}  // namespace margin
