// train/onnx_model.cpp — load_onnx_face_model and load_face_model_or_onnx (see
// onnx_model.h): the metadata read with ONNX's protobuf classes, the graph run by OpenCV's DNN
// module. Compiled in every build (the tools link it): without ONNX (MARGIN_ONNX) or without
// OpenCV's DNN module (MARGIN_OPENCV_DNN) the part that needs them is an error saying so.
#include "train/onnx_model.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#ifdef MARGIN_ONNX
#include <onnx/onnx_pb.h>
#endif
#ifdef MARGIN_OPENCV_DNN
#include <opencv2/dnn.hpp>
#endif

#include "core/autograd.h"
#include "eval/text_fields.h"

namespace margin {

#ifdef MARGIN_ONNX

namespace {

// The image preparation margin's tools do (face_model.h, face_input); export_onnx writes it.
const std::map<std::string, std::string> kFixedPreparation = {
    {"resize", "bilinear"}, {"normalize", "(x / 255 - 0.5) / 0.5"}, {"layout", "NCHW"}};

// The graph's declared sizes of `value` ("N" for a symbolic one), "[N, 3, 112, 112]".
std::string dims_text(const onnx::ValueInfoProto& value) {
  std::string text = "[";
  for (const onnx::TensorShapeProto_Dimension& dim : value.type().tensor_type().shape().dim()) {
    if (text.size() > 1) text += ", ";
    text += dim.has_dim_value() ? std::to_string(dim.dim_value()) : dim.dim_param();
  }
  return text + "]";
}

// The declared sizes of `value` after the batch must be `expected` where they are fixed.
void check_dims(const std::string& path, const onnx::ValueInfoProto& value, const std::vector<int64_t>& expected,
                const std::string& expected_text) {
  const onnx::TensorShapeProto& shape = value.type().tensor_type().shape();
  bool agrees = shape.dim_size() == static_cast<int>(expected.size()) + 1;
  for (int i = 1; agrees && i < shape.dim_size(); ++i)
    if (shape.dim(i).has_dim_value() && shape.dim(i).dim_value() != expected[i - 1]) agrees = false;
  if (!agrees)
    fail("load_onnx_face_model: ", path, ": the graph's ", value.name(), " is ", dims_text(value), " but its metadata say ",
         expected_text);
}

}  // namespace

FaceModelConfig onnx_face_config(const std::string& path) {
  const std::string where = "load_onnx_face_model: " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(where, ": cannot open the file");
  onnx::ModelProto proto;
  if (!proto.ParseFromIstream(&in))
    fail(where, ": not an ONNX model (protobuf cannot parse the file: truncated, or not ONNX)");
  if (proto.producer_name() != "margin")
    fail(where, ": not written by margin's export_onnx (producer '", proto.producer_name(),
         "'): the tools need its metadata_props, which say how to prepare the images");

  std::map<std::string, std::string> metadata;
  for (const onnx::StringStringEntryProto& entry : proto.metadata_props()) metadata[entry.key()] = entry.value();
  auto text_of = [&](const std::string& key) -> const std::string& {
    auto found = metadata.find(key);
    if (found == metadata.end())
      fail(where, ": metadata key '", key, "' is missing (export_onnx writes arch, channels, crop, input, resize, "
           "normalize, layout, emb_dim, loss, s, m, threshold and threshold_flip)");
    return found->second;
  };
  auto positive_integer_of = [&](const std::string& key) {
    const std::string& text = text_of(key);
    int64_t value = 0;
    if (std::string problem = integer_problem(text, 1, value); !problem.empty())
      fail(where, ": metadata ", key, " = '", text, "' ", problem, " (expected a positive integer)");
    return value;
  };
  auto number_of = [&](const std::string& key) {
    const std::string& text = text_of(key);
    std::istringstream parse(text);
    double value = 0;
    parse >> value;
    if (parse.fail() || !parse.eof() || !std::isfinite(value))
      fail(where, ": metadata ", key, " = '", text, "' is not a finite number");
    return value;
  };
  auto optional_number_of = [&](const std::string& key) -> std::optional<double> {
    if (text_of(key) == "default") return std::nullopt;
    return number_of(key);
  };

  for (const auto& [key, expected] : kFixedPreparation)
    if (text_of(key) != expected)
      fail(where, ": metadata ", key, " = '", text_of(key), "' (expected '", expected,
           "', the only image preparation margin's tools do)");
  FaceModelConfig config;
  config.arch = text_of("arch");
  config.channels = positive_integer_of("channels");
  if (config.channels != 1 && config.channels != 3)
    fail(where, ": metadata channels = '", text_of("channels"), "' (expected 1 or 3)");
  parse_size(text_of("input"), config.height, config.width, where + ": metadata input");
  if (text_of("crop") != "none") parse_size(text_of("crop"), config.crop_height, config.crop_width, where + ": metadata crop");
  config.emb_dim = positive_integer_of("emb_dim");
  config.loss = text_of("loss");
  config.scale = optional_number_of("s");
  config.margin = optional_number_of("m");
  config.threshold = number_of("threshold");
  config.threshold_flip = number_of("threshold_flip");
  config.classes = 0;
  config.widths.clear();

  // The graph must be what the metadata describe: images [N, C, H, W] → embeddings [N, emb_dim].
  const onnx::GraphProto& graph = proto.graph();
  if (graph.input_size() != 1 || graph.input(0).name() != "images" || graph.output_size() != 1 ||
      graph.output(0).name() != "embeddings")
    fail(where, ": the graph's inputs and outputs are not export_onnx's (one input 'images', one output 'embeddings')");
  check_dims(path, graph.input(0), {config.channels, config.height, config.width},
             "[N, " + std::to_string(config.channels) + ", " + std::to_string(config.height) + ", " +
                 std::to_string(config.width) + "]");
  check_dims(path, graph.output(0), {config.emb_dim}, "[N, " + std::to_string(config.emb_dim) + "]");
  return config;
}

#else

[[noreturn]] static void built_without_onnx(const std::string& path) {
  fail("load_onnx_face_model: ", path, ": margin was built without ONNX (MARGIN_ONNX), which reads .onnx models: "
       "install it and OpenCV's DNN module, which runs them (apt-get install libonnx-dev libprotobuf-dev "
       "protobuf-compiler libopencv-dnn-dev), then configure and build margin again");
}

FaceModelConfig onnx_face_config(const std::string& path) { built_without_onnx(path); }

#endif  // MARGIN_ONNX

#ifdef MARGIN_OPENCV_DNN

namespace {

// The exported graph run by OpenCV's DNN module on the CPU; see onnx_model.h.
class OnnxNetwork final : public Layer {
 public:
  OnnxNetwork(const std::string& path, const FaceModelConfig& config)
      : path_(path), channels_(config.channels), height_(config.height), width_(config.width),
        emb_dim_(config.emb_dim) {
    try {
      net_ = cv::dnn::readNetFromONNX(path);
    } catch (const std::exception& e) {
      fail("load_onnx_face_model: ", path, ": OpenCV's DNN module cannot read it: ", e.what());
    }
    if (net_.empty()) fail("load_onnx_face_model: ", path, ": OpenCV's DNN module read no network from it");
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    eval();
  }

  std::string type_name() const override { return "OnnxNetwork"; }

  Tensor forward(const Tensor& x) override {
    if (training())
      fail("OnnxNetwork: ", path_, ": forward in training mode (an exported model runs in eval mode only: call eval())");
    if (x.requires_grad() && grad_enabled())
      fail("OnnxNetwork: ", path_, ": the input requires a gradient (an exported model has no backward: "
           "run it under NoGradGuard, on an input that needs none)");
    const std::string expected = "[N, " + std::to_string(channels_) + ", " + std::to_string(height_) + ", " +
                                 std::to_string(width_) + "]";
    if (x.ndim() != 4 || x.size(0) < 1 || x.size(1) != channels_ || x.size(2) != height_ || x.size(3) != width_)
      fail("OnnxNetwork: ", path_, ": input ", shape_str(x.shape()), " (the model takes ", expected, ", N >= 1)");
    const Tensor input = x.to(kCPU).to(DType::F32).contiguous();
    const int sizes[] = {static_cast<int>(x.size(0)), static_cast<int>(channels_), static_cast<int>(height_),
                         static_cast<int>(width_)};
    cv::Mat blob(4, sizes, CV_32F, input.view().ptr<float>());
    cv::Mat output;
    try {
      net_.setInput(blob, "images");
      output = net_.forward();
    } catch (const std::exception& e) {
      fail("OnnxNetwork: ", path_, ": OpenCV's forward of ", shape_str(x.shape()), " failed: ", e.what());
    }
    const int64_t rows = x.size(0);
    if (output.type() != CV_32F || output.dims < 2 || output.size[0] != rows ||
        output.total() != static_cast<size_t>(rows * emb_dim_))
      fail("OnnxNetwork: ", path_, ": OpenCV gave ", output.total(), " values for ", rows, " images (expected [",
           rows, ", ", emb_dim_, "] float32)");
    Tensor embeddings = Tensor::empty({rows, emb_dim_}, DType::F32, kCPU);
    const cv::Mat values = output.isContinuous() ? output : output.clone();
    std::memcpy(embeddings.view().ptr<float>(), values.ptr<float>(), sizeof(float) * rows * emb_dim_);
    return embeddings.to(x.device());
  }

 private:
  std::string path_;
  int64_t channels_, height_, width_, emb_dim_;
  cv::dnn::Net net_;
};

}  // namespace

FaceModel load_onnx_face_model(const std::string& path) {
  FaceModel model;
  model.config = onnx_face_config(path);
  model.backbone = std::make_shared<OnnxNetwork>(path, model.config);
  return model;
}

#else

FaceModel load_onnx_face_model(const std::string& path) {
#ifdef MARGIN_ONNX
  fail("load_onnx_face_model: ", path, ": margin was built without OpenCV's DNN module, which runs .onnx models: "
       "install it (apt-get install libopencv-dnn-dev), then configure and build margin again");
#else
  built_without_onnx(path);
#endif
}

#endif  // MARGIN_OPENCV_DNN

FaceModel load_face_model_or_onnx(const std::string& path, const std::string& weights) {
  if (path.ends_with(".onnx") && !std::filesystem::exists(path)) fail("--model ", path, ": no such file");
  if (path.ends_with(".onnx") && std::filesystem::is_regular_file(path)) {
    if (!weights.empty())
      fail("--weights ", weights, " with the ONNX model ", path, " (its weights are in the file: leave --weights out)");
    return load_onnx_face_model(path);
  }
  return load_face_model(path, weights);
}

}  // namespace margin
