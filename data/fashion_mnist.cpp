// data/fashion_mnist.cpp — loading the Fashion-MNIST IDX pair into a GreyImageDataset: the
// images must be 28×28 and as many as the labels (errors name the file).
#include "data/fashion_mnist.h"

#include "core/checked.h"
#include "data/idx.h"

namespace margin {

static constexpr int64_t kFashionMnistSize = 28;  // every image is 28×28

GreyImageDataset::GreyImageDataset(std::vector<uint8_t> pixels, std::vector<uint8_t> labels,
                                   int64_t height, int64_t width, int64_t num_classes)
    : pixels_(std::move(pixels)), labels_(std::move(labels)), height_(height), width_(width),
      num_classes_(num_classes) {
  int64_t expected = checked_product({size(), height_, width_}, "GreyImageDataset: labels × height × width");
  if (static_cast<int64_t>(pixels_.size()) != expected)
    fail("GreyImageDataset: ", pixels_.size(), " pixels for ", size(), " labels of ", height_, "×",
         width_, " images (expected ", expected, ")");
}

Sample GreyImageDataset::get(int64_t index) const {
  if (index < 0 || index >= size())
    fail("GreyImageDataset::get: index ", index, " out of range (size ", size(), ")");
  Sample sample;
  sample.channels = 1;
  sample.height = height_;
  sample.width = width_;
  sample.label = labels_[index];
  const uint8_t* first = pixels_.data() + index * height_ * width_;
  sample.image.resize(height_ * width_);
  for (int64_t i = 0; i < height_ * width_; ++i) sample.image[i] = first[i] / 255.0f;
  return sample;
}

std::shared_ptr<GreyImageDataset> load_fashion_mnist(const std::string& dir, bool train) {
  std::string prefix = dir + (train ? "/train" : "/t10k");
  const std::string images_path = prefix + "-images-idx3-ubyte.gz";
  IdxImagesAndLabels pair = read_idx_images_and_labels(images_path, prefix + "-labels-idx1-ubyte.gz", 10);
  const int64_t height = pair.images.dims[1], width = pair.images.dims[2];
  if (height != kFashionMnistSize || width != kFashionMnistSize)
    fail("fashion-mnist: ", images_path, ": images of ", height, "×", width, " (expected ", kFashionMnistSize,
         "×", kFashionMnistSize, ")");
  return std::make_shared<GreyImageDataset>(std::move(pair.images.values), std::move(pair.labels.values),
                                            height, width, 10);
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace margin
