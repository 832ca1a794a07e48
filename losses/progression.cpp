// losses/progression.cpp — Softmax → NSL → LMCL, each a few lines from the previous one, and
// the shared machinery (cosines, target replacement, fused path, factory).
//
// CosFace (Wang et al. 2018, arXiv:1801.09414):
//   Softmax  L = −log e^{W_y·x} / Σ_j e^{W_j·x},         W_j·x = ‖W_j‖‖x‖ cos θ_j     (eq. 1–2)
//   NSL      fix ‖W_j‖ = 1 (normalize W) and ‖x‖ = s:  z_j = s cos θ_j               (eq. 3)
//   LMCL     z_y = s (cos θ_y − m),  z_j = s cos θ_j (j ≠ y)                           (eq. 4)
// The margin touches one logit per row: the loss gathers cos θ_y [B, 1], maps it through
// target_cosine (identity for NSL), and scatters it back before scaling.
// Left out: a bias in Softmax (the paper's eq. 1 has none once features are compared).
#include <algorithm>
#include <cmath>

#include "backends/backend.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "losses/margin_loss.h"

namespace margin {

namespace {

// Every row of W back on the unit sphere, in place (the class weights' constraint).
void unit_rows(const Tensor& weight) {
  Tensor norms = Tensor::empty({weight.size(0)}, weight.dtype(), weight.device());
  backend_for(weight.device()).l2_normalize_rows(weight.view(), 1e-12, weight.view(), norms.view());
}

}  // namespace

MarginLoss::MarginLoss(int64_t dim, int64_t classes, Generator& gen, LossOptions options,
                       LossDefaults defaults)
    : options_(options),
      scale_(options.scale.value_or(defaults.scale)),
      margin_(options.margin.value_or(defaults.margin)),
      classes_(classes) {
  if (dim <= 0 || classes <= 0)
    fail("MarginLoss: sizes must be positive, got d=", dim, " C=", classes);
  if (defaults.unit_weights && !(scale_ > 0 && std::isfinite(scale_)))
    fail(defaults.name, ": scale s = ", scale_, " (expected a positive number: the logits are s·cos θ)");
  if (!(margin_ >= 0 && margin_ < defaults.max_margin))
    fail(defaults.name, ": margin m = ", margin_, " (expected 0 <= m < ", defaults.max_margin,
         defaults.max_margin < 1e300 ? ": beyond it no feature is classified right" : "", ")");
  part_ = {.start = 0, .count = classes};
  // N(0, 0.01²) directions, as CosFace's and insightface's class weights. Softmax keeps that
  // small size (its initial logits stay near 0); the normalized losses start each W_j on the
  // unit sphere and keep it there. Scaled and normalized in place: a large W costs its size once.
  Tensor weight;
  if (options.partial_fc) {
    comm_ = options.partial_fc->communicator ? options.partial_fc->communicator : &world();
    part_ = partial_fc_part(classes, *options.partial_fc, *comm_);
    // Each rank draws its own rows, from a generator of its own (seeded by one draw of `gen`
    // that every rank makes alike, and the rank).
    Generator rows_gen(gen.engine()() ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(comm_->rank() + 1)));
    weight = Tensor::randn({part_.count, dim}, rows_gen, options.dtype, kCPU);
  } else {
    weight = Tensor::randn({classes, dim}, gen, options.dtype, kCPU);
  }
  backend_for(kCPU).unary(UnaryOp::MulScalar, 0.01, 0.0, weight.view(), weight.view());
  if (defaults.unit_weights) unit_rows(weight);
  weight_ = register_parameter("weight", weight.to(default_device()));
  // The loss sees only Ŵ_j = W_j/‖W_j‖, so its gradient for W_j is (I − Ŵ_j Ŵ_jᵀ) g / ‖W_j‖:
  // orthogonal to W_j (a plain SGD step can only lengthen W_j) and shrinking as W_j grows.
  // Left alone, ‖W_j‖ grows 50–1000× in the first steps and the directions, the only thing the
  // loss uses, freeze where they happened to be (tests/test_losses.cpp shows the algebra).
  // Putting W_j back to length 1 after each step leaves the loss unchanged and turns W_j by
  // lr·‖g‖ radians per step, as long as training lasts.
  if (defaults.unit_weights) weight_.set_constraint(unit_rows);
}

double MarginLoss::warmup_fraction() const {
  if (options_.warmup_steps <= 0) return 1.0;
  return std::clamp(static_cast<double>(step_) / options_.warmup_steps, 0.0, 1.0);
}

double MarginLoss::current_margin() const {
  return std::max(margin_, 0.0) * warmup_fraction();
}

Tensor MarginLoss::cos_theta(const Tensor& x) {
  if (!x.defined() || x.ndim() != 2 || x.size(1) != weight_.size(1))
    fail(type_name(), ": expected embeddings x [B, ", weight_.size(1), "], got ",
         x.defined() ? x.describe() : std::string("an undefined tensor"));
  return matmul(l2_normalize(x), l2_normalize(weight_), false, true);
}

Tensor MarginLoss::scale_logits(const Tensor&, const Tensor& cosines) {
  return cosines * scale_;
}

Tensor MarginLoss::logits(const Tensor& x, const Tensor& labels) {
  Tensor cosines = cos_theta(x);
  if (!labels.defined()) return scale_logits(x, cosines);
  LabelRows rows = label_rows(labels, x.size(0), classes_, x.dtype(), type_name().c_str());
  Tensor cos_y = gather(cosines, 1, rows.safe);
  Tensor target = blend_valid(rows, target_cosine(cos_y), cos_y);
  return scale_logits(x, scatter(cosines, 1, rows.safe, target));
}

Tensor MarginLoss::forward(const Tensor& x, const Tensor& labels) {
  if (partial()) return partial_forward(x, labels);
  if (options_.fused && fusable()) return fused_forward(x, labels);
  return cross_entropy(logits(x, labels), labels, options_.reduction);
}

// The same loss through margin_head. NSL and LMCL hand it their margin (CosFace's: the head
// shifts its own target logit). The others: cos θ_y is a row-wise dot product x̂_b · Ŵ_{y_b}
// (B×d work), the margin acts on it with ordinary ops, and only the kernel sees B×C.
Tensor MarginLoss::fused_forward(const Tensor& x, const Tensor& labels) {
  if (!x.defined() || x.ndim() != 2 || x.size(1) != weight_.size(1))
    fail(type_name(), ": expected embeddings x [B, ", weight_.size(1), "], got ",
         x.defined() ? x.describe() : std::string("an undefined tensor"));
  int64_t batch = x.size(0);
  LabelRows rows = label_rows(labels, batch, classes_, x.dtype(), type_name().c_str());
  Tensor x_hat = l2_normalize(x), w_hat = l2_normalize(weight_);
  if (cosface_margin() >= 0)
    return reduce_rows(margin_head(x_hat, w_hat, labels, Tensor(), scale_, cosface_margin()), rows,
                       options_.reduction);
  Tensor losses = margin_head(x_hat, w_hat, labels, target_logits(x_hat, w_hat, rows), scale_);
  return reduce_rows(losses, rows, options_.reduction);
}

Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows) {
  const int64_t count = static_cast<int64_t>(rows.size()), dim = x.size(1);
  std::vector<int64_t> index(count * dim);
  for (int64_t i = 0; i < count; ++i) std::fill(index.begin() + i * dim, index.begin() + (i + 1) * dim, rows[i]);
  return gather(x, 0, Tensor::from_indices(index, {count, dim}, x.device()));
}

// cos θ_y is a row-wise dot product x̂_b · Ŵ_{y_b} (B×d work); the margin acts on it with
// ordinary ops, so autograd takes its gradient back to x̂ and Ŵ_y.
Tensor MarginLoss::target_logits(const Tensor& x_hat, const Tensor& w_hat, const LabelRows& rows) {
  Tensor w_y = gather_rows(w_hat, rows.safe.to_indices());
  Tensor cos_y = sum(x_hat * w_y, 1, true);
  return (blend_valid(rows, target_cosine(cos_y), cos_y) * scale_).reshape({x_hat.size(0)});
}

// z = W x: no normalization, no scale, no margin.
Tensor SoftmaxLoss::logits(const Tensor& x, const Tensor& labels) {
  if (!x.defined() || x.ndim() != 2 || x.size(1) != weight_.size(1))
    fail(type_name(), ": expected embeddings x [B, ", weight_.size(1), "], got ",
         x.defined() ? x.describe() : std::string("an undefined tensor"));
  if (labels.defined())
    label_rows(labels, x.size(0), classes_, x.dtype(), type_name().c_str());
  return matmul(x, weight_, false, true);
}

// cos θ_y − m: the whole of CosFace's change to NSL.
Tensor LargeMarginCosineLoss::target_cosine(const Tensor& cos_y) {
  return cos_y - current_margin();
}

std::shared_ptr<MarginLoss> make_loss(const std::string& name, int64_t dim, int64_t classes,
                                      Generator& gen, LossOptions options) {
  if (name == "softmax") return std::make_shared<SoftmaxLoss>(dim, classes, gen, options);
  if (name == "nsl") return std::make_shared<NormalizedSoftmaxLoss>(dim, classes, gen, options);
  if (name == "lmcl" || name == "cosface")
    return std::make_shared<LargeMarginCosineLoss>(dim, classes, gen, options);
  if (name == "arcface") return std::make_shared<ArcFaceLoss>(dim, classes, gen, options);
  if (name == "sphereface") return std::make_shared<SphereFaceLoss>(dim, classes, gen, options);
  if (name == "combined") return std::make_shared<CombinedMarginLoss>(dim, classes, gen, options);
  fail("make_loss: unknown loss '", name,
       "'; expected softmax, nsl, lmcl, arcface, sphereface or combined");
}

}  // namespace margin
