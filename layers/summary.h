// layers/summary.h — a model's table: each leaf layer's output shape, parameter count and
// forward FLOPs (Layer::flops) in the order they run, and the totals.
//
//   std::cout << summary(*iresnet18(gen), {1, 3, 112, 112});
//
// It runs one forward of a zero batch of the given shape in eval mode without gradients
// (the model's mode is restored), watching every Layer call (set_layer_observer). Leaf
// layers (no children) are listed, so the parameter total equals parameter_count(); layers
// called without the call operator, or ops applied between layers (residual additions),
// are not listed, and their FLOPs are not counted.
#pragma once
#include <string>
#include <vector>

#include "layers/module.h"

namespace margin {

struct LayerSummary {
  std::string name;  // dotted path, as in named_parameters ("layer1.0.conv1")
  std::string type;
  Shape output;
  int64_t parameters = 0;
  int64_t flops = 0;
};

struct ModelSummary {
  std::vector<LayerSummary> layers;
  int64_t parameters = 0;
  int64_t flops = 0;
  std::string table() const;  // one line per layer, then the totals
};

ModelSummary summarize(Layer& model, const Shape& input);
inline std::string summary(Layer& model, const Shape& input) {
  return summarize(model, input).table();
}

}  // namespace margin
