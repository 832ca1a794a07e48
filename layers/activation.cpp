// layers/activation.cpp — PReLU and Dropout layers: their checks; the math is in
// core/ops/norm.cpp.
#include "layers/activation.h"

#include "core/ops.h"

namespace margin {

PReLU::PReLU(int64_t channels, double init, DType dtype) {
  if (channels <= 0) fail("PReLU: channels must be positive, got ", channels);
  weight = register_parameter("weight", Tensor::full({channels}, init, dtype, default_device()));
}

Tensor PReLU::forward(const Tensor& x) {
  int64_t channels = weight.numel();
  if (!x.defined()) fail("PReLU(", channels, "): input is an undefined tensor");
  if (x.ndim() < 2 || (channels != 1 && x.size(1) != channels))
    fail("PReLU(", channels, "): expected input [N, ", channels, ", ...] (channels at dim 1), got ",
         x.describe());
  return prelu(x, weight);
}

// ONNX PRelu broadcasts the slope from the right: one slope per channel of [N, C, H, W] is
// [C, 1, 1] (margin's backbones use PReLU on images only); a shared slope is [1].
std::string PReLU::to_graph(GraphWriter& graph, const std::string& input) const {
  int64_t channels = weight.numel();
  Shape shape = channels == 1 ? Shape{1} : Shape{channels, 1, 1};
  return graph.node("PRelu", {input, graph.weight("weight", weight.reshape(shape))});
}

Dropout::Dropout(double p, Generator& gen) : p_(p), gen_(gen) {
  if (!(p >= 0 && p <= 1)) fail("Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, training(), gen_); }
// Eval mode: y = x, no node.
std::string Dropout::to_graph(GraphWriter&, const std::string& input) const { return input; }

}  // namespace margin
