// train/trainer.h — the epoch loop every training program shares: a model that maps images to
// embeddings, a margin loss (losses/) that turns them into a loss, SGD under a learning-rate
// schedule, a DataLoader.
//
//   TrainingJob job{.model = *model, .head = *head, .sgd = sgd, .schedule = schedule,
//                   .loader = loader, .epochs = 12, .out_dir = "runs/x"};
//   job.evaluate = [&](int64_t epoch) { return Metrics{{"test_accuracy", accuracy()}}; };
//   TrainingOutcome outcome = train(job);
//
// One step: lr from the schedule, the loss's step (margin warm-up), forward, backward, the
// optimizer step (which also applies the parameters' constraints: the normalized losses keep
// their class weights on the unit sphere that way). Per epoch: a progress bar (loss, running
// accuracy, images/s), a check that every parameter and buffer is finite (a diverged run
// stops with an error naming the first that is not, and checkpoint.bin keeps the last good
// epoch), the caller's evaluation, a row of out_dir/log.csv and an atomic
// out_dir/checkpoint.bin; after the last epoch out_dir/model.bin. `resume` continues from a
// checkpoint and reproduces the uninterrupted run bit for bit on the CPU with the same seed
// and thread count (tests/test_trainer.cpp); it refuses a checkpoint written with other
// `settings` (the loss, s, m, sizes, lr, batch, seed, data: whatever the program lists).
//
// More than one process (mpirun -np N): the communicator (default communicator_for(device))
// makes the loop data parallel (train/distributed.h): every rank checks at start that the others
// run the same model, loss and data, takes rank 0's initial parameters, trains on its part of
// each global batch (the loader's rank and ranks) and sums its gradients with the others'
// before the optimizer step, so all ranks keep the same parameters. Progress, evaluation, the
// log and the checkpoints are rank 0's; every rank resumes from the same checkpoint file. A
// head with Partial FC (losses/partial_fc.h) keeps its own rows of W: its gradient is exact on
// each rank and is not summed.
// Running accuracy is the fraction of training rows whose nearest class weight (cosine) is
// their label, measured on the step's own embeddings (augmented, before the update).
// Mixed precision (`precision`): the model's forward runs in an AutocastScope of it
// (core/precision.h), so its products multiply bfloat16 operands; the embedding, the head, the
// loss and the optimizer stay float32, and the parameters are float32 master weights.
// Under fp16 a LossScaler (core/loss_scaler.h, options `loss_scaler`) scales the loss before
// backward and unscales the gradients after their sum over the ranks; a step whose gradients
// hold an inf or a NaN is skipped (the learning-rate schedule still advances, as in PyTorch),
// and the per-epoch line and EpochRecord count the skipped steps. The scale and its count of
// clean steps are saved in the checkpoints (TrainingState values "loss_scale",
// "loss_scale_clean_steps"), so a resumed fp16 run goes on with the scale it had; a checkpoint
// without them (written by an fp32 or bf16 run) starts at init_scale. fp32 and bf16 have no
// scaler (bfloat16 has float32's exponent range).
// Left out: gradient accumulation, overlapping the gradient all-reduce with the backward pass.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/communicator.h"
#include "core/loss_scaler.h"
#include "core/optim.h"
#include "core/precision.h"
#include "core/schedule.h"
#include "data/loader.h"
#include "layers/module.h"
#include "losses/margin_loss.h"
#include "train/checkpoint.h"

namespace margin {

using Metrics = std::vector<std::pair<std::string, double>>;  // name → value, in CSV column order
using Settings = std::vector<std::pair<std::string, std::string>>;  // flag name → value as text

struct TrainingJob {
  Layer& model;
  MarginLoss& head;
  SGD& sgd;                  // over the parameters of model and head
  const LrSchedule& schedule;
  DataLoader& loader;
  int64_t epochs = 1;
  std::string out_dir;       // log.csv, checkpoint.bin and model.bin go here
  std::optional<std::string> resume = std::nullopt;  // a checkpoint to continue from
  std::optional<int64_t> stop_after = std::nullopt;  // stop after this many epochs of this run
  Device device = default_device();
  Precision precision = Precision::FP32;  // the model's products (core/precision.h)
  LossScalerOptions loss_scaler = {};     // precision fp16 only
  Communicator* communicator = nullptr;  // the ranks to train with; nullptr: communicator_for(device)
  bool progress = true;      // the progress bar and the per-epoch line on stderr
  // Called after each epoch's training (model in train mode; switch to eval() and back).
  std::function<Metrics(int64_t epoch)> evaluate;
  // With more than one rank evaluate runs on rank 0 only, unless it calls collectives (a
  // Partial FC head's full_weight): then on every rank (rank 0's metrics are the ones kept).
  bool evaluate_on_every_rank = false;
  // Called after every optimizer step with the global step number (tests use it).
  std::function<void(int64_t step)> after_step;
  // The settings a resumed run must share with the run that wrote its checkpoint, flag name
  // → value ({"loss", "lmcl"}, {"s", "30"}): every checkpoint stores them, and resume refuses
  // a checkpoint whose stored value of a setting differs, naming the flag (before any tensor
  // is compared). Those named in settings_may_change are stored but not compared (the
  // training programs' --new-schedule: a deliberate new --lr or --epochs).
  Settings settings = {};
  std::vector<std::string> settings_may_change = {};
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  // Over every rank's rows. The accuracy is NaN for a Partial FC head (no rank holds all of W).
  double train_loss = 0, train_accuracy = 0, lr = 0, seconds = 0;
  Metrics metrics = {};  // what evaluate returned
  // Precision fp16: the steps of this epoch the loss scaler skipped (inf or NaN gradients) and
  // its scale at the epoch's end. Other precisions: 0 and 0.
  int64_t skipped_steps = 0;
  double loss_scale = 0;
};

struct TrainingOutcome {
  int64_t first_epoch = 0;         // 0, or where resume picked up
  int64_t epochs_done = 0;         // epochs finished in total (resumed ones included)
  bool finished = false;           // all epochs done (model.bin written)
  std::vector<EpochRecord> epochs; // the epochs of this run
  double seconds = 0;
};

// The loop's settings as every training program takes them, checked where the flags are read:
// margin::Error naming the flag for epochs < 1, batch < 1, lr <= 0, a negative weight decay or
// crop padding, stop_after < 1.
struct LoopFlags {
  int64_t epochs = 1, batch = 1;
  double lr = 0.1, weight_decay = 0;
  int64_t crop_pad = 0;
  std::optional<int64_t> stop_after = std::nullopt;
};
void check_loop_flags(const LoopFlags& flags);

// --conv-algorithm: how the CPU runs bf16 3x3 convolutions of stride 1 and padding 1.
// - auto (the programs' default): by Winograd's F(2×2, 3×3) where the bf16 products run on AVX-512
//   BF16 (backends/cpu/winograd.h: faster there, two to five times bf16's rounding error), directly
//   where they run on AMX (its tile kernels are faster), under fp32 and on CUDA;
// - direct: directly everywhere (backend.h's contract: the exact products of the rounded operands);
// - winograd: as auto, but margin::Error naming the flag without --precision bf16 on the CPU, and a
//   one-line notice where the bf16 products do not run on AVX-512 BF16 (which leaves them direct).
// margin::Error naming the flag and the value for any other name.
void use_conv_algorithm(const std::string& name, Precision precision, Device device);
// The flag's help, for every program that takes it.
inline constexpr const char* kConvAlgorithmHelp =
    "auto, direct or winograd: how bf16 3x3 stride-1 convolutions run on the CPU; auto: by Winograd's F(2x2,3x3) "
    "(forward, dx and dw) where the bf16 products run on AVX-512 BF16 (faster; two to five times bf16's rounding "
    "error: docs/precision.md), directly on AMX";

// Refuses (margin::Error naming the flag, both values and `checkpoint`) when `stored`, a
// checkpoint's TrainingState, holds a value of one of `settings` that differs from it.
// Settings the checkpoint does not hold, and those named in `may_change`, are not compared.
void check_resume_settings(const std::string& checkpoint, const TrainingState& stored, const Settings& settings,
                           const std::vector<std::string>& may_change = {});

// Settings' text for numbers, flags and lists: the shortest form that reads back as the same
// double; "true"/"false"; "32,64,128".

std::string setting_text(double value);
std::string setting_text(bool value);
std::string setting_text(const std::vector<int64_t>& values);

TrainingOutcome train(TrainingJob& job);

}  // namespace margin
