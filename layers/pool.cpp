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

namespace {
Attributes pool_attributes(const Pool2dParams& p) {
  return {{"kernel_shape", std::vector<int64_t>{p.kernel_h, p.kernel_w}},
          {"strides", std::vector<int64_t>{p.stride_h, p.stride_w}},
          {"pads", std::vector<int64_t>{p.pad_h, p.pad_w, p.pad_h, p.pad_w}}};
}
}  // namespace

// ONNX MaxPool floors the output size (ceil_mode 0) and never picks padding, as here.
std::string MaxPool2d::to_graph(GraphWriter& graph, const std::string& input) const {
  return graph.node("MaxPool", {input}, pool_attributes(params_));
}

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding, bool count_include_pad)
    : params_(square_window("AvgPool2d", kernel, stride, padding, count_include_pad)) {}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, params_); }
int64_t AvgPool2d::flops(const Shape&, const Shape& output) const {
  return shape_numel(output) * params_.kernel_h * params_.kernel_w;
}

// ONNX AveragePool has count_include_pad, but OpenCV (4.6) honours it only in files PyTorch
// wrote. Padding that counts is written as a Pad of zeros before an unpadded AveragePool
// instead, which every runtime reads alike.
std::string AvgPool2d::to_graph(GraphWriter& graph, const std::string& input) const {
  const Pool2dParams& p = params_;
  if (p.count_include_pad && (p.pad_h > 0 || p.pad_w > 0)) {
    // Pad's pads: the begin of every dim (N, C, H, W), then the end of every dim.
    std::string pads = graph.constant("pads", {0, 0, p.pad_h, p.pad_w, 0, 0, p.pad_h, p.pad_w});
    std::string padded = graph.node("Pad", {input, pads});
    Pool2dParams unpadded = p;
    unpadded.pad_h = unpadded.pad_w = 0;
    return graph.node("AveragePool", {padded}, pool_attributes(unpadded));
  }
  Attributes attributes = pool_attributes(params_);
  attributes.push_back({"count_include_pad", int64_t{params_.count_include_pad ? 1 : 0}});
  return graph.node("AveragePool", {input}, attributes);
}

Tensor GlobalAvgPool::forward(const Tensor& x) { return global_avg_pool(x); }
int64_t GlobalAvgPool::flops(const Shape& input, const Shape&) const { return shape_numel(input); }

// GlobalAveragePool keeps [N, C, 1, 1]; Flatten makes it [N, C].
std::string GlobalAvgPool::to_graph(GraphWriter& graph, const std::string& input) const {
  return graph.node("Flatten", {graph.node("GlobalAveragePool", {input})}, {{"axis", int64_t{1}}});
}

Tensor Flatten::forward(const Tensor& x) {
  if (x.ndim() < 1) fail("Flatten: expected at least [N], got ", x.describe());
  return x.reshape({x.size(0), -1});
}

std::string Flatten::to_graph(GraphWriter& graph, const std::string& input) const {
  return graph.node("Flatten", {input}, {{"axis", int64_t{1}}});
}

}  // namespace margin
