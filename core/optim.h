// core/optim.h — optimizers. An optimizer holds the parameters it updates and their state;
// step() applies one update from their .grad (parameters without a gradient are skipped),
// then each updated parameter's constraint (Tensor::set_constraint), if it has one.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace margin {

// Stochastic gradient descent with momentum, weight decay and optional Nesterov momentum,
// exactly PyTorch's torch.optim.SGD (dampening 0):
//   g ← grad + weight_decay · p
//   v ← momentum · v + g                     (v starts at 0, so the first v is g)
//   p ← p − lr · (nesterov ? g + momentum · v : v)
class SGD {
 public:
  SGD(std::vector<Tensor> params, SgdParams options);
  void step();
  void zero_grad();
  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  const SgdParams& options() const { return options_; }
  // One momentum buffer per parameter (zeros until the first step), for checkpoints.
  std::vector<Tensor>& velocities() { return velocities_; }
  const std::vector<Tensor>& velocities() const { return velocities_; }
  const std::vector<Tensor>& params() const { return params_; }

 private:
  std::vector<Tensor> params_;
  std::vector<Tensor> velocities_;
  SgdParams options_;
};

}  // namespace margin
