// train/trainer.cpp — the shared epoch loop (see trainer.h), one small function per part.
#include "train/trainer.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "backends/cpu/gemm.h"
#include "backends/cpu/winograd.h"
#include "core/autograd.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/csv_log.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace margin {

namespace {

// A setting's key among a checkpoint's TrainingState values: "setting.loss".
const std::string kSettingPrefix = "setting.";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What a checkpoint holds besides the optimizer: the model and the loss head.
std::vector<NamedModule> checkpointed(TrainingJob& job) {
  return {{"model", &job.model}, {"loss", &job.head}};
}

// Checkpoints on more than one rank. Replicated state is rank 0's: it writes `path` and
// every rank resumes from it, whatever the number of ranks. A Partial FC head's rows (and
// their momentum) differ per rank: rank r > 0 writes its own `path`.rank<r> beside it, and
// resuming needs the same number of ranks (the files say how many). model.bin holds all of W,
// gathered to rank 0, so the tools (embed, verify) load it like any model.
std::string rank_file(const std::string& path, const Communicator& comm, bool partial) {
  return partial && comm.rank() > 0 ? path + ".rank" + std::to_string(comm.rank()) : path;
}

// All of a Partial FC head's W, in a module of its own for model.bin ("loss.weight" [C, d]).
class GatheredWeight final : public Module {
 public:
  explicit GatheredWeight(const Tensor& weight) { register_parameter("weight", weight); }
  std::string type_name() const override { return "GatheredWeight"; }
};

void save_training_checkpoint(TrainingJob& job, Communicator& comm, const std::string& path, bool final_model,
                              TrainingState state) {
  const bool partial = job.head.partial();
  if (final_model && partial) {
    GatheredWeight whole(job.head.full_weight());  // every rank takes part
    if (comm.rank() == 0) save_checkpoint(path, {{"model", &job.model}, {"loss", &whole}}, nullptr, state);
    return;
  }
  if (comm.rank() != 0 && !partial) return;
  state.values["ranks"] = std::to_string(comm.size());
  for (const auto& [name, value] : job.settings) state.values[kSettingPrefix + name] = value;
  save_checkpoint(rank_file(path, comm, partial), checkpointed(job), final_model ? nullptr : &job.sgd, state);
}

// The loss scaler's state as TrainingState values, and back. A resumed fp16 run continues
// with the scale it had (as PyTorch's GradScaler does when its state_dict is saved).
const std::string kLossScaleKey = "loss_scale", kCleanStepsKey = "loss_scale_clean_steps";

void save_scaler_state(const LossScaler* scaler, TrainingState& state) {
  if (!scaler) return;
  state.values[kLossScaleKey] = setting_text(scaler->scale_value());
  state.values[kCleanStepsKey] = std::to_string(scaler->clean_steps());
}

// The checkpoint value `text` of `key` as a T, or an error naming both.
template <class T>
T stored_number(const std::string& path, const std::string& key, const std::string& text) {
  T value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    fail("checkpoint ", path, ": ", key, " '", text, "' is not a number");
  return value;
}

void restore_scaler_state(const std::string& path, const TrainingState& state, LossScaler* scaler) {
  auto scale = state.values.find(kLossScaleKey), clean_steps = state.values.find(kCleanStepsKey);
  if (!scaler || scale == state.values.end() || clean_steps == state.values.end()) return;
  try {
    scaler->restore(stored_number<double>(path, kLossScaleKey, scale->second),
                    stored_number<int64_t>(path, kCleanStepsKey, clean_steps->second));
  } catch (const Error& e) {
    fail("checkpoint ", path, ": ", e.what());
  }
}

// Loads job.resume (when given) into the job and the loss scaler (when there is one) and
// returns the epoch to continue from.
int64_t resume(TrainingJob& job, Communicator& comm, LossScaler* scaler) {
  if (!job.resume) return 0;
  const bool partial = job.head.partial();
  const std::string path = rank_file(*job.resume, comm, partial);
  if (partial) {
    // A Partial FC job resumes with the ranks that wrote it, each from its own file. Rank 0's
    // file says how many those were, and every rank learns it before looking for its own, so
    // that all of them give the same advice, whichever reaches its error first.
    Tensor written_by = Tensor::from_indices({1}, {1}, kCPU);
    if (comm.rank() == 0) {
      const TrainingState stored = read_checkpoint_state(path);
      const auto ranks = stored.values.find("ranks");
      if (ranks != stored.values.end())
        written_by = Tensor::from_indices({stored_number<int64_t>(path, "ranks", ranks->second)}, {1}, kCPU);
    }
    host_communicator(comm).broadcast(written_by.view(), 0);
    const int64_t n = written_by.to_indices()[0];
    if (n != comm.size())
      fail("checkpoint ", *job.resume, " was written by ", n, " ranks with Partial FC (W split ", n,
           " ways); resume it with mpirun -np ", n);
    if (!std::filesystem::exists(path))
      fail("checkpoint ", path, " is missing: this Partial FC job has ", comm.size(),
           " ranks, and each rank r > 0 resumes from its own file ", *job.resume, ".rank<r>");
  }
  TrainingState position = load_checkpoint(path, checkpointed(job), &job.sgd, [&](const TrainingState& stored) {
    check_resume_settings(path, stored, job.settings, job.settings_may_change);
  });
  if (position.epoch > job.epochs)
    fail("checkpoint ", path, " is at epoch ", position.epoch, ", past the ", job.epochs, " epochs asked for");
  restore_scaler_state(path, position, scaler);
  if (comm.size() > 1)
    require_same_on_every_rank(host_communicator(comm), "checkpoint epoch", std::to_string(position.epoch));
  if (job.progress)
    std::fprintf(stderr, "resumed from %s at epoch %lld\n", job.resume->c_str(), static_cast<long long>(position.epoch));
  return position.epoch;
}

struct StepResult {
  double loss = 0;      // the batch's mean loss
  int64_t rows = 0;     // its rows
  int64_t correct = 0;  // rows whose nearest class weight is their label
  bool skipped = false; // the loss scaler skipped the optimizer step (inf or NaN gradients)
};

// The ranks of a job and what they share (train/distributed.h); one rank: nothing is shared.
struct Ranks {
  Communicator& comm;       // for the gradients, on the training device
  Communicator& control;    // for host values (the epoch's totals): host_communicator(comm)
  GradientReducer reducer;  // the model's gradients, and the head's unless it is Partial FC
  bool lead() const { return comm.rank() == 0; }
};

std::vector<Tensor> replicated_parameters(TrainingJob& job) {
  return job.head.partial() ? job.model.parameters() : parameters_of({&job.model, &job.head});
}

// What every rank must agree on: the model's parameter names, dtypes and shapes; the loss
// (its type, all of its classes, d, s, m); the data (batches per epoch, epochs).
std::string describe_model(const Module& model) {
  std::string text;
  for (const auto& [name, tensor] : model.named_parameters())
    text += name + ":" + dtype_name(tensor.dtype()) + shape_str(tensor.shape()) + " ";
  return text;
}
std::string describe_loss(const MarginLoss& head) {
  return head.type_name() + " classes " + std::to_string(head.classes()) + " d " +
         std::to_string(head.weight().size(1)) + " s " + std::to_string(head.scale()) + " m " +
         std::to_string(head.margin()) + (head.partial() ? " partial fc" : "");
}
std::string describe_data(TrainingJob& job) {
  return "batches per epoch " + std::to_string(job.loader.batches_per_epoch()) + ", epochs " +
         std::to_string(job.epochs);
}

// Start-up on more than one rank: the ranks agree on model, loss and data, and take rank 0's
// initial parameters and buffers.
void join_ranks(TrainingJob& job, Communicator& comm) {
  if (comm.size() == 1) return;
  Communicator& control = host_communicator(comm);
  require_same_on_every_rank(control, "model (parameter names and shapes)", describe_model(job.model));
  require_same_on_every_rank(control, "loss (type, classes, d, s, m)", describe_loss(job.head));
  require_same_on_every_rank(control, "data (batches per epoch, epochs)", describe_data(job));
  std::vector<Tensor> state = replicated_parameters(job);
  for (const auto& [name, buffer] : job.model.named_buffers()) state.push_back(buffer);
  broadcast_tensors(comm, state);
}

// The optimizer step under a loss scaler; returns whether it was taken. The replicated
// gradients were summed over the ranks, so an inf on one rank is an inf on every rank and
// all decide alike. A Partial FC head's gradient is each rank's own: the ranks agree that an
// inf anywhere skips the step everywhere, or their replicated parameters would part.
bool scaled_step(TrainingJob& job, Ranks& ranks, LossScaler& scaler) {
  const std::vector<Tensor>& params = job.sgd.params();
  if (!job.head.partial() || ranks.comm.size() == 1) return scaler.step(job.sgd, params);
  const bool finite_here = scaler.unscale_and_check(params);
  Tensor ranks_with_inf = Tensor::from_vector({finite_here ? 0.0 : 1.0}, {1}, DType::F64, kCPU);
  ranks.control.all_reduce(ranks_with_inf.view(), ReduceOp::Sum);
  const bool finite = ranks_with_inf.to_vector()[0] == 0;
  if (finite) job.sgd.step();
  scaler.update(/*found_inf=*/!finite);
  return finite;
}

// One optimizer step on `batch`; global step number `step`. `scaler`: precision fp16's, else
// null.
StepResult train_step(TrainingJob& job, Ranks& ranks, LossScaler* scaler, const Batch& batch, int64_t step,
                      int64_t epoch, int64_t step_in_epoch) {
  job.sgd.set_lr(job.schedule.lr(step));
  job.head.set_step(step);
  Tensor images = batch.images.to(job.device), labels = batch.labels.to(job.device);
  Tensor embeddings;
  {
    AutocastScope autocast(job.precision);  // the backbone only: the head stays float32
    embeddings = job.model(images);
  }
  Tensor loss = job.head(embeddings, labels);
  job.sgd.zero_grad();
  if (scaler) scaler->scale(loss).backward();
  else loss.backward();
  // A rank's loss is the mean over its rows: its share of the global mean is rows/global rows.
  // Partial FC's loss is the global mean already.
  const double rows = static_cast<double>(labels.size(0));
  ranks.reducer.reduce(job.head.partial() || ranks.comm.size() == 1 ? 1.0 : rows / static_cast<double>(batch.global_rows));
  // The step applies the head's constraint: class weights back on the unit sphere.
  bool taken = true;
  if (scaler) taken = scaled_step(job, ranks, *scaler);
  else job.sgd.step();
  StepResult result{.loss = loss.item(), .rows = labels.size(0), .skipped = !taken};
  if (!std::isfinite(result.loss))
    fail("the loss became ", result.loss, " at epoch ", epoch + 1, " step ", step_in_epoch + 1,
         ": lower --lr, or check s and m (", job.head.scale(), ", ", job.head.current_margin(), ")");
  if (!job.head.partial()) {
    double accuracy = cosine_accuracy(embeddings.detach(), job.head.weight(), labels);
    result.correct = static_cast<int64_t>(accuracy * static_cast<double>(result.rows) + 0.5);
  }
  return result;
}

// One pass over the loader, with a progress bar; the record's metrics and seconds are left to
// the caller.
EpochRecord train_epoch(TrainingJob& job, Ranks& ranks, LossScaler* scaler, int64_t epoch) {
  const int64_t steps_per_epoch = job.loader.batches_per_epoch();
  ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(job.epochs), steps_per_epoch);
  job.loader.start_epoch(epoch);
  double loss_sum = 0;
  int64_t seen = 0, correct = 0, step_in_epoch = 0, skipped = 0;
  int64_t seen_by_all = 0;  // images of every rank, for the bar's images/s
  while (std::optional<Batch> batch = job.loader.next()) {
    const int64_t step = epoch * steps_per_epoch + step_in_epoch;
    StepResult result = train_step(job, ranks, scaler, *batch, step, epoch, step_in_epoch);
    skipped += result.skipped ? 1 : 0;
    loss_sum += result.loss * static_cast<double>(result.rows);
    correct += result.correct;
    seen += result.rows;
    seen_by_all += batch->global_rows;
    ++step_in_epoch;
    if (job.after_step) job.after_step(step);
    if (job.progress && ranks.lead()) {
      char stats[96];
      if (job.head.partial()) std::snprintf(stats, sizeof stats, "loss %.4f", loss_sum / seen);
      else std::snprintf(stats, sizeof stats, "loss %.4f  acc %5.1f%%", loss_sum / seen, 100.0 * correct / seen);
      bar.update(step_in_epoch, seen_by_all, stats);
    }
  }
  // Over every rank's rows (Partial FC's loss is already the global batch's on every rank).
  Tensor totals = Tensor::from_vector({loss_sum, static_cast<double>(seen), static_cast<double>(correct)}, {3},
                                      DType::F64, kCPU);
  if (!job.head.partial()) ranks.control.all_reduce(totals.view(), ReduceOp::Sum);
  std::vector<double> sums = totals.to_vector();
  return {.epoch = epoch + 1,
          .train_loss = sums[1] > 0 ? sums[0] / sums[1] : 0,
          .train_accuracy = job.head.partial() ? std::nan("") : sums[1] > 0 ? sums[2] / sums[1] : 0,
          .lr = job.sgd.lr(),
          .skipped_steps = skipped,
          .loss_scale = scaler ? scaler->scale_value() : 0};
}

// Finite or stop: after an epoch every parameter and buffer (BatchNorm's running statistics)
// must be finite. A run that diverged without a NaN loss (huge updates that overflow the
// running variance, say) stops here, before the epoch is evaluated or checkpointed, so
// checkpoint.bin still holds the last finite epoch. Every rank checks its own tensors (Partial
// FC's rows differ) and all stop together.
void require_finite_state(TrainingJob& job, Ranks& ranks, int64_t epoch) {
  std::optional<NonFinite> non_finite = first_non_finite({{"", &job.model}, {"loss", &job.head}});
  const std::string first_bad = non_finite ? non_finite->name : "";
  Tensor bad = Tensor::from_vector({first_bad.empty() ? 0.0 : 1.0}, {1}, DType::F64, kCPU);
  ranks.control.all_reduce(bad.view(), ReduceOp::Sum);
  if (bad.to_vector()[0] == 0) return;
  const std::string where = first_bad.empty() ? "on another rank" : "'" + first_bad + "' holds NaN or Inf values";
  fail("the training diverged in epoch ", epoch + 1, ": ", where, " (the loss stayed finite); ", job.out_dir,
       "/checkpoint.bin still holds ", epoch == 0 ? std::string("no epoch (it was not written)") : "epoch " + std::to_string(epoch),
       ". Lower --lr, or check s and m (", job.head.scale(), ", ", job.head.current_margin(), ")");
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
  std::string accuracy = std::isnan(record.train_accuracy) ? "" : ", " + describe_metric("train_accuracy", record.train_accuracy);
  char scaler[128] = "";
  if (record.loss_scale > 0)
    std::snprintf(scaler, sizeof scaler, ", fp16: %lld step%s skipped (inf/NaN gradients), loss scale %g",
                  static_cast<long long>(record.skipped_steps), record.skipped_steps == 1 ? "" : "s",
                  record.loss_scale);
  std::fprintf(stderr, "epoch %lld/%lld: train loss %.4f%s%s%s, %s\n", static_cast<long long>(record.epoch),
               static_cast<long long>(epochs), record.train_loss, accuracy.c_str(), metrics.c_str(), scaler,
               format_duration(record.seconds).c_str());
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

void check_resume_settings(const std::string& checkpoint, const TrainingState& stored, const Settings& settings,
                           const std::vector<std::string>& may_change) {
  for (const auto& [name, value] : settings) {
    auto found = stored.values.find(kSettingPrefix + name);
    if (found == stored.values.end() || found->second == value) continue;
    if (std::find(may_change.begin(), may_change.end(), name) != may_change.end()) continue;
    fail("--resume ", checkpoint, ": the checkpoint was trained with --", name, " ", found->second,
         ", these flags ask for --", name, " ", value,
         " (resume with the checkpoint's settings, or start a new run in another --out)");
  }
}

std::string setting_text(double value) {
  char text[32];
  auto [end, error] = std::to_chars(text, text + sizeof text, value);
  return error == std::errc() ? std::string(text, end) : std::to_string(value);
}

std::string setting_text(bool value) { return value ? "true" : "false"; }

std::string setting_text(const std::vector<int64_t>& values) {
  std::string text;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) text += ',';
    text += std::to_string(values[i]);
  }
  return text;
}

void use_conv_algorithm(const std::string& name, Precision precision, Device device) {
  if (name != "auto" && name != "direct" && name != "winograd")
    fail("--conv-algorithm '", name, "': expected auto, direct or winograd");
  const bool bf16_on_cpu = precision == Precision::BF16 && device.type == DeviceType::CPU;
  if (name == "winograd" && !bf16_on_cpu)
    fail("--conv-algorithm winograd runs bf16 convolutions on the CPU: it needs --precision bf16 on the CPU, got ",
         precision_name(precision), " on ", device.str());
  cpu::set_winograd(bf16_on_cpu && name != "direct");
  if (name == "winograd" && !cpu::winograd_in_use())
    std::fprintf(stderr, "margin: Winograd runs on AVX-512 BF16, and the bf16 products run on %s here: the "
                         "convolutions stay direct\n", cpu::bfloat16_kernel_name());
}

void check_loop_flags(const LoopFlags& flags) {
  if (flags.epochs < 1) fail("--epochs ", flags.epochs, " (expected at least 1)");
  if (flags.batch < 1) fail("--batch ", flags.batch, " (expected at least 1)");
  if (!(flags.lr > 0 && std::isfinite(flags.lr))) fail("--lr ", flags.lr, " (expected a positive learning rate)");
  if (!(flags.weight_decay >= 0 && std::isfinite(flags.weight_decay)))
    fail("--weight-decay ", flags.weight_decay, " (expected 0 or more)");
  if (flags.crop_pad < 0) fail("--crop-pad ", flags.crop_pad, " (expected 0, none, or a positive padding)");
  if (flags.stop_after && *flags.stop_after < 1) fail("--stop-after ", *flags.stop_after, " (expected at least 1 epoch)");
}

TrainingOutcome train(TrainingJob& job) {
  Communicator& comm = job.communicator ? *job.communicator : communicator_for(job.device);
  join_ranks(job, comm);
  Ranks ranks{comm, host_communicator(comm), GradientReducer(comm, replicated_parameters(job))};
  const bool lead = ranks.lead();
  const bool progress = job.progress;
  job.progress = progress && lead;
  if (lead || job.head.partial()) std::filesystem::create_directories(job.out_dir);
  const int64_t steps_per_epoch = job.loader.batches_per_epoch();
  std::optional<LossScaler> scaler;  // fp16's products underflow without one (core/loss_scaler.h)
  if (job.precision == Precision::FP16) scaler.emplace(job.loss_scaler);
  LossScaler* const scaler_or_null = scaler ? &*scaler : nullptr;
  TrainingOutcome outcome;
  outcome.first_epoch = resume(job, comm, scaler_or_null);
  std::optional<CsvLog> log;
  if (lead) log.emplace(job.out_dir + "/log.csv", /*append=*/outcome.first_epoch > 0);

  const auto started = std::chrono::steady_clock::now();
  int64_t epoch = outcome.first_epoch;
  for (; epoch < job.epochs; ++epoch) {
    if (job.stop_after && epoch - outcome.first_epoch >= *job.stop_after) break;
    const auto epoch_started = std::chrono::steady_clock::now();
    EpochRecord record = train_epoch(job, ranks, scaler_or_null, epoch);
    require_finite_state(job, ranks, epoch);
    if (job.evaluate && (lead || job.evaluate_on_every_rank)) record.metrics = job.evaluate(epoch);
    record.seconds = seconds_since(epoch_started);
    if (lead) log->write(log_row(record));
    if (job.progress) print_epoch(record, job.epochs);
    outcome.epochs.push_back(std::move(record));
    TrainingState position{.epoch = epoch + 1, .step = (epoch + 1) * steps_per_epoch, .values = {}};
    save_scaler_state(scaler_or_null, position);
    save_training_checkpoint(job, comm, job.out_dir + "/checkpoint.bin", /*final_model=*/false, std::move(position));
  }
  outcome.epochs_done = epoch;
  outcome.finished = epoch >= job.epochs;
  if (outcome.finished)
    save_training_checkpoint(job, comm, job.out_dir + "/model.bin", /*final_model=*/true,
                             TrainingState{.epoch = job.epochs, .step = job.epochs * steps_per_epoch, .values = {}});
  outcome.seconds = seconds_since(started);
  job.progress = progress;
  return outcome;
}

}  // namespace margin
