// losses/margin_loss.h — the loss progression of face recognition, each a Module holding the
// class weights W [C, d] ("weight": N(0, 0.01²) directions as in the CosFace and insightface
// code; rows kept of length 1 for every loss but Softmax, see MarginLoss's constructor):
//
//   Softmax     z_j = W_j · x                                  (no bias)
//   NSL         z_j = s · cos θ_j,      cos θ_j = x̂ · Ŵ_j       (Wang et al. 2018, eq. 3)
//   LMCL        z_y = s · (cos θ_y − m), z_j = s · cos θ_j      (CosFace, eq. 4)
//   ArcFace     z_y = s · cos(θ_y + m)
//   SphereFace  z_y = ‖x‖ · (λ cos θ_y + ψ(θ_y)) / (1 + λ),  ψ(θ) = (−1)^k cos(mθ) − 2k
//   Combined    z_y = s · (cos(m1 θ_y + m2) − m3)
//
// and one cross-entropy, over rows whose label is not −1 (mean, sum or per row: Reduction). Shapes: x [B, d], labels [B]
// int64 in [−1, C). The composed forward (a few ops per loss, in losses/*.cpp) is the
// readable reference; the normalized losses use the fused margin head (core/ops margin_head)
// when LossOptions::fused is on, with the same values and gradients (tests/test_losses.cpp).
// losses/README.md derives each loss and its gradients.
// Partial FC (LossOptions::partial_fc, losses/partial_fc.cpp) splits W over the ranks of a
// job and samples its classes; every normalized loss (NSL, LMCL, ArcFace, Combined) runs so.
// Left out: sub-center and dynamic margins, bias terms.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "backends/communicator.h"
#include "core/random.h"
#include "layers/module.h"

namespace margin {

// What forward returns from the per-row losses ℓ_b (0 on rows labelled −1), as PyTorch's
// `reduction`: their mean over the labelled rows (0 when there is none), their sum, or ℓ [B].
enum class Reduction { Mean, Sum, None };

// Partial FC (An et al., "Partial FC: Training 10 Million Identities on a Single Machine",
// and insightface's partial_fc_v2): rank r of the communicator holds the rows of W of
// classes even_part(C, r, N) (the first C mod N ranks one class more). Each step the ranks
// all-gather the embeddings and labels, each keeps the classes of its rows that have a
// positive in the global batch plus random others, ⌊sample_rate · C_r⌋ in all (all of the
// positives when they are more; at least one), and the softmax normalizer of every row is
// formed across ranks (ops partial_margin_head). The loss is the mean over the global batch,
// the same on every rank, and each rank's embeddings get their whole gradient back.
// Rows of W that a step did not sample get a zero gradient; SGD's momentum and weight decay
// still move them, as in insightface's partial_fc_v2 (one dense parameter), which keeps the
// optimizer's state the same as without sampling (so sample_rate = 1 equals the full loss
// exactly, updates included).
struct PartialFcOptions {
  Communicator* communicator = nullptr;  // the ranks W is split over; nullptr: world()
  double sample_rate = 1.0;              // r ∈ (0, 1]
  uint64_t seed = 0;                     // the sampling of step t draws from (seed, t, rank)
};

// This rank's classes of C under `options` (checks C ≥ ranks and 0 < sample_rate ≤ 1).
Part partial_fc_part(int64_t classes, const PartialFcOptions& options, Communicator& comm);

struct LossOptions {
  std::optional<double> scale = std::nullopt;   // s; unset: the loss's default (below, per loss)
  std::optional<double> margin = std::nullopt;  // m; unset: the loss's default
  Reduction reduction = Reduction::Mean;
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
  // W split over ranks and its classes sampled (above); unset: the whole W here.
  std::optional<PartialFcOptions> partial_fc = std::nullopt;
};

// What a loss uses where LossOptions leaves s or m unset, and whether its class weights live
// on the unit sphere. Each loss class states its own, once, in its constructor below.
struct LossDefaults {
  double scale = 64, margin = 0;
  bool unit_weights = true;  // every loss but Softmax, whose logits use ‖W_j‖
  // m must lie in [0, max_margin): beyond it no feature is ever classified right (LMCL:
  // cos θ_y − m < −1 ≤ cos θ_j for m ≥ 2; ArcFace: θ_y + m ≥ π). `name` is for the error.
  double max_margin = 1e300;
  const char* name = "MarginLoss";
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

// x's rows `rows` (any order, repeats allowed) [k, d] of x [n, d], differentiable (the
// backward adds into the rows it took). Through gather, which takes one index per element:
// the index is k × d.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows);

// ℓ [B] reduced as asked; `rows` are the labels it was computed for.
Tensor reduce_rows(const Tensor& losses, const LabelRows& rows, Reduction reduction);

// Cross-entropy of logits [B, C] against labels [B], reduced as asked (default: the mean over
// labelled rows); rows labelled −1 add neither loss nor gradient. Labels ≥ C or < −1 are an
// error naming the row.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Reduction reduction = Reduction::Mean);

class MarginLoss : public Module {
 public:
  // With defaults.unit_weights, W_j starts of length 1 and stays there: W carries a constraint
  // (Tensor::set_constraint) that puts every row back on the unit sphere after each optimizer
  // step. The loss value does not change (it sees only Ŵ); SGD's steps keep turning W_j
  // instead of lengthening it (progression.cpp explains).
  MarginLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options, LossDefaults defaults);
  // The loss, reduced as options.reduction says (default: the mean over labelled rows).
  virtual Tensor forward(const Tensor& x, const Tensor& labels);
  Tensor operator()(const Tensor& x, const Tensor& labels) { return forward(x, labels); }
  // Logits [B, C] with the margin at each label; without labels (inference) no margin.
  virtual Tensor logits(const Tensor& x, const Tensor& labels);
  // cos θ [B, C] = x̂ Ŵᵀ, for evaluation.
  Tensor cos_theta(const Tensor& x);

  void set_step(int64_t step) { step_ = step; }
  int64_t step() const { return step_; }
  // m now: the full margin, or its warm-up fraction.
  double current_margin() const;
  // 1 after the warm-up, step / warmup_steps during it.
  double warmup_fraction() const;
  double scale() const { return scale_; }    // s in force (the option, or the loss's default)
  double margin() const { return margin_; }  // m in force, after the warm-up
  const LossOptions& options() const { return options_; }
  Tensor weight() const { return weight_; }  // [C, d], or this rank's rows [C_r, d] with Partial FC
  int64_t classes() const { return classes_; }  // C, all ranks' classes

  // ---- Partial FC (losses/partial_fc.cpp) ----
  bool partial() const { return options_.partial_fc.has_value(); }
  // This rank's classes: W's rows are classes [start, start + count).
  Part class_part() const { return part_; }
  // All of W [C, d]: weight(), or with Partial FC every rank's rows gathered (a collective:
  // every rank calls it).
  Tensor full_weight() const;
  // The classes a step keeps, from the global batch's labels [B] (int64, −1 ignored):
  // `kept`, this rank's sampled classes as local row indices in ascending order, and
  // `local_labels` [B], each row's class as a position in `kept`, or −1 when it is not here.
  struct ClassSample {
    std::vector<int64_t> kept;
    std::vector<int64_t> local_labels;
  };
  ClassSample sample_classes(const std::vector<int64_t>& labels, int64_t step) const;

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
  Tensor partial_forward(const Tensor& x, const Tensor& labels);
  // The target logits s·ψ(cos θ_y) [B] of rows whose class is among w_hat's rows
  // (local_labels ≥ 0; s·cos θ elsewhere, unused), for a loss whose margin is not CosFace's.
  Tensor target_logits(const Tensor& x_hat, const Tensor& w_hat, const LabelRows& local_rows);

  LossOptions options_;
  double scale_, margin_;
  int64_t classes_;
  Part part_;               // this rank's classes (all of them without Partial FC)
  Communicator* comm_ = nullptr;  // Partial FC's ranks
  Tensor weight_;
  int64_t step_ = 0;
};

class SoftmaxLoss final : public MarginLoss {
 public:
  SoftmaxLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options = {})
      : MarginLoss(dim, classes, gen, options, {.scale = 1, .margin = 0, .unit_weights = false}) {}
  std::string type_name() const override { return "SoftmaxLoss"; }
  Tensor logits(const Tensor& x, const Tensor& labels) override;

 protected:
  bool fusable() const override { return false; }
};

class NormalizedSoftmaxLoss final : public MarginLoss {
 public:
  NormalizedSoftmaxLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options = {})
      : MarginLoss(dim, classes, gen, options, {.scale = 64, .margin = 0, .name = "NSL"}) {}
  std::string type_name() const override { return "NormalizedSoftmaxLoss"; }

 protected:
  double cosface_margin() const override { return 0; }
};

// s = 64, m = 0.35: CosFace §4.1.
class LargeMarginCosineLoss final : public MarginLoss {
 public:
  LargeMarginCosineLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options = {})
      : MarginLoss(dim, classes, gen, options, {.scale = 64, .margin = 0.35, .max_margin = 2, .name = "LMCL"}) {}
  std::string type_name() const override { return "LargeMarginCosineLoss"; }

 protected:
  Tensor target_cosine(const Tensor& cos_y) override;
  double cosface_margin() const override { return current_margin(); }
};

class ArcFaceLoss final : public MarginLoss {
 public:
  ArcFaceLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options = {})
      : MarginLoss(dim, classes, gen, options,
                   {.scale = 64, .margin = 0.5, .max_margin = 3.141592653589793, .name = "ArcFace"}) {}
  std::string type_name() const override { return "ArcFaceLoss"; }

 protected:
  Tensor target_cosine(const Tensor& cos_y) override;
};

class SphereFaceLoss final : public MarginLoss {
 public:
  // m = 4 (s is unused: the logits keep ‖x‖).
  SphereFaceLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options = {});
  std::string type_name() const override { return "SphereFaceLoss"; }
  double lambda() const;  // λ at the current step

 protected:
  Tensor target_cosine(const Tensor& cos_y) override;
  Tensor scale_logits(const Tensor& x, const Tensor& cosines) override;
  bool fusable() const override { return false; }
};

// s = 64; its margins are LossOptions' m1, m2, m3 (m is unused).
class CombinedMarginLoss final : public MarginLoss {
 public:
  CombinedMarginLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options = {})
      : MarginLoss(dim, classes, gen, options, {.scale = 64, .margin = 0}) {}
  std::string type_name() const override { return "CombinedMarginLoss"; }

 protected:
  Tensor target_cosine(const Tensor& cos_y) override;
};

// The loss class of `name`: softmax | nsl | lmcl (or cosface) | arcface | sphereface | combined.
// Unset s and m take that class's defaults (its constructor above).
std::shared_ptr<MarginLoss> make_loss(const std::string& name, int64_t dim, int64_t classes,
                                      Generator& gen, LossOptions options = {});

}  // namespace margin
