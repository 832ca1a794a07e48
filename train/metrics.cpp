// train/metrics.cpp — see metrics.h.
#include "train/metrics.h"

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

}  // namespace margin
