// data/transforms.cpp — normalize, random crops, centre crop, resize, horizontal flip, random
// erasing, colour jitter, compose.
#include "data/transforms.h"

#include <algorithm>
#include <cmath>

#include "data/image.h"

namespace margin {

Transform normalize(std::vector<float> mean, std::vector<float> std) {
  if (mean.empty() || mean.size() != std.size())
    fail("normalize: ", mean.size(), " means and ", std.size(), " stds (expected the same count, at least 1)");
  for (float s : std)
    if (!(s > 0)) fail("normalize: std ", s, " (expected > 0)");
  return [mean, std](Sample& sample, Generator&) {
    bool one_for_all = mean.size() == 1;
    if (!one_for_all && static_cast<int64_t>(mean.size()) != sample.channels)
      fail("normalize: ", mean.size(), " means for an image of ", sample.channels, " channels");
    for (int64_t c = 0; c < sample.channels; ++c) {
      float channel_mean = mean[one_for_all ? 0 : c], channel_std = std[one_for_all ? 0 : c];
      for (int64_t y = 0; y < sample.height; ++y)
        for (int64_t x = 0; x < sample.width; ++x)
          sample.at(c, y, x) = (sample.at(c, y, x) - channel_mean) / channel_std;
    }
  };
}

Transform random_crop(int64_t padding) {
  if (padding < 0) fail("random_crop: padding ", padding, " (expected >= 0)");
  return [padding](Sample& sample, Generator& gen) {
    // The window's top-left corner in padded coordinates; (padding, padding) is no shift.
    int64_t top = gen.below(2 * padding + 1), left = gen.below(2 * padding + 1);
    Sample cropped = sample;
    for (int64_t c = 0; c < sample.channels; ++c)
      for (int64_t y = 0; y < sample.height; ++y)
        for (int64_t x = 0; x < sample.width; ++x) {
          int64_t source_y = y + top - padding, source_x = x + left - padding;
          bool inside = source_y >= 0 && source_y < sample.height && source_x >= 0 && source_x < sample.width;
          cropped.at(c, y, x) = inside ? sample.at(c, source_y, source_x) : 0.0f;
        }
    sample = std::move(cropped);
  };
}

// The height × width window of `sample` whose top-left corner is (top, left).
static Sample crop(const Sample& sample, int64_t top, int64_t left, int64_t height, int64_t width) {
  Sample cropped = sample;
  cropped.height = height;
  cropped.width = width;
  cropped.image.assign(sample.channels * height * width, 0.0f);
  for (int64_t c = 0; c < sample.channels; ++c)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x) cropped.at(c, y, x) = sample.at(c, top + y, left + x);
  return cropped;
}

static void check_window(const char* who, const Sample& sample, int64_t height, int64_t width) {
  if (height > sample.height || width > sample.width)
    fail(who, ": a ", height, "×", width, " window does not fit in an image of shape ",
         shape_str(sample.shape()), " (expected the window no larger than the image)");
}

static void check_size(const char* who, int64_t height, int64_t width) {
  if (height < 1 || width < 1) fail(who, ": size ", height, "×", width, " (expected a positive height and width)");
}

Transform random_crop_to(int64_t height, int64_t width) {
  check_size("random_crop_to", height, width);
  return [height, width](Sample& sample, Generator& gen) {
    check_window("random_crop_to", sample, height, width);
    int64_t top = gen.below(sample.height - height + 1), left = gen.below(sample.width - width + 1);
    sample = crop(sample, top, left, height, width);
  };
}

Transform center_crop(int64_t height, int64_t width) {
  check_size("center_crop", height, width);
  return [height, width](Sample& sample, Generator&) {
    check_window("center_crop", sample, height, width);
    sample = crop(sample, (sample.height - height) / 2, (sample.width - width) / 2, height, width);
  };
}

Transform resize(int64_t height, int64_t width) {
  check_size("resize", height, width);
  return [height, width](Sample& sample, Generator&) {
    if (sample.height == height && sample.width == width) return;
    std::vector<float> resized(sample.channels * height * width);
    for (int64_t c = 0; c < sample.channels; ++c)
      resize_plane(sample.image.data() + c * sample.height * sample.width, sample.height, sample.width,
                   resized.data() + c * height * width, height, width);
    sample.image = std::move(resized);
    sample.height = height;
    sample.width = width;
  };
}

Transform horizontal_flip(double probability) {
  if (!(probability >= 0 && probability <= 1))
    fail("horizontal_flip: probability ", probability, " (expected in [0, 1])");
  return [probability](Sample& sample, Generator& gen) {
    // Always draw, so whether this sample flips does not shift the draws of later transforms.
    bool flip = gen.uniform() < probability;
    if (!flip) return;
    for (int64_t c = 0; c < sample.channels; ++c)
      for (int64_t y = 0; y < sample.height; ++y)
        for (int64_t x = 0; x < sample.width / 2; ++x)
          std::swap(sample.at(c, y, x), sample.at(c, y, sample.width - 1 - x));
  };
}

Transform random_erasing(double probability, double min_area, double max_area) {
  if (!(probability >= 0 && probability <= 1))
    fail("random_erasing: probability ", probability, " (expected in [0, 1])");
  if (!(min_area > 0 && min_area <= max_area && max_area < 1))
    fail("random_erasing: area fractions ", min_area, "..", max_area, " (expected 0 < min ≤ max < 1)");
  return [=](Sample& sample, Generator& gen) {
    if (gen.uniform() >= probability) return;
    const double log_ratio = std::log(3.3), area = static_cast<double>(sample.height * sample.width);
    for (int attempt = 0; attempt < 10; ++attempt) {
      double erased = area * gen.uniform(min_area, max_area);
      double aspect = std::exp(gen.uniform(-log_ratio, log_ratio));  // h / w
      auto h = static_cast<int64_t>(std::lround(std::sqrt(erased * aspect)));
      auto w = static_cast<int64_t>(std::lround(std::sqrt(erased / aspect)));
      if (h < 1 || w < 1 || h >= sample.height || w >= sample.width) continue;
      int64_t top = gen.below(sample.height - h + 1), left = gen.below(sample.width - w + 1);
      for (int64_t c = 0; c < sample.channels; ++c)
        for (int64_t y = top; y < top + h; ++y)
          for (int64_t x = left; x < left + w; ++x) sample.at(c, y, x) = 0.0f;
      return;
    }
  };
}

Transform color_jitter(double brightness, double contrast, double saturation) {
  for (double amount : {brightness, contrast, saturation})
    if (!(amount >= 0 && amount < 1))
      fail("color_jitter: ", brightness, ", ", contrast, ", ", saturation, " (expected each in [0, 1))");
  return [=](Sample& sample, Generator& gen) {
    const float b = static_cast<float>(gen.uniform(1 - brightness, 1 + brightness));
    const float c = static_cast<float>(gen.uniform(1 - contrast, 1 + contrast));
    const float s = static_cast<float>(gen.uniform(1 - saturation, 1 + saturation));
    const int64_t plane = sample.height * sample.width;
    auto clamp01 = [](float x) { return std::clamp(x, 0.0f, 1.0f); };
    auto grey = [&](int64_t i) {
      if (sample.channels == 1) return sample.image[i];
      return (77 * sample.image[i] + 150 * sample.image[plane + i] + 29 * sample.image[2 * plane + i]) / 256;
    };
    for (float& x : sample.image) x = clamp01(b * x);
    double mean = 0;
    for (int64_t i = 0; i < plane; ++i) mean += grey(i);
    const float mean_grey = static_cast<float>(mean / static_cast<double>(plane));
    for (float& x : sample.image) x = clamp01(c * x + (1 - c) * mean_grey);
    if (sample.channels != 3) return;
    for (int64_t i = 0; i < plane; ++i) {
      const float g = grey(i);
      for (int64_t k = 0; k < 3; ++k) sample.image[k * plane + i] = clamp01(s * sample.image[k * plane + i] + (1 - s) * g);
    }
  };
}

Transform compose(std::vector<Transform> transforms) {
  return [transforms](Sample& sample, Generator& gen) {
    for (const Transform& transform : transforms) transform(sample, gen);
  };
}

}  // namespace margin
