// core/optim.cpp — the optimizer loop; the update itself is one backend kernel per tensor.
#include "core/optim.h"

#include "core/autograd.h"
#include "core/profiler.h"

namespace margin {

SGD::SGD(std::vector<Tensor> params, SgdParams options)
    : params_(std::move(params)), options_(options) {
  if (options.lr < 0 || options.momentum < 0 || options.weight_decay < 0)
    fail("SGD: lr (", options.lr, "), momentum (", options.momentum, ") and weight_decay (",
         options.weight_decay, ") must be ≥ 0");
  if (options.nesterov && options.momentum == 0) fail("SGD: Nesterov needs momentum > 0");
  for (const Tensor& p : params_) {
    if (!p.is_leaf() || !p.requires_grad())
      fail("SGD: every parameter must be a leaf with requires_grad, got ", p.describe());
    velocities_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
  }
}

void SGD::step() {
  ProfileScope scope("optimizer", "sgd_step");
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor grad = params_[i].grad();
    if (!grad.defined()) continue;
    backend_for(params_[i].device())
        .sgd_step(options_, params_[i].view(), grad.view(), velocities_[i].view());
    if (const Tensor::Constraint& constraint = params_[i].constraint()) constraint(params_[i]);
  }
}

void SGD::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

}  // namespace margin
