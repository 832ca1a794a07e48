// backends/cuda/rounded.cu — RoundedOperand (rounded.h): one elementwise rounding kernel.
#include "backends/cuda/launch.cuh"
#include "backends/cuda/rounded.h"
#include "backends/dispatch.h"
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

// out[i] = the 16-bit pattern of in[i] rounded to `operands` (bfloat16 or float16).
void round_operand_to_16_bits(const float* in, uint16_t* out, int64_t n, DType operands, const char* kernel) {
  if (operands == DType::BF16)
    parallel_for(n, kernel, [=] __device__(int64_t i) { out[i] = bf16_bits(in[i]); });
  else
    parallel_for(n, kernel, [=] __device__(int64_t i) { out[i] = fp16_bits(in[i]); });
}

// out[i] = in[i], a bfloat16 operand stored rounded, widened (exactly).
void widen_bfloat16(const uint16_t* in, float* out, int64_t n, const char* kernel) {
  parallel_for(n, kernel, [=] __device__(int64_t i) { out[i] = bf16_float(in[i]); });
}

}  // namespace

RoundedOperand::RoundedOperand(Context& context, const View& view, DType operands, const char* kernel, Width width)
    : context_(context), data_(view.data) {
  if (operands == DType::F32) return;
  const bool stored_rounded = operands == DType::BF16 && view.dtype == DType::BF16;
  if ((operands != DType::BF16 && operands != DType::F16) || (view.dtype != DType::F32 && !stored_rounded))
    fail(kernel, ": ", dtype_name(operands), " operands for ", dtype_name(view.dtype),
         " data (expected float32 operands, or bfloat16/float16 for float32 data, or bfloat16 for bfloat16)");
  const int64_t n = view.numel();
  if (n == 0 || (stored_rounded && width == Width::kHalf)) return;
  bytes_ = static_cast<size_t>(n) * (width == Width::kHalf ? sizeof(uint16_t) : sizeof(float));
  scratch_ = context.pool.allocate(bytes_);
  if (width == Width::kHalf)
    round_operand_to_16_bits(view.ptr<float>(), static_cast<uint16_t*>(scratch_), n, operands, kernel);
  else if (stored_rounded)
    widen_bfloat16(static_cast<const uint16_t*>(view.data), static_cast<float*>(scratch_), n, kernel);
  else
    round_operand(view.ptr<float>(), static_cast<float*>(scratch_), n, operands, kernel);
  data_ = scratch_;
}

namespace {
// The operands that make RoundedOperand widen x (bfloat16 along float32 data) or keep it.
DType widening(const View& x, DType data, const char* kernel) {
  check_kept_input(x.dtype, data, kernel);
  return x.dtype == DType::BF16 ? DType::BF16 : DType::F32;
}
}  // namespace

WidenedInput::WidenedInput(Context& context, const View& x, DType data, const char* kernel)
    : widened(context, x, widening(x, data, kernel), kernel), view(x) {
  view.data = const_cast<void*>(widened.data());
  view.dtype = data;
}

RoundedOperand::~RoundedOperand() {
  if (scratch_) context_.pool.deallocate(scratch_, bytes_);
}

}  // namespace margin::cuda
