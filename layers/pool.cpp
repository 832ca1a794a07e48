// layers/pool.cpp — the pooling layers over the pooling ops, and Flatten.
#include "layers/pool.h"

#include "core/ops.h"

namespace margin {

namespace {
Pool2dParams square_window(const char* layer, int64_t kernel, int64_t stride, int64_t padding,
                           bool count_include_pad) {
  if (kernel <= 0 || stride < 0 || padding < 0)
    fail(layer, ": expected kernel > 0, stride ≥ 0 (0: = kernel), padding ≥ 0, got kernel=",
         kernel, " stride=", stride, " padding=", padding);
  if (stride == 0) stride = kernel;
  return {kernel, kernel, stride, stride, padding, padding, count_include_pad};
}
}  // namespace

MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride, int64_t padding)
    : params_(square_window("MaxPool2d", kernel, stride, padding, true)) {}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, params_); }
// One comparison per window element.
int64_t MaxPool2d::flops(const Shape&, const Shape& output) const {
  return shape_numel(output) * params_.kernel_h * params_.kernel_w;
}

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding, bool count_include_pad)
    : params_(square_window("AvgPool2d", kernel, stride, padding, count_include_pad)) {}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, params_); }
int64_t AvgPool2d::flops(const Shape&, const Shape& output) const {
  return shape_numel(output) * params_.kernel_h * params_.kernel_w;
}

Tensor GlobalAvgPool::forward(const Tensor& x) { return global_avg_pool(x); }
int64_t GlobalAvgPool::flops(const Shape& input, const Shape&) const { return shape_numel(input); }

Tensor Flatten::forward(const Tensor& x) {
  if (x.ndim() < 1) fail("Flatten: expected at least [N], got ", x.describe());
  return x.reshape({x.size(0), -1});
}

}  // namespace margin
