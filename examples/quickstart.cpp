// examples/quickstart.cpp — README.md's "Using it", as a program that is built and can be run:
// a small CNN learns 128-d embeddings of Fashion-MNIST with LMCL (CosFace) for 3 epochs under
// a cosine learning-rate decay, scored after each by the nearest class weight in cosine. The
// main job (train_fmnist) adds a third stage, flips, logs and checkpoints (train/trainer.h).
#include <cstdio>

#include "margin.h"

using namespace margin;

int main() try {
  Generator gen(0);
  auto train_set = load_fashion_mnist(kFashionMnistDir, /*train=*/true);
  auto test_set = load_fashion_mnist(kFashionMnistDir, /*train=*/false);
  auto model = small_cnn(/*emb=*/128, gen);  // 1x28x28 images → 128-d embeddings
  auto lmcl = make_loss("lmcl", 128, train_set->num_classes(), gen, {.scale = 30, .margin = 0.2});
  SGD sgd(parameters_of({model.get(), lmcl.get()}), {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4});
  DataLoader loader(train_set, {.batch_size = 128, .shuffle = true, .drop_last = true});
  CosineLr schedule(0.1, 3 * loader.batches_per_epoch());
  for (int64_t epoch = 0, step = 0; epoch < 3; ++epoch) {
    loader.start_epoch(epoch);
    while (std::optional<Batch> batch = loader.next()) {
      sgd.set_lr(schedule.lr(step++));
      Tensor loss = (*lmcl)((*model)(batch->images), batch->labels);
      sgd.zero_grad();
      loss.backward();
      sgd.step();  // also puts every class weight back on the unit sphere (the loss's constraint)
    }
    Embeddings test = embed_dataset(*model, test_set, kCPU);
    std::printf("epoch %lld: test accuracy %.2f%%\n", static_cast<long long>(epoch + 1),
                100 * cosine_accuracy(test.plain, lmcl->weight(), test.labels));
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "quickstart: %s\n", e.what());
  return 1;
}
