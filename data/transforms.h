// data/transforms.h — per-sample transforms, applied by the loader before batching:
// normalize (per-channel mean and std), random crop with zero padding, horizontal flip,
// random erasing, colour jitter, and
// for faces: bilinear resize, centre crop and a random crop of a given size.
//
// Every transform takes the random Generator explicitly, even those that draw nothing, so a
// pipeline is one list of the same kind of function and the loader can hand each sample its
// own generator seeded from (seed, epoch, index): the augmentation of a sample is then the
// same whichever worker thread builds it.
//
// Face recognition feeds networks values in [−1, 1]: (byte / 255 − 0.5) / 0.5, as insightface
// and SphereFace do ((byte − 127.5) / 128 in the latter, nearly the same). Samples of
// data/image.h are already byte / 255, so that is normalize({0.5}, {0.5}).
// Left out: hue jitter, rotations, scale/aspect jitter.
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

// Cuts out a height × width window at a uniformly random offset (no padding); margin::Error
// if the image is smaller than the window.
Transform random_crop_to(int64_t height, int64_t width);

// The height × width window in the middle: offsets ⌊(H − height) / 2⌋ and ⌊(W − width) / 2⌋.
Transform center_crop(int64_t height, int64_t width);

// Bilinear resize to height × width (data/image.h: resize_plane, pixel centres aligned).
Transform resize(int64_t height, int64_t width);

// Mirrors the image left-right with the given probability.
Transform horizontal_flip(double probability = 0.5);

// Random erasing (Zhong et al. 2017, "Random Erasing Data Augmentation"; torchvision's
// RandomErasing): with the given probability, a rectangle of area a·H·W (a uniform in
// [min_area, max_area]) and aspect ratio h/w log-uniform in [1/3.3, 3.3] is set to 0 on every
// channel, at a uniformly random place. Up to 10 draws are tried for a rectangle that fits;
// when none does, the image is left as it is.
Transform random_erasing(double probability = 0.5, double min_area = 0.02, double max_area = 0.33);

// Colour jitter of samples in [0, 1] (torchvision's ColorJitter without hue, in a fixed
// order): factors b, c, s drawn uniformly from [1 − brightness, 1 + brightness], [1 − contrast,
// 1 + contrast], [1 − saturation, 1 + saturation], then
//   brightness  x ← b·x
//   contrast    x ← c·x + (1 − c)·ḡ, ḡ the mean grey level of the image
//   saturation  x ← s·x + (1 − s)·g, g the pixel's grey level (RGB only)
// each step clamped to [0, 1]. Grey levels are the luma of data/image.h's convert_channels,
// (77 R + 150 G + 29 B) / 256; a grey (1-channel) image is its own grey level. All three
// factors are drawn for every sample, so the draws of later transforms do not depend on them.
Transform color_jitter(double brightness, double contrast, double saturation);

// The transforms in order.
Transform compose(std::vector<Transform> transforms);

}  // namespace margin
