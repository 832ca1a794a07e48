// core/ops/common.h — the checks and small helpers every op family shares.
#pragma once
#include "core/autograd.h"
#include "core/ops.h"

namespace margin::ops {

inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

// x's data as a contiguous tensor, without recording anything (ops record themselves).
inline Tensor contiguous_data(const Tensor& x) { return x.detach().contiguous(); }

inline void check_floating(const char* op, const Tensor& x) {
  if (!x.defined()) fail(op, ": input is an undefined tensor");
  if (!is_floating(x.dtype()))
    fail(op, ": expected a float32 or float64 tensor, got ", x.describe(), dtype_hint(x.dtype()));
}

// Both operands floating, of one dtype, on one device.
inline void check_pair(const char* op, const Tensor& a, const Tensor& b) {
  check_floating(op, a);
  check_floating(op, b);
  if (a.device() != b.device())
    fail(op, ": operands on different devices: ", a.describe(), " and ", b.describe(),
         "; move one with .to(device)");
  if (a.dtype() != b.dtype())
    fail(op, ": operands of different dtypes: ", a.describe(), " and ", b.describe(),
         "; convert one with .to(dtype)");
}

// A negative axis counts from the end; anything outside [-ndim, ndim) is an error.
inline int normalize_axis(const char* op, int axis, const Tensor& x) {
  int n = x.ndim();
  if (axis < -n || axis >= n) fail(op, ": axis ", axis, " is out of range for ", x.describe());
  return axis < 0 ? axis + n : axis;
}

// x's shape with `axis` set to `size`.
inline Shape with_size(const Shape& shape, int axis, int64_t size) {
  Shape result = shape;
  result[axis] = size;
  return result;
}

// The shape without `axis` (what a reduction returns unless keepdim).
inline Shape without_axis(const Shape& shape, int axis) {
  Shape result = shape;
  result.erase(result.begin() + axis);
  return result;
}

inline Tensor empty_like(const Tensor& x) { return Tensor::empty(x.shape(), x.dtype(), x.device()); }

}  // namespace margin::ops
