// layers/module.cpp — walking the module tree for names, counts, modes and gradients.
#include "layers/module.h"

#include "core/profiler.h"

namespace margin {

void Module::collect(const std::string& prefix, bool buffers, std::vector<Parameter>& out) const {
  for (const Parameter& p : buffers ? buffers_ : params_) out.push_back({prefix + p.name, p.value});
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

std::vector<Parameter> Module::named_parameters() const {
  std::vector<Parameter> out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (const Parameter& p : named_parameters()) out.push_back(p.value);
  return out;
}

std::vector<Tensor> parameters_of(std::initializer_list<const Module*> modules) {
  std::vector<Tensor> out;
  for (const Module* module : modules)
    for (const Tensor& p : module->parameters()) out.push_back(p);
  return out;
}

std::vector<Parameter> Module::named_buffers() const {
  std::vector<Parameter> out;
  collect("", true, out);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t count = 0;
  for (const Parameter& p : named_parameters()) count += p.value.numel();
  return count;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (Parameter& p : named_parameters()) p.value.zero_grad();
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  value.requires_grad_(true);
  params_.push_back({name, value});
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  buffers_.push_back({name, value});
  return value;
}

namespace {
thread_local LayerObserver layer_observer;
}

void set_layer_observer(LayerObserver observer) { layer_observer = std::move(observer); }
bool layer_observer_set() { return static_cast<bool>(layer_observer); }

Tensor Layer::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (layer_observer) layer_observer(*this, x, y);
  return y;
}

int64_t Layer::flops(const Shape&, const Shape&) const { return 0; }

std::string Layer::to_graph(GraphWriter&, const std::string&) const {
  fail("export: layer ", type_name(), " has no ONNX form");
}

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers) {
  for (auto& layer : layers) add(std::move(layer));
}

Sequential& Sequential::add(std::shared_ptr<Layer> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor out = x;
  for (auto& layer : layers_) {
    ProfileScope scope("forward", layer->type_name());
    out = (*layer)(out);
  }
  return out;
}

std::string Sequential::to_graph(GraphWriter& graph, const std::string& input) const {
  std::string out = input;
  for (size_t i = 0; i < layers_.size(); ++i) out = graph.child(std::to_string(i), *layers_[i], out);
  return out;
}

}  // namespace margin
