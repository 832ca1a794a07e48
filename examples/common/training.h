// examples/common/training.h — the epoch loop every training binary shares: a model that maps
// images to embeddings, a margin head (losses/) that turns them into a loss, SGD under a
// learning-rate schedule, a DataLoader. Per epoch: a progress bar (loss, running accuracy,
// images/s), the caller's evaluation (test accuracy, verification, …), a CSV row and an
// atomic checkpoint; --resume continues from a checkpoint and reproduces the uninterrupted
// run bit for bit on the CPU with the same seed and thread count (tests/test_resume.cpp).
//
//   TrainingJob job{.model = *model, .head = *head, .sgd = sgd, .schedule = schedule,
//                   .loader = loader, .epochs = 12, .out_dir = "runs/x"};
//   job.evaluate = [&](int64_t epoch) { return Metrics{{"test_accuracy", accuracy()}}; };
//   TrainingOutcome outcome = train(job);
//
// Running accuracy is the fraction of training rows whose nearest class weight (cosine) is
// their label, measured on the step's own embeddings (augmented, before the update).
// Left out: gradient accumulation, mixed precision, multi-GPU.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/optim.h"
#include "core/schedule.h"
#include "data/loader.h"
#include "layers/module.h"
#include "losses/margin_loss.h"

namespace margin {

using Metrics = std::vector<std::pair<std::string, double>>;  // name → value, in CSV column order

struct TrainingJob {
  Layer& model;
  MarginLoss& head;
  SGD& sgd;                  // over the parameters of model and head
  const LrSchedule& schedule;
  DataLoader& loader;
  int64_t epochs = 1;
  std::string out_dir;       // log.csv, checkpoint.bin and model.bin go here
  std::string resume;        // a checkpoint to continue from ("": start afresh)
  int64_t stop_after = 0;    // stop after this many epochs of this run (0: never)
  Device device = default_device();
  bool progress = true;      // the progress bar and the per-epoch line on stderr
  // Called after each epoch's training (model in train mode; switch to eval() and back).
  std::function<Metrics(int64_t epoch)> evaluate;
  // Called after every optimizer step with the global step number (tests use it).
  std::function<void(int64_t step)> after_step;
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0, lr = 0, seconds = 0;
  Metrics metrics = {};  // what evaluate returned
};

struct TrainingOutcome {
  int64_t first_epoch = 0;         // 0, or where --resume picked up
  int64_t epochs_done = 0;         // epochs finished in total (resumed ones included)
  bool finished = false;           // all epochs done (model.bin written)
  std::vector<EpochRecord> epochs; // the epochs of this run
  double seconds = 0;
};

TrainingOutcome train(TrainingJob& job);

// Fraction of rows of `embeddings` whose nearest row of `weight` by cosine is their label.
double cosine_accuracy(const Tensor& embeddings, const Tensor& weight, const Tensor& labels);

// The embeddings of a whole dataset in eval mode, on the CPU, with its labels.
std::pair<Tensor, Tensor> embed_dataset(Layer& model, std::shared_ptr<const Dataset> data, Device device,
                                        int64_t batch_size = 500);

// "4m07s"
std::string format_duration(double seconds);

}  // namespace margin
