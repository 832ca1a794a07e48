// train/faces.h — one face-recognition training run as a function (train_faces
// and the tests run the same code): a backbone and a margin head trained on the identities of
// an ImageFolder that are not held out, and, after every epoch, open-set verification on the
// held-out identities the way LFW does it.
//
// The data, one of two ways:
// - an identity split: the identities of `data` split by split_identities(names, held_out,
//   split_seed); the training identities are the classes (labels 0..K−1), the held-out ones
//   are never seen in training. From the held-out ones, generate_pairs (eval/pairs.h) draws
//   10 folds of `pairs_per_fold` same and as many different pairs, written to out/pairs.txt.
// - LFW's protocols (`people` and `pairs`, eval/people.h): the classes are the people of the
//   people file (View 1: peopleDevTrain.txt), or with `fold` k those of every fold but k
//   (View 2: people.txt); verification is on the pairs file (View 1: pairsDevTest.txt,
//   dealt into 10 folds; View 2: pairs.txt). With `fold` the model is verified once, at the
//   end, and reports fold k's accuracy (threshold chosen on the other nine folds): the figure
//   LFW's unrestricted protocol takes from it (eval_pairs --per-fold combines the ten models).
//   Every person and image the files name must be in `data`.
// `min_images` keeps only training identities with at least that many images.
// The training: SGD (momentum 0.9, weight decay) under a cosine learning-rate decay with a
// linear warm-up of one epoch; augmentation by random flips and, optionally, a random crop
// after zero padding and colour jitter; images in [−1, 1] (face_model.h: face_input).
// After every epoch: the held-out images embedded (plain and flip), each pair's cosine
// similarity, 10-fold accuracy ± std, AUC, EER and TAR@FAR=1e-2 (eval/verification.h) as
// columns of out/log.csv; model.txt updated with the best thresholds. Then the shared epoch loop's
// checkpoint (train/trainer.h: --resume reproduces the uninterrupted run).
// At the end: out/model.bin, out/verification.md (both reports), out/roc.png.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "core/flags.h"
#include "data/image_folder.h"
#include "train/face_eval.h"
#include "train/face_model.h"
#include "train/trainer.h"

namespace margin {

struct FacesConfig {
  std::string data;              // root: one folder per identity
  int64_t held_out = 10;         // identities held out for verification (0: none, no verification)
  std::optional<std::string> people = std::nullopt;  // LFW people file: whom to train on
  std::optional<int64_t> fold = std::nullopt;        // 1-based: train without this fold's people
  std::optional<std::string> pairs = std::nullopt;   // LFW pairs file: what to verify on
  int64_t min_images = 1;        // training identities need at least this many images
  std::string arch = "small";
  std::string crop = "none";     // HxW centre crop before the resize (none: the whole image)
  std::string input = "96x84";   // HxW the images are resized to
  int64_t channels = 1;
  std::vector<int64_t> widths = {32, 64, 128, 256};  // arch small: channels of each stage
  int64_t emb_dim = 128;
  std::string loss = "lmcl";
  double scale = 30;             // s (ignored by Softmax and SphereFace)
  std::optional<double> margin = std::nullopt;  // m; unset: the loss's default
  int64_t epochs = 30;
  int64_t batch = 64;
  double lr = 0.1;
  double weight_decay = 5e-4;
  uint64_t seed = 0;             // weights, shuffling, augmentation
  uint64_t split_seed = 0;       // which identities are held out, and the pairs drawn from them
  bool flip = true;              // augmentation: random horizontal flips
  int64_t crop_pad = 0;          // augmentation: random crop after zero padding (0: none)
  double color_jitter = 0;       // augmentation: brightness, contrast and saturation ± this (0: none)
  int64_t pairs_per_fold = 300;
  std::string out_dir = "runs/faces";
  std::optional<std::string> resume = std::nullopt;  // a checkpoint to continue from
  bool new_schedule = false;     // on resume, take --lr and --epochs from here (else they must match)
  std::optional<int64_t> stop_after = std::nullopt;  // unset: run to the end
  std::string precision = "fp32";  // the backbone's products: fp32 | bf16 | fp16 (CUDA) (core/precision.h)
  std::string conv_algorithm = "auto";  // bf16 3x3 convolutions on the CPU (trainer.h: use_conv_algorithm)
  int64_t workers = 1;           // data loader threads
  // Partial FC's sample rate r: set, the head's W is split over the ranks (mpirun -np N) and
  // each step keeps a fraction r of each rank's classes (losses/margin_loss.h).
  std::optional<double> partial_fc = std::nullopt;
  bool progress = true;
};

// Declares the flags of FacesConfig on `flags`, bound to `config`.
void add_faces_flags(Flags& flags, FacesConfig& config);

// The model part of the config, checked (classes and held-out identities are filled in by
// run_faces).
FaceModelConfig face_model_config(const FacesConfig& config);

// Whom a run trains on and how it verifies (see the header comment): split.train are the
// classes, split.held_out the verified identities never seen in training; `evaluated` every
// identity the pairs name; `pairs` empty when there is nothing to verify. Errors name the
// flag or the file.
struct FaceData {
  IdentitySplit split;
  std::vector<std::string> evaluated;
  PairsFile pairs;
};
FaceData choose_face_data(const FacesConfig& config);

struct FacesRun {
  FaceModel model;
  IdentitySplit split;
  PairsFile pairs;                // empty when nothing is held out
  TrainingOutcome outcome;
  FaceVerification verification;  // after the last epoch (when anything is held out)
  bool verified = false;
  // With FacesConfig::fold: the accuracy of fold k, plain and flip (threshold chosen on the
  // other nine folds).
  double fold_accuracy = 0, fold_accuracy_flip = 0;
};

FacesRun run_faces(const FacesConfig& config, std::function<void(int64_t step)> after_step = {});

// The per-epoch metrics of a verification, as CSV columns: accuracy, its std, AUC, EER and
// TAR@FAR=1e-2, plain and flip (the whole report goes to verification.md at the end).
Metrics verification_metrics(const FaceVerification& verification);

}  // namespace margin
