// examples/train_fmnist.cpp — the main job: train a small CNN on Fashion-MNIST with a margin
// loss (Softmax, NSL, LMCL, ArcFace or SphereFace) and report test accuracy.
//
// Each epoch: a progress bar (loss, running accuracy, images/s), test accuracy by the nearest
// class weight in cosine (argmax_j cos θ_j: how a margin-trained embedding is used), a row of
// the CSV log and a checkpoint (written atomically; --resume continues from it and reproduces
// the uninterrupted run on the CPU with the same seed and thread count). At the end: the
// final model, a one-line summary and, for --emb-dim 2 or 3, the CosFace paper's picture of
// the test embeddings on the circle (sphere) with the class-weight directions.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/autograd.h"
#include "core/flags.h"
#include "core/ops.h"
#include "core/optim.h"
#include "core/profiler.h"
#include "core/progress.h"
#include "core/schedule.h"
#include "data/fashion_mnist.h"
#include "data/loader.h"
#include "eval/feature_plot.h"
#include "layers/backbones.h"
#include "layers/checkpoint.h"
#include "losses/margin_loss.h"

using namespace margin;
namespace fs = std::filesystem;

namespace {

// Fraction of rows whose nearest class weight (by cosine) is their label.
double cosine_accuracy(const Tensor& embeddings, const Tensor& weight, const Tensor& labels) {
  NoGradGuard no_grad;
  Tensor cos_theta = matmul(l2_normalize(embeddings), l2_normalize(weight.to(embeddings.device())), false, true);
  std::vector<int64_t> predicted = argmax(cos_theta, 1).to_indices(), truth = labels.to_indices();
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(truth.size());
}

// The embeddings of a whole dataset in eval mode (on the CPU), and its labels.
std::pair<Tensor, Tensor> embed_all(Layer& model, std::shared_ptr<const Dataset> data, Device device) {
  NoGradGuard no_grad;
  model.eval();
  DataLoader loader(std::move(data), {.batch_size = 1000, .shuffle = false, .workers = 1});
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

std::string duration(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  return text;
}

}  // namespace

int main(int argc, char** argv) try {
  Flags flags("train_fmnist",
              "Trains a small CNN on Fashion-MNIST with a margin loss and reports test accuracy.\n"
              "Softmax → NSL → LMCL (CosFace): losses/README.md derives each step.");
  std::string& loss_name = flags.add<std::string>("loss", "lmcl", "softmax | nsl | lmcl | arcface | sphereface");
  double& scale = flags.add("s", 30.0, "scale s of the normalized losses (0: the loss's default; LMCL's 64 is for 10^4+ classes)");
  double& margin_value = flags.add("m", -1.0, "margin m (negative: the loss's default)");
  int64_t& emb_dim = flags.add<int64_t>("emb-dim", 128, "embedding size d (2 or 3 also draw the feature picture)");
  int64_t& epochs = flags.add<int64_t>("epochs", 12, "training epochs");
  int64_t& batch_size = flags.add<int64_t>("batch", 128, "batch size");
  double& lr = flags.add("lr", 0.1, "peak learning rate (SGD momentum 0.9, weight decay 5e-4, cosine decay)");
  int64_t& seed = flags.add<int64_t>("seed", 0, "random seed (weights, shuffling, augmentation)");
  int& threads = flags.add("threads", 2, "CPU threads");
  std::string& data_dir = flags.add<std::string>("data", kFashionMnistDir, "folder with the Fashion-MNIST IDX files");
  std::string& out_dir = flags.add<std::string>("out", "runs/fmnist", "where the log, checkpoints, model and pictures go");
  std::string& resume = flags.add<std::string>("resume", "", "checkpoint to continue from (e.g. runs/fmnist/checkpoint.bin)");
  int64_t& stop_after = flags.add<int64_t>("stop-after", 0, "stop after this many epochs of this run (0: never; for testing resume)");
  bool& profile = flags.add("profile", false, "print where the time went, per op and layer");
  flags.parse(argc, argv);
  omp_set_num_threads(threads);
  profiler().enable(profile);
  fs::create_directories(out_dir);

  auto train_set = load_fashion_mnist(data_dir, true);
  auto test_set = load_fashion_mnist(data_dir, false);
  const int64_t classes = train_set->num_classes();
  Device device = default_device();

  Generator gen(static_cast<uint64_t>(seed));
  std::shared_ptr<Layer> model = small_cnn(emb_dim, gen);
  LossOptions loss_options;
  if (scale > 0) loss_options.scale = scale;
  if (margin_value >= 0) loss_options.margin = margin_value;
  std::shared_ptr<MarginLoss> head = make_loss(loss_name, emb_dim, classes, gen, loss_options);

  std::vector<Tensor> params = model->parameters();
  for (const Tensor& p : head->parameters()) params.push_back(p);
  SGD sgd(params, {.lr = lr, .momentum = 0.9, .weight_decay = 5e-4});

  // Augmentation as usual for Fashion-MNIST: pad-4 random crop and horizontal flips.
  DataLoader loader(train_set, {.batch_size = batch_size, .shuffle = true, .drop_last = true,
                                .workers = 2, .seed = static_cast<uint64_t>(seed),
                                .transform = compose({random_crop(4), horizontal_flip()})});
  const int64_t steps_per_epoch = loader.batches_per_epoch();
  CosineLr schedule(lr, epochs * steps_per_epoch, lr * 0.001);

  std::vector<NamedModule> state{{"model", model.get()}, {"loss", head.get()}};
  int64_t first_epoch = 0;
  if (!resume.empty()) {
    TrainingState position = load_checkpoint(resume, state, &sgd);
    first_epoch = position.epoch;
    std::fprintf(stderr, "resumed from %s at epoch %lld\n", resume.c_str(), static_cast<long long>(first_epoch));
  }
  std::ofstream log(out_dir + "/log.csv", first_epoch > 0 ? std::ios::app : std::ios::trunc);
  if (first_epoch == 0) log << "epoch,train_loss,train_accuracy,test_accuracy,lr,seconds\n";

  auto started = std::chrono::steady_clock::now();
  double test_accuracy = 0;
  int64_t epoch = first_epoch;
  for (; epoch < epochs; ++epoch) {
    if (stop_after > 0 && epoch - first_epoch >= stop_after) break;
    auto epoch_start = std::chrono::steady_clock::now();
    ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs), steps_per_epoch);
    loader.start_epoch(epoch);
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, step_in_epoch = 0;
    while (std::optional<Batch> batch = loader.next()) {
      int64_t step = epoch * steps_per_epoch + step_in_epoch;
      sgd.set_lr(schedule.lr(step));
      head->set_step(step);
      Tensor images = batch->images.to(device), labels = batch->labels.to(device);
      Tensor embeddings = (*model)(images);
      Tensor loss = head->forward(embeddings, labels);
      sgd.zero_grad();
      loss.backward();
      sgd.step();
      int64_t b = labels.size(0);
      loss_sum += loss.item() * static_cast<double>(b);
      correct += static_cast<int64_t>(cosine_accuracy(embeddings.detach(), head->weight(), labels) * b + 0.5);
      seen += b;
      ++step_in_epoch;
      char stats[96];
      std::snprintf(stats, sizeof stats, "loss %.4f  acc %5.1f%%", loss_sum / seen, 100.0 * correct / seen);
      bar.update(step_in_epoch, seen, stats);
    }
    auto [test_embeddings, test_labels] = embed_all(*model, test_set, device);
    test_accuracy = cosine_accuracy(test_embeddings, head->weight(), test_labels);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    std::fprintf(stderr, "epoch %lld/%lld: train loss %.4f, train accuracy %.2f%%, test accuracy %.2f%%, %s\n",
                 static_cast<long long>(epoch + 1), static_cast<long long>(epochs), loss_sum / seen,
                 100.0 * correct / seen, 100.0 * test_accuracy, duration(seconds).c_str());
    log << epoch + 1 << ',' << loss_sum / seen << ',' << static_cast<double>(correct) / seen << ','
        << test_accuracy << ',' << sgd.lr() << ',' << seconds << std::endl;
    save_checkpoint(out_dir + "/checkpoint.bin", state, &sgd, TrainingState{.epoch = epoch + 1, .step = (epoch + 1) * steps_per_epoch, .values = {}});
  }
  if (epoch < epochs) {
    std::printf("train_fmnist: stopped after epoch %lld as asked; continue with --resume %s/checkpoint.bin\n",
                static_cast<long long>(epoch), out_dir.c_str());
    return 0;
  }
  save_checkpoint(out_dir + "/model.bin", state, nullptr, TrainingState{.epoch = epochs, .step = epochs * steps_per_epoch, .values = {}});

  if (emb_dim == 2 || emb_dim == 3) {
    auto [test_embeddings, test_labels] = embed_all(*model, test_set, device);
    FeaturePlotOptions picture;
    picture.title = loss_name + " (d=" + std::to_string(emb_dim) + "): Fashion-MNIST test embeddings";
    picture.class_names = fashion_mnist_class_names();
    Plot plot = emb_dim == 2 ? feature_circle_plot(test_embeddings, test_labels, head->weight().to(kCPU), picture)
                             : feature_sphere_plot(test_embeddings, test_labels, head->weight().to(kCPU), picture);
    plot.save(out_dir + "/features.png");
  }
  if (profile) profiler().print(std::cout);
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char loss_text[96];
  std::snprintf(loss_text, sizeof loss_text, "%s (s=%g, m=%g)", loss_name.c_str(), head->scale(), head->current_margin());
  std::printf("train_fmnist: %s d=%lld, %lld epochs: test accuracy %.2f%% (%s on %s, %d threads); model %s/model.bin\n",
              loss_text, static_cast<long long>(emb_dim), static_cast<long long>(epochs),
              100.0 * test_accuracy, duration(total).c_str(), device.str().c_str(), threads, out_dir.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_fmnist: %s\n", e.what());
  return 1;
}
