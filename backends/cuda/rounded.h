// backends/cuda/rounded.h — the operands of a mixed-precision product (backend.h, "Products")
// on CUDA, in scratch memory from the caching allocator for the duration of one call:
//  - Width::kFloat: a float32 operand's values rounded to bfloat16 or float16 (to nearest
//    even) and widened back. cuDNN multiplies them in float32: every product of two 16-bit
//    values is exact in float, so the results are those of a half-precision product with
//    float32 sums — the same numbers the CPU gives — at float32 speed. (cudnnConvolutionForward
//    and its backward calls take 16-bit operands only with an output of the same type, which
//    would round every result to 16 bits where the CPU keeps float32; so they get none.)
//  - Width::kHalf: the rounded values themselves, 16 bits each, for cuBLAS's cublasGemmEx,
//    which multiplies them on the tensor cores with float32 sums and writes a float32 result;
//    a bfloat16 view (an input stored rounded) is passed as it is, without a copy.
//
// Internal to backends/cuda.
#pragma once
#include "backends/cuda/context.h"
#include "backends/types.h"

namespace margin::cuda {

class RoundedOperand {
 public:
  enum class Width { kFloat, kHalf };
  // `data` is the view's own memory for F32 operands; a rounded copy otherwise (BF16 or F16,
  // of a float32 view), or for a bfloat16 view with BF16 operands its values widened (a
  // convolution's image stored rounded, backend.h's "Products") or, kHalf, the view itself.
  // Anything else is an error naming `kernel`.
  RoundedOperand(Context& context, const View& view, DType operands, const char* kernel,
                 Width width = Width::kFloat);
  ~RoundedOperand();
  RoundedOperand(const RoundedOperand&) = delete;
  RoundedOperand& operator=(const RoundedOperand&) = delete;
  const void* data() const { return data_; }

 private:
  Context& context_;
  const void* data_;
  void* scratch_ = nullptr;
  size_t bytes_ = 0;
};

// A backward's saved input as float32: the view itself, or for a bfloat16 view (an input kept
// rounded for the backward, backend.h) along float32 data its values widened into scratch.
// Any other mix of dtypes is an error naming `kernel`.
struct WidenedInput {
  WidenedInput(Context& context, const View& x, DType data, const char* kernel);
  RoundedOperand widened;
  View view;
};

}  // namespace margin::cuda
