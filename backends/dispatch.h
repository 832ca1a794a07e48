// backends/dispatch.h — what the CPU and CUDA kernel files share on the host side: calling a
// kernel body with the C++ type of a tensor's dtype, and seeing a shape as [outer, n, inner]
// around one axis (the contract of the axis kernels in backend.h).
#pragma once
#include "backends/types.h"

namespace margin {

// Calls f(T{}) with T the C++ type of a floating dtype; other dtypes are an error naming the kernel.
template <class F>
void dispatch_floating(DType dtype, const char* kernel, F&& f) {
  switch (dtype) {
    case DType::F32: f(float{}); return;
    case DType::F64: f(double{}); return;
    default: fail(kernel, ": expected a floating dtype, got ", dtype_name(dtype));
  }
}

// Calls f(T{}) for any dtype.
template <class F>
void dispatch_any(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32: f(float{}); return;
    case DType::F64: f(double{}); return;
    case DType::I64: f(int64_t{}); return;
  }
}

// A shape seen as [outer, n, inner] around one axis.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
  AxisSplit(const Shape& shape, int axis) {
    for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
      if (i < axis) outer *= shape[i];
      else if (i == axis) n = shape[i];
      else inner *= shape[i];
    }
  }
};

}  // namespace margin
