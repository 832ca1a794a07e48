// data/dataset.cpp — Subset (see dataset.h).
#include "data/dataset.h"

namespace margin {

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  if (!base_) fail("Subset: no dataset (a null pointer)");
  for (int64_t index : indices_)
    if (index < 0 || index >= base_->size())
      fail("Subset: index ", index, " out of range (the dataset has ", base_->size(), " samples)");
}

Sample Subset::get(int64_t index) const {
  if (index < 0 || index >= size()) fail("Subset::get: index ", index, " out of range (size ", size(), ")");
  return base_->get(indices_[index]);
}

}  // namespace margin
