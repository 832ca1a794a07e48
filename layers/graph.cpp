// layers/graph.cpp — GraphWriter's path of layer names, which names weights and errors.
#include "layers/graph.h"

#include "layers/module.h"

namespace margin {

std::string GraphWriter::child(const std::string& name, const Layer& layer, const std::string& input) {
  path_.push_back(name);
  std::string output = layer.to_graph(*this, input);  // on an error, path_ keeps the failing layer
  path_.pop_back();
  return output;
}

std::string GraphWriter::path() const {
  std::string path;
  for (const std::string& name : path_) {
    if (!path.empty()) path += '.';
    path += name;
  }
  return path;
}

}  // namespace margin
