// core/ops/shape.cpp — reshape, transpose, slice (views that share storage) and concat.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

namespace {

// The shape with its one −1 (if any) inferred from numel.
Shape infer_shape(const Tensor& x, Shape shape) {
  int64_t known = 1;
  int unknown = -1;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (shape[i] == -1) {
      if (unknown >= 0) fail("reshape: more than one −1 in ", shape_str(shape));
      unknown = i;
    } else if (shape[i] < 0) {
      fail("reshape: negative size in ", shape_str(shape));
    } else {
      known *= shape[i];
    }
  }
  if (unknown >= 0 && known != 0 && x.numel() % known == 0) shape[unknown] = x.numel() / known;
  if (shape_numel(shape) != x.numel() || (unknown >= 0 && shape[unknown] == -1))
    fail("reshape: cannot view ", x.describe(), " (", x.numel(), " elements) as ",
         shape_str(shape));
  return shape;
}

}  // namespace

Tensor Tensor::reshape(const Shape& requested) const {
  Shape shape = infer_shape(*this, requested);
  if (shape == this->shape()) return *this;
  Tensor data = contiguous_data(*this);
  Tensor out = make(data.impl()->storage, data.impl()->offset, shape, contiguous_strides(shape),
                    dtype());
  return record(out, "reshape", {*this}, [source = this->shape()](const Tensor& grad) {
    return std::vector<Tensor>{grad.reshape(source)};
  });
}

Tensor Tensor::transpose(int dim0, int dim1) const {
  dim0 = normalize_axis("transpose", dim0, *this);
  dim1 = normalize_axis("transpose", dim1, *this);
  Shape shape = this->shape(), strides = this->strides();
  std::swap(shape[dim0], shape[dim1]);
  std::swap(strides[dim0], strides[dim1]);
  Tensor out = make(impl()->storage, impl()->offset, shape, strides, dtype());
  return record(out, "transpose", {*this}, [dim0, dim1](const Tensor& grad) {
    return std::vector<Tensor>{grad.transpose(dim0, dim1)};
  });
}

// The gradient of a slice is zero outside it: a zero tensor with dy copied into the window.
Tensor Tensor::slice(int dim, int64_t begin, int64_t end) const {
  dim = normalize_axis("slice", dim, *this);
  if (begin < 0 || end < begin || end > size(dim))
    fail("slice: [", begin, ", ", end, ") is not inside [0, ", size(dim), "] along dim ", dim,
         " of ", describe());
  Shape shape = this->shape();
  shape[dim] = end - begin;
  Tensor out = make(impl()->storage, impl()->offset + begin * strides()[dim], shape, strides(),
                    dtype());
  return record(out, "slice", {*this},
                [dim, begin, end, source = this->shape()](const Tensor& grad) {
                  Tensor grad_in = Tensor::zeros(source, grad.dtype(), grad.device());
                  backend_of(grad).copy(grad.view(), grad_in.slice(dim, begin, end).view());
                  return std::vector<Tensor>{grad_in};
                });
}

// Parts laid side by side along `axis`; each part's gradient is its window of dy.
Tensor concat(const std::vector<Tensor>& parts, int axis) {
  if (parts.empty()) fail("concat: no tensors given");
  const Tensor& first = parts[0];
  axis = normalize_axis("concat", axis, first);
  int64_t total = 0;
  for (const Tensor& part : parts) {
    check_pair("concat", first, part);
    bool fits = part.ndim() == first.ndim();
    for (int i = 0; fits && i < first.ndim(); ++i)
      fits = i == axis || part.size(i) == first.size(i);
    if (!fits)
      fail("concat: ", part.describe(), " does not match ", first.describe(),
           " outside axis ", axis);
    total += part.size(axis);
  }
  Tensor out = Tensor::empty(with_size(first.shape(), axis, total), first.dtype(), first.device());
  std::vector<int64_t> starts, sizes;
  int64_t at = 0;
  for (const Tensor& part : parts) {
    starts.push_back(at);
    sizes.push_back(part.size(axis));
    backend_of(part).copy(part.view(), out.slice(axis, at, at + part.size(axis)).view());
    at += part.size(axis);
  }
  return record(out, "concat", parts, [axis, starts, sizes](const Tensor& grad) {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < starts.size(); ++i)
      grads.push_back(grad.slice(axis, starts[i], starts[i] + sizes[i]).contiguous());
    return grads;
  });
}

}  // namespace margin
