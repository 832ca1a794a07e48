// core/loss_scaler.cpp — the loss scaler of loss_scaler.h, through existing ops: no kernel
// of its own.
#include "core/loss_scaler.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"

namespace margin {

LossScaler::LossScaler(LossScalerOptions options) : options_(options), scale_(options.init_scale) {
  if (!(options.init_scale > 0 && std::isfinite(options.init_scale)))
    fail("LossScaler: init_scale ", options.init_scale, " (expected a positive finite scale)");
  if (!(options.growth_factor > 1 && std::isfinite(options.growth_factor)))
    fail("LossScaler: growth_factor ", options.growth_factor, " (expected a finite factor above 1)");
  if (!(options.backoff_factor > 0 && options.backoff_factor < 1))
    fail("LossScaler: backoff_factor ", options.backoff_factor, " (expected a factor between 0 and 1, both excluded)");
  if (options.growth_interval < 1)
    fail("LossScaler: growth_interval ", options.growth_interval, " (expected at least 1 step)");
}

Tensor LossScaler::scale(const Tensor& loss) const { return mul_scalar(loss, scale_); }

bool LossScaler::unscale_and_check(const std::vector<Tensor>& params) {
  NoGradGuard no_grad;
  const double inverse = 1.0 / scale_;
  // Σ over the gradients of Σ g · 0: 0 when every value is finite, NaN as soon as one is an
  // inf or a NaN (inf · 0 is NaN), and no sum of finite values can overflow into a false
  // alarm. One value comes back to the host, whatever the number of parameters.
  Tensor probe;
  for (const Tensor& param : params) {
    Tensor grad = param.grad();
    if (!grad.defined()) continue;
    grad.copy_(mul_scalar(grad, inverse));
    Tensor this_probe = sum(mul_scalar(grad, 0.0)).to(DType::F64);
    probe = probe.defined() ? add(probe, this_probe) : this_probe;
  }
  return !probe.defined() || probe.item() == 0;
}

void LossScaler::update(bool found_inf) {
  if (found_inf) {
    scale_ *= options_.backoff_factor;
    clean_steps_ = 0;
    return;
  }
  if (++clean_steps_ == options_.growth_interval) {
    scale_ *= options_.growth_factor;
    clean_steps_ = 0;
  }
}

bool LossScaler::step(SGD& sgd, const std::vector<Tensor>& params) {
  const bool finite = unscale_and_check(params);
  if (finite) sgd.step();
  update(/*found_inf=*/!finite);
  return finite;
}

void LossScaler::restore(double scale, int64_t clean_steps) {
  if (!(scale > 0 && std::isfinite(scale)))
    fail("LossScaler::restore: scale ", scale, " (expected a positive finite scale)");
  if (clean_steps < 0 || clean_steps >= options_.growth_interval)
    fail("LossScaler::restore: clean_steps ", clean_steps, " (expected 0 to growth_interval - 1 = ",
         options_.growth_interval - 1, ")");
  scale_ = scale;
  clean_steps_ = clean_steps;
}

}  // namespace margin
