// layers/norm.h — batch normalization layers, as PyTorch's nn.BatchNorm1d / nn.BatchNorm2d.
//
//   y = (x − μ_c)/√(σ²_c + eps) · weight_c + bias_c, per channel c (dim 1).
// Training (Module::training()): μ, σ² are the batch's (biased σ² normalizes), and the
// buffers follow running ← (1 − momentum)·running + momentum·stat with the UNBIASED σ².
// Eval: the running buffers are used. weight starts at 1, bias at 0, running_mean at 0,
// running_var at 1. Names match PyTorch's state_dict: weight, bias, running_mean, running_var.
// Left out: num_batches_tracked and momentum = None (cumulative average),
// track_running_stats = false, SyncBatchNorm.
#pragma once
#include "layers/module.h"

namespace margin {

class PReLU;

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;  // learn weight and bias
  DType dtype = DType::F32;
};

// The shared body; BatchNorm1d and BatchNorm2d differ only in the inputs they accept.
class BatchNorm : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
  // prelu(this(x)) and this(x) + residual, each as one op (core/ops.h batch_norm_prelu and
  // batch_norm_add), as IResNet calls its batch norms. While a layer observer watches
  // (summary()), they run as the layers and the add, so that it sees each layer.
  Tensor forward_prelu(const Tensor& x, PReLU& prelu);
  Tensor forward_add(const Tensor& x, const Tensor& residual);
  int64_t channels() const { return channels_; }
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
  const BatchNormOptions& options() const { return options_; }
  Tensor weight, bias;  // undefined without affine
  Tensor running_mean, running_var;

 protected:
  BatchNorm(int64_t channels, BatchNormOptions options);
  // Throws unless x has the layout this layer accepts, naming it and both shapes.
  virtual void check_input(const Tensor& x) const = 0;
  std::string describe() const;  // "BatchNorm2d(64)"

 private:
  int64_t channels_;
  BatchNormOptions options_;
};

// x [N, C] or [N, C, L].
class BatchNorm1d final : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t features, BatchNormOptions options = {})
      : BatchNorm(features, options) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 private:
  void check_input(const Tensor& x) const override;
};

// x [N, C, H, W].
class BatchNorm2d final : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t channels, BatchNormOptions options = {})
      : BatchNorm(channels, options) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 private:
  void check_input(const Tensor& x) const override;
};

}  // namespace margin
