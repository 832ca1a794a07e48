// train/face_eval.h — what train_faces' per-epoch verification and the tools
// (embed, verify, eval_pairs) share: embedding images with a backbone, plain and "flip",
// scoring the pairs of a pairs file, and the LFW report of eval/verification.h on both.
//
// Flip (insightface's "Accuracy-Flip"): the embedding of an image plus the embedding of its
// left-right mirror image, e(x) + e(mirror x); cosine similarity ignores the scale, so this is
// the direction of the mean of the two. Pairs are scored by cosine similarity.
//
// The embeddings file of the embed tool: "<out>.bin", little-endian,
//   8 bytes magic "MARGINEM", u32 version (1), i64 N, i64 d, then N·d float32, row-major
// (numpy: np.fromfile(path, np.float32, offset=28).reshape(N, d)), and "<out>.csv", one row
// per image: path, then d values.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "data/image_folder.h"
#include "eval/verification.h"
#include "train/face_model.h"
#include "train/metrics.h"
#include "layers/module.h"

namespace margin {

// An ImageFolder as the model wants its input: its channels and size, `identities` (empty:
// all), cached or not.
std::shared_ptr<ImageFolder> face_folder(const std::string& root, const FaceModelConfig& config,
                                         std::vector<std::string> identities = {}, bool cache = false);

// Each identity with its image count, for generate_pairs.
std::vector<std::pair<std::string, int64_t>> identity_counts(const ImageFolder& folder);

// The images' embeddings, plain and flip (train/metrics.h), as every face model takes them:
// the samples come as datasets give them ([0, 1]) and face_input() is applied here. A row
// that is not finite (a diverged model, a degenerate image) is an error naming the image by
// `name_of(row)` (default "image <row>"): NaN would otherwise score as "different people".
Embeddings embed_images(Layer& backbone, std::shared_ptr<const Dataset> images, Device device,
                        int64_t batch_size = 128, const std::function<std::string(int64_t row)>& name_of = {});

// The cosine similarity of every pair, plain and flip, with its truth and fold. Only the
// images the pairs name are embedded, each once. `folder` must hold every named identity.
struct PairScores {
  std::vector<double> plain, flip;
  std::vector<bool> same;
  std::vector<int64_t> folds;
};
PairScores score_pairs(Layer& backbone, std::shared_ptr<const ImageFolder> folder, const PairsFile& pairs,
                       Device device);

// The LFW report for plain and flip scores, and the best threshold on all pairs of each.
struct FaceVerification {
  VerificationReport plain, flip;
  Threshold best_plain, best_flip;
};
FaceVerification verify_scores(const PairScores& scores);
// LFW View 2 unrestricted: by_fold[f] are the scores of the model trained without fold f's
// people, all of the same pairs (eval/verification.h per_fold_model_report). The best
// thresholds are those of the pooled scores (each pair scored by its fold's model).
FaceVerification verify_scores_per_fold(const std::vector<PairScores>& by_fold);

// A Markdown table, one row per (label, verification): 10-fold accuracy ± std plain and flip,
// AUC plain and flip, EER (flip), TAR@FAR=1e-1, 1e-2, 1e-3 (flip).
std::string comparison_table(const std::vector<std::pair<std::string, FaceVerification>>& rows);

// A Markdown table, one row per (label, runs of one setting, e.g. seeds): the mean ± std
// (population) over the runs of the 10-fold accuracy plain and flip, AUC (flip), EER (flip),
// TAR@FAR=1e-2 and 1e-3 (flip).
std::string mean_table(const std::vector<std::pair<std::string, std::vector<FaceVerification>>>& rows);

// Writes <out>.bin and <out>.csv (see above); paths.size() == rows of embeddings. Each file
// is written atomically (core/atomic_file.h): a failed write is an error naming the file and
// leaves that file as it was, never half-written.
void save_embeddings(const std::string& out, const std::vector<std::string>& paths, const Tensor& embeddings);
// Reads <out>.bin back: [N, d] float32 on the CPU; errors name the file. N·d·4 is counted
// without overflow and compared with the file's size before anything is allocated; a value
// that is not finite is an error naming its row.
Tensor load_embeddings(const std::string& bin_path);

}  // namespace margin
