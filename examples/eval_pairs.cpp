// examples/eval_pairs.cpp — the LFW protocol for one or more trained models: a pairs file
// (LFW's pairs.txt, or train_faces' out/pairs.txt) over an identity-per-folder image set →
// 10-fold accuracy ± std (plain and flip), AUC, EER, TAR@FAR=1e-1, 1e-2, 1e-3 for each
// model, a Markdown table comparing them and, with --roc, their ROC curves (flip) in a PNG.
//
//   ./build/eval_pairs --model runs/lfw-r18 --pairs lfw/pairs.txt --data lfw/images
//   ./build/eval_pairs --model runs/a,runs/b --labels Softmax,LMCL --pairs runs/a/pairs.txt
//       --data ../shared/data/yaleb-cropped --roc roc.png --report report.md   (one line)
//   ./build/eval_pairs --per-fold --model runs/v2-f1,…,runs/v2-f10 --pairs lfw/pairs.txt --data lfw/images
//       (LFW View 2 unrestricted: the k-th model, trained without fold k's people, scores fold k)
//   ./build/eval_pairs --runs-per-row 3 --model a-s0,a-s1,a-s2,b-s0,b-s1,b-s2 --labels A,B …
//       (each row the mean ± std over 3 runs, e.g. seeds)
//   ./build/eval_pairs --model runs/lfw-r18,r18.onnx --labels margin,ONNX --pairs lfw/pairs.txt --data lfw/images
//       (an exported model, export_onnx's file, wherever a folder goes: the same protocol)

#include <cstdio>
#include <iostream>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/flags.h"
#include "core/threads.h"
#include "train/face_eval.h"
#include "train/onnx_model.h"

using namespace margin;

static std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::istringstream list(text);
  for (std::string part; std::getline(list, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

int main(int argc, char** argv) try {
  Flags flags("eval_pairs", "Scores trained face models on a pairs file the way LFW does (10 folds).");
  std::string& models = flags.add<std::string>("model", "", "DIR|FILE.onnx,…: train_faces output folders or export_onnx's "
                                               "files (needs margin built with OpenCV), comma-separated");
  std::string& labels = flags.add<std::string>("labels", "", "a name for each model, comma-separated (default: the folders)");
  std::string& pairs_path = flags.add<std::string>("pairs", "", "pairs file in LFW's format");
  std::string& data = flags.add<std::string>("data", "", "image folder the pairs refer to (one sub-folder per identity)");
  std::string& roc = flags.add<std::string>("roc", "", "write the models' ROC curves (flip) to this PNG");
  std::string& report_path = flags.add<std::string>("report", "", "also write the reports and the table to this Markdown file");
  int& runs_per_row = flags.add("runs-per-row", 1, "models per row, reported as their mean ± std (e.g. seeds of one setting)");
  bool& per_fold = flags.add("per-fold", false,
                             "one model per fold (LFW View 2 unrestricted): --model lists, for each row, the models of "
                             "folds 1..F in order, the k-th trained without fold k's people");
  int& threads = flags.add("threads", 2, "CPU threads");
  flags.add_device_flag();
  flags.parse(argc, argv);
  set_threads(threads);
  std::vector<std::string> folders = split_commas(models), names = split_commas(labels);
  if (folders.empty() || pairs_path.empty() || data.empty()) fail("need --model, --pairs and --data (see --help)");
  PairsFile pairs = read_pairs(pairs_path);
  // Each row of the table is `group` models: one, one per fold, or runs_per_row.
  if (runs_per_row < 1 || (runs_per_row > 1 && per_fold))
    fail("--runs-per-row ", runs_per_row, " (expected at least 1, and 1 with --per-fold)");
  const size_t group = per_fold ? static_cast<size_t>(pairs.folds) : static_cast<size_t>(runs_per_row);
  if (per_fold && (pairs.folds < 2 || folders.size() % group != 0))
    fail("--per-fold: ", folders.size(), " models for ", pairs_path, "'s ", pairs.folds,
         " folds (expected a multiple of the folds, at least 2)");
  if (folders.size() % group != 0)
    fail("--runs-per-row ", runs_per_row, ": ", folders.size(), " models (expected a multiple)");
  if (names.empty())
    for (size_t k = 0; k < folders.size(); k += group) names.push_back(folders[k]);
  if (names.size() * group != folders.size())
    fail("--labels: ", names.size(), " labels for ", folders.size() / group, " rows (expected one each)");

  std::set<std::string> identities;
  for (const PairEntry& pair : pairs.pairs) identities.insert({pair.name_a, pair.name_b});
  std::ostringstream text;
  text << "# " << pairs_path << " on " << data << ": " << pairs.pairs.size() << " pairs, " << pairs.folds
       << " folds, " << identities.size() << " identities\n\n";
  std::vector<std::pair<std::string, FaceVerification>> results;
  std::vector<std::pair<std::string, std::vector<FaceVerification>>> runs;
  for (size_t row = 0; row < names.size(); ++row) {
    std::vector<PairScores> scores;
    std::string loss;
    for (size_t k = row * group; k < (row + 1) * group; ++k) {
      FaceModel model = load_face_model_or_onnx(folders[k]);
      loss = model.config.loss;
      auto folder = face_folder(data, model.config, {identities.begin(), identities.end()});
      scores.push_back(score_pairs(*model.backbone, folder, pairs, default_device()));
    }
    runs.emplace_back(names[row], std::vector<FaceVerification>{});
    if (per_fold) {
      FaceVerification result = verify_scores_per_fold(scores);
      text << format_report(names[row] + " (" + loss + ", " + std::to_string(group) + " models, one per fold)", result.plain)
           << "\n" << format_report(names[row] + ", flip", result.flip) << "\n";
      results.emplace_back(names[row], std::move(result));
      continue;
    }
    for (size_t k = 0; k < group; ++k) {
      FaceVerification result = verify_scores(scores[k]);
      const std::string& folder = folders[row * group + k];
      std::string label = group == 1 ? names[row] : names[row] + " " + std::to_string(k + 1) + "/" + std::to_string(group);
      text << format_report(label + " (" + loss + ", " + folder + ")", result.plain) << "\n"
           << format_report(label + ", flip", result.flip) << "\n";
      runs.back().second.push_back(result);
      if (k == 0) results.emplace_back(names[row], std::move(result));  // the ROC plot draws each row's first run
    }
  }
  text << (group > 1 && !per_fold ? mean_table(runs) : comparison_table(results));
  std::cout << text.str();
  if (!report_path.empty()) write_file_atomically(report_path, text.str());
  if (!roc.empty()) {
    std::vector<std::pair<std::string, RocCurve>> curves;
    for (const auto& [name, result] : results) curves.emplace_back(name, result.flip.roc);
    save_roc_plot(roc, curves, "verification ROC (flip), " + std::to_string(pairs.pairs.size()) + " pairs");
    std::printf("eval_pairs: ROC curves in %s\n", roc.c_str());
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "eval_pairs: %s\n", e.what());
  return 1;
}
