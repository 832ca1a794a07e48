// train/metrics.h — what a network trained with a margin loss is measured by: embeddings of a
// whole dataset in eval mode, plain and "flip", and the nearest class weight by cosine
// (argmax_j cos θ_j, how a margin-trained embedding classifies).
//
// Flip (insightface's "Accuracy-Flip"): the embedding of an image plus the embedding of its
// left-right mirror image, e(x) + e(mirror x); cosine similarity ignores the scale, so this is
// the direction of the mean of the two.
#pragma once
#include <memory>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/transforms.h"
#include "layers/module.h"

namespace margin {

// Fraction of rows of `embeddings` [N, d] whose nearest row of `weight` [C, d] by cosine is
// their label (labels [N] int64).
double cosine_accuracy(const Tensor& embeddings, const Tensor& weight, const Tensor& labels);

struct EmbedOptions {
  int64_t batch_size = 500;
  bool flip = false;          // also compute e(x) + e(mirror x)
  Transform input = nullptr;  // applied to each sample first (faces: face_input())
};
// [N, d] float32 on the CPU, in dataset order; flip is undefined unless asked for.
struct Embeddings {
  Tensor plain, flip, labels;
};
// The embeddings of a whole dataset with the model in eval mode (it goes back to the mode it
// was in afterwards).
Embeddings embed_dataset(Layer& model, std::shared_ptr<const Dataset> data, Device device, EmbedOptions options = {});

}  // namespace margin
