// layers/graph.h — GraphWriter: what a layer writes its eval-mode form into, one ONNX node at a
// time (Layer::to_graph, beside each forward). The interface knows ONNX's operator names and
// attributes but not its file format: train/onnx.cpp implements it over ONNX's protobuf
// classes, and margin builds without ONNX.
//
// Values are named strings: the graph input, a node's output, a weight. A layer's to_graph
// takes the name of its input and returns the name of its output; a layer that is the
// identity in eval mode (Dropout) returns its input.
//
// Names: weights get the dotted path of the parameter ("layer1.0.conv1.weight", as
// named_parameters() says it), from the path of the layer being written — containers write
// their children through child(), which puts the child's name on the path. When a layer
// fails, path() still names it: the exporter adds it to the error.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace margin {

class Layer;

// One ONNX node attribute: an integer, a list of integers or a float.
struct Attribute {
  std::string name;
  std::variant<int64_t, std::vector<int64_t>, float> value;
};
using Attributes = std::vector<Attribute>;

class GraphWriter {
 public:
  virtual ~GraphWriter() = default;
  // Appends a node `op_type` (an ONNX operator of the exporter's opset) reading `inputs`, and
  // returns the name of its one output, fresh.
  virtual std::string node(const std::string& op_type, const std::vector<std::string>& inputs,
                           const Attributes& attributes = {}) = 0;
  // Adds `value` as a float32 initializer named path() + "." + name, and returns that name.
  virtual std::string weight(const std::string& name, const Tensor& value) = 0;
  // Adds `values` as a 1-D int64 initializer (what an op takes as an input: Pad's pads), named
  // as a weight is, and returns that name.
  virtual std::string constant(const std::string& name, const std::vector<int64_t>& values) = 0;

  // Writes `layer` (the child `name` of the layer being written) reading `input`; returns its
  // output. On an error the path stays at the failing layer.
  std::string child(const std::string& name, const Layer& layer, const std::string& input);
  // The dotted path of the layer being written ("" at the top).
  std::string path() const;

 private:
  std::vector<std::string> path_;
};

}  // namespace margin
