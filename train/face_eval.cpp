// train/face_eval.cpp — face embeddings (plain and flip), pair scores, the report on both,
// and the embeddings file. See face_eval.h.
#include "train/face_eval.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "core/atomic_file.h"
#include "core/autograd.h"
#include "core/checked.h"
#include "core/ops.h"
#include "data/loader.h"

namespace margin {

std::shared_ptr<ImageFolder> face_folder(const std::string& root, const FaceModelConfig& config,
                                         std::vector<std::string> identities, bool cache) {
  return std::make_shared<ImageFolder>(root, ImageFolderOptions{.channels = config.channels,
                                                                .crop_height = config.crop_height,
                                                                .crop_width = config.crop_width,
                                                                .height = config.height,
                                                                .width = config.width,
                                                                .identities = std::move(identities),
                                                                .cache = cache});
}

std::vector<std::pair<std::string, int64_t>> identity_counts(const ImageFolder& folder) {
  std::vector<std::pair<std::string, int64_t>> counts;
  for (int64_t label = 0; label < folder.num_classes(); ++label)
    counts.emplace_back(folder.identity_names()[label], static_cast<int64_t>(folder.files(label).size()));
  return counts;
}

Embeddings embed_images(Layer& backbone, std::shared_ptr<const Dataset> images, Device device, int64_t batch_size,
                        const std::function<std::string(int64_t row)>& name_of) {
  Embeddings embeddings =
      embed_dataset(backbone, std::move(images), device, {.batch_size = batch_size, .flip = true, .input = face_input()});
  for (const Tensor* rows : {&embeddings.plain, &embeddings.flip}) {
    const int64_t count = rows->size(0), dim = rows->size(1);
    const float* values = rows->view().ptr<float>();
    for (int64_t i = 0; i < count * dim; ++i)
      if (!std::isfinite(values[i]))
        fail("embed_images: the embedding of ", name_of ? name_of(i / dim) : "image " + std::to_string(i / dim),
             " holds ", values[i], " (expected finite values: is the model diverged?)");
  }
  return embeddings;
}

PairScores score_pairs(Layer& backbone, std::shared_ptr<const ImageFolder> folder, const PairsFile& pairs,
                       Device device) {
  // Each named image once: dataset index → row of the embeddings.
  std::map<int64_t, int64_t> row_of;
  std::vector<std::pair<int64_t, int64_t>> pair_indices;
  for (const PairEntry& pair : pairs.pairs) {
    int64_t a = folder->index_of(pair.name_a, pair.index_a), b = folder->index_of(pair.name_b, pair.index_b);
    row_of.emplace(a, 0);
    row_of.emplace(b, 0);
    pair_indices.emplace_back(a, b);
  }
  std::vector<int64_t> indices;
  for (auto& [index, row] : row_of) {
    row = static_cast<int64_t>(indices.size());
    indices.push_back(index);
  }
  Embeddings embeddings = embed_images(backbone, std::make_shared<Subset>(folder, indices), device, 128,
                                       [&](int64_t row) { return folder->path_of(indices[row]); });
  const int64_t dim = embeddings.plain.size(1);
  const float* plain = embeddings.plain.view().ptr<float>();
  const float* flip = embeddings.flip.view().ptr<float>();
  PairScores scores;
  for (size_t k = 0; k < pair_indices.size(); ++k) {
    int64_t a = row_of[pair_indices[k].first], b = row_of[pair_indices[k].second];
    scores.plain.push_back(cosine_similarity(plain + a * dim, plain + b * dim, dim));
    scores.flip.push_back(cosine_similarity(flip + a * dim, flip + b * dim, dim));
    scores.same.push_back(pairs.pairs[k].same());
    scores.folds.push_back(pairs.accuracy_fold_of(k));
  }
  return scores;
}

FaceVerification verify_scores(const PairScores& scores) {
  return {verification_report(scores.plain, scores.same, scores.folds),
          verification_report(scores.flip, scores.same, scores.folds), best_threshold(scores.plain, scores.same),
          best_threshold(scores.flip, scores.same)};
}

FaceVerification verify_scores_per_fold(const std::vector<PairScores>& by_fold) {
  if (by_fold.empty()) fail("verify_scores_per_fold: no models (expected one per fold)");
  std::vector<std::vector<double>> plain, flip;
  for (const PairScores& scores : by_fold) {
    if (scores.same != by_fold[0].same || scores.folds != by_fold[0].folds)
      fail("verify_scores_per_fold: the models scored different pairs (expected the same pairs file for every fold)");
    plain.push_back(scores.plain);
    flip.push_back(scores.flip);
  }
  const std::vector<bool>& same = by_fold[0].same;
  const std::vector<int64_t>& folds = by_fold[0].folds;
  return {per_fold_model_report(plain, same, folds), per_fold_model_report(flip, same, folds),
          best_threshold(per_fold_model_scores(plain, folds), same), best_threshold(per_fold_model_scores(flip, folds), same)};
}

std::string comparison_table(const std::vector<std::pair<std::string, FaceVerification>>& rows) {
  std::string table =
      "| model | accuracy | accuracy (flip) | AUC | AUC (flip) | EER (flip) | TAR@FAR=1e-1 (flip) | TAR@FAR=1e-2 (flip) | "
      "TAR@FAR=1e-3 (flip) |\n|---|---|---|---|---|---|---|---|---|\n";
  char cell[96];
  for (const auto& [label, result] : rows) {
    table += "| " + label + " |";
    for (const VerificationReport* report : {&result.plain, &result.flip}) {
      std::snprintf(cell, sizeof cell, " %.2f%% ± %.2f |", 100 * report->accuracy.mean, 100 * report->accuracy.std);
      table += cell;
    }
    std::snprintf(cell, sizeof cell, " %.4f | %.4f | %.2f%% |", result.plain.auc, result.flip.auc, 100 * result.flip.eer);
    table += cell;
    for (double far : {1e-1, 1e-2, 1e-3}) {
      std::snprintf(cell, sizeof cell, " %.2f%% |", 100 * tar_at_far(result.flip.roc, far));
      table += cell;
    }
    table += "\n";
  }
  return table;
}

std::string mean_table(const std::vector<std::pair<std::string, std::vector<FaceVerification>>>& rows) {
  std::string table =
      "| model | runs | accuracy | accuracy (flip) | AUC (flip) | EER (flip) | TAR@FAR=1e-2 (flip) | TAR@FAR=1e-3 (flip) |\n"
      "|---|---|---|---|---|---|---|---|\n";
  using Measure = double (*)(const FaceVerification&);
  const std::vector<std::pair<Measure, double>> columns = {  // what, and its factor (100: percent)
      {[](const FaceVerification& v) { return v.plain.accuracy.mean; }, 100},
      {[](const FaceVerification& v) { return v.flip.accuracy.mean; }, 100},
      {[](const FaceVerification& v) { return v.flip.auc; }, 1},
      {[](const FaceVerification& v) { return v.flip.eer; }, 100},
      {[](const FaceVerification& v) { return tar_at_far(v.flip.roc, 1e-2); }, 100},
      {[](const FaceVerification& v) { return tar_at_far(v.flip.roc, 1e-3); }, 100}};
  char cell[96];
  for (const auto& [label, runs] : rows) {
    if (runs.empty()) fail("mean_table: row ", label, " has no runs");
    table += "| " + label + " | " + std::to_string(runs.size()) + " |";
    for (const auto& [measure, factor] : columns) {
      double mean = 0, squares = 0;
      for (const FaceVerification& run : runs) mean += measure(run) / double(runs.size());
      for (const FaceVerification& run : runs) squares += (measure(run) - mean) * (measure(run) - mean);
      double std = std::sqrt(squares / double(runs.size()));
      std::snprintf(cell, sizeof cell, factor == 1 ? " %.4f ± %.4f |" : " %.2f%% ± %.2f |", factor * mean, factor * std);
      table += cell;
    }
    table += "\n";
  }
  return table;
}

// ---- the embeddings file ---------------------------------------------------------------------

static constexpr char kEmbeddingsMagic[8] = {'M', 'A', 'R', 'G', 'I', 'N', 'E', 'M'};
static constexpr uint32_t kEmbeddingsVersion = 1;
static constexpr uintmax_t kEmbeddingsHeaderBytes = 8 + 4 + 8 + 8;  // magic, version, N, d

void save_embeddings(const std::string& out, const std::vector<std::string>& paths, const Tensor& embeddings) {
  Tensor rows = embeddings.to(kCPU).contiguous();
  if (rows.ndim() != 2 || rows.dtype() != DType::F32 || rows.size(0) != static_cast<int64_t>(paths.size()))
    fail("save_embeddings: ", rows.describe(), " for ", paths.size(), " paths (expected float32 [", paths.size(), ", d])");
  const int64_t count = rows.size(0), dim = rows.size(1);
  const float* values = rows.view().ptr<float>();
  std::string bin(kEmbeddingsMagic, 8);
  bin.append(reinterpret_cast<const char*>(&kEmbeddingsVersion), 4);
  bin.append(reinterpret_cast<const char*>(&count), 8);
  bin.append(reinterpret_cast<const char*>(&dim), 8);
  bin.append(reinterpret_cast<const char*>(values), static_cast<size_t>(count * dim) * sizeof(float));
  std::ostringstream csv;
  csv.precision(9);
  csv << "path";
  for (int64_t j = 0; j < dim; ++j) csv << ",e" << j;
  csv << "\n";
  for (int64_t i = 0; i < count; ++i) {
    // Quoted, with quotes doubled, so commas in file names survive.
    std::string quoted;
    for (char c : paths[i]) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    csv << '"' << quoted << '"';
    for (int64_t j = 0; j < dim; ++j) csv << ',' << values[i * dim + j];
    csv << "\n";
  }
  auto write = [](const std::string& path, std::string_view bytes) {
    try {
      write_file_atomically(path, bytes);
    } catch (const Error& e) {
      fail("save_embeddings: cannot write ", path, ": ", e.what());
    }
  };
  write(out + ".bin", bin);
  write(out + ".csv", csv.str());
}

Tensor load_embeddings(const std::string& bin_path) {
  std::ifstream in(bin_path, std::ios::binary);
  if (!in) fail("load_embeddings: ", bin_path, ": no such file");
  char magic[8] = {};
  uint32_t version = 0;
  int64_t count = -1, dim = -1;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&version), 4);
  in.read(reinterpret_cast<char*>(&count), 8);
  in.read(reinterpret_cast<char*>(&dim), 8);
  if (!in) fail("load_embeddings: ", bin_path, ": truncated header (expected ", kEmbeddingsHeaderBytes, " bytes)");
  if (std::memcmp(magic, kEmbeddingsMagic, 8) != 0) fail("load_embeddings: ", bin_path, ": not an embeddings file (no MARGINEM magic)");
  if (version != kEmbeddingsVersion)
    fail("load_embeddings: ", bin_path, ": version ", version, " (this build reads version ", kEmbeddingsVersion, ")");
  if (dim < 1) fail("load_embeddings: ", bin_path, ": embedding size ", dim, " (expected at least 1)");
  // The declared values are counted without overflow and compared with the file's size
  // before anything is allocated.
  const std::string what = "load_embeddings: " + bin_path + ": " + std::to_string(count) + "×" + std::to_string(dim) + " float32";
  const int64_t value_bytes = checked_product({count, dim, int64_t(sizeof(float))}, what);
  std::error_code no_size;
  const uintmax_t file_size = std::filesystem::file_size(bin_path, no_size);
  if (no_size) fail("load_embeddings: ", bin_path, ": cannot read its size (", no_size.message(), ")");
  const uintmax_t data_bytes = file_size - kEmbeddingsHeaderBytes;
  if (data_bytes < static_cast<uintmax_t>(value_bytes))
    fail("load_embeddings: ", bin_path, ": truncated: expected ", count, "×", dim, " float32 values after the header");
  if (data_bytes > static_cast<uintmax_t>(value_bytes))
    fail("load_embeddings: ", bin_path, ": ", data_bytes - value_bytes, " bytes past the ", count, "×", dim, " values");
  Tensor rows = Tensor::empty({count, dim}, DType::F32, kCPU);
  in.read(reinterpret_cast<char*>(rows.view().ptr<float>()), static_cast<std::streamsize>(value_bytes));
  if (!in) fail("load_embeddings: ", bin_path, ": truncated: expected ", count, "×", dim, " float32 values after the header");
  const float* values = rows.view().ptr<float>();
  for (int64_t i = 0; i < count * dim; ++i)
    if (!std::isfinite(values[i]))
      fail("load_embeddings: ", bin_path, ": row ", i / dim, " holds ", values[i], " (expected finite values)");
  return rows;
}

}  // namespace margin
