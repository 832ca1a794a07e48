// tests/test_resume.cpp — a training run killed mid-epoch and resumed from its last checkpoint
// ends bit for bit where the uninterrupted run ends: same model file, same log. The run is
// the main job's own code (examples/common/fmnist_job.cpp) on a small synthetic dataset.
//
// The kill is real: a forked child trains and SIGKILLs itself in the middle of epoch 2, after
// the checkpoint of epoch 1 was written. (This file forks before anything starts a thread
// pool, so it keeps its single test case first.)
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/fashion_mnist.h"
#include "examples/common/fmnist_job.h"
#include "gradcheck.h"

namespace margin {
namespace {

using testing::TempDir;
using testing::error_of;

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
  shorter.resume = config.out_dir + "/checkpoint.bin";
  std::string message = error_of([&] { run_fmnist(shorter, train_set, test_set); });
  CHECK(message.find(shorter.resume) != std::string::npos);
  CHECK(message.find("epoch 2") != std::string::npos);
}

}  // namespace margin
