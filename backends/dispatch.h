// backends/dispatch.h — what the CPU and CUDA kernel files share on the host side: calling a
// kernel body with the C++ type of a tensor's dtype, and seeing a shape as [outer, n, inner]
// around one axis (the contract of the axis kernels in backend.h), and the dtype checks of the
// inputs kept for a backward under bf16 autocast and of the copies kernels make of them.
#pragma once
#include "backends/half.h"
#include "backends/types.h"

namespace margin {

// Calls f(T{}) with T the C++ type of a compute dtype (float32, float64); any other dtype is
// an error naming the kernel, and for a storage type (bfloat16, float16) saying to convert.
template <class F>
void dispatch_floating(DType dtype, const char* kernel, F&& f) {
  switch (dtype) {
    case DType::F32: f(float{}); return;
    case DType::F64: f(double{}); return;
    default: fail(kernel, ": expected float32 or float64, got ", dtype_name(dtype), dtype_hint(dtype));
  }
}

// Calls f(T{}) for any dtype: bfloat16 and float16 as margin::bfloat16 and margin::float16,
// which convert with static_cast to and from float, double and int64_t (and each other).
template <class F>
void dispatch_any(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32: f(float{}); return;
    case DType::F64: f(double{}); return;
    case DType::I64: f(int64_t{}); return;
    case DType::BF16: f(bfloat16{}); return;
    case DType::F16: f(float16{}); return;
  }
  fail("dispatch_any: unknown dtype code ", int(dtype));
}

// The inputs kept for a backward under bf16 autocast (backend.h): a convolution's image may be
// bfloat16 only for bfloat16 products of float32 data, a backward's saved x only along
// float32 data; any other mix of dtypes is an error naming the kernel.
inline void check_kept_image(DType image, DType operands, DType data, const char* kernel) {
  if (image == DType::BF16 && (operands != DType::BF16 || data != DType::F32))
    fail(kernel, ": a bfloat16 image with ", dtype_name(operands), " operands and ", dtype_name(data),
         " data (expected bfloat16 operands and float32 data)");
}
inline void check_kept_input(DType x, DType data, const char* kernel) {
  if (x != data && !(x == DType::BF16 && data == DType::F32))
    fail(kernel, ": x is ", dtype_name(x), " and dy ", dtype_name(data),
         " (expected one dtype, or a bfloat16 x with float32 dy)");
}

// The copy a forward kernel makes of its input for the backward (backend.h's `kept`): bfloat16
// of a float32 input, as many elements.
inline void check_kept_copy(DType kept, int64_t kept_numel, DType x, int64_t x_numel, const char* kernel) {
  if (kept != DType::BF16 || x != DType::F32 || kept_numel != x_numel)
    fail(kernel, ": the kept copy is ", dtype_name(kept), " of ", kept_numel, " elements for ", dtype_name(x),
         " x of ", x_numel, " (expected bfloat16 of float32 x, as many elements)");
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
