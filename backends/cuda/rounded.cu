// backends/cuda/rounded.cu — RoundedOperand (rounded.h): one elementwise rounding kernel.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/rounded.h"
#include "backends/half.h"

namespace margin::cuda {

namespace {

// out[i] = in[i] rounded to `operands` (bfloat16 or float16) and widened back. (A free
// function: nvcc takes no extended __device__ lambda inside a constructor.)
void round_operand(const float* in, float* out, int64_t n, DType operands, const char* kernel) {
  if (operands == DType::BF16)
    parallel_for(n, kernel, [=] __device__(int64_t i) { out[i] = bf16_float(bf16_bits(in[i])); });
  else
    parallel_for(n, kernel, [=] __device__(int64_t i) { out[i] = fp16_float(fp16_bits(in[i])); });
}

}  // namespace

RoundedOperand::RoundedOperand(Context& context, const View& view, DType operands, const char* kernel)
    : context_(context), data_(view.data) {
  if (operands == DType::F32) return;
  if ((operands != DType::BF16 && operands != DType::F16) || view.dtype != DType::F32)
    fail(kernel, ": ", dtype_name(operands), " operands for ", dtype_name(view.dtype),
         " data (expected float32 operands, or bfloat16/float16 for float32 data)");
  const int64_t n = view.numel();
  bytes_ = static_cast<size_t>(n) * sizeof(float);
  if (n == 0) return;
  scratch_ = context.pool.allocate(bytes_);
  round_operand(view.ptr<float>(), static_cast<float*>(scratch_), n, operands, kernel);
  data_ = scratch_;
}

RoundedOperand::~RoundedOperand() {
  if (scratch_) context_.pool.deallocate(scratch_, bytes_);
}

}  // namespace margin::cuda
