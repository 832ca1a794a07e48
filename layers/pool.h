// layers/pool.h — pooling and reshaping layers, as PyTorch's nn.MaxPool2d, nn.AvgPool2d,
// nn.AdaptiveAvgPool2d(1) + flatten (GlobalAvgPool) and nn.Flatten.
//   MaxPool2d(kernel, stride = kernel, padding = 0); AvgPool2d likewise, counting padding in
//   the divisor (PyTorch's default count_include_pad = True).
//   GlobalAvgPool: [N, C, H, W] → [N, C], the mean of each plane.
//   Flatten: [N, ...] → [N, product of the rest].
// Left out: ceil_mode, dilation, non-square windows as constructor arguments.
#pragma once
#include "layers/module.h"

namespace margin {

class MaxPool2d final : public Layer {
 public:
  // stride 0 means stride = kernel (PyTorch's default).
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  std::string type_name() const override { return "MaxPool2d"; }
  Tensor forward(const Tensor& x) override;
  int64_t flops(const Shape& input, const Shape& output) const override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;

 private:
  Pool2dParams params_;
};

class AvgPool2d final : public Layer {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0,
                     bool count_include_pad = true);
  std::string type_name() const override { return "AvgPool2d"; }
  Tensor forward(const Tensor& x) override;
  int64_t flops(const Shape& input, const Shape& output) const override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;

 private:
  Pool2dParams params_;
};

class GlobalAvgPool final : public Layer {
 public:
  std::string type_name() const override { return "GlobalAvgPool"; }
  Tensor forward(const Tensor& x) override;
  int64_t flops(const Shape& input, const Shape& output) const override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
};

class Flatten final : public Layer {
 public:
  std::string type_name() const override { return "Flatten"; }
  Tensor forward(const Tensor& x) override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
};

}  // namespace margin
