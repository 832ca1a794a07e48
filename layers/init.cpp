// layers/init.cpp — the initializers' formulas (see the header).
#include "layers/init.h"

#include <cmath>

#include "core/ops.h"

namespace margin::init {

std::pair<int64_t, int64_t> fans(const Shape& shape) {
  if (shape.size() < 2) fail("init: a weight needs at least 2 dims [out, in, ...], got ", shape_str(shape));
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

static double gain(double a) { return std::sqrt(2.0 / (1.0 + a * a)); }

Tensor kaiming_uniform(const Shape& shape, Generator& gen, double a, bool fan_out, DType dtype) {
  auto [in, out] = fans(shape);
  double bound = gain(a) * std::sqrt(3.0 / static_cast<double>(fan_out ? out : in));
  return Tensor::uniform(shape, -bound, bound, gen, dtype);
}

Tensor kaiming_normal(const Shape& shape, Generator& gen, double a, bool fan_out, DType dtype) {
  auto [in, out] = fans(shape);
  double std = gain(a) / std::sqrt(static_cast<double>(fan_out ? out : in));
  return Tensor::randn(shape, gen, dtype) * std;
}

Tensor xavier_uniform(const Shape& shape, Generator& gen, DType dtype) {
  auto [in, out] = fans(shape);
  double bound = std::sqrt(6.0 / static_cast<double>(in + out));
  return Tensor::uniform(shape, -bound, bound, gen, dtype);
}

Tensor xavier_normal(const Shape& shape, Generator& gen, DType dtype) {
  auto [in, out] = fans(shape);
  return Tensor::randn(shape, gen, dtype) * std::sqrt(2.0 / static_cast<double>(in + out));
}

Tensor default_weight(const Shape& shape, Generator& gen, DType dtype) {
  return kaiming_uniform(shape, gen, std::sqrt(5.0), false, dtype);
}

Tensor default_bias(int64_t size, int64_t fan_in, Generator& gen, DType dtype) {
  double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  return Tensor::uniform({size}, -bound, bound, gen, dtype);
}

}  // namespace margin::init
