// core/ops/index.cpp — picking elements by integer index (the target logit), one-hot rows.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

namespace {

void check_indices(const char* op, const Tensor& index) {
  if (!index.defined()) fail(op, ": index is an undefined tensor");
  if (index.dtype() != DType::I64) fail(op, ": expected int64 indices, got ", index.describe());
}

// index must be int64 on x's device, with x's shape except along `axis`, and inside
// [0, size along axis); the error names the first bad index and where it is.
Tensor checked_index(const char* op, const Tensor& x, int axis, const Tensor& index) {
  check_indices(op, index);
  if (index.device() != x.device())
    fail(op, ": index ", index.describe(), " and x ", x.describe(), " are on different devices");
  bool fits = index.ndim() == x.ndim();
  for (int i = 0; fits && i < x.ndim(); ++i) fits = i == axis || index.size(i) == x.size(i);
  if (!fits)
    fail(op, ": index ", index.describe(), " must match x ", x.describe(),
         " in every dim but axis ", axis);
  Tensor idx = contiguous_data(index);
  int64_t bad = backend_of(x).find_out_of_range(idx.view(), 0, x.size(axis));
  if (bad >= 0)
    fail(op, ": index ", idx.reshape({-1}).slice(0, bad, bad + 1).to_indices()[0],
         " at flat position ", bad, " is outside [0, ", x.size(axis), ") along axis ", axis,
         " of ", x.describe());
  return idx;
}

}  // namespace

// y = x[index] along axis; dx = the adjoint: dy scattered back, summed where indices repeat.
Tensor gather(const Tensor& x, int axis, const Tensor& index) {
  check_floating("gather", x);
  axis = normalize_axis("gather", axis, x);
  Tensor idx = checked_index("gather", x, axis, index);
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

// out = x, then out[index] = src. dx = dy with zeros where src landed; dsrc = dy[index].
Tensor scatter(const Tensor& x, int axis, const Tensor& index, const Tensor& src) {
  check_pair("scatter", x, src);
  axis = normalize_axis("scatter", axis, x);
  Tensor idx = checked_index("scatter", x, axis, index);
  if (src.shape() != idx.shape())
    fail("scatter: src ", src.describe(), " must have the index's shape ", shape_str(idx.shape()));
  Tensor out = x.detach().clone();
  Tensor values = contiguous_data(src);
  backend_of(x).scatter(values.view(), idx.view(), axis, out.view());
  return record(out, "scatter", {x, src}, [axis, idx](const Tensor& grad) {
    Tensor grad_x = contiguous_data(grad).clone();
    Tensor zeros = Tensor::zeros(idx.shape(), grad.dtype(), grad.device());
    backend_of(grad).scatter(zeros.view(), idx.view(), axis, grad_x.view());
    Tensor grad_src = Tensor::empty(idx.shape(), grad.dtype(), grad.device());
    Tensor grad_out = contiguous_data(grad);
    backend_of(grad).gather(grad_out.view(), idx.view(), axis, grad_src.view());
    return std::vector<Tensor>{grad_x, grad_src};
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
