// layers/summary.cpp — the per-layer table of layers/summary.h.
#include "layers/summary.h"

#include <cstdio>
#include <map>

#include "core/autograd.h"

namespace margin {

namespace {

// Every module's dotted name, found by walking the children.
void collect_names(const Module& module, const std::string& prefix,
                   std::map<const Module*, std::string>& names) {
  names[&module] = prefix;
  for (const auto& [name, child] : module.children())
    collect_names(*child, prefix.empty() ? name : prefix + "." + name, names);
}

std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

ModelSummary summarize(Layer& model, const Shape& input) {
  std::map<const Module*, std::string> names;
  collect_names(model, "", names);
  ModelSummary result;
  bool was_training = model.training();
  model.eval();
  set_layer_observer([&](const Layer& layer, const Tensor& x, const Tensor& y) {
    if (!layer.children().empty()) return;
    auto found = names.find(&layer);
    LayerSummary entry{found == names.end() ? "?" : found->second, layer.type_name(), y.shape(),
                       layer.parameter_count(), layer.flops(x.shape(), y.shape())};
    result.parameters += entry.parameters;
    result.flops += entry.flops;
    result.layers.push_back(std::move(entry));
  });
  try {
    NoGradGuard no_grad;
    model(Tensor::zeros(input, model.parameters().empty() ? DType::F32
                                                          : model.parameters()[0].dtype()));
  } catch (...) {
    set_layer_observer({});
    model.train(was_training);
    throw;
  }
  set_layer_observer({});
  model.train(was_training);
  return result;
}

std::string ModelSummary::table() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-32s %-14s %-22s %14s %16s\n", "layer", "type", "output",
                "parameters", "FLOPs");
  out += line;
  for (const LayerSummary& layer : layers) {
    std::snprintf(line, sizeof line, "%-32s %-14s %-22s %14s %16s\n", layer.name.c_str(),
                  layer.type.c_str(), shape_str(layer.output).c_str(),
                  with_thousands(layer.parameters).c_str(), with_thousands(layer.flops).c_str());
    out += line;
  }
  std::snprintf(line, sizeof line, "total: %s parameters, %.3f GFLOPs per forward\n",
                with_thousands(parameters).c_str(), static_cast<double>(flops) * 1e-9);
  out += line;
  return out;
}

}  // namespace margin
