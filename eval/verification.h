// eval/verification.h — open-set face verification as LFW measures it: given a score for
// each pair of images (cosine similarity of their embeddings; higher = more likely the same
// person) and whether the pair really is one person, the ROC curve and its summaries, the
// accuracy-maximizing threshold, and the 10-fold accuracy that papers report
// ("99.33% ± 0.30"). Also the pairs files (eval/pairs.h, included) and a ROC plot.
//
// One decision rule everywhere: a pair is called "same" when score >= threshold.
// With P same pairs and N different pairs, a threshold t gives
//   TAR(t) = #{same pairs with score >= t} / P       (true accept rate)
//   FAR(t) = #{different pairs with score >= t} / N  (false accept rate), FRR = 1 - TAR.
// Every function needs finite scores; the ROC functions need both kinds of pair.
//
// Conventions (insightface's verification.py where it has one):
// - 10-fold accuracy: the threshold for fold k is the best one on the other folds; the
//   spread is numpy's default std (population, divides by the number of folds).
// - best_threshold tries every cut between two neighbouring distinct scores (at their
//   midpoint), plus "accept all" (-inf) and "reject all" (+inf): the exact best, where
//   insightface searches a grid of 400 thresholds. Pairs with equal scores fall on the same
//   side of every threshold. Of thresholds that tie for the best accuracy, the highest (the
//   strictest, fewest false accepts) wins, as insightface's argmax over thresholds ordered
//   from strict to lenient does.
// - tar_at_far reads the curve's points without interpolating (see below).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "eval/pairs.h"
#include "eval/plot.h"

namespace margin {

// One point per distinct score, the thresholds descending from +inf (the point (0, 0)) to
// the lowest score (the point (1, 1)), so FAR and TAR ascend. Equal scores of same and
// different pairs make one point, joined to the previous one by a diagonal segment.
struct RocCurve {
  std::vector<double> far, tar, thresholds;
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<bool>& same);

// Area under the curve by the trapezoid rule over its points. This equals the
// Mann–Whitney statistic: the fraction of (same, different) pairs of pairs that the scores
// order correctly, ties counting ½.
double roc_auc(const RocCurve& roc);

// The equal error rate: the FAR where FAR == FRR (= 1 - TAR), interpolated linearly between
// the two points of the curve where FAR - FRR changes sign.
double equal_error_rate(const RocCurve& roc);

// The highest TAR among the curve's points with FAR <= far (far in [0, 1]), not
// interpolated: a TAR that some threshold actually reaches. With N different pairs the
// smallest FAR above 0 is 1/N, so for far < 1/N this is the TAR at FAR = 0.
double tar_at_far(const RocCurve& roc, double far);

// The accuracy-maximizing threshold on (scores, same), and the accuracy it gives there
// (the fraction of pairs it calls right). See the conventions above.
struct Threshold {
  double threshold;
  double accuracy;
};
Threshold best_threshold(const std::vector<double>& scores, const std::vector<bool>& same);

// LFW's k-fold accuracy: for each fold (folds[i] is the fold of pair i; any ids, at least
// two distinct), the threshold is chosen by best_threshold on the other folds and the
// accuracy measured on this fold. Entries are ordered by fold id, ascending.
// std is the population standard deviation (numpy's np.std, as insightface reports).
struct FoldAccuracy {
  std::vector<double> accuracies, thresholds;
  double mean, std;
};
FoldAccuracy k_fold_accuracy(const std::vector<double>& scores, const std::vector<bool>& same,
                             const std::vector<int64_t>& folds);

// LFW View 2 in the unrestricted setting: one model per fold, model f trained without the
// people of fold f. scores[f] holds model f's score of every pair; fold f's threshold is the
// best one on the other folds by model f's scores, its accuracy measured on fold f by model
// f's scores. Fold ids must be 0..F−1 with F = scores.size() (at least 2).
// k_fold_accuracy(s, same, folds) is this with every model's scores equal to s (fold ids
// renumbered 0..F−1 in ascending order).
FoldAccuracy per_fold_model_accuracy(const std::vector<std::vector<double>>& scores, const std::vector<bool>& same,
                                     const std::vector<int64_t>& folds);
// Each pair's score by the model of its fold: pooled[i] = scores[folds[i]][i], what the ROC of
// a per-fold-model evaluation is drawn from (every score by a model that never saw the pair's people).
std::vector<double> per_fold_model_scores(const std::vector<std::vector<double>>& scores, const std::vector<int64_t>& folds);

// All of the above for one model on one benchmark. tar_at_far holds (FAR, TAR) for FAR =
// 1e-1, 1e-2, 1e-3.
struct VerificationReport {
  FoldAccuracy accuracy;
  RocCurve roc;
  double auc, eer;
  std::vector<std::pair<double, double>> tar_at_far;
  int64_t same_pairs = 0, different_pairs = 0;
};
VerificationReport verification_report(const std::vector<double>& scores, const std::vector<bool>& same,
                                       const std::vector<int64_t>& folds);
// The same for one model per fold: accuracy by per_fold_model_accuracy, the ROC and its
// summaries over per_fold_model_scores.
VerificationReport per_fold_model_report(const std::vector<std::vector<double>>& scores, const std::vector<bool>& same,
                                         const std::vector<int64_t>& folds);

// A short Markdown block:
//   ### label
//   - accuracy 97.50% ± 1.20 (10-fold)
//   - AUC 0.9950
//   - EER 2.50%
//   - TAR@FAR=1e-1 99.00%
//   ...
//   - pairs: 3000 same, 3000 different
// A TAR@FAR whose FAR is below 1/N (N different pairs) is marked "(FAR 0: below 1/N)".
std::string format_report(const std::string& label, const VerificationReport& report);

// ROC curves of several models, TAR against log10 FAR from -4 to 0 (Plot has no log axis,
// so the x axis is labelled "log10 FAR"). FAR values below 1e-4 (0 included) are drawn at
// the left edge. Colours follow class_color(0, 1, ...), the legend names the curves.
Plot roc_plot(const std::vector<std::pair<std::string, RocCurve>>& curves, const std::string& title,
              int width = 800, int height = 600);
void save_roc_plot(const std::string& png_path, const std::vector<std::pair<std::string, RocCurve>>& curves,
                   const std::string& title, int width = 800, int height = 600);

// a·b / (|a| |b|) in double precision; the rows need not be normalized. margin::Error for a
// zero row (no direction to compare) or dim < 1.
double cosine_similarity(const float* a, const float* b, int64_t dim);

}  // namespace margin
