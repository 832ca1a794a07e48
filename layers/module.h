// layers/module.h — Module: named parameters, buffers and children, train/eval mode;
// Layer: a module with one input and one output (and its ONNX form); Sequential: layers in a row.
//
// A module registers each parameter, buffer and child once, in its constructor; names are
// dotted paths ("body.0.conv.weight"), as in PyTorch's state_dict, which is what checkpoints
// store. Registered tensors are shared handles: a derived class keeps its own handle to the
// same tensor, and an in-place load (checkpoints) is seen by both.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "layers/graph.h"

namespace margin {

// A trainable tensor with its dotted name.
struct Parameter {
  std::string name;
  Tensor value;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string type_name() const = 0;  // "Linear", for summaries and errors

  std::vector<Parameter> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::vector<Parameter> named_buffers() const;  // non-trainable state (BN running stats)
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  int64_t parameter_count() const;

  void train(bool on = true);  // this module and every child
  void eval() { train(false); }
  bool training() const { return training_; }
  void zero_grad();

 protected:
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void collect(const std::string& prefix, bool buffers, std::vector<Parameter>& out) const;
  std::vector<Parameter> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// The parameters of several modules, in order: what one optimizer takes for a model and its
// loss head, SGD sgd(parameters_of({model.get(), loss.get()}), …).
std::vector<Tensor> parameters_of(std::initializer_list<const Module*> modules);

class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  // forward, seen by the layer observer when one is set (what summary() uses). Containers
  // call their children through this.
  Tensor operator()(const Tensor& x);
  // Floating-point operations of one forward from `input` to `output` (a multiply-add
  // counts 2); 0 for layers whose cost is negligible beside the convolutions.
  virtual int64_t flops(const Shape& input, const Shape& output) const;
  // The layer's eval-mode forward as ONNX nodes (layers/graph.h): appends them to `graph`,
  // reading the value `input`, and returns the name of the output value. Each layer states it
  // beside its forward; by default a layer has none, an error naming its type.
  virtual std::string to_graph(GraphWriter& graph, const std::string& input) const;
};

// Called after every Layer::operator() on this thread while set; an empty function unsets.
using LayerObserver = std::function<void(const Layer& layer, const Tensor& input,
                                         const Tensor& output)>;
void set_layer_observer(LayerObserver observer);
bool layer_observer_set();  // on this thread

class Sequential final : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers);
  Sequential& add(std::shared_ptr<Layer> layer);  // named by position: "0", "1", …
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;
  std::string to_graph(GraphWriter& graph, const std::string& input) const override;
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace margin
