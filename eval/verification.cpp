// eval/verification.cpp — ROC curve, AUC, EER, TAR@FAR, the best threshold, k-fold accuracy,
// the report and the ROC plot. See verification.h for the definitions and conventions.
#include "eval/verification.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>

#include "backends/types.h"

namespace margin {

static constexpr double kInfinity = std::numeric_limits<double>::infinity();

static void check_scores(const char* caller, const std::vector<double>& scores, const std::vector<bool>& same) {
  if (scores.size() != same.size())
    fail(caller, ": ", scores.size(), " scores and ", same.size(), " same/different labels (expected one each)");
  if (scores.empty()) fail(caller, ": no pairs (expected at least one score)");
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isfinite(scores[i])) fail(caller, ": score ", i, " is ", scores[i], " (expected a finite number)");
}

// Pair indices by score, highest first: the order in which a falling threshold accepts them.
static std::vector<size_t> by_score_descending(const std::vector<double>& scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return scores[i] > scores[j]; });
  return order;
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<bool>& same) {
  check_scores("roc_curve", scores, same);
  int64_t positives = std::count(same.begin(), same.end(), true);
  int64_t negatives = static_cast<int64_t>(same.size()) - positives;
  if (positives == 0 || negatives == 0)
    fail("roc_curve: ", positives, " same and ", negatives, " different pairs (expected at least one of each)");
  std::vector<size_t> order = by_score_descending(scores);
  RocCurve roc{{0.0}, {0.0}, {kInfinity}};
  int64_t accepted_same = 0, accepted_different = 0;
  for (size_t i = 0; i < order.size();) {
    double threshold = scores[order[i]];
    for (; i < order.size() && scores[order[i]] == threshold; ++i) (same[order[i]] ? accepted_same : accepted_different)++;
    roc.far.push_back(double(accepted_different) / double(negatives));
    roc.tar.push_back(double(accepted_same) / double(positives));
    roc.thresholds.push_back(threshold);
  }
  return roc;
}

static void check_roc(const char* caller, const RocCurve& roc) {
  if (roc.far.size() < 2 || roc.tar.size() != roc.far.size() || roc.thresholds.size() != roc.far.size())
    fail(caller, ": a curve of ", roc.far.size(), " FARs, ", roc.tar.size(), " TARs and ", roc.thresholds.size(),
         " thresholds (expected as many of each, at least 2: from (0, 0) to (1, 1))");
}

double roc_auc(const RocCurve& roc) {
  check_roc("roc_auc", roc);
  double area = 0;
  for (size_t i = 1; i < roc.far.size(); ++i) area += (roc.far[i] - roc.far[i - 1]) * (roc.tar[i] + roc.tar[i - 1]) / 2;
  return area;
}

double equal_error_rate(const RocCurve& roc) {
  check_roc("equal_error_rate", roc);
  // FAR - FRR = FAR + TAR - 1 rises from -1 at (0, 0) to +1 at (1, 1); find where it is 0.
  auto far_minus_frr = [&](size_t i) { return roc.far[i] + roc.tar[i] - 1; };
  if (far_minus_frr(0) >= 0) return roc.far[0];
  for (size_t i = 1; i < roc.far.size(); ++i) {
    double before = far_minus_frr(i - 1), after = far_minus_frr(i);
    if (after < 0) continue;
    double t = -before / (after - before);
    return roc.far[i - 1] + t * (roc.far[i] - roc.far[i - 1]);
  }
  fail("equal_error_rate: FAR - FRR never reaches 0 along the curve (expected a curve ending at (1, 1))");
}

double tar_at_far(const RocCurve& roc, double far) {
  check_roc("tar_at_far", roc);
  if (!(far >= 0 && far <= 1)) fail("tar_at_far: FAR ", far, " (expected a rate in [0, 1])");
  double best = 0;
  for (size_t i = 0; i < roc.far.size(); ++i)
    if (roc.far[i] <= far) best = std::max(best, roc.tar[i]);
  return best;
}

// A threshold between the distinct scores low < high: their midpoint, unless rounding puts
// it on `low` (neighbouring doubles), where `high` itself separates them under score >= t.
static double cut_between(double low, double high) {
  double middle = std::midpoint(low, high);
  return middle > low ? middle : high;
}

Threshold best_threshold(const std::vector<double>& scores, const std::vector<bool>& same) {
  check_scores("best_threshold", scores, same);
  std::vector<size_t> order = by_score_descending(scores);
  // Lower the threshold from +inf (reject all: every different pair is right) one group of
  // equal scores at a time; accepting a group makes its same pairs right and its different
  // pairs wrong. Only a strictly better count moves the best, so ties keep the highest.
  int64_t correct = std::count(same.begin(), same.end(), false);
  int64_t best_correct = correct;
  double best = kInfinity;
  for (size_t i = 0; i < order.size();) {
    double score = scores[order[i]];
    for (; i < order.size() && scores[order[i]] == score; ++i) correct += same[order[i]] ? 1 : -1;
    if (correct > best_correct) {
      best_correct = correct;
      best = i < order.size() ? cut_between(scores[order[i]], score) : -kInfinity;
    }
  }
  return {best, double(best_correct) / double(scores.size())};
}

FoldAccuracy per_fold_model_accuracy(const std::vector<std::vector<double>>& scores, const std::vector<bool>& same,
                                     const std::vector<int64_t>& folds) {
  const int64_t fold_count = static_cast<int64_t>(scores.size());
  if (fold_count < 2) fail("per_fold_model_accuracy: ", fold_count, " models (expected one per fold, at least 2 folds)");
  for (const std::vector<double>& model_scores : scores) check_scores("per_fold_model_accuracy", model_scores, same);
  if (folds.size() != same.size())
    fail("per_fold_model_accuracy: ", folds.size(), " fold ids for ", same.size(), " pairs (expected one each)");
  std::vector<int64_t> tested(fold_count, 0);
  for (int64_t fold : folds) {
    if (fold < 0 || fold >= fold_count)
      fail("per_fold_model_accuracy: fold id ", fold, " (expected 0..", fold_count - 1, ": one model per fold)");
    ++tested[fold];
  }
  FoldAccuracy result;
  for (int64_t fold = 0; fold < fold_count; ++fold) {
    if (tested[fold] == 0) fail("per_fold_model_accuracy: fold ", fold, " has no pairs");
    const std::vector<double>& model = scores[fold];
    std::vector<double> train_scores;
    std::vector<bool> train_same;
    for (size_t i = 0; i < same.size(); ++i)
      if (folds[i] != fold) {
        train_scores.push_back(model[i]);
        train_same.push_back(same[i]);
      }
    double threshold = best_threshold(train_scores, train_same).threshold;
    int64_t right = 0;
    for (size_t i = 0; i < same.size(); ++i)
      if (folds[i] == fold) right += (model[i] >= threshold) == same[i];
    result.accuracies.push_back(double(right) / double(tested[fold]));
    result.thresholds.push_back(threshold);
  }
  double k = double(result.accuracies.size());
  result.mean = std::accumulate(result.accuracies.begin(), result.accuracies.end(), 0.0) / k;
  double squares = 0;
  for (double accuracy : result.accuracies) squares += (accuracy - result.mean) * (accuracy - result.mean);
  result.std = std::sqrt(squares / k);  // population: numpy's np.std with ddof = 0
  return result;
}

FoldAccuracy k_fold_accuracy(const std::vector<double>& scores, const std::vector<bool>& same,
                             const std::vector<int64_t>& folds) {
  check_scores("k_fold_accuracy", scores, same);
  if (folds.size() != scores.size())
    fail("k_fold_accuracy: ", folds.size(), " fold ids for ", scores.size(), " pairs (expected one each)");
  std::set<int64_t> fold_ids(folds.begin(), folds.end());
  if (fold_ids.size() < 2)
    fail("k_fold_accuracy: all ", scores.size(), " pairs are in one fold (expected at least 2 folds)");
  std::vector<int64_t> renumbered;
  for (int64_t fold : folds) renumbered.push_back(std::distance(fold_ids.begin(), fold_ids.find(fold)));
  return per_fold_model_accuracy(std::vector<std::vector<double>>(fold_ids.size(), scores), same, renumbered);
}

std::vector<double> per_fold_model_scores(const std::vector<std::vector<double>>& scores, const std::vector<int64_t>& folds) {
  std::vector<double> pooled;
  for (size_t i = 0; i < folds.size(); ++i) {
    if (folds[i] < 0 || folds[i] >= static_cast<int64_t>(scores.size()) || scores[folds[i]].size() != folds.size())
      fail("per_fold_model_scores: pair ", i, " of fold ", folds[i], " with ", scores.size(),
           " models (expected one model per fold, each scoring all ", folds.size(), " pairs)");
    pooled.push_back(scores[folds[i]][i]);
  }
  return pooled;
}

// The ROC, its summaries and the pair counts of a report.
static void fill_roc(VerificationReport& report, const std::vector<double>& scores, const std::vector<bool>& same) {
  report.roc = roc_curve(scores, same);
  report.auc = roc_auc(report.roc);
  report.eer = equal_error_rate(report.roc);
  for (double far : {1e-1, 1e-2, 1e-3}) report.tar_at_far.push_back({far, tar_at_far(report.roc, far)});
  report.same_pairs = std::count(same.begin(), same.end(), true);
  report.different_pairs = static_cast<int64_t>(same.size()) - report.same_pairs;
}

VerificationReport verification_report(const std::vector<double>& scores, const std::vector<bool>& same,
                                       const std::vector<int64_t>& folds) {
  VerificationReport report;
  report.accuracy = k_fold_accuracy(scores, same, folds);
  fill_roc(report, scores, same);
  return report;
}

VerificationReport per_fold_model_report(const std::vector<std::vector<double>>& scores, const std::vector<bool>& same,
                                         const std::vector<int64_t>& folds) {
  VerificationReport report;
  report.accuracy = per_fold_model_accuracy(scores, same, folds);
  fill_roc(report, per_fold_model_scores(scores, folds), same);
  return report;
}

// "1e-3" for powers of ten, else the shortest "%g".
static std::string far_label(double far) {
  double exponent = std::round(std::log10(far));
  char text[32];
  if (far > 0 && std::abs(far - std::pow(10.0, exponent)) <= 1e-12 * far)
    std::snprintf(text, sizeof text, "1e%d", static_cast<int>(exponent));
  else
    std::snprintf(text, sizeof text, "%g", far);
  return text;
}

std::string format_report(const std::string& label, const VerificationReport& report) {
  char line[256];
  std::string text = "### " + label + "\n";
  std::snprintf(line, sizeof line, "- accuracy %.2f%% ± %.2f (%zu-fold)\n", 100 * report.accuracy.mean,
                100 * report.accuracy.std, report.accuracy.accuracies.size());
  text += line;
  std::snprintf(line, sizeof line, "- AUC %.4f\n- EER %.2f%%\n", report.auc, 100 * report.eer);
  text += line;
  for (auto [far, tar] : report.tar_at_far) {
    std::snprintf(line, sizeof line, "- TAR@FAR=%s %.2f%%", far_label(far).c_str(), 100 * tar);
    text += line;
    if (far * double(report.different_pairs) < 1)
      text += " (at FAR 0: only " + std::to_string(report.different_pairs) + " different pairs)";
    text += "\n";
  }
  text += "- pairs: " + std::to_string(report.same_pairs) + " same, " + std::to_string(report.different_pairs) +
          " different\n";
  return text;
}

Plot roc_plot(const std::vector<std::pair<std::string, RocCurve>>& curves, const std::string& title, int width,
              int height) {
  if (curves.empty()) fail("roc_plot: no curves (expected at least one)");
  constexpr double kLowestFar = 1e-4;
  Plot plot(width, height);
  plot.title(title).x_label("log10 FAR").y_label("TAR").grid();
  plot.x_range(std::log10(kLowestFar) - 0.05, 0.05).y_range(-0.01, 1.01);
  for (size_t c = 0; c < curves.size(); ++c) {
    const auto& [name, roc] = curves[c];
    if (roc.far.empty() || roc.tar.size() != roc.far.size())
      fail("roc_plot: curve '", name, "' has ", roc.far.size(), " FARs and ", roc.tar.size(),
           " TARs (expected as many, at least one)");
    std::vector<double> log_far;
    for (double far : roc.far) log_far.push_back(std::log10(std::max(far, kLowestFar)));
    plot.line(log_far, roc.tar, class_color(static_cast<int64_t>(c)), name);
  }
  return plot;
}

void save_roc_plot(const std::string& png_path, const std::vector<std::pair<std::string, RocCurve>>& curves,
                   const std::string& title, int width, int height) {
  roc_plot(curves, title, width, height).save(png_path);
}

double cosine_similarity(const float* a, const float* b, int64_t dim) {
  if (dim < 1) fail("cosine_similarity: dim ", dim, " (expected >= 1)");
  double dot = 0, norm_a = 0, norm_b = 0;
  for (int64_t i = 0; i < dim; ++i) {
    dot += double(a[i]) * b[i];
    norm_a += double(a[i]) * a[i];
    norm_b += double(b[i]) * b[i];
  }
  if (norm_a == 0 || norm_b == 0)
    fail("cosine_similarity: a row of length 0 (|a|² = ", norm_a, ", |b|² = ", norm_b, "; expected both > 0)");
  return dot / std::sqrt(norm_a * norm_b);
}

}  // namespace margin
