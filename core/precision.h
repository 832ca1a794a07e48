// core/precision.h — mixed precision, written in one place: which op multiplies in which type,
// and in which type it keeps its activations for the backward.
//
// margin's ops compute on float32 tensors under every precision: their results, gradients and
// parameters are float32. A precision names the type that the matrix products round their two
// operands to before multiplying (backends/backend.h, "Products"); each product of two 16-bit
// values is exact in float32, and the sums are float32, as on tensor cores. An AutocastScope
// sets the precision for the ops run inside it, on this thread (torch.autocast's role); the
// trainer opens one around the backbone's forward only, so the embedding reaches the margin
// head in float32, as insightface does, and each product's backward uses the precision of its
// forward.
//
//   op (core/ops)                                fp32    bf16                fp16 (CUDA only)
//   conv2d, matmul: forward, dx and dw products  fp32    bfloat16 operands   float16 operands
//   batch norm (statistics, running averages)    fp32    fp32                fp32
//   PReLU, ReLU, pools, adds, dropout, flatten   fp32    fp32                fp32
//   l2-normalize, margin head, softmax, loss     fp32    fp32 (outside the scope)
//   optimizer: master weights, momentum          fp32    fp32                fp32
//   kept for the backward: the inputs of conv2d, fp32    bfloat16            fp32
//     batch norm and PReLU (batch_norm_prelu: batch norm's input alone)
//
// The CPU's only exception, switched on by the training programs and benchmarks (their
// --conv-algorithm, default auto: train/trainer.h) and off in the library: with the bf16 products
// on AVX-512 BF16, bf16 3x3 conv2d of stride 1 rounds the Winograd transforms of its operands
// instead of the operands (forward, dx and dw; backends/cpu/winograd.h); on random data its error
// is two to five times the direct kernels'.
//
// The kept inputs are most of a training step's memory (they live from the forward to the
// backward); under bf16 they are rounded once when the op runs, and the backward kernels read
// them widened (saved_activation_dtype). For conv2d this changes nothing: its products round
// the input to those very values. Batch norm's and PReLU's gradients are then those of inputs
// within a relative 2^-8 (bfloat16's unit roundoff) of theirs, as with PyTorch's bf16
// autocast, whose activations are bfloat16 throughout. On W2 (docs/precision.md) this took
// peak memory from 2299 MiB to 1920 MiB (with the caching pool's reuse of larger blocks,
// backends/caching_pool.h).
//
// Why the elementwise ops compute in float32: on the CPU they run at memory speed, and with
// float32 activations a 16-bit version would add two conversions to the same traffic; the
// products are where the time is (bench/README.md: the GEMM kernels are ≈ 60% of a W2 step in
// float32) and where AVX-512 BF16 doubles the rate and AMX multiplies it by more than five.
//
// fp16 needs a loss scaler (its products underflow where bf16's do not) and runs on CUDA
// only: the CPU backend refuses float16 products with an error that says so. Its kept inputs
// stay float32.
#pragma once
#include <cstdint>
#include <string>

#include "backends/types.h"

namespace margin {

enum class Precision : uint8_t { FP32, BF16, FP16 };

// "fp32", "bf16", "fp16" (what --precision takes); anything else is an error naming `what`
// (the flag) and the value.
Precision parse_precision(const std::string& text, const std::string& what = "--precision");
const char* precision_name(Precision precision);
// The operand type of this precision's products: F32, BF16 or F16.
DType product_operands(Precision precision);
// Refuses a precision the device cannot run (fp16 on the CPU), naming both.
void check_precision(Precision precision, Device device);

// Ops run while a scope is alive (on its thread) multiply in its precision; scopes nest, the
// innermost wins, and the previous precision comes back when a scope ends.
class AutocastScope {
 public:
  explicit AutocastScope(Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  Precision previous_;
};

// This thread's precision now: FP32 outside every scope.
Precision autocast_precision();

// The dtype in which an op keeps a float32 activation for its backward: bfloat16 under a bf16
// scope (half the memory until the backward, as PyTorch's bf16 autocast keeps its
// activations), else the activation's own dtype.
DType saved_activation_dtype(DType dtype);

}  // namespace margin
