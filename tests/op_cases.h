// tests/op_cases.h — the one table of op cases. A case is data: a printable name, input
// shapes, the domain the inputs are drawn from, and the function (any tensors in, one out).
// tests/test_ops.cpp gradient-checks every case in float64 on the default device;
// tests/test_parity.cpp runs every case on each built GPU and compares it with the CPU in
// float32 and float64. So the
// functions must be device- and dtype-agnostic: index tensors are made on the inputs' device,
// one-hot masks in their dtype.
#pragma once
#include "gradcheck.h"

namespace margin::testing {

enum class Domain { Any, Positive, AwayFromZero };

struct OpCase {
  std::string name;
  std::vector<Shape> shapes;
  Domain domain;
  Fn f;
};

inline Tensor make_input(const Shape& shape, Domain domain, Generator& gen) {
  switch (domain) {
    case Domain::Any: return testing::leaf(shape, gen);
    case Domain::Positive: return testing::leaf(shape, gen, 0.2, 2.0);
    case Domain::AwayFromZero: return testing::leaf_away_from_zero(shape, gen);
  }
  return {};
}

// Index tensors are made on the device of the op's inputs, so a case runs on any backend.
inline Tensor labels(std::vector<int64_t> values, Device device = kCPU) {
  return Tensor::from_indices(values, {static_cast<int64_t>(values.size())}, device);
}

inline std::vector<OpCase> op_cases() {
  using V = const std::vector<Tensor>&;
  return {
      // elementwise, with NumPy broadcasting (row, column, scalar, leading dims)
      {"add(a=[3,4], b=[3,4])", {{3, 4}, {3, 4}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"add(a=[3,4], b=[4]) row", {{3, 4}, {4}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"add(a=[3,4], b=[3,1]) column", {{3, 4}, {3, 1}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"add(a=[], b=[2,3]) scalar", {{}, {2, 3}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"add(a=[2,1,3], b=[4,1])", {{2, 1, 3}, {4, 1}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"sub(a=[3,4], b=[4])", {{3, 4}, {4}}, Domain::Any, [](V x) { return x[0] - x[1]; }},
      {"sub(a=[3,1], b=[1,4])", {{3, 1}, {1, 4}}, Domain::Any, [](V x) { return x[0] - x[1]; }},
      {"mul(a=[3,4], b=[3,4])", {{3, 4}, {3, 4}}, Domain::Any, [](V x) { return x[0] * x[1]; }},
      {"mul(a=[3,4], b=[3,1]) column", {{3, 4}, {3, 1}}, Domain::Any, [](V x) { return x[0] * x[1]; }},
      {"mul(a=[1,1], b=[2,5])", {{1, 1}, {2, 5}}, Domain::Any, [](V x) { return x[0] * x[1]; }},
      {"div(a=[3,4], b=[3,4])", {{3, 4}, {3, 4}}, Domain::AwayFromZero, [](V x) { return x[0] / x[1]; }},
      {"div(a=[3,4], b=[4]) row", {{3, 4}, {4}}, Domain::AwayFromZero, [](V x) { return x[0] / x[1]; }},
      {"div(a=[3,1], b=[3,4])", {{3, 1}, {3, 4}}, Domain::AwayFromZero, [](V x) { return x[0] / x[1]; }},
      {"neg(x=[5])", {{5}}, Domain::Any, [](V x) { return neg(x[0]); }},
      {"exp(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return exp(x[0]); }},
      {"log(x=[3,4])", {{3, 4}}, Domain::Positive, [](V x) { return log(x[0]); }},
      {"sqrt(x=[3,4])", {{3, 4}}, Domain::Positive, [](V x) { return sqrt(x[0]); }},
      {"abs(x=[3,4])", {{3, 4}}, Domain::AwayFromZero, [](V x) { return abs(x[0]); }},
      {"relu(x=[3,4])", {{3, 4}}, Domain::AwayFromZero, [](V x) { return relu(x[0]); }},
      {"sigmoid(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return sigmoid(x[0]); }},
      {"tanh(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return tanh(x[0]); }},
      {"pow(x=[3,4], p=2.5)", {{3, 4}}, Domain::Positive, [](V x) { return pow(x[0], 2.5); }},
      {"pow(x=[3,4], p=-1)", {{3, 4}}, Domain::Positive, [](V x) { return pow(x[0], -1.0); }},
      {"add_scalar(x=[3], 2.5)", {{3}}, Domain::Any, [](V x) { return x[0] + 2.5; }},
      {"mul_scalar(x=[3], -1.5)", {{3}}, Domain::Any, [](V x) { return x[0] * -1.5; }},
      {"rsub(1 - x=[3])", {{3}}, Domain::Any, [](V x) { return 1.0 - x[0]; }},
      {"clamp(x=[4,4], -0.5, 0.5)", {{4, 4}}, Domain::Any, [](V x) { return clamp(x[0], -0.5, 0.5); }},
      {"acos(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return acos(x[0] * 0.95); }},
      {"cos(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return cos(x[0] * 3.0); }},
      // matrix products: each transpose case, batched, size-1 dims
      {"matmul(a=[3,4], b=[4,5])", {{3, 4}, {4, 5}}, Domain::Any, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul(aᵀ: a=[4,3], b=[4,5])", {{4, 3}, {4, 5}}, Domain::Any, [](V x) { return matmul(x[0], x[1], true, false); }},
      {"matmul(bᵀ: a=[3,4], b=[5,4])", {{3, 4}, {5, 4}}, Domain::Any, [](V x) { return matmul(x[0], x[1], false, true); }},
      {"matmul(aᵀbᵀ: a=[4,3], b=[5,4])", {{4, 3}, {5, 4}}, Domain::Any, [](V x) { return matmul(x[0], x[1], true, true); }},
      {"matmul(batched a=[2,3,4], b=[2,4,5])", {{2, 3, 4}, {2, 4, 5}}, Domain::Any, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul(batched bᵀ a=[2,3,4], b=[2,5,4])", {{2, 3, 4}, {2, 5, 4}}, Domain::Any, [](V x) { return matmul(x[0], x[1], false, true); }},
      {"matmul(a=[1,4], b=[4,1])", {{1, 4}, {4, 1}}, Domain::Any, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul(a=[3,4]ᵀ view, b=[3,2])", {{3, 4}, {3, 2}}, Domain::Any, [](V x) { return matmul(x[0].t(), x[1]); }},
      // reductions
      {"sum(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return sum(x[0]); }},
      {"sum(x=[3,4], axis=0)", {{3, 4}}, Domain::Any, [](V x) { return sum(x[0], 0); }},
      {"sum(x=[3,4], axis=1, keepdim)", {{3, 4}}, Domain::Any, [](V x) { return sum(x[0], 1, true); }},
      {"sum(x=[2,3,4], axis=1)", {{2, 3, 4}}, Domain::Any, [](V x) { return sum(x[0], 1); }},
      {"sum(x=[2,1,4], axis=-1)", {{2, 1, 4}}, Domain::Any, [](V x) { return sum(x[0], -1); }},
      {"mean(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return mean(x[0]); }},
      {"mean(x=[3,4], axis=0)", {{3, 4}}, Domain::Any, [](V x) { return mean(x[0], 0); }},
      {"max(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return max(x[0]); }},
      {"max(x=[3,4], axis=1)", {{3, 4}}, Domain::Any, [](V x) { return max(x[0], 1); }},
      {"max(x=[2,3,4], axis=1, keepdim)", {{2, 3, 4}}, Domain::Any, [](V x) { return max(x[0], 1, true); }},
      {"sum_to(x=[2,3,4] → [3,1])", {{2, 3, 4}}, Domain::Any, [](V x) { return sum_to(x[0], {3, 1}); }},
      {"expand(x=[3,1] → [2,3,4])", {{3, 1}}, Domain::Any, [](V x) { return expand(x[0], {2, 3, 4}); }},
      // softmax family and normalization
      {"softmax(x=[3,5], axis=-1)", {{3, 5}}, Domain::Any, [](V x) { return softmax(x[0] * 3.0); }},
      {"softmax(x=[3,5], axis=0)", {{3, 5}}, Domain::Any, [](V x) { return softmax(x[0], 0); }},
      {"softmax(x=[2,3,4], axis=1)", {{2, 3, 4}}, Domain::Any, [](V x) { return softmax(x[0], 1); }},
      {"log_softmax(x=[3,5], axis=-1)", {{3, 5}}, Domain::Any, [](V x) { return log_softmax(x[0] * 3.0); }},
      {"log_softmax(x=[2,3,4], axis=1)", {{2, 3, 4}}, Domain::Any, [](V x) { return log_softmax(x[0], 1); }},
      {"log_softmax(x=[4,1])", {{4, 1}}, Domain::Any, [](V x) { return log_softmax(x[0]); }},
      {"l2_normalize(x=[4,5])", {{4, 5}}, Domain::Any, [](V x) { return l2_normalize(x[0]); }},
      {"l2_normalize(x=[1,3])", {{1, 3}}, Domain::Any, [](V x) { return l2_normalize(x[0]); }},
      // indexing: the target logit, repeated indices (gradients add up)
      {"gather(x=[4,5], axis=1, index=[4,1])", {{4, 5}}, Domain::Any,
       [](V x) { return gather(x[0], 1, labels({2, 0, 4, 2}, x[0].device()).reshape({4, 1})); }},
      {"gather(x=[4,5], axis=0, index=[2,5]) repeats", {{4, 5}}, Domain::Any,
       [](V x) { return gather(x[0], 0, Tensor::from_indices({1, 1, 3, 0, 1, 1, 1, 3, 0, 2}, {2, 5}, x[0].device())); }},
      {"scatter(x=[3,4], axis=1, index=[3,1], src=[3,1])", {{3, 4}, {3, 1}}, Domain::Any,
       [](V x) { return scatter(x[0], 1, labels({3, 0, 1}, x[0].device()).reshape({3, 1}), x[1] * 2.0); }},
      {"scatter(x=[4,3], axis=0, index=[2,3], src=[2,3])", {{4, 3}, {2, 3}}, Domain::Any,
       [](V x) { return scatter(x[0], 0, Tensor::from_indices({0, 3, 1, 2, 1, 3}, {2, 3}, x[0].device()), x[1]); }},
      {"one_hot mask: x=[3,4] ⊙ one_hot([1,-1,3])", {{3, 4}}, Domain::Any,
       [](V x) { return x[0] * one_hot(labels({1, -1, 3}, x[0].device()), 4, x[0].dtype()); }},
      // views and layout
      {"reshape(x=[3,4] → [2,6])", {{3, 4}}, Domain::Any, [](V x) { return x[0].reshape({2, -1}) * 2.0; }},
      {"transpose(x=[2,3,4], 0, 2)", {{2, 3, 4}}, Domain::Any, [](V x) { return x[0].transpose(0, 2).contiguous(); }},
      {"slice(x=[5,3], 0, 1..4)", {{5, 3}}, Domain::Any, [](V x) { return x[0].slice(0, 1, 4); }},
      {"slice(x=[3,5], 1, 2..5) then exp", {{3, 5}}, Domain::Any, [](V x) { return exp(x[0].slice(1, 2, 5)); }},
      {"concat(a=[2,3], b=[4,3], axis=0)", {{2, 3}, {4, 3}}, Domain::Any, [](V x) { return concat({x[0], x[1]}, 0); }},
      {"concat(a=[2,3], b=[2,1], axis=1)", {{2, 3}, {2, 1}}, Domain::Any, [](V x) { return concat({x[0], x[1]}, 1); }},
      // convolution (bias, stride, padding, dilation, groups), pooling
      {"conv2d(x=[2,3,5,5], w=[4,3,3,3], b=[4], pad 1)", {{2, 3, 5, 5}, {4, 3, 3, 3}, {4}}, Domain::Any,
       [](V x) { return conv2d(x[0], x[1], x[2], Conv2dParams{.pad_h = 1, .pad_w = 1}); }},
      {"conv2d(x=[2,1,6,5], w=[3,1,3,3], b=[3], pad 1) one input channel", {{2, 1, 6, 5}, {3, 1, 3, 3}, {3}}, Domain::Any,
       [](V x) { return conv2d(x[0], x[1], x[2], Conv2dParams{.pad_h = 1, .pad_w = 1}); }},
      {"conv2d(x=[1,4,6,6], w=[4,2,3,3], stride 2, pad 1, groups 2)", {{1, 4, 6, 6}, {4, 2, 3, 3}}, Domain::Any,
       [](V x) { return conv2d(x[0], x[1], Tensor(), Conv2dParams{.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 2}); }},
      {"conv2d(x=[1,3,7,7], w=[3,1,3,3], dilation 2, pad 2, depthwise)", {{1, 3, 7, 7}, {3, 1, 3, 3}}, Domain::Any,
       [](V x) { return conv2d(x[0], x[1], Tensor(), Conv2dParams{.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2, .groups = 3}); }},
      {"max_pool2d(x=[2,2,5,5], k 3, stride 2, pad 1)", {{2, 2, 5, 5}}, Domain::Any,
       [](V x) { return max_pool2d(x[0], Pool2dParams{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}); }},
      {"avg_pool2d(x=[2,2,5,5], k 3, stride 2, pad 1, exclude pad)", {{2, 2, 5, 5}}, Domain::Any,
       [](V x) { return avg_pool2d(x[0], Pool2dParams{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .count_include_pad = false}); }},
      {"avg_pool2d(x=[1,2,4,4], k 2, stride 1)", {{1, 2, 4, 4}}, Domain::Any,
       [](V x) { return avg_pool2d(x[0], Pool2dParams{.kernel_h = 2, .kernel_w = 2}); }},
      // batch norm (training statistics) and PReLU (per channel and shared)
      {"batch_norm(x=[4,3,2,2], w=[3], b=[3]) train", {{4, 3, 2, 2}, {3}, {3}}, Domain::Any,
       [](V x) { return batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true); }},
      {"batch_norm(x=[5,3]) train, no affine", {{5, 3}}, Domain::Any,
       [](V x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }},
      {"prelu(x=[2,3,4], a=[3])", {{2, 3, 4}, {3}}, Domain::AwayFromZero, [](V x) { return prelu(x[0], x[1]); }},
      {"prelu(x=[2,3,4], a=[1]) shared", {{2, 3, 4}, {1}}, Domain::AwayFromZero, [](V x) { return prelu(x[0], x[1]); }},
      // batch norm with the PReLU that follows it, as one op (training; eval, a shared slope)
      {"batch_norm_prelu(x=[4,3,2,2], w=[3], b=[3], a=[3]) train", {{4, 3, 2, 2}, {3}, {3}, {3}}, Domain::Any,
       [](V x) { return batch_norm_prelu(x[0], x[1], x[2], Tensor(), Tensor(), x[3], true); }},
      {"batch_norm_prelu(x=[5,3,4], w=[3], b=[3], a=[1]) eval", {{5, 3, 4}, {3}, {3}, {1}}, Domain::Any, [](V x) {
         const Tensor mean = Tensor::from_vector({0.2, -0.3, 0.1}, {3}, x[0].dtype(), x[0].device());
         const Tensor var = Tensor::from_vector({0.5, 1.5, 0.8}, {3}, x[0].dtype(), x[0].device());
         return batch_norm_prelu(x[0], x[1], x[2], mean, var, x[3], false);
       }},
      // batch norm plus a residual, as one op
      {"batch_norm_add(x=[3,2,2,3], w=[2], b=[2], r=[3,2,2,3]) train", {{3, 2, 2, 3}, {2}, {2}, {3, 2, 2, 3}},
       Domain::Any, [](V x) { return batch_norm_add(x[0], x[1], x[2], Tensor(), Tensor(), x[3], true); }},
      // the fused margin head (unit rows; one ignored label)
      {"margin_head(x=[4,5], w=[6,5], target=[4], s=4)", {{4, 5}, {6, 5}, {4}}, Domain::Any,
       [](V x) { return margin_head(l2_normalize(x[0]), l2_normalize(x[1]), labels({2, -1, 5, 0}, x[0].device()), x[2], 4.0); }},
      {"margin_head(x=[4,5], w=[6,5], s=4, CosFace m=0.35 inside)", {{4, 5}, {6, 5}}, Domain::Any,
       [](V x) { return margin_head(l2_normalize(x[0]), l2_normalize(x[1]), labels({2, -1, 5, 0}, x[0].device()), Tensor(), 4.0, 0.35); }},
      // Partial FC's two-kernel head in one process (world() of a test run): the same loss as
      // margin_head. (A label −1 here means "on another rank", whose rows keep a gradient, so
      // these rows all have their class here.)
      {"partial_margin_head(x=[4,5], w=[6,5], target=[4], s=4)", {{4, 5}, {6, 5}, {4}}, Domain::Any,
       [](V x) { return partial_margin_head(l2_normalize(x[0]), l2_normalize(x[1]), labels({2, 3, 5, 0}, x[0].device()), x[2], 4.0, 0, world()); }},
      {"partial_margin_head(x=[4,5], w=[6,5], s=4, CosFace m=0.35 inside)", {{4, 5}, {6, 5}}, Domain::Any,
       [](V x) { return partial_margin_head(l2_normalize(x[0]), l2_normalize(x[1]), labels({2, 3, 5, 0}, x[0].device()), Tensor(), 4.0, 0.35, world()); }},
      // shared subexpressions: x used three times
      {"x·x + sin-free x (shared node)", {{3, 3}}, Domain::Any,
       [](V x) { Tensor y = exp(x[0]); return y * y + y; }},
  };
}

}  // namespace margin::testing
