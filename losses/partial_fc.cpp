// losses/partial_fc.cpp — Partial FC: the class weights W split by rows over the ranks of a
// job, and a sample of the classes per step (LossOptions::partial_fc; margin_loss.h says
// what it computes, core/ops partial_margin_head how the ranks share the normalizer).
//
// One step on rank r, global batch B = Σ_q B_q:
//   x [B_r, d], labels [B_r] ──all_gather_rows──▶ X [B, d], Y [B]   (same on every rank)
//   kept = sample_classes(Y): this rank's classes with a positive in Y, plus random others
//   ŵ = normalize(W[kept]) [k, d]; local label of row b = position of Y_b in kept, or −1
//   ℓ [B] = partial_margin_head(normalize(X), ŵ, local labels, margin)   (global cross-entropy)
//   L = mean of ℓ over the labelled rows of Y                              (same on every rank)
// Backward: each rank's dX is its classes' part; all_gather_rows' backward sums the parts
// and hands each rank the rows it owns, so x gets ∂L/∂x whole. W[kept] gets its exact
// gradient on its own rank; no gradient of W crosses ranks.
// Memory per rank: W, its gradient and momentum are C/N × d; the logits are B × r·C/N.
// Left out: a row gather that does not build a [k, d] index (gather takes one index per
// element), sampling that differs per rank count (the sample of N ranks is not that of one).
#include <algorithm>

#include "core/ops.h"
#include "losses/margin_loss.h"

namespace margin {

Part partial_fc_part(int64_t classes, const PartialFcOptions& options, Communicator& comm) {
  if (!(options.sample_rate > 0 && options.sample_rate <= 1))
    fail("Partial FC: sample_rate ", options.sample_rate, " (expected 0 < r <= 1)");
  if (classes < comm.size())
    fail("Partial FC: ", classes, " classes cannot be split over ", comm.size(), " ranks (expected C >= ranks)");
  return even_part(classes, comm.rank(), comm.size());
}

MarginLoss::ClassSample MarginLoss::sample_classes(const std::vector<int64_t>& labels, int64_t step) const {
  const int64_t here = part_.count;
  std::vector<char> positive(here, 0);
  for (int64_t y : labels)
    if (y >= part_.start && y < part_.start + here) positive[y - part_.start] = 1;
  const double rate = options_.partial_fc ? options_.partial_fc->sample_rate : 1.0;
  const int64_t wanted = std::max<int64_t>(static_cast<int64_t>(rate * static_cast<double>(here)), 1);
  ClassSample sample;
  for (int64_t j = 0; j < here; ++j)
    if (positive[j]) sample.kept.push_back(j);
  if (rate == 1.0) {
    sample.kept.resize(here);
    for (int64_t j = 0; j < here; ++j) sample.kept[j] = j;
  } else if (static_cast<int64_t>(sample.kept.size()) < wanted) {
    // The negatives: a uniform choice without replacement (the first draws of a Fisher–Yates
    // shuffle of this rank's other classes), from (seed, step, rank).
    std::vector<int64_t> negatives;
    negatives.reserve(here - sample.kept.size());
    for (int64_t j = 0; j < here; ++j)
      if (!positive[j]) negatives.push_back(j);
    const uint64_t seed = options_.partial_fc ? options_.partial_fc->seed : 0;
    Generator gen(mix_seed(mix_seed(mix_seed(seed) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(comm_ ? comm_->rank() : 0)));
    const int64_t draws = wanted - static_cast<int64_t>(sample.kept.size());
    const int64_t n = static_cast<int64_t>(negatives.size());
    for (int64_t i = 0; i < draws; ++i) {
      std::swap(negatives[i], negatives[i + gen.below(n - i)]);
      sample.kept.push_back(negatives[i]);
    }
    std::sort(sample.kept.begin(), sample.kept.end());
  }
  sample.local_labels.assign(labels.size(), -1);
  for (size_t b = 0; b < labels.size(); ++b) {
    const int64_t y = labels[b] - part_.start;
    if (labels[b] < 0 || y < 0 || y >= here) continue;
    sample.local_labels[b] = std::lower_bound(sample.kept.begin(), sample.kept.end(), y) - sample.kept.begin();
  }
  return sample;
}

Tensor MarginLoss::full_weight() const {
  return partial() ? all_gather_rows(weight_.detach(), *comm_) : weight_;
}

Tensor MarginLoss::partial_forward(const Tensor& x, const Tensor& labels) {
  if (!fusable() || !weight_.constraint())
    fail(type_name(), ": Partial FC needs a normalized loss with a constant scale (nsl, lmcl, arcface, combined)");
  if (!x.defined() || x.ndim() != 2 || x.size(1) != weight_.size(1))
    fail(type_name(), ": expected embeddings x [B, ", weight_.size(1), "], got ",
         x.defined() ? x.describe() : std::string("an undefined tensor"));
  label_rows(labels, x.size(0), classes_, x.dtype(), type_name().c_str());  // this rank's labels, checked
  Communicator& comm = *comm_;
  Tensor x_all = all_gather_rows(x, comm);
  Tensor labels_all = all_gather_rows(labels.to(x.device()), comm);
  const int64_t batch = x_all.size(0);
  ClassSample sample = sample_classes(labels_all.to_indices(), step_);
  const int64_t kept = static_cast<int64_t>(sample.kept.size());

  Tensor w = kept == part_.count ? weight_ : gather_rows(weight_, sample.kept);
  Tensor x_hat = l2_normalize(x_all), w_hat = l2_normalize(w);
  Tensor local_labels = Tensor::from_indices(sample.local_labels, {batch}, x.device());
  Tensor losses;
  if (cosface_margin() >= 0) {
    losses = partial_margin_head(x_hat, w_hat, local_labels, Tensor(), scale_, cosface_margin(), comm);
  } else {
    LabelRows here = label_rows(local_labels, batch, kept, x.dtype(), type_name().c_str());
    losses = partial_margin_head(x_hat, w_hat, local_labels, target_logits(x_hat, w_hat, here), scale_, 0, comm);
  }
  // An ignored row's loss is 0 already, but its probabilities are not (its class is on no
  // rank, so no rank zeroed them): the mask gives it no gradient either.
  LabelRows rows = label_rows(labels_all, batch, classes_, x.dtype(), type_name().c_str());
  return reduce_rows(losses * rows.valid.reshape({batch}), rows, options_.reduction);
}

}  // namespace margin
