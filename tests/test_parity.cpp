// tests/test_parity.cpp — every backend held to the CPU reference. Each case of the op table
// (op_cases.h), and a few larger shapes that reach the GPU kernels' multi-block and
// multi-warp paths, runs forward and backward in float32 and in float64 (each dtype is its
// own set of kernel instances) on each built non-CPU device and on the CPU, from the same
// inputs and the same output weights R (the loss is Σ f(x) ⊙ R). The outputs and every
// input gradient are compared by a normalized error
//     max |device − cpu| / max(1, max |cpu|)  ≤  tolerance (1e-5 float32, 1e-12 float64),
// which is relative for large values and absolute for small ones. A failure names the case,
// the dtype, the quantity, the worst element and both values.
//
// Without a GPU (or in a CPU-only build) the test is reported as skipped (tests/skip.h).
#include <cmath>
#include <sstream>

#include "core/precision.h"
#include "op_cases.h"
#include "skip.h"

namespace margin {
namespace {

using testing::Domain;
using testing::OpCase;

// The kernels differ from the CPU's only in summation order (cuBLAS, block reductions,
// atomics), which costs a few units in the last place: of ~7 digits in float32, ~16 in
// float64.
double tolerance(DType dtype) { return dtype == DType::F64 ? 1e-12 : 1e-5; }

std::vector<Device> gpu_devices() {
  std::vector<Device> devices;
  for (int index = 0; device_available(Device{DeviceType::CUDA, index}); ++index)
    devices.push_back(Device{DeviceType::CUDA, index});
  return devices;
}

// Shapes the op table keeps small (for finite differences) but the GPU must handle too:
// many warps per slice, many blocks, sizes that are no multiple of a warp.
std::vector<OpCase> larger_cases() {
  using V = const std::vector<Tensor>&;
  return {
      {"matmul(a=[300,200], b=[200,150])", {{300, 200}, {200, 150}}, Domain::Any, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul(aᵀbᵀ batched a=[3,65,33], b=[3,17,65])", {{3, 65, 33}, {3, 17, 65}}, Domain::Any, [](V x) { return matmul(x[0], x[1], true, true); }},
      {"add(a=[513,1], b=[1,700]) broadcast", {{513, 1}, {1, 700}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"exp(x=[100000])", {{100000}}, Domain::Any, [](V x) { return exp(x[0]); }},
      {"sum(x=[1000,1000])", {{1000, 1000}}, Domain::Any, [](V x) { return sum(x[0]); }},
      {"sum(x=[70,300,5], axis=1)", {{70, 300, 5}}, Domain::Any, [](V x) { return sum(x[0], 1); }},
      {"max(x=[64,3001], axis=1)", {{64, 3001}}, Domain::Any, [](V x) { return max(x[0], 1); }},
      {"log_softmax(s=64 · x=[32,10000])", {{32, 10000}}, Domain::Any, [](V x) { return log_softmax(x[0] * 64.0); }},
      {"softmax(x=[700,3], axis=0)", {{700, 3}}, Domain::Any, [](V x) { return softmax(x[0], 0); }},
      {"l2_normalize(x=[128,512])", {{128, 512}}, Domain::Any, [](V x) { return l2_normalize(x[0]); }},
      // The image kernels at sizes where a channel spans several warps (batch norm's and
      // PReLU's per-channel sums over N·H·W) and where convolutions and pools cover many blocks.
      {"batch_norm(x=[8,4,16,16], w=[4], b=[4]) train", {{8, 4, 16, 16}, {4}, {4}}, Domain::Any,
       [](V x) { return batch_norm(x[0] * 3.0 + 1.0, x[1], x[2], Tensor(), Tensor(), true); }},
      {"batch_norm(x=[300,70]) train", {{300, 70}}, Domain::Any,
       [](V x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }},
      {"prelu(x=[8,4,16,16], a=[4])", {{8, 4, 16, 16}, {4}}, Domain::AwayFromZero, [](V x) { return prelu(x[0], x[1]); }},
      {"conv2d(x=[4,16,20,18], w=[32,8,3,3], stride 2, pad 1, groups 2)", {{4, 16, 20, 18}, {32, 8, 3, 3}}, Domain::Any,
       [](V x) { return conv2d(x[0], x[1], Tensor(), Conv2dParams{.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 2}); }},
      {"max_pool2d(x=[4,8,33,31], k 3, stride 2, pad 1)", {{4, 8, 33, 31}}, Domain::Any,
       [](V x) { return max_pool2d(x[0], Pool2dParams{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}); }},
      {"avg_pool2d(x=[4,8,33,31], k 3, stride 2, pad 1)", {{4, 8, 33, 31}}, Domain::Any,
       [](V x) { return avg_pool2d(x[0], Pool2dParams{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}); }},
      {"margin_head(x=[64,128], w=[3000,128], s=64, CosFace m=0.35 inside)", {{64, 128}, {3000, 128}}, Domain::Any, [](V x) {
         std::vector<int64_t> targets(64);
         for (int64_t b = 0; b < 64; ++b) targets[b] = b == 5 ? -1 : (b * 97) % 3000;
         return margin_head(l2_normalize(x[0]), l2_normalize(x[1]), Tensor::from_indices(targets, {64}, x[0].device()), Tensor(), 64.0, 0.35);
       }},
      {"gather(x=[256,5000], axis=1) target logit", {{256, 5000}}, Domain::Any, [](V x) {
         std::vector<int64_t> targets(256);
         for (int64_t b = 0; b < 256; ++b) targets[b] = (b * 977) % 5000;
         return gather(x[0], 1, Tensor::from_indices(targets, {256, 1}, x[0].device()));
       }},
  };
}

struct Run {
  std::vector<double> output;
  std::vector<std::vector<double>> grads;  // empty where no gradient reached an input
};

Run run_on(const OpCase& c, const std::vector<Tensor>& host_inputs, const Tensor& host_weights,
           Device device) {
  std::vector<Tensor> inputs;
  for (const Tensor& x : host_inputs) inputs.push_back(x.to(device).detach().requires_grad_());
  Tensor output = c.f(inputs);
  sum(output * host_weights.to(device)).backward();
  Run run;
  run.output = output.to_vector();
  for (const Tensor& x : inputs)
    run.grads.push_back(x.grad().defined() ? x.grad().to_vector() : std::vector<double>{});
  return run;
}

// "" when `got` matches `want` within `tolerance`, else where and by how much it does not.
std::string compare(const std::vector<double>& got, const std::vector<double>& want,
                    double tolerance) {
  if (got.size() != want.size()) {
    std::ostringstream report;
    report << got.size() << " elements vs the CPU's " << want.size();
    return report.str();
  }
  double scale = 1, worst = 0;
  size_t worst_at = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (size_t i = 0; i < got.size(); ++i) {
    double difference = std::abs(got[i] - want[i]);
    if (!(difference <= worst)) {  // a NaN difference is the worst of all
      worst = difference;
      worst_at = i;
    }
  }
  double error = worst / scale;
  if (error <= tolerance) return "";
  std::ostringstream report;
  report.precision(9);
  report << "normalized error " << error << " > " << tolerance << " at element " << worst_at
         << ": device " << got[worst_at] << " vs cpu " << want[worst_at];
  return report.str();
}

void check_parity(const OpCase& c, Device device, DType dtype) {
  CAPTURE(c.name);
  Generator gen(11);
  std::vector<Tensor> host_inputs;
  for (const Shape& shape : c.shapes)
    host_inputs.push_back(testing::make_input(shape, c.domain, gen).detach().to(dtype));
  Shape output_shape = c.f(host_inputs).shape();
  Tensor weights = Tensor::randn(output_shape, gen, dtype, kCPU);

  Run want = run_on(c, host_inputs, weights, kCPU);
  Run got = run_on(c, host_inputs, weights, device);
  std::string where = c.name + " on " + device.str() + " in " + dtype_name(dtype);
  if (autocast_precision() != Precision::FP32) where += std::string(" under ") + precision_name(autocast_precision());
  std::string report = compare(got.output, want.output, tolerance(dtype));
  CHECK_MESSAGE(report.empty(), where << ", output: " << report);
  for (size_t k = 0; k < want.grads.size(); ++k) {
    report = compare(got.grads[k], want.grads[k], tolerance(dtype));
    CHECK_MESSAGE(report.empty(), where << ", gradient of input " << k << ": " << report);
  }
}

// The GPUs to compare with the CPU; none reports the test case skipped, saying why.
std::vector<Device> gpus_or_skip() {
  std::vector<Device> devices = gpu_devices();
  if (devices.empty())
    testing::skip(backend_built(DeviceType::CUDA) ? "no CUDA device (built with CUDA, but the driver sees no GPU)"
                                                  : "no CUDA device (margin was built without CUDA)");
  return devices;
}

std::vector<OpCase> parity_cases() {
  std::vector<OpCase> cases = testing::op_cases();
  for (OpCase& c : larger_cases()) cases.push_back(std::move(c));
  return cases;
}

TEST_CASE("every op matches the CPU on every built GPU, float32 and float64, forward and backward (needs a CUDA device)") {
  const std::vector<OpCase> cases = parity_cases();
  for (Device device : gpus_or_skip()) {
    MESSAGE("comparing " << cases.size() << " op cases on " << device.str() << " with the CPU");
    for (DType dtype : {DType::F32, DType::F64})
      for (const OpCase& c : cases) check_parity(c, device, dtype);
  }
}

// Under bf16 autocast both devices multiply the same bfloat16-rounded operands exactly and sum
// in float32 (backends/cuda/rounded.h on the GPU): the products agree as closely as float32's.
TEST_CASE("every op matches the CPU under bf16 autocast on every built GPU, forward and backward (needs a CUDA device)") {
  const std::vector<OpCase> cases = parity_cases();
  AutocastScope bf16(Precision::BF16);
  for (Device device : gpus_or_skip())
    for (const OpCase& c : cases) check_parity(c, device, DType::F32);
}

}  // namespace
}  // namespace margin
