// train/trainer.cpp — the shared epoch loop (see trainer.h), one small function per part.
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/autograd.h"
#include "train/checkpoint.h"
#include "train/csv_log.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace margin {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What a checkpoint holds besides the optimizer: the model and the loss head.
std::vector<NamedModule> checkpointed(TrainingJob& job) {
  return {{"model", &job.model}, {"loss", &job.head}};
}

// Loads job.resume (when given) and returns the epoch to continue from.
int64_t resume(TrainingJob& job) {
  if (!job.resume) return 0;
  const std::string& path = *job.resume;
  TrainingState position = load_checkpoint(path, checkpointed(job), &job.sgd);
  if (position.epoch > job.epochs)
    fail("checkpoint ", path, " is at epoch ", position.epoch, ", past the ", job.epochs, " epochs asked for");
  if (job.progress)
    std::fprintf(stderr, "resumed from %s at epoch %lld\n", path.c_str(), static_cast<long long>(position.epoch));
  return position.epoch;
}

struct StepResult {
  double loss = 0;      // the batch's mean loss
  int64_t rows = 0;     // its rows
  int64_t correct = 0;  // rows whose nearest class weight is their label
};

// One optimizer step on `batch`; global step number `step`.
StepResult train_step(TrainingJob& job, const Batch& batch, int64_t step, int64_t epoch, int64_t step_in_epoch) {
  job.sgd.set_lr(job.schedule.lr(step));
  job.head.set_step(step);
  Tensor images = batch.images.to(job.device), labels = batch.labels.to(job.device);
  Tensor embeddings = job.model(images);
  Tensor loss = job.head(embeddings, labels);
  job.sgd.zero_grad();
  loss.backward();
  job.sgd.step();  // applies the head's constraint: class weights back on the unit sphere
  StepResult result{.loss = loss.item(), .rows = labels.size(0)};
  if (!std::isfinite(result.loss))
    fail("the loss became ", result.loss, " at epoch ", epoch + 1, " step ", step_in_epoch + 1,
         ": lower --lr, or check s and m (", job.head.scale(), ", ", job.head.current_margin(), ")");
  double accuracy = cosine_accuracy(embeddings.detach(), job.head.weight(), labels);
  result.correct = static_cast<int64_t>(accuracy * static_cast<double>(result.rows) + 0.5);
  return result;
}

// One pass over the loader, with a progress bar; the record's metrics and seconds are left to
// the caller.
EpochRecord train_epoch(TrainingJob& job, int64_t epoch) {
  const int64_t steps_per_epoch = job.loader.batches_per_epoch();
  ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(job.epochs), steps_per_epoch);
  job.loader.start_epoch(epoch);
  double loss_sum = 0;
  int64_t seen = 0, correct = 0, step_in_epoch = 0;
  while (std::optional<Batch> batch = job.loader.next()) {
    const int64_t step = epoch * steps_per_epoch + step_in_epoch;
    StepResult result = train_step(job, *batch, step, epoch, step_in_epoch);
    loss_sum += result.loss * static_cast<double>(result.rows);
    correct += result.correct;
    seen += result.rows;
    ++step_in_epoch;
    if (job.after_step) job.after_step(step);
    if (job.progress) {
      char stats[96];
      std::snprintf(stats, sizeof stats, "loss %.4f  acc %5.1f%%", loss_sum / seen, 100.0 * correct / seen);
      bar.update(step_in_epoch, seen, stats);
    }
  }
  return {.epoch = epoch + 1,
          .train_loss = seen ? loss_sum / seen : 0,
          .train_accuracy = seen ? static_cast<double>(correct) / seen : 0,
          .lr = job.sgd.lr()};
}

// "test_accuracy", 0.9123 → "test accuracy 91.23%": accuracies and rates as percentages,
// words spaced.
std::string describe_metric(std::string name, double value) {
  const bool rate = name.find("accuracy") != std::string::npos || name.ends_with("rate");
  for (char& c : name)
    if (c == '_') c = ' ';
  char text[128];
  std::snprintf(text, sizeof text, rate ? "%s %.2f%%" : "%s %.4g", name.c_str(), rate ? 100 * value : value);
  return text;
}

void print_epoch(const EpochRecord& record, int64_t epochs) {
  std::string metrics;
  for (const auto& [name, value] : record.metrics) metrics += ", " + describe_metric(name, value);
  std::fprintf(stderr, "epoch %lld/%lld: train loss %.4f, train accuracy %.2f%%%s, %s\n",
               static_cast<long long>(record.epoch), static_cast<long long>(epochs), record.train_loss,
               100.0 * record.train_accuracy, metrics.c_str(), format_duration(record.seconds).c_str());
}

// The record as log.csv's columns: epoch, train_loss, train_accuracy, the metrics, lr, seconds.
Metrics log_row(const EpochRecord& record) {
  Metrics row{{"epoch", static_cast<double>(record.epoch)},
              {"train_loss", record.train_loss},
              {"train_accuracy", record.train_accuracy}};
  row.insert(row.end(), record.metrics.begin(), record.metrics.end());
  row.emplace_back("lr", record.lr);
  row.emplace_back("seconds", record.seconds);
  return row;
}

}  // namespace

TrainingOutcome train(TrainingJob& job) {
  std::filesystem::create_directories(job.out_dir);
  const int64_t steps_per_epoch = job.loader.batches_per_epoch();
  TrainingOutcome outcome;
  outcome.first_epoch = resume(job);
  CsvLog log(job.out_dir + "/log.csv", /*append=*/outcome.first_epoch > 0);

  const auto started = std::chrono::steady_clock::now();
  int64_t epoch = outcome.first_epoch;
  for (; epoch < job.epochs; ++epoch) {
    if (job.stop_after && epoch - outcome.first_epoch >= *job.stop_after) break;
    const auto epoch_started = std::chrono::steady_clock::now();
    EpochRecord record = train_epoch(job, epoch);
    if (job.evaluate) record.metrics = job.evaluate(epoch);
    record.seconds = seconds_since(epoch_started);
    log.write(log_row(record));
    if (job.progress) print_epoch(record, job.epochs);
    outcome.epochs.push_back(std::move(record));
    save_checkpoint(job.out_dir + "/checkpoint.bin", checkpointed(job), &job.sgd,
                    TrainingState{.epoch = epoch + 1, .step = (epoch + 1) * steps_per_epoch, .values = {}});
  }
  outcome.epochs_done = epoch;
  outcome.finished = epoch >= job.epochs;
  if (outcome.finished)
    save_checkpoint(job.out_dir + "/model.bin", checkpointed(job), nullptr,
                    TrainingState{.epoch = job.epochs, .step = job.epochs * steps_per_epoch, .values = {}});
  outcome.seconds = seconds_since(started);
  return outcome;
}

}  // namespace margin
