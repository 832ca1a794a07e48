// layers/init.h — weight initializers, as PyTorch's torch.nn.init defines them.
//   fan_in = in_features (× kernel area for convolutions), fan_out likewise.
//   kaiming_uniform: U(−b, b), b = gain · √(3 / fan);  kaiming_normal: N(0, gain / √fan)
//   xavier_uniform:  U(−b, b), b = √(6 / (fan_in + fan_out)); xavier_normal: N(0, √(2/(fan_in+fan_out)))
//   gain = √(2 / (1 + a²)) for leaky ReLU / PReLU slope a (a = 0: ReLU).
// PyTorch's default for Linear and Conv2d weights is kaiming_uniform with a = √5, which
// reduces to U(−1/√fan_in, 1/√fan_in); their bias is U(−1/√fan_in, 1/√fan_in) too.
#pragma once
#include "core/random.h"
#include "core/tensor.h"

namespace margin::init {

// (fan_in, fan_out) of a weight [out, in, ...kernel].
std::pair<int64_t, int64_t> fans(const Shape& weight_shape);
Tensor kaiming_uniform(const Shape& shape, Generator& gen, double a = 0.0, bool fan_out = false,
                       DType dtype = DType::F32);
Tensor kaiming_normal(const Shape& shape, Generator& gen, double a = 0.0, bool fan_out = false,
                      DType dtype = DType::F32);
Tensor xavier_uniform(const Shape& shape, Generator& gen, DType dtype = DType::F32);
Tensor xavier_normal(const Shape& shape, Generator& gen, DType dtype = DType::F32);
// PyTorch's default for a Linear/Conv2d weight and for its bias.
Tensor default_weight(const Shape& shape, Generator& gen, DType dtype = DType::F32);
Tensor default_bias(int64_t size, int64_t fan_in, Generator& gen, DType dtype = DType::F32);

}  // namespace margin::init
