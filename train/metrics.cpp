// train/metrics.cpp — see metrics.h.
#include "train/metrics.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/ops.h"
#include "data/loader.h"

namespace margin {

double cosine_accuracy(const Tensor& embeddings, const Tensor& weight, const Tensor& labels) {
  NoGradGuard no_grad;
  Tensor cos_theta = matmul(l2_normalize(embeddings), l2_normalize(weight.to(embeddings.device())), false, true);
  std::vector<int64_t> predicted = argmax(cos_theta, 1).to_indices(), truth = labels.to_indices();
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(truth.size());
}

namespace {

// The batch [B, C, H, W] (CPU, contiguous float32) mirrored left-right.
Tensor mirror(const Tensor& images) {
  Tensor mirrored = images.clone();
  const int64_t rows = images.size(0) * images.size(1) * images.size(2), width = images.size(3);
  float* data = mirrored.view().ptr<float>();
  for (int64_t row = 0; row < rows; ++row) std::reverse(data + row * width, data + (row + 1) * width);
  return mirrored;
}

}  // namespace

Embeddings embed_dataset(Layer& model, std::shared_ptr<const Dataset> data, Device device, EmbedOptions options) {
  NoGradGuard no_grad;
  const bool was_training = model.training();
  model.eval();
  DataLoader loader(std::move(data), {.batch_size = options.batch_size, .shuffle = false, .workers = 1,
                                      .transform = options.input});
  loader.start_epoch(0);
  std::vector<Tensor> plain, flip;
  std::vector<int64_t> labels;
  while (std::optional<Batch> batch = loader.next()) {
    Tensor embedding = model(batch->images.to(device)).to(kCPU);
    plain.push_back(embedding);
    if (options.flip) flip.push_back(embedding + model(mirror(batch->images).to(device)).to(kCPU));
    for (int64_t label : batch->labels.to_indices()) labels.push_back(label);
  }
  model.train(was_training);
  if (plain.empty()) fail("embed_dataset: no samples to embed");
  return {concat(plain, 0), options.flip ? concat(flip, 0) : Tensor(),
          Tensor::from_indices(labels, {static_cast<int64_t>(labels.size())}, kCPU)};
}

}  // namespace margin
