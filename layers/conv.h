// layers/conv.h — Conv2d, as PyTorch's nn.Conv2d (NCHW): y = x ⊛ W + b,
// x [N, C_in, H, W] → y [N, C_out, P, Q]; W [C_out, C_in/groups, k, k], b [C_out].
// Initialized as PyTorch's default: W and b ~ U(−1/√fan_in, 1/√fan_in), fan_in = C_in/groups·k².
// The kernel is square (one size) or KernelSize{height, width}; stride, padding and dilation
// are the same along both sides.
// Left out: padding modes other than zeros, padding = "same".
#pragma once
#include "core/random.h"
#include "layers/module.h"

namespace margin {

struct Conv2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  DType dtype = DType::F32;
};

struct KernelSize {
  int64_t height, width;
};

class Conv2d final : public Layer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, KernelSize kernel, Generator& gen,
         Conv2dOptions options = {});
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Generator& gen,
         Conv2dOptions options = {})
      : Conv2d(in_channels, out_channels, KernelSize{kernel, kernel}, gen, options) {}
  std::string type_name() const override { return "Conv2d"; }
  Tensor forward(const Tensor& x) override;
  int64_t flops(const Shape& input, const Shape& output) const override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
  const Conv2dParams& params() const { return params_; }
  Tensor weight, bias;  // bias undefined when built without one

 private:
  Conv2dParams params_;
};

}  // namespace margin
