// core/loss_scaler.h — dynamic loss scaling for float16 products, by the rules of PyTorch's
// torch.cuda.amp.GradScaler.
//
// float16 (backends/half.h) has 5 exponent bits: its largest finite value is 65504, its
// smallest normal 2^-14 and its smallest subnormal 2^-24 ≈ 6e-8; its unit roundoff is
// u = 2^-11. Under Precision::FP16 (core/precision.h) the backward products round their
// operands, the incoming gradients among them, to float16: a gradient below 2^-24 becomes 0,
// and one below 2^-14 keeps fewer than 11 bits. Backward is linear in its seed, so the
// gradients of S · loss are S times the gradients of the loss: scaling the loss by S lifts
// them into float16's range, and dividing them by S in float32 before the optimizer step gives
// the gradients back (exactly when S is a power of two, as every S of the defaults is).
//
// No one S fits a whole run: too small and gradients underflow, too large and a product
// passes 65504 and becomes inf. The dynamic rule keeps S near the largest that works:
//   a step whose gradients hold an inf or a NaN:  the step is skipped (no update at all),
//                                                 S ← S · backoff_factor, clean steps ← 0
//   every other step:                             the step is taken, clean steps += 1; when
//                                                 they reach growth_interval:
//                                                 S ← S · growth_factor, clean steps ← 0
// An overflow costs one skipped step and lowers S at once; after growth_interval clean steps
// S tries higher again, so it follows the gradients' range as it drifts during training. The
// defaults are PyTorch's: S starts at 2^16, halves on an overflow and doubles after 2000
// clean steps (a probe that overflows costs 1 step in 2000).
//
//   LossScaler scaler;
//   sgd.zero_grad();
//   scaler.scale(loss).backward();
//   bool taken = scaler.step(sgd, params);  // unscale, check, step if finite, update S
//
// bfloat16 needs no scaler: it has float32's exponent range.
#pragma once
#include <cstdint>
#include <vector>

#include "core/optim.h"
#include "core/tensor.h"

namespace margin {

struct LossScalerOptions {
  double init_scale = 65536.0;      // S at the start, 2^16
  double growth_factor = 2.0;       // S's factor after growth_interval clean steps, > 1
  double backoff_factor = 0.5;      // S's factor after an inf or NaN gradient, in (0, 1)
  int64_t growth_interval = 2000;   // clean steps between two growths, ≥ 1
};

class LossScaler {
 public:
  // margin::Error naming the option and its value when one is out of its range (above).
  explicit LossScaler(LossScalerOptions options = {});

  // loss · S, differentiable: its backward seeds every gradient with S times the loss's.
  Tensor scale(const Tensor& loss) const;
  // Divides every defined .grad() of `params` by S, in place, and returns whether all of their
  // values are finite afterwards. Parameters without a gradient are skipped.
  bool unscale_and_check(const std::vector<Tensor>& params);
  // The rule above, after a step whose gradients held an inf or a NaN (found_inf) or did not.
  void update(bool found_inf);
  // unscale_and_check, then sgd.step() only when every gradient is finite, then update.
  // Returns whether the step was taken.
  bool step(SGD& sgd, const std::vector<Tensor>& params);

  double scale_value() const { return scale_; }
  int64_t clean_steps() const { return clean_steps_; }
  const LossScalerOptions& options() const { return options_; }
  // Puts back a state read from a checkpoint (what scale_value and clean_steps returned);
  // margin::Error when scale is not positive and finite or clean_steps is outside
  // [0, growth_interval).
  void restore(double scale, int64_t clean_steps);

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t clean_steps_ = 0;
};

}  // namespace margin
