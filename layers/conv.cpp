// layers/conv.cpp — the Conv2d layer over the conv2d op.
#include "layers/conv.h"

#include <string>

#include "core/ops.h"
#include "layers/init.h"

namespace margin {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, KernelSize kernel, Generator& gen,
               Conv2dOptions options)
    : params_{options.stride,   options.stride,   options.padding, options.padding,
              options.dilation, options.dilation, options.groups} {
  if (in_channels <= 0 || out_channels <= 0 || kernel.height <= 0 || kernel.width <= 0 || options.groups <= 0)
    fail("Conv2d: sizes must be positive, got in=", in_channels, " out=", out_channels,
         " kernel=", kernel.height, "x", kernel.width, " groups=", options.groups);
  if (in_channels % options.groups != 0 || out_channels % options.groups != 0)
    fail("Conv2d: groups = ", options.groups, " must divide in_channels (", in_channels,
         ") and out_channels (", out_channels, ")");
  Shape shape{out_channels, in_channels / options.groups, kernel.height, kernel.width};
  weight = register_parameter(
      "weight", init::default_weight(shape, gen, options.dtype).to(default_device()));
  if (options.bias) {
    int64_t fan_in = init::fans(shape).first;
    bias = register_parameter(
        "bias", init::default_bias(out_channels, fan_in, gen, options.dtype).to(default_device()));
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  int64_t in_channels = weight.size(1) * params_.groups;
  if (x.ndim() != 4 || x.size(1) != in_channels) {
    std::string kernel = std::to_string(weight.size(2));
    if (weight.size(3) != weight.size(2)) kernel.append("x").append(std::to_string(weight.size(3)));
    fail("Conv2d(", in_channels, "→", weight.size(0), ", kernel ", kernel,
         ", groups ", params_.groups, "): expected input [N, ", in_channels,
         ", H, W], got ", x.describe());
  }
  return conv2d(x, weight, bias, params_);
}

// ONNX Conv: weight [C_out, C_in/groups, R, S] is ONNX's layout; pads are [top, left, bottom,
// right], zeros on each side as here.
std::string Conv2d::to_graph(GraphWriter& graph, const std::string& input) const {
  std::vector<std::string> inputs{input, graph.weight("weight", weight)};
  if (bias.defined()) inputs.push_back(graph.weight("bias", bias));
  const Conv2dParams& p = params_;
  return graph.node("Conv", inputs,
                    {{"kernel_shape", std::vector<int64_t>{weight.size(2), weight.size(3)}},
                     {"strides", std::vector<int64_t>{p.stride_h, p.stride_w}},
                     {"pads", std::vector<int64_t>{p.pad_h, p.pad_w, p.pad_h, p.pad_w}},
                     {"dilations", std::vector<int64_t>{p.dilation_h, p.dilation_w}},
                     {"group", p.groups}});
}

// Each output element is a dot product of C_in/groups·R·S terms (plus its bias).
int64_t Conv2d::flops(const Shape&, const Shape& output) const {
  int64_t per_output = 2 * weight.size(1) * weight.size(2) * weight.size(3);
  return shape_numel(output) * (per_output + (bias.defined() ? 1 : 0));
}

}  // namespace margin
