// data/dataset.h — what a dataset is to the loader: a size and a way to fetch sample i, as a
// float image in CHW order and an int64 class label. Samples live on the host; the loader
// batches them into Tensors.
//
// get() must be safe to call from several threads at once (loader workers do): datasets
// here are read-only after construction. Left out: streaming datasets of unknown size.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/types.h"

namespace margin {

struct Sample {
  std::vector<float> image;  // channels × height × width, row-major
  int64_t channels = 0, height = 0, width = 0;
  int64_t label = 0;

  float& at(int64_t c, int64_t y, int64_t x) { return image[(c * height + y) * width + x]; }
  float at(int64_t c, int64_t y, int64_t x) const { return image[(c * height + y) * width + x]; }
  Shape shape() const { return {channels, height, width}; }
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Sample get(int64_t index) const = 0;  // 0 <= index < size(), else margin::Error
  virtual int64_t num_classes() const = 0;
};

// The listed images of another dataset, in the listed order (labels kept).
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return base_->num_classes(); }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

}  // namespace margin
