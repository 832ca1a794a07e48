// train/onnx.cpp — export_onnx (see onnx.h): GraphWriter over ONNX's protobuf classes, the
// face model's metadata, ONNX's checker and shape inference, the atomic write.
#include "train/onnx.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <charconv>
#include <set>

#include "core/atomic_file.h"
#include "core/autograd.h"

namespace margin {

namespace {

constexpr int64_t kOpset = 11;
constexpr int64_t kIrVersion = 6;  // the IR version of ONNX 1.6, which brought opset 11

class OnnxGraph final : public GraphWriter {
 public:
  explicit OnnxGraph(onnx::GraphProto& graph) : graph_(graph) {}

  std::string node(const std::string& op_type, const std::vector<std::string>& inputs,
                   const Attributes& attributes) override {
    std::string output = fresh_name(op_type);
    onnx::NodeProto& node = *graph_.add_node();
    node.set_name(output);
    node.set_op_type(op_type);
    for (const std::string& input : inputs) node.add_input(input);
    node.add_output(output);
    for (const Attribute& attribute : attributes) {
      onnx::AttributeProto& proto = *node.add_attribute();
      proto.set_name(attribute.name);
      if (const int64_t* i = std::get_if<int64_t>(&attribute.value)) {
        proto.set_type(onnx::AttributeProto::INT);
        proto.set_i(*i);
      } else if (const auto* list = std::get_if<std::vector<int64_t>>(&attribute.value)) {
        proto.set_type(onnx::AttributeProto::INTS);
        for (int64_t value : *list) proto.add_ints(value);
      } else {
        proto.set_type(onnx::AttributeProto::FLOAT);
        proto.set_f(std::get<float>(attribute.value));
      }
    }
    return output;
  }

  std::string weight(const std::string& name, const Tensor& value) override {
    onnx::TensorProto& tensor = initializer(name);
    tensor.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t size : value.shape()) tensor.add_dims(size);
    for (double element : value.to_vector()) tensor.add_float_data(static_cast<float>(element));
    return tensor.name();
  }

  std::string constant(const std::string& name, const std::vector<int64_t>& values) override {
    onnx::TensorProto& tensor = initializer(name);
    tensor.set_data_type(onnx::TensorProto::INT64);
    tensor.add_dims(static_cast<int64_t>(values.size()));
    for (int64_t value : values) tensor.add_int64_data(value);
    return tensor.name();
  }

  // Makes `value` (an input or a node's output) appear under `name` as the graph's output.
  void output_as(const std::string& value, const std::string& name) {
    for (onnx::NodeProto& node : *graph_.mutable_node())
      for (std::string& output : *node.mutable_output())
        if (output == value) {
          output = name;
          for (onnx::NodeProto& reader : *graph_.mutable_node())
            for (std::string& input : *reader.mutable_input())
              if (input == value) input = name;
          return;
        }
    node("Identity", {value}, {});
    graph_.mutable_node()->rbegin()->set_output(0, name);
  }

 private:
  // A new initializer named path() + "." + name.
  onnx::TensorProto& initializer(const std::string& name) {
    std::string full = path();
    if (!full.empty()) full += '.';
    full += name;
    if (!names_.insert(full).second) fail("export: initializer ", full, " written twice");
    onnx::TensorProto& tensor = *graph_.add_initializer();
    tensor.set_name(full);
    return tensor;
  }

  // "layer1.0.conv1/Conv", made unique with "_2", "_3", …; a node at the top is named by its op.
  std::string fresh_name(const std::string& op_type) {
    std::string base = path();
    if (!base.empty()) base += '/';
    base += op_type;
    std::string name = base;
    for (int k = 2; !names_.insert(name).second; ++k) name = base + "_" + std::to_string(k);
    return name;
  }

  onnx::GraphProto& graph_;
  std::set<std::string> names_{"images", "embeddings"};
};

void set_tensor_type(onnx::ValueInfoProto& value, const std::string& name, const std::vector<int64_t>& sizes) {
  value.set_name(name);
  onnx::TypeProto_Tensor& type = *value.mutable_type()->mutable_tensor_type();
  type.set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto& shape = *type.mutable_shape();
  shape.add_dim()->set_dim_param("N");
  for (int64_t size : sizes) shape.add_dim()->set_dim_value(size);
}

std::string number_text(double value) {
  char buffer[32];
  char* end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;  // the shortest exact form
  return std::string(buffer, end);
}

// What a user of the file must know: how an image becomes a row of "images" (face_model.h,
// face_input), and how the embeddings are compared (model.txt's thresholds).
std::vector<std::pair<std::string, std::string>> metadata(const FaceModelConfig& config) {
  const bool crop = config.crop_height > 0;
  const std::string color = config.channels == 1 ? "grey" : "RGB";
  std::string preprocess = "decode as ";
  preprocess += color;
  if (config.channels == 1) preprocess += " (from colour: Y = (77 R + 150 G + 29 B) / 256)";
  if (crop) {
    preprocess += ", crop the centre ";
    preprocess += size_text(config.crop_height, config.crop_width);
  }
  preprocess += ", resize to ";
  preprocess += size_text(config.height, config.width);
  preprocess += " (bilinear), x = (byte / 255 - 0.5) / 0.5 in [-1, 1], NCHW float32";
  return {{"arch", config.arch},
          {"channels", std::to_string(config.channels)},
          {"color", color},
          {"crop", crop ? size_text(config.crop_height, config.crop_width) : "none"},
          {"input", size_text(config.height, config.width)},
          {"resize", "bilinear"},
          {"normalize", "(x / 255 - 0.5) / 0.5"},
          {"layout", "NCHW"},
          {"preprocess", preprocess},
          {"emb_dim", std::to_string(config.emb_dim)},
          {"loss", config.loss},
          {"s", config.scale ? number_text(*config.scale) : "default"},
          {"m", config.margin ? number_text(*config.margin) : "default"},
          {"similarity", "cosine"},
          {"threshold", number_text(config.threshold)},
          {"threshold_flip", number_text(config.threshold_flip)},
          {"flip", "threshold_flip applies to flip embeddings e(x) + e(mirror x), mirror = left-right"}};
}

// Shape inference (on a copy, whose output has no shape yet) must find "embeddings" as
// [N, emb_dim].
void check_output_shape(onnx::ModelProto model, int64_t emb_dim) {
  onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                     onnx::ShapeInferenceOptions(/*check_type=*/true, /*error_mode=*/1));
  const onnx::ValueInfoProto& output = model.graph().output(0);
  const onnx::TensorShapeProto& shape = output.type().tensor_type().shape();
  std::string found;
  for (const onnx::TensorShapeProto_Dimension& dim : shape.dim()) {
    if (!found.empty()) found += ", ";
    found += dim.has_dim_value() ? std::to_string(dim.dim_value()) : dim.dim_param();
  }
  if (shape.dim_size() != 2 || shape.dim(0).dim_param() != "N" || shape.dim(1).dim_value() != emb_dim)
    fail("shape inference gives embeddings [", found, "] (expected [N, ", emb_dim, "])");
}

}  // namespace

void export_onnx(const FaceModel& model, const std::string& path) {
  const FaceModelConfig& config = model.config;
  if (!model.backbone) fail("export_onnx: ", path, ": the model has no backbone");
  NoGradGuard no_grad;
  onnx::ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name("margin");
  proto.set_doc_string("margin face model: images [N, C, H, W] -> embeddings [N, emb_dim]; "
                       "metadata_props say how to prepare the images");
  onnx::OperatorSetIdProto& opset = *proto.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOpset);
  for (const auto& [key, value] : metadata(config)) {
    onnx::StringStringEntryProto& entry = *proto.add_metadata_props();
    entry.set_key(key);
    entry.set_value(value);
  }
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name(config.arch);
  set_tensor_type(*graph.add_input(), "images", {config.channels, config.height, config.width});

  OnnxGraph writer(graph);
  try {
    writer.output_as(model.backbone->to_graph(writer, "images"), "embeddings");
  } catch (const Error& e) {
    std::string where = writer.path();
    fail("export_onnx: ", path, ": at ", where.empty() ? "the backbone" : where, ": ", e.what());
  }
  // The output's shape as shape inference finds it must be the one declared.
  onnx::ValueInfoProto& output = *graph.add_output();
  output.set_name("embeddings");
  output.mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  try {
    check_output_shape(proto, config.emb_dim);
    set_tensor_type(output, "embeddings", {config.emb_dim});
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    fail("export_onnx: ", path, ": the exported graph fails ONNX's checks: ", e.what());
  }

  std::string bytes;
  if (!proto.SerializeToString(&bytes)) fail("export_onnx: ", path, ": protobuf cannot serialize the model");
  try {
    write_file_atomically(path, bytes);
  } catch (const Error& e) {
    fail("export_onnx: cannot write ", path, ": ", e.what());
  }
}

}  // namespace margin
