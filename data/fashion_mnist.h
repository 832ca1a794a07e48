// data/fashion_mnist.h — Fashion-MNIST (Xiao et al. 2017) held in memory: 60000 training and
// 10000 test images, 28×28 grey, 10 classes of clothing. Pixels become floats in [0, 1].
//
// Read from the four gzip'd IDX files (Debian's dataset-fashion-mnist puts them in
// /usr/share/datasets/fashion-mnist). Left out: downloading, and MNIST's own file names.
#pragma once
#include <memory>
#include <string>

#include "data/dataset.h"

namespace margin {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Any set of uint8 grey images N×H×W with labels, held in memory (what an IDX pair holds).
class GreyImageDataset : public Dataset {
 public:
  GreyImageDataset(std::vector<uint8_t> pixels, std::vector<uint8_t> labels, int64_t height,
                   int64_t width, int64_t num_classes);
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return num_classes_; }

 private:
  std::vector<uint8_t> pixels_, labels_;
  int64_t height_, width_, num_classes_;
};

// The training split (train = true) or the test split from `dir`: images other than 28×28,
// or not as many as the labels, are an error naming the file.
std::shared_ptr<GreyImageDataset> load_fashion_mnist(const std::string& dir = kFashionMnistDir,
                                                     bool train = true);

// "T-shirt/top", "Trouser", ... indexed by label.
const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace margin
