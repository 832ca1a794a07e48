// train/metrics.h — what a classifier trained with a margin loss is measured by: the nearest
// class weight by cosine (argmax_j cos θ_j, how a margin-trained embedding is used), on
// embeddings computed for a whole dataset in eval mode.
#pragma once
#include <memory>
#include <utility>

#include "core/tensor.h"
#include "data/dataset.h"
#include "layers/module.h"

namespace margin {

// Fraction of rows of `embeddings` [N, d] whose nearest row of `weight` [C, d] by cosine is
// their label (labels [N] int64).
double cosine_accuracy(const Tensor& embeddings, const Tensor& weight, const Tensor& labels);

// The embeddings of a whole dataset, in eval mode (the model goes back to train mode after),
// on the CPU, with its labels.
std::pair<Tensor, Tensor> embed_dataset(Layer& model, std::shared_ptr<const Dataset> data, Device device,
                                        int64_t batch_size = 500);

}  // namespace margin
