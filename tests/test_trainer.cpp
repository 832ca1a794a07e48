// tests/test_trainer.cpp — the epoch loop of train/trainer.h, through the main job's own code
// (train/fmnist.cpp) on a small synthetic dataset: a training run killed mid-epoch and resumed
// from its last checkpoint ends bit for bit where the uninterrupted run ends (same model file,
// same log); a resumed run's log in a new folder starts with its header; the loop keeps the
// class weights on the unit sphere without being told; a log that cannot be written is an error;
// a run whose parameters or buffers stop being finite stops, naming the first, with its last
// finite checkpoint kept; a resume with other settings than its checkpoint's refuses, naming
// the flag, unless --new-schedule allows a new --lr and --epochs; --conv-algorithm auto takes
// Winograd for bf16 on the CPU only, and winograd without bf16 on the CPU or an unknown name
// refuses, naming the flag.
//
// The kill is real: a forked child trains and SIGKILLs itself in the middle of epoch 2, after
// the checkpoint of epoch 1 was written. (This file forks before anything starts a thread
// pool, so it keeps its single test case first.)
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backends/cpu/winograd.h"
#include "data/fashion_mnist.h"
#include "layers/backbones.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "train/csv_log.h"
#include "train/fmnist.h"
#include "gradcheck.h"

namespace margin {
namespace {

using testing::TempDir;
using testing::error_of;
using testing::contains;

// 320 random 28x28 images of 10 classes; each class brightens its own rows, so there is
// something to learn.
std::shared_ptr<const Dataset> synthetic_images(int64_t count, uint64_t seed) {
  Generator gen(seed);
  std::vector<uint8_t> pixels(static_cast<size_t>(count) * 28 * 28), labels(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    labels[i] = static_cast<uint8_t>(gen.below(10));
    for (int64_t p = 0; p < 28 * 28; ++p)
      pixels[i * 784 + p] = static_cast<uint8_t>(gen.below(128) + (p / 28 / 3 == labels[i] ? 127 : 0));
  }
  return std::make_shared<GreyImageDataset>(std::move(pixels), std::move(labels), 28, 28, 10);
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing ", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The log without its last column (seconds, which differ from run to run).
std::string log_without_seconds(const std::filesystem::path& path) {
  std::istringstream in(file_text(path));
  std::string line, kept;
  while (std::getline(in, line)) kept += line.substr(0, line.rfind(',')) + "\n";
  return kept;
}

}  // namespace

TEST_CASE("a run killed in epoch 2 and resumed equals the uninterrupted run, bit for bit") {
  TempDir dir("resume");
  auto train_set = synthetic_images(320, 1), test_set = synthetic_images(100, 2);
  FmnistConfig config{.emb_dim = 16, .epochs = 3, .batch = 64, .lr = 0.05, .seed = 3, .crop_pad = 2, .progress = false};
  const int64_t steps_per_epoch = 320 / 64;

  FmnistConfig killed = config;
  killed.out_dir = dir.file("killed");
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Dies in the middle of epoch 2 (global steps count from 0).
    run_fmnist(killed, train_set, test_set, [&](int64_t step) {
      if (step == steps_per_epoch + 2) raise(SIGKILL);
    });
    _exit(0);  // not reached: the kill came first
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(std::filesystem::exists(killed.out_dir + "/checkpoint.bin"));
  CHECK_FALSE(std::filesystem::exists(killed.out_dir + "/model.bin"));

  FmnistConfig resumed = killed;
  resumed.resume = killed.out_dir + "/checkpoint.bin";
  FmnistRun second_half = run_fmnist(resumed, train_set, test_set);
  CHECK(second_half.outcome.first_epoch == 1);
  CHECK(second_half.outcome.finished);

  FmnistConfig whole = config;
  whole.out_dir = dir.file("whole");
  FmnistRun uninterrupted = run_fmnist(whole, train_set, test_set);
  REQUIRE(uninterrupted.outcome.finished);

  CHECK(second_half.test_accuracy == uninterrupted.test_accuracy);
  CHECK(log_without_seconds(resumed.out_dir + "/log.csv") == log_without_seconds(whole.out_dir + "/log.csv"));
  CHECK(file_text(resumed.out_dir + "/model.bin") == file_text(whole.out_dir + "/model.bin"));
  // The model learned something, so the equality above is between non-trivial runs.
  CHECK(uninterrupted.test_accuracy > 0.5);
}

TEST_CASE("resuming from a checkpoint past the asked epochs is an error naming the file") {
  TempDir dir("resume_past");
  auto train_set = synthetic_images(128, 1), test_set = synthetic_images(20, 2);
  FmnistConfig config{.emb_dim = 8, .epochs = 2, .batch = 64, .progress = false};
  config.out_dir = dir.file("run");
  REQUIRE(run_fmnist(config, train_set, test_set).outcome.finished);
  FmnistConfig shorter = config;
  shorter.epochs = 1;
  shorter.new_schedule = true;  // else the changed --epochs is refused first
  shorter.resume = config.out_dir + "/checkpoint.bin";
  std::string message = error_of([&] { run_fmnist(shorter, train_set, test_set); });
  CHECK(message.find(*shorter.resume) != std::string::npos);
  CHECK(message.find("epoch 2") != std::string::npos);
}

TEST_CASE("a resume with another loss, s, m, lr, batch, seed or embedding size refuses, naming the flag and both values") {
  TempDir dir("resume_settings");
  auto train_set = synthetic_images(128, 1), test_set = synthetic_images(20, 2);
  FmnistConfig config{.loss = "lmcl", .scale = 16, .emb_dim = 8, .epochs = 2, .batch = 64, .lr = 0.05, .seed = 3,
                      .stop_after = 1, .progress = false};
  config.out_dir = dir.file("run");
  REQUIRE_FALSE(run_fmnist(config, train_set, test_set).outcome.finished);
  const std::string checkpoint = config.out_dir + "/checkpoint.bin";
  auto refusal = [&](const std::function<void(FmnistConfig&)>& change) {
    FmnistConfig other = config;
    other.resume = checkpoint;
    other.stop_after.reset();
    change(other);
    return error_of([&] { run_fmnist(other, train_set, test_set); });
  };
  const std::string prefix = "--resume " + checkpoint + ": the checkpoint was trained with ";
  const std::string advice = " (resume with the checkpoint's settings, or start a new run in another --out)";
  CHECK(refusal([](FmnistConfig& c) { c.loss = "softmax"; }) ==
        prefix + "--loss lmcl, these flags ask for --loss softmax" + advice);
  CHECK(refusal([](FmnistConfig& c) { c.scale = 30; }) == prefix + "--s 16, these flags ask for --s 30" + advice);
  CHECK(refusal([](FmnistConfig& c) { c.margin = 0.35; }) == prefix + "--m 0.2, these flags ask for --m 0.35" + advice);
  CHECK(refusal([](FmnistConfig& c) { c.lr = 0.1; }) == prefix + "--lr 0.05, these flags ask for --lr 0.1" + advice);
  CHECK(refusal([](FmnistConfig& c) { c.batch = 32; }) == prefix + "--batch 64, these flags ask for --batch 32" + advice);
  CHECK(refusal([](FmnistConfig& c) { c.seed = 4; }) == prefix + "--seed 3, these flags ask for --seed 4" + advice);
  // The settings are compared before any tensor: a different embedding size is named as such.
  CHECK(refusal([](FmnistConfig& c) { c.emb_dim = 16; }) ==
        prefix + "--emb-dim 8, these flags ask for --emb-dim 16" + advice);
  // An explicit m equal to the default is the same setting.
  FmnistConfig same = config;
  same.resume = checkpoint;
  same.stop_after.reset();
  same.margin = kFmnistLmclMargin;
  CHECK(run_fmnist(same, train_set, test_set).outcome.finished);
}

TEST_CASE("with --new-schedule a resume may change --lr and --epochs, and nothing else") {
  TempDir dir("resume_schedule");
  auto train_set = synthetic_images(128, 1), test_set = synthetic_images(20, 2);
  FmnistConfig config{.emb_dim = 8, .epochs = 2, .batch = 64, .lr = 0.05, .stop_after = 1, .progress = false};
  config.out_dir = dir.file("run");
  REQUIRE_FALSE(run_fmnist(config, train_set, test_set).outcome.finished);
  FmnistConfig longer = config;
  longer.resume = config.out_dir + "/checkpoint.bin";
  longer.stop_after.reset();
  longer.new_schedule = true;
  longer.lr = 0.02;
  longer.epochs = 3;
  FmnistConfig other_batch = longer;
  other_batch.batch = 32;
  CHECK(error_of([&] { run_fmnist(other_batch, train_set, test_set); }).find("--batch 64, these flags ask for --batch 32") !=
        std::string::npos);
  FmnistRun run = run_fmnist(longer, train_set, test_set);
  CHECK(run.outcome.first_epoch == 1);
  CHECK(run.outcome.epochs_done == 3);
  CHECK(run.outcome.finished);
}

TEST_CASE("a run resumed into a new folder starts its log.csv with the header") {
  TempDir dir("resume_elsewhere");
  auto train_set = synthetic_images(128, 1), test_set = synthetic_images(20, 2);
  FmnistConfig config{.emb_dim = 8, .epochs = 2, .batch = 64, .stop_after = 1, .progress = false};
  config.out_dir = dir.file("first");
  REQUIRE_FALSE(run_fmnist(config, train_set, test_set).outcome.finished);
  FmnistConfig elsewhere = config;
  elsewhere.stop_after.reset();
  elsewhere.resume = config.out_dir + "/checkpoint.bin";
  elsewhere.out_dir = dir.file("second");
  REQUIRE(run_fmnist(elsewhere, train_set, test_set).outcome.finished);
  std::istringstream log(file_text(elsewhere.out_dir + "/log.csv"));
  std::string header, row, more;
  std::getline(log, header);
  std::getline(log, row);
  CHECK(header == "epoch,train_loss,train_accuracy,test_accuracy,test_accuracy_flip,lr,seconds");
  CHECK(row.starts_with("2,"));  // the one epoch this run trained
  CHECK_FALSE(std::getline(log, more));
}

TEST_CASE("after training, every class weight of a normalized loss has length 1: the loop never renormalizes, the optimizer does") {
  TempDir dir("unit_weights");
  auto train_set = synthetic_images(128, 1), test_set = synthetic_images(20, 2);
  for (const char* loss : {"nsl", "lmcl", "arcface"}) {
    CAPTURE(loss);
    FmnistConfig config{.loss = loss, .emb_dim = 8, .epochs = 1, .batch = 32, .lr = 0.5, .progress = false};
    config.out_dir = dir.file(loss);
    FmnistRun run = run_fmnist(config, train_set, test_set);
    std::vector<double> w = run.head->weight().to_vector();
    for (int64_t j = 0; j < 10; ++j) {
      double squares = 0;
      for (int64_t k = 0; k < 8; ++k) squares += w[j * 8 + k] * w[j * 8 + k];
      CHECK(std::sqrt(squares) == doctest::Approx(1.0).epsilon(1e-6));  // float32 rows
    }
  }
}

TEST_CASE("a buffer that stops being finite ends the run with its name, and checkpoint.bin keeps the last finite epoch") {
  TempDir dir("diverged");
  auto train_set = synthetic_images(128, 1);
  Generator gen(4);
  auto model = small_cnn(8, gen);
  auto head = make_loss("lmcl", 8, 10, gen, {});
  SGD sgd(parameters_of({model.get(), head.get()}), {.lr = 0.05, .momentum = 0.9});
  DataLoader loader(train_set, {.batch_size = 64, .shuffle = true, .drop_last = true, .seed = 1});
  CosineLr schedule(0.05, 3 * loader.batches_per_epoch());
  const Parameter running = model->named_buffers().at(1);  // a BatchNorm running statistic
  // In epoch 2 (steps 2 and 3) the statistic overflows, as a diverging run's variance does,
  // while the loss of the step stays finite.
  TrainingJob job{.model = *model, .head = *head, .sgd = sgd, .schedule = schedule, .loader = loader, .epochs = 3,
                  .out_dir = dir.file("run"), .progress = false, .evaluate = {}, .after_step = [&](int64_t step) {
                    if (step == 3) running.value.copy_(Tensor::full(running.value.shape(), INFINITY, running.value.dtype(), kCPU));
                  }};
  std::string message = error_of([&] { train(job); });
  CHECK_MESSAGE(message.find("the training diverged in epoch 2: '" + running.name + "' holds NaN or Inf values") !=
                    std::string::npos, message);
  CHECK_MESSAGE(message.find(dir.file("run") + "/checkpoint.bin still holds epoch 1") != std::string::npos, message);
  auto fresh_model = small_cnn(8, gen);
  auto fresh_head = make_loss("lmcl", 8, 10, gen, {});
  CHECK(load_checkpoint(dir.file("run/checkpoint.bin"), {{"model", fresh_model.get()}, {"loss", fresh_head.get()}}, nullptr)
            .epoch == 1);
  CHECK(!std::filesystem::exists(dir.file("run/model.bin")));
}

TEST_CASE("--conv-algorithm: auto and winograd take Winograd for bf16 on the CPU, direct never, and errors name the flag") {
  const Device cuda{DeviceType::CUDA, 0};  // named only: nothing runs on it
  const std::string fp32 = error_of([] { use_conv_algorithm("winograd", Precision::FP32, kCPU); });
  CHECK_MESSAGE(contains(fp32, "--conv-algorithm winograd"), fp32);
  CHECK_MESSAGE(contains(fp32, "got fp32 on cpu"), fp32);
  const std::string on_cuda = error_of([&] { use_conv_algorithm("winograd", Precision::BF16, cuda); });
  CHECK_MESSAGE(contains(on_cuda, "got bf16 on cuda:0"), on_cuda);
  const std::string unknown = error_of([] { use_conv_algorithm("fast", Precision::BF16, kCPU); });
  CHECK_MESSAGE(contains(unknown, "--conv-algorithm 'fast': expected auto, direct or winograd"), unknown);

  // Which precision and device switch Winograd on (winograd.h then takes a convolution only where
  // the bf16 products run on vdpbf16ps: the switch is the same on every CPU). Each call starts
  // from the other state, so a call that leaves the switch alone fails.
  const auto check_switch = [](const std::string& name, Precision precision, Device device, bool on) {
    cpu::set_winograd(!on);
    CHECK(error_of([&] { use_conv_algorithm(name, precision, device); }).empty());
    CHECK_MESSAGE(cpu::winograd_enabled() == on, name, " under ", precision_name(precision), " on ", device.str());
  };
  check_switch("auto", Precision::BF16, kCPU, true);
  check_switch("winograd", Precision::BF16, kCPU, true);
  check_switch("direct", Precision::BF16, kCPU, false);
  check_switch("auto", Precision::FP32, kCPU, false);
  check_switch("direct", Precision::FP32, kCPU, false);
  check_switch("auto", Precision::BF16, cuda, false);
  check_switch("auto", Precision::FP16, cuda, false);
  cpu::set_winograd(false);
}

TEST_CASE("a log that cannot be written is an error naming the file, not lost rows") {
  CsvLog log("/dev/full", /*append=*/false);
  std::string message = error_of([&] { log.write({{"epoch", 1}, {"loss", 0.5}}); });
  CHECK_MESSAGE(message.find("writing /dev/full failed") != std::string::npos, message);
}

}  // namespace margin
