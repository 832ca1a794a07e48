// examples/common/training.cpp — the shared epoch loop (see training.h).
#include "examples/common/training.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/progress.h"
#include "layers/checkpoint.h"

namespace margin {

double cosine_accuracy(const Tensor& embeddings, const Tensor& weight, const Tensor& labels) {
  NoGradGuard no_grad;
  Tensor cos_theta = matmul(l2_normalize(embeddings), l2_normalize(weight.to(embeddings.device())), false, true);
  std::vector<int64_t> predicted = argmax(cos_theta, 1).to_indices(), truth = labels.to_indices();
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(truth.size());
}

std::pair<Tensor, Tensor> embed_dataset(Layer& model, std::shared_ptr<const Dataset> data, Device device,
                                        int64_t batch_size) {
  NoGradGuard no_grad;
  model.eval();
  DataLoader loader(std::move(data), {.batch_size = batch_size, .shuffle = false, .workers = 1});
  loader.start_epoch(0);
  std::vector<Tensor> embeddings;
  std::vector<int64_t> labels;
  while (std::optional<Batch> batch = loader.next()) {
    embeddings.push_back(model(batch->images.to(device)).to(kCPU));
    for (int64_t label : batch->labels.to_indices()) labels.push_back(label);
  }
  model.train();
  return {concat(embeddings, 0), Tensor::from_indices(labels, {static_cast<int64_t>(labels.size())}, kCPU)};
}

std::string format_duration(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  return text;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "test_accuracy", 0.9123 → "test accuracy 91.23%": rates as percentages, words spaced.
std::string describe_metric(std::string name, double value) {
  const bool rate = name.ends_with("accuracy") || name.ends_with("rate");
  for (char& c : name)
    if (c == '_') c = ' ';
  char text[128];
  std::snprintf(text, sizeof text, rate ? "%s %.2f%%" : "%s %.4g", name.c_str(), rate ? 100 * value : value);
  return text;
}

}  // namespace

TrainingOutcome train(TrainingJob& job) {
  namespace fs = std::filesystem;
  fs::create_directories(job.out_dir);
  const int64_t steps_per_epoch = job.loader.batches_per_epoch();
  std::vector<NamedModule> state{{"model", &job.model}, {"loss", &job.head}};

  TrainingOutcome outcome;
  if (!job.resume.empty()) {
    TrainingState position = load_checkpoint(job.resume, state, &job.sgd);
    if (position.epoch > job.epochs)
      fail("checkpoint ", job.resume, " is at epoch ", position.epoch, ", past the ", job.epochs, " epochs asked for");
    outcome.first_epoch = position.epoch;
    if (job.progress)
      std::fprintf(stderr, "resumed from %s at epoch %lld\n", job.resume.c_str(), static_cast<long long>(position.epoch));
  }
  const std::string log_path = job.out_dir + "/log.csv";
  std::ofstream log(log_path, outcome.first_epoch > 0 ? std::ios::app : std::ios::trunc);
  if (!log) fail("cannot write ", log_path);

  auto started = std::chrono::steady_clock::now();
  int64_t epoch = outcome.first_epoch;
  for (; epoch < job.epochs; ++epoch) {
    if (job.stop_after > 0 && epoch - outcome.first_epoch >= job.stop_after) break;
    auto epoch_start = std::chrono::steady_clock::now();
    ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(job.epochs),
                    steps_per_epoch);
    job.loader.start_epoch(epoch);
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, step_in_epoch = 0;
    while (std::optional<Batch> batch = job.loader.next()) {
      const int64_t step = epoch * steps_per_epoch + step_in_epoch;
      job.sgd.set_lr(job.schedule.lr(step));
      job.head.set_step(step);
      Tensor images = batch->images.to(job.device), labels = batch->labels.to(job.device);
      Tensor embeddings = job.model(images);
      Tensor loss = job.head.forward(embeddings, labels);
      job.sgd.zero_grad();
      loss.backward();
      job.sgd.step();
      job.head.renormalize_weights();
      const double loss_value = loss.item();
      if (!std::isfinite(loss_value))
        fail("the loss became ", loss_value, " at epoch ", epoch + 1, " step ", step_in_epoch + 1,
             ": lower --lr, or check s and m (", job.head.scale(), ", ", job.head.current_margin(), ")");
      const int64_t b = labels.size(0);
      loss_sum += loss_value * static_cast<double>(b);
      correct += static_cast<int64_t>(cosine_accuracy(embeddings.detach(), job.head.weight(), labels) * b + 0.5);
      seen += b;
      ++step_in_epoch;
      if (job.after_step) job.after_step(step);
      if (job.progress) {
        char stats[96];
        std::snprintf(stats, sizeof stats, "loss %.4f  acc %5.1f%%", loss_sum / seen, 100.0 * correct / seen);
        bar.update(step_in_epoch, seen, stats);
      }
    }
    EpochRecord record{.epoch = epoch + 1,
                       .train_loss = seen ? loss_sum / seen : 0,
                       .train_accuracy = seen ? static_cast<double>(correct) / seen : 0,
                       .lr = job.sgd.lr()};
    if (job.evaluate) record.metrics = job.evaluate(epoch);
    record.seconds = seconds_since(epoch_start);

    if (epoch == 0) {
      log << "epoch,train_loss,train_accuracy";
      for (const auto& [name, value] : record.metrics) log << ',' << name;
      log << ",lr,seconds\n";
    }
    log << record.epoch << ',' << record.train_loss << ',' << record.train_accuracy;
    for (const auto& [name, value] : record.metrics) log << ',' << value;
    log << ',' << record.lr << ',' << record.seconds << std::endl;
    if (job.progress) {
      std::string metrics;
      for (const auto& [name, value] : record.metrics) metrics += ", " + describe_metric(name, value);
      std::fprintf(stderr, "epoch %lld/%lld: train loss %.4f, train accuracy %.2f%%%s, %s\n",
                   static_cast<long long>(record.epoch), static_cast<long long>(job.epochs), record.train_loss,
                   100.0 * record.train_accuracy, metrics.c_str(), format_duration(record.seconds).c_str());
    }
    outcome.epochs.push_back(std::move(record));
    save_checkpoint(job.out_dir + "/checkpoint.bin", state, &job.sgd,
                    TrainingState{.epoch = epoch + 1, .step = (epoch + 1) * steps_per_epoch, .values = {}});
  }
  outcome.epochs_done = epoch;
  outcome.finished = epoch >= job.epochs;
  if (outcome.finished)
    save_checkpoint(job.out_dir + "/model.bin", state, nullptr,
                    TrainingState{.epoch = job.epochs, .step = job.epochs * steps_per_epoch, .values = {}});
  outcome.seconds = seconds_since(started);
  return outcome;
}

}  // namespace margin
