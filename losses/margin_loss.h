// losses/margin_loss.h — the loss progression of face recognition, each a Module holding the
// class weights W [C, d] ("weight": N(0, 0.01²) directions as in the CosFace and insightface
// code; rows of length 1 for every loss but Softmax, see renormalize_weights):
//
//   Softmax     z_j = W_j · x                                  (no bias)
//   NSL         z_j = s · cos θ_j,      cos θ_j = x̂ · Ŵ_j       (Wang et al. 2018, eq. 3)
//   LMCL        z_y = s · (cos θ_y − m), z_j = s · cos θ_j      (CosFace, eq. 4)
//   ArcFace     z_y = s · cos(θ_y + m)
//   SphereFace  z_y = ‖x‖ · (λ cos θ_y + ψ(θ_y)) / (1 + λ),  ψ(θ) = (−1)^k cos(mθ) − 2k
//   Combined    z_y = s · (cos(m1 θ_y + m2) − m3)
//
// and one cross-entropy, mean over rows whose label is not −1. Shapes: x [B, d], labels [B]
// int64 in [−1, C). The composed forward (a few ops per loss, in losses/*.cpp) is the
// readable reference; the normalized losses use the fused margin head (core/ops margin_head)
// when LossOptions::fused is on, with the same values and gradients (tests/test_losses.cpp).
// losses/README.md derives each loss and its gradients.
// Left out: sub-center and dynamic margins, partial-FC sampling of classes, bias terms.
#pragma once
#include <memory>
#include <string>

#include "core/random.h"
#include "layers/module.h"

namespace margin {

struct LossOptions {
  double scale = 0;    // s; 0 means the loss's default (make_loss)
  double margin = -1;  // m; < 0 means the loss's default
  // Fused head for NSL, LMCL, ArcFace and Combined (ignored by Softmax and SphereFace).
  bool fused = true;
  // Margin warm-up: m grows linearly from 0 to m over the first warmup_steps (set_step).
  int64_t warmup_steps = 0;
  // ArcFace: easy_margin applies the margin only where cos θ_y > 0; straight_through takes
  // insightface's gradient (∂z_y/∂cos θ_y = s) instead of the exact one.
  bool easy_margin = false;
  bool straight_through = false;
  // SphereFace λ annealing, λ = max(lambda_min, lambda_base·(1 + lambda_gamma·step)^−lambda_power)
  // (the constants of SphereFace's Caffe prototxt); anneal_lambda = false means λ = 0.
  bool anneal_lambda = true;
  double lambda_base = 1000, lambda_gamma = 0.12, lambda_power = 1, lambda_min = 5;
  // CombinedMargin's m1, m2, m3 (insightface's combined default: 1, 0.3, 0.2).
  double m1 = 1.0, m2 = 0.3, m3 = 0.2;
  DType dtype = DType::F32;  // of W (tests use float64)
};

// Labels [B] seen two ways: `safe` [B, 1] int64 with −1 replaced by 0 (so gather and
// scatter stay in range) and `valid` [B, 1] in `dtype`, 1 for a real label and 0 for −1.
struct LabelRows {
  Tensor safe, valid;
  int64_t count = 0;  // rows with a real label
};
// Throws unless labels is int64 [batch] with values in [−1, classes); `who` names the caller.
LabelRows label_rows(const Tensor& labels, int64_t batch, int64_t classes, DType dtype,
                     const char* who);
// valid ⊙ a + (1 − valid) ⊙ b: the margin only on rows with a real label.
Tensor blend_valid(const LabelRows& rows, const Tensor& a, const Tensor& b);

// Mean cross-entropy of logits [B, C] against labels [B]; rows labelled −1 add neither loss
// nor gradient (0 when every row is ignored). Labels ≥ C or < −1 are an error naming the row.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

class MarginLoss : public Module {
 public:
  // unit_weights: W_j starts (and, through renormalize_weights, stays) of length 1; every
  // loss but Softmax, which uses ‖W_j‖.
  MarginLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options,
             bool unit_weights = true);
  // The mean loss over non-ignored rows.
  virtual Tensor forward(const Tensor& x, const Tensor& labels);
  Tensor operator()(const Tensor& x, const Tensor& labels) { return forward(x, labels); }
  // Logits [B, C] with the margin at each label; without labels (inference) no margin.
  virtual Tensor logits(const Tensor& x, const Tensor& labels);
  // cos θ [B, C] = x̂ Ŵᵀ, for evaluation.
  Tensor cos_theta(const Tensor& x);

  // Puts every W_j back on the unit sphere, in place and outside autograd: the training loop
  // calls it after each optimizer step. The loss value is unchanged (it sees only Ŵ); SGD's
  // steps keep turning W_j instead of lengthening it (progression.cpp explains). Softmax: no-op.
  void renormalize_weights();

  void set_step(int64_t step) { step_ = step; }
  int64_t step() const { return step_; }
  // m now: the full margin, or its warm-up fraction.
  double current_margin() const;
  // 1 after the warm-up, step / warmup_steps during it.
  double warmup_fraction() const;
  double scale() const { return options_.scale; }
  const LossOptions& options() const { return options_; }
  Tensor weight() const { return weight_; }

 protected:
  // The margin-modified target cosine for cos θ_y [B, 1] (NSL: itself). Differentiable.
  virtual Tensor target_cosine(const Tensor& cos_y) { return cos_y; }
  // z from the modified cosines [B, C]: s · cos (SphereFace: ‖x‖ · cos).
  virtual Tensor scale_logits(const Tensor& x, const Tensor& cosines);
  // Whether the fused head computes this loss (a constant scale and a target-only margin).
  virtual bool fusable() const { return true; }
  // A margin that is CosFace's, target_cosine(c) = c − m, so the fused head applies it itself
  // (NSL: 0, LMCL: m); −1 for the others, whose target logit the head takes from the caller.
  virtual double cosface_margin() const { return -1; }
  Tensor fused_forward(const Tensor& x, const Tensor& labels);

  LossOptions options_;
  int64_t classes_;
  Tensor weight_;
  int64_t step_ = 0;
  bool unit_weights_;
};

class SoftmaxLoss final : public MarginLoss {
 public:
  SoftmaxLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options)
      : MarginLoss(dim, classes, gen, options, /*unit_weights=*/false) {}
  std::string type_name() const override { return "SoftmaxLoss"; }
  Tensor logits(const Tensor& x, const Tensor& labels) override;

 protected:
  bool fusable() const override { return false; }
};

class NormalizedSoftmaxLoss final : public MarginLoss {
 public:
  using MarginLoss::MarginLoss;
  std::string type_name() const override { return "NormalizedSoftmaxLoss"; }

 protected:
  double cosface_margin() const override { return 0; }
};

class LargeMarginCosineLoss final : public MarginLoss {
 public:
  using MarginLoss::MarginLoss;
  std::string type_name() const override { return "LargeMarginCosineLoss"; }

 protected:
  Tensor target_cosine(const Tensor& cos_y) override;
  double cosface_margin() const override { return current_margin(); }
};

class ArcFaceLoss final : public MarginLoss {
 public:
  using MarginLoss::MarginLoss;
  std::string type_name() const override { return "ArcFaceLoss"; }

 protected:
  Tensor target_cosine(const Tensor& cos_y) override;
};

class SphereFaceLoss final : public MarginLoss {
 public:
  SphereFaceLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options);
  std::string type_name() const override { return "SphereFaceLoss"; }
  double lambda() const;  // λ at the current step

 protected:
  Tensor target_cosine(const Tensor& cos_y) override;
  Tensor scale_logits(const Tensor& x, const Tensor& cosines) override;
  bool fusable() const override { return false; }
};

class CombinedMarginLoss final : public MarginLoss {
 public:
  using MarginLoss::MarginLoss;
  std::string type_name() const override { return "CombinedMarginLoss"; }

 protected:
  Tensor target_cosine(const Tensor& cos_y) override;
};

// name: softmax | nsl | lmcl | arcface | sphereface | combined. Unset s and m take each
// loss's default: NSL s = 64; LMCL s = 64, m = 0.35 (CosFace §4.1); ArcFace s = 64, m = 0.5;
// SphereFace m = 4 (s unused: ‖x‖); Combined s = 64 with options m1, m2, m3.
std::shared_ptr<MarginLoss> make_loss(const std::string& name, int64_t dim, int64_t classes,
                                      Generator& gen, LossOptions options = {});

}  // namespace margin
