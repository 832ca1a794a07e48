// examples/train_fmnist.cpp — the main job: train a small CNN on Fashion-MNIST with a margin
// loss (Softmax, NSL, LMCL, ArcFace or SphereFace) and report test accuracy.
//
// Each epoch: a progress bar (loss, running accuracy, images/s), test accuracy by the nearest
// class weight in cosine (argmax_j cos θ_j: how a margin-trained embedding is used), a row of
// the CSV log and a checkpoint (written atomically; --resume continues from it and reproduces
// the uninterrupted run on the CPU with the same seed and thread count). At the end: the
// final model, a one-line summary and, for --emb-dim 2 or 3, the CosFace paper's picture of
// the test embeddings on the circle (sphere) with the class-weight directions.
// The run itself is train/fmnist.cpp, shared with margin_sweep. `mpirun -np N
// ./build/train_fmnist …` trains data parallel on N ranks (docs/scaling.md).

#include <cstdio>
#include <iostream>

#include "core/flags.h"
#include "core/threads.h"
#include "train/distributed.h"
#include "core/profiler.h"
#include "data/fashion_mnist.h"
#include "eval/feature_plot.h"
#include "train/fmnist.h"
#include "train/metrics.h"
#include "train/progress.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("train_fmnist",
              "Trains a small CNN on Fashion-MNIST with a margin loss and reports test accuracy.\n"
              "Softmax → NSL → LMCL (CosFace): losses/README.md derives each step.");
  FmnistConfig config;
  add_fmnist_flags(flags, config);
  std::string& data_dir = flags.add<std::string>("data", kFashionMnistDir, "folder with the Fashion-MNIST IDX files");
  int& threads = flags.add("threads", 2, "CPU threads");
  bool& profile = flags.add("profile", false, "print where the time went, per op and layer");
  flags.add_device_flag();
  flags.parse(argc, argv);
  set_threads(threads);
  profiler().enable(profile);

  auto train_set = load_fashion_mnist(data_dir, true);
  auto test_set = load_fashion_mnist(data_dir, false);
  FmnistRun run = run_fmnist(config, train_set, test_set);
  Tensor weight = run.head->full_weight().to(kCPU);  // with Partial FC every rank's rows
  if (world().rank() != 0) return 0;                 // rank 0 reports for the job
  if (!run.outcome.finished) {
    std::printf("train_fmnist: stopped after epoch %lld as asked; continue with --resume %s/checkpoint.bin\n",
                static_cast<long long>(run.outcome.epochs_done), config.out_dir.c_str());
    return 0;
  }
  Device device = default_device();
  if (config.emb_dim == 2 || config.emb_dim == 3) {
    Embeddings test = embed_dataset(*run.model, test_set, device);
    FeaturePlotOptions picture;
    picture.title = config.loss + " (d=" + std::to_string(config.emb_dim) + "): Fashion-MNIST test embeddings";
    picture.class_names = fashion_mnist_class_names();
    Plot plot = config.emb_dim == 2 ? feature_circle_plot(test.plain, test.labels, weight, picture)
                                    : feature_sphere_plot(test.plain, test.labels, weight, picture);
    plot.save(config.out_dir + "/features.png");
  }
  if (profile) profiler().print(std::cout);
  // Softmax has neither s nor m; NSL has s only.
  char loss_text[96];
  if (config.loss == "softmax") std::snprintf(loss_text, sizeof loss_text, "softmax");
  else if (config.loss == "nsl") std::snprintf(loss_text, sizeof loss_text, "nsl (s=%g)", run.head->scale());
  else std::snprintf(loss_text, sizeof loss_text, "%s (s=%g, m=%g)", config.loss.c_str(), run.head->scale(), run.head->current_margin());
  std::printf("train_fmnist: %s d=%lld, %lld epochs: test accuracy %.2f%% (flip %.2f%%) (%s on %s, %s); model %s/model.bin\n",
              loss_text, static_cast<long long>(config.emb_dim), static_cast<long long>(config.epochs),
              100.0 * run.test_accuracy, 100.0 * run.test_accuracy_flip, format_duration(run.outcome.seconds).c_str(),
              device.str().c_str(), describe_job(threads).c_str(), config.out_dir.c_str());
  return 0;
} catch (const std::exception& e) {
  return report_failure("train_fmnist", e);
}
