// tests/test_verification.cpp — the verification protocol: ROC, AUC, EER, TAR@FAR and the
// best threshold on small score sets worked by hand (each case's arithmetic in its comment),
// AUC against an independent Mann–Whitney count, the 10-fold rule (the threshold comes from
// the other folds), the report text and the ROC plot read back from PNG. The pairs files
// are tested in test_pairs.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/random.h"
#include "eval/verification.h"
#include "gradcheck.h"
#include "png_reader.h"

namespace margin {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr bool S = true, D = false;  // a same pair, a different pair

using testing::Image;
using testing::TempDir;
using testing::contains;
using testing::error_of;
using testing::read_png;

void check_curve(const RocCurve& roc, const std::vector<double>& far, const std::vector<double>& tar,
                 const std::vector<double>& thresholds) {
  REQUIRE(roc.far.size() == far.size());
  REQUIRE(roc.tar.size() == tar.size());
  REQUIRE(roc.thresholds.size() == thresholds.size());
  for (size_t i = 0; i < far.size(); ++i) {
    CAPTURE(i);
    CHECK(roc.far[i] == doctest::Approx(far[i]));
    CHECK(roc.tar[i] == doctest::Approx(tar[i]));
    CHECK(roc.thresholds[i] == thresholds[i]);
  }
}

// ---- ROC, AUC, EER, TAR@FAR ------------------------------------------------------------

// Case A: 3 same, 3 different; one different pair (0.7) outscores one same pair (0.6).
const std::vector<double> kScoresA = {0.9, 0.8, 0.7, 0.6, 0.4, 0.3};
const std::vector<bool> kSameA = {S, S, D, S, D, D};

TEST_CASE("roc_curve: one point per distinct score, thresholds falling, from (0, 0) to (1, 1)") {
  // Lowering t past each score (score >= t accepts):
  //   t = +inf: TAR 0,   FAR 0      t = 0.6: TAR 1, FAR 1/3
  //   t = 0.9:  TAR 1/3, FAR 0      t = 0.4: TAR 1, FAR 2/3
  //   t = 0.8:  TAR 2/3, FAR 0      t = 0.3: TAR 1, FAR 1
  //   t = 0.7:  TAR 2/3, FAR 1/3
  // Scores in any order give the same curve.
  std::vector<double> shuffled = {0.4, 0.9, 0.3, 0.7, 0.6, 0.8};
  std::vector<bool> shuffled_same = {D, S, D, D, S, S};
  check_curve(roc_curve(shuffled, shuffled_same), {0, 0, 0, 1. / 3, 1. / 3, 2. / 3, 1},
              {0, 1. / 3, 2. / 3, 2. / 3, 1, 1, 1}, {kInf, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3});
}

TEST_CASE("AUC, EER and TAR@FAR of case A") {
  RocCurve roc = roc_curve(kScoresA, kSameA);
  // Trapezoids where FAR moves: 1/3 · 2/3 + 1/3 · 1 + 1/3 · 1 = 8/9. Mann–Whitney: of the
  // 3 × 3 (same, different) combinations only (0.6, 0.7) is misordered: 8/9.
  CHECK(roc_auc(roc) == doctest::Approx(8.0 / 9));
  // At t = 0.7, FAR = 1/3 and FRR = 1 - 2/3 = 1/3: the curve hits FAR == FRR at a point.
  CHECK(equal_error_rate(roc) == doctest::Approx(1.0 / 3));
  // Highest TAR among points with FAR <= f, no interpolation:
  CHECK(tar_at_far(roc, 0.0) == doctest::Approx(2.0 / 3));  // t = 0.8
  CHECK(tar_at_far(roc, 0.2) == doctest::Approx(2.0 / 3));  // FAR 1/3 is above 0.2
  CHECK(tar_at_far(roc, 1.0 / 3) == doctest::Approx(1.0));  // FAR <= f includes f itself (t = 0.6)
  CHECK(tar_at_far(roc, 1.0) == doctest::Approx(1.0));
}

TEST_CASE("EER interpolated between two points of the curve") {
  // Same {0.9, 0.5}, different {0.7, 0.6, 0.4}. Points (FAR, TAR):
  //   (0, 0) (0, 1/2) (1/3, 1/2) (2/3, 1/2) (2/3, 1) (1, 1)
  // FAR - FRR = FAR + TAR - 1:  -1, -1/2, -1/6, +1/6, ... : zero halfway from (1/3, 1/2) to
  // (2/3, 1/2), at FAR = 1/2 where FRR = 1/2 too. No threshold reaches it; it is interpolated.
  RocCurve roc = roc_curve({0.9, 0.7, 0.6, 0.5, 0.4}, {S, D, D, S, D});
  CHECK(equal_error_rate(roc) == doctest::Approx(0.5));
  // AUC: 1/3 · 1/2 + 1/3 · 1/2 + 1/3 · 1 = 2/3; Mann–Whitney: 0.9 beats 3, 0.5 beats 1: 4/6.
  CHECK(roc_auc(roc) == doctest::Approx(2.0 / 3));
}

TEST_CASE("perfect separation: AUC 1, EER 0, TAR 1 at FAR 0, accuracy 1") {
  std::vector<double> scores = {0.9, 0.8, 0.2, 0.1};
  std::vector<bool> same = {S, S, D, D};
  RocCurve roc = roc_curve(scores, same);
  check_curve(roc, {0, 0, 0, 0.5, 1}, {0, 0.5, 1, 1, 1}, {kInf, 0.9, 0.8, 0.2, 0.1});
  CHECK(roc_auc(roc) == doctest::Approx(1.0));
  CHECK(equal_error_rate(roc) == doctest::Approx(0.0));  // FAR + TAR - 1 = 0 at (0, 1)
  CHECK(tar_at_far(roc, 0.0) == doctest::Approx(1.0));
  Threshold best = best_threshold(scores, same);
  CHECK(best.threshold == doctest::Approx(0.5));  // the midpoint of the gap 0.8 .. 0.2
  CHECK(best.accuracy == doctest::Approx(1.0));
}

TEST_CASE("fully inverted scores: AUC 0, EER 1, and no threshold beats chance") {
  std::vector<double> scores = {0.1, 0.2, 0.8, 0.9};
  std::vector<bool> same = {S, S, D, D};
  RocCurve roc = roc_curve(scores, same);
  // (0, 0) (1/2, 0) (1, 0) (1, 1/2) (1, 1): all area lies after FAR reaches 1.
  CHECK(roc_auc(roc) == doctest::Approx(0.0));
  CHECK(equal_error_rate(roc) == doctest::Approx(1.0));  // FAR + TAR - 1 = 0 at (1, 0)
  CHECK(tar_at_far(roc, 0.5) == doctest::Approx(0.0));
  // Reject all and accept all both get the 2 of 4 right; every cut in between gets fewer.
  // Of tied thresholds the highest wins: +inf.
  Threshold best = best_threshold(scores, same);
  CHECK(best.accuracy == doctest::Approx(0.5));
  CHECK(best.threshold == kInf);
}

TEST_CASE("ties: equal scores of a same and a different pair make one diagonal step, worth ½") {
  // Same {0.9, 0.5}, different {0.5, 0.1}. At t = 0.5 both tied pairs enter together:
  // (0, 0) (0, 1/2) (1/2, 1) (1, 1).
  std::vector<double> scores = {0.5, 0.9, 0.5, 0.1};
  std::vector<bool> same = {S, S, D, D};
  RocCurve roc = roc_curve(scores, same);
  check_curve(roc, {0, 0, 0.5, 1}, {0, 0.5, 1, 1}, {kInf, 0.9, 0.5, 0.1});
  // Trapezoids: 1/2 · (1/2 + 1)/2 + 1/2 · 1 = 7/8. Mann–Whitney: (0.9, 0.5) 1, (0.9, 0.1) 1,
  // (0.5, 0.5) ½, (0.5, 0.1) 1: 3.5 / 4 = 7/8.
  CHECK(roc_auc(roc) == doctest::Approx(7.0 / 8));
  // FAR + TAR - 1: -1, -1/2, +1/2: zero halfway along the diagonal, at (1/4, 3/4).
  CHECK(equal_error_rate(roc) == doctest::Approx(0.25));
  // No threshold splits the tied pair: accept 0.9 only → 3/4, accept down to 0.5 → 3/4,
  // never 4/4. Tied best thresholds 0.7 and 0.3: the highest, 0.7.
  Threshold best = best_threshold(scores, same);
  CHECK(best.accuracy == doctest::Approx(0.75));
  CHECK(best.threshold == doctest::Approx(0.7));
}

TEST_CASE("best_threshold: the accuracy of case A, ties going to the highest threshold") {
  // Accepting from the top: none 3/6, {0.9} 4/6, {.., 0.8} 5/6, {.., 0.7} 4/6,
  // {.., 0.6} 5/6, {.., 0.4} 4/6, all 3/6. Best 5/6 at the cuts 0.75 and 0.5: 0.75 wins.
  Threshold best = best_threshold(kScoresA, kSameA);
  CHECK(best.accuracy == doctest::Approx(5.0 / 6));
  CHECK(best.threshold == doctest::Approx(0.75));
}

TEST_CASE("best_threshold is the exact best: no score used as a threshold does better") {
  Generator gen(11);
  std::vector<double> scores;
  std::vector<bool> same;
  for (int i = 0; i < 200; ++i) {
    bool is_same = gen.uniform() < 0.5;
    scores.push_back(std::round(10 * ((is_same ? 0.6 : 0.0) + 0.5 * gen.normal())) / 10);  // ties on purpose
    same.push_back(is_same);
  }
  auto accuracy_at = [&](double t) {
    int right = 0;
    for (size_t i = 0; i < scores.size(); ++i) right += (scores[i] >= t) == same[i];
    return double(right) / double(scores.size());
  };
  // Every way to split the sorted scores is "score >= one of the scores" or "reject all".
  double brute_force = accuracy_at(kInf);
  for (double t : scores) brute_force = std::max(brute_force, accuracy_at(t));
  Threshold best = best_threshold(scores, same);
  CHECK(best.accuracy == brute_force);
  CHECK(accuracy_at(best.threshold) == best.accuracy);  // the threshold gives what it claims
  CHECK(brute_force > 0.6);                             // the case is not degenerate
}

TEST_CASE("AUC equals the Mann–Whitney statistic on a random set with ties") {
  Generator gen(7);
  std::vector<double> scores;
  std::vector<bool> same;
  for (int i = 0; i < 400; ++i) {
    bool is_same = gen.uniform() < 0.4;
    scores.push_back(std::round(10 * ((is_same ? 1.0 : 0.0) + gen.normal())) / 10);  // 0.1 steps: many ties
    same.push_back(is_same);
  }
  // Count every (same, different) combination: 1 if ordered right, ½ if tied.
  double right = 0, combinations = 0;
  for (size_t i = 0; i < scores.size(); ++i)
    for (size_t j = 0; j < scores.size(); ++j)
      if (same[i] && !same[j]) {
        combinations += 1;
        right += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
      }
  double mann_whitney = right / combinations;
  CHECK(roc_auc(roc_curve(scores, same)) == doctest::Approx(mann_whitney).epsilon(1e-12));
  CHECK(mann_whitney > 0.6);
  CHECK(mann_whitney < 0.9);
}

// ---- k-fold accuracy ---------------------------------------------------------------------

// Three folds, the pairs interleaved (folds are found by id, not by position):
//   fold 0: same 0.6,  different 0.4              its own best cut: 0.5 (2/2)
//   fold 1: same 0.9,  different 0.7              its own best cut: 0.8 (2/2)
//   fold 2: same 0.95, 0.85, different 0.3, 0.2   separable anywhere in (0.3, 0.85)
const std::vector<double> kFoldScores = {0.6, 0.9, 0.95, 0.4, 0.7, 0.85, 0.3, 0.2};
const std::vector<bool> kFoldSame = {S, S, S, D, D, S, D, D};
const std::vector<int64_t> kFoldIds = {0, 1, 2, 0, 1, 2, 2, 2};

TEST_CASE("k-fold accuracy: each fold's threshold comes from the other folds") {
  // Fold 0 tested: folds 1+2 sorted 0.95 S, 0.9 S, 0.85 S, 0.7 D, 0.3 D, 0.2 D → cut 0.775.
  //   On fold 0: 0.6 S rejected (wrong), 0.4 D rejected (right) → 1/2.
  // Fold 1 tested: folds 0+2: 0.95 S, 0.85 S, 0.6 S, 0.4 D, 0.3 D, 0.2 D → cut 0.5.
  //   On fold 1: 0.9 S accepted (right), 0.7 D accepted (wrong) → 1/2.
  // Fold 2 tested: folds 0+1: 0.9 S, 0.7 D, 0.6 S, 0.4 D: 3/4 at cuts 0.8 and 0.5 → 0.8.
  //   On fold 2: all four right → 1.
  // Had the threshold been chosen on the tested fold itself, folds 0 and 1 would score 1.
  FoldAccuracy result = k_fold_accuracy(kFoldScores, kFoldSame, kFoldIds);
  REQUIRE(result.accuracies.size() == 3);
  CHECK(result.accuracies[0] == doctest::Approx(0.5));
  CHECK(result.accuracies[1] == doctest::Approx(0.5));
  CHECK(result.accuracies[2] == doctest::Approx(1.0));
  CHECK(result.thresholds[0] == doctest::Approx(0.775));
  CHECK(result.thresholds[1] == doctest::Approx(0.5));
  CHECK(result.thresholds[2] == doctest::Approx(0.8));
  CHECK(result.mean == doctest::Approx(2.0 / 3));
  // Population std (numpy): sqrt(((1/6)² + (1/6)² + (1/3)²) / 3) = sqrt(1/18) ≈ 0.2357;
  // the sample std (÷ 2) would be sqrt(1/12) ≈ 0.2887.
  CHECK(result.std == doctest::Approx(std::sqrt(1.0 / 18)));
}

TEST_CASE("k-fold accuracy: fold ids in any order and numbering, results by ascending id") {
  std::vector<int64_t> renumbered = {30, 10, 20, 30, 10, 20, 20, 20};  // fold 0 → 30, 1 → 10, 2 → 20
  FoldAccuracy result = k_fold_accuracy(kFoldScores, kFoldSame, renumbered);
  REQUIRE(result.accuracies.size() == 3);
  CHECK(result.thresholds[0] == doctest::Approx(0.5));    // id 10: the old fold 1
  CHECK(result.thresholds[1] == doctest::Approx(0.8));    // id 20: the old fold 2
  CHECK(result.thresholds[2] == doctest::Approx(0.775));  // id 30: the old fold 0
  CHECK(result.accuracies[1] == doctest::Approx(1.0));
}

TEST_CASE("one model per fold (LFW View 2 unrestricted): fold f is thresholded and tested by model f only") {
  // Model 0 orders folds 1 and 2 perfectly but misorders its own fold 0; models 1 and 2 score
  // as kFoldScores does. Fold 0 tested by model 0: folds 1+2 by model 0 are
  //   0.9 S, 0.8 S, 0.7 S, 0.5 D, 0.3 D, 0.1 D → cut 0.6, and fold 0 by model 0 is
  //   same 0.55 (rejected, wrong), different 0.65 (accepted, wrong) → 0/2.
  // Folds 1 and 2 by models 1 and 2 (both kFoldScores): 1/2 and 1 as in the test above.
  const std::vector<double> model0 = {0.55, 0.9, 0.8, 0.65, 0.5, 0.7, 0.3, 0.1};
  std::vector<std::vector<double>> models = {model0, kFoldScores, kFoldScores};
  FoldAccuracy result = per_fold_model_accuracy(models, kFoldSame, kFoldIds);
  REQUIRE(result.accuracies.size() == 3);
  CHECK(result.thresholds[0] == doctest::Approx(0.6));
  CHECK(result.accuracies[0] == 0.0);
  CHECK(result.accuracies[1] == doctest::Approx(0.5));
  CHECK(result.accuracies[2] == doctest::Approx(1.0));
  CHECK(result.mean == doctest::Approx(0.5));

  // Every model the same: k_fold_accuracy exactly.
  FoldAccuracy same_models = per_fold_model_accuracy({kFoldScores, kFoldScores, kFoldScores}, kFoldSame, kFoldIds);
  FoldAccuracy k_fold = k_fold_accuracy(kFoldScores, kFoldSame, kFoldIds);
  CHECK(same_models.accuracies == k_fold.accuracies);
  CHECK(same_models.thresholds == k_fold.thresholds);

  // The ROC is drawn from each pair's score by its own fold's model.
  CHECK(per_fold_model_scores(models, kFoldIds) == std::vector<double>{0.55, 0.9, 0.95, 0.65, 0.7, 0.85, 0.3, 0.2});
  VerificationReport report = per_fold_model_report(models, kFoldSame, kFoldIds);
  CHECK(report.accuracy.accuracies == result.accuracies);
  CHECK(report.auc == roc_auc(roc_curve(per_fold_model_scores(models, kFoldIds), kFoldSame)));

  CHECK(error_of([&] { per_fold_model_accuracy({kFoldScores, kFoldScores}, kFoldSame, kFoldIds); }) ==
        "per_fold_model_accuracy: fold id 2 (expected 0..1: one model per fold)");
  CHECK(error_of([&] { per_fold_model_accuracy({kFoldScores}, kFoldSame, kFoldIds); }) ==
        "per_fold_model_accuracy: 1 models (expected one per fold, at least 2 folds)");
  CHECK(contains(error_of([&] { per_fold_model_accuracy({kFoldScores, {0.1, 0.2}, kFoldScores}, kFoldSame, kFoldIds); }),
                 "per_fold_model_accuracy"));
}

// ---- the report --------------------------------------------------------------------------

TEST_CASE("verification_report and its text") {
  VerificationReport report = verification_report(kFoldScores, kFoldSame, kFoldIds);
  // All 8 pairs: 0.95 S, 0.9 S, 0.85 S, 0.7 D, 0.6 S, 0.4 D, 0.3 D, 0.2 D. Only (0.6, 0.7) of
  // 16 combinations is misordered: AUC 15/16. FAR + TAR - 1 reaches 0 at t = 0.7, (1/4, 3/4):
  // EER 1/4. Before any different pair is accepted TAR is 3/4, and with 4 different pairs
  // every FAR below 1/4 means FAR 0.
  CHECK(report.auc == doctest::Approx(15.0 / 16));
  CHECK(report.eer == doctest::Approx(0.25));
  REQUIRE(report.tar_at_far.size() == 3);
  CHECK(report.tar_at_far[0].first == 1e-1);
  CHECK(report.tar_at_far[2].first == 1e-3);
  CHECK(report.tar_at_far[1].second == doctest::Approx(0.75));
  CHECK(report.same_pairs == 4);
  CHECK(report.different_pairs == 4);
  CHECK(report.accuracy.mean == doctest::Approx(2.0 / 3));

  std::string text = format_report("toy model", report);
  CHECK(text ==
        "### toy model\n"
        "- accuracy 66.67% ± 23.57 (3-fold)\n"
        "- AUC 0.9375\n"
        "- EER 25.00%\n"
        "- TAR@FAR=1e-1 75.00% (at FAR 0: only 4 different pairs)\n"
        "- TAR@FAR=1e-2 75.00% (at FAR 0: only 4 different pairs)\n"
        "- TAR@FAR=1e-3 75.00% (at FAR 0: only 4 different pairs)\n"
        "- pairs: 4 same, 4 different\n");
}

// ---- the ROC plot ------------------------------------------------------------------------

TEST_CASE("save_roc_plot: a PNG of the given size, curves placed on a log10 FAR axis") {
  // Model a: TAR 1/2 from FAR 0 to 1e-1, then up to 1. Model b: TAR 0.2 until FAR 1/2.
  RocCurve a{{0, 0, 1e-3, 1e-1, 1}, {0, 0.5, 0.5, 0.5, 1}, {kInf, 4, 3, 2, 1}};
  RocCurve b{{0, 0, 0.5, 1}, {0, 0.2, 0.2, 1}, {kInf, 3, 2, 1}};
  std::vector<std::pair<std::string, RocCurve>> curves = {{"model a", a}, {"model b", b}};
  TempDir dir("roc_plot");
  save_roc_plot(dir.file("roc.png"), curves, "ROC");
  Image image = read_png(dir.file("roc.png"));
  CHECK(image.width == 800);
  CHECK(image.height == 600);

  save_roc_plot(dir.file("small.png"), curves, "ROC", 640, 480);
  Image small = read_png(dir.file("small.png"));
  CHECK(small.width == 640);
  CHECK(small.height == 480);
  // log10 FAR = -2 is FAR 1e-2, on model a's plateau; on a linear FAR axis it would be off
  // the plot. Model b's plateau crosses log10 FAR = -3.
  PlotLayout layout = roc_plot(curves, "ROC", 640, 480).layout();
  CHECK(small.at(layout.pixel_x(-2), layout.pixel_y(0.5)) == class_color(0));
  CHECK(small.at(layout.pixel_x(-3), layout.pixel_y(0.2)) == class_color(1));
  CHECK(small.at(layout.pixel_x(-1.5), layout.pixel_y(0.7)) == kWhite);

  CHECK(error_of([&] { save_roc_plot(dir.file("none.png"), {}, "ROC"); }) ==
        "roc_plot: no curves (expected at least one)");
  CHECK(contains(error_of([&] { save_roc_plot("/nonexistent-dir/roc.png", curves, "ROC"); }),
                 "cannot write /nonexistent-dir/roc.png"));
}

// ---- cosine similarity, input errors -----------------------------------------------------

TEST_CASE("cosine similarity of unnormalized rows") {
  std::vector<float> a = {1, 2, 2}, b = {2, 0, 0}, b_longer = {10, 0, 0}, minus_a = {-1, -2, -2};
  CHECK(cosine_similarity(a.data(), b.data(), 3) == doctest::Approx(1.0 / 3));  // 2 / (3 · 2)
  CHECK(cosine_similarity(a.data(), b_longer.data(), 3) == doctest::Approx(1.0 / 3));
  CHECK(cosine_similarity(a.data(), minus_a.data(), 3) == doctest::Approx(-1.0));
  std::vector<float> zero = {0, 0, 0};
  CHECK(contains(error_of([&] { cosine_similarity(a.data(), zero.data(), 3); }), "a row of length 0"));
}

TEST_CASE("metric input errors") {
  CHECK(error_of([] { roc_curve({0.1, 0.2}, {S, S}); }) ==
        "roc_curve: 2 same and 0 different pairs (expected at least one of each)");
  CHECK(error_of([] { roc_curve({0.1, 0.2}, {S}); }) ==
        "roc_curve: 2 scores and 1 same/different labels (expected one each)");
  CHECK(contains(error_of([] { best_threshold({0.1, std::nan("")}, {S, D}); }), "score 1 is nan"));
  CHECK(error_of([] { k_fold_accuracy({0.1, 0.2}, {S, D}, {4, 4}); }) ==
        "k_fold_accuracy: all 2 pairs are in one fold (expected at least 2 folds)");
  CHECK(contains(error_of([] { tar_at_far(roc_curve({0.1, 0.2}, {S, D}), 1.5); }), "FAR 1.5"));
}

}  // namespace
}  // namespace margin
