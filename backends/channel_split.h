// backends/channel_split.h — x seen as [N, C, inner] around its channel dim, the walk of the
// batch norm and PReLU kernels of both backends (backends/cpu/norm.cpp, backends/cuda/norm.cu).
#pragma once
#include <cstdint>

#include "backends/host_device.h"
#include "backends/types.h"

namespace margin {

// x [N, C, inner]: the channel is dim 1, whatever follows is `inner`.
struct ChannelSplit {
  int64_t batch = 1, channels = 1, inner = 1;
  explicit ChannelSplit(const Shape& shape) {
    if (shape.size() > 0) batch = shape[0];
    if (shape.size() > 1) channels = shape[1];
    for (size_t i = 2; i < shape.size(); ++i) inner *= shape[i];
  }
  MARGIN_HD int64_t per_channel() const { return batch * inner; }
  // Flat position of the j-th element (0 ≤ j < batch·inner) of channel c.
  MARGIN_HD int64_t at(int64_t c, int64_t j) const { return run_start(c, j / inner) + j % inner; }
  MARGIN_HD int64_t channel_of(int64_t flat) const { return (flat / inner) % channels; }
  // Flat position of the first element of channel c's n-th run: the CPU walks a channel as
  // `batch` contiguous runs of `inner` elements, vectorized (map_channel / sum_channel in
  // backends/cpu/norm.cpp); a CUDA block strides over j with at().
  MARGIN_HD int64_t run_start(int64_t c, int64_t n) const { return (n * channels + c) * inner; }
};

}  // namespace margin
