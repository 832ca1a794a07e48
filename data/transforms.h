// data/transforms.h — per-sample transforms, applied by the loader before batching:
// normalize (per-channel mean and std), random crop with zero padding, horizontal flip.
//
// Every transform takes the random Generator explicitly, even those that draw nothing, so a
// pipeline is one list of the same kind of function and the loader can hand each sample its
// own generator seeded from (seed, epoch, index): the augmentation of a sample is then the
// same whichever worker thread builds it. Left out: colour jitter, resizing, rotations.
#pragma once
#include <functional>
#include <vector>

#include "core/random.h"
#include "data/dataset.h"

namespace margin {

using Transform = std::function<void(Sample& sample, Generator& gen)>;

// image[c] = (image[c] - mean[c]) / std[c]; one mean and std per channel (or one for all).
Transform normalize(std::vector<float> mean, std::vector<float> std);

// Pads the image with `padding` zeros on every side, then cuts out a window of the original
// size at a uniformly random offset (0..2·padding in each direction).
Transform random_crop(int64_t padding);

// Mirrors the image left-right with the given probability.
Transform horizontal_flip(double probability = 0.5);

// The transforms in order.
Transform compose(std::vector<Transform> transforms);

}  // namespace margin
