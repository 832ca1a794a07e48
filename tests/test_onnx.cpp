// tests/test_onnx.cpp — export_onnx (train/onnx.h) for every face backbone: the file passes
// ONNX's checker and its shape inference finds embeddings [N, emb_dim]; every weight is named
// by its parameter's dotted path; and OpenCV's DNN module, reading the file, embeds real LFW
// faces (prepared by margin's own loader and face_input) as margin's eval-mode forward does,
// at batch 1 and 8, within a normalized error of 1e-4. The weights are random, and so are the
// batch-norm statistics and the PReLU slopes, so a wrong slope layout or running statistic
// shows. The layers no backbone uses (ReLU, Tanh, average pools, dilation, a shared PReLU
// slope, GlobalAvgPool, Dropout) are compared the same way in one small network. A layer
// without an ONNX form is refused, named by its path; a file that cannot be written is named
// and nothing is left behind. Loaded back (train/onnx_model.h), the file gives the export's
// config and, through embed_images, margin's embeddings; the real embed tool gives the same
// embeddings for the .onnx file as for the model folder; a file that is not ONNX, a metadata
// key missing or malformed, and an input of the wrong shape are errors naming the file, the
// key or the shapes.
#include <doctest/doctest.h>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#ifdef MARGIN_OPENCV_DNN
#include <opencv2/dnn.hpp>
#endif

#include "core/autograd.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "layers/activation.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"
#include "train/checkpoint.h"
#include "train/face_eval.h"
#include "train/onnx.h"
#include "train/onnx_model.h"
#include "gradcheck.h"
#include "skip.h"

namespace margin {
namespace {

using testing::TempDir;
using testing::error_of;

// The five backbones at small input sizes (odd sides where a stride or a pool floors), on
// RGB faces cropped to LFW's central 120x120, except the small CNN, which takes grey ones.
FaceModelConfig config_of(const std::string& arch) {
  FaceModelConfig config;
  config.arch = arch;
  config.classes = 10;
  config.crop_height = config.crop_width = 120;
  config.channels = 3;
  config.emb_dim = 32;
  config.threshold = 0.25;
  config.threshold_flip = 0.3;
  if (arch == "small") {
    config.channels = 1;
    config.height = 30, config.width = 26;
    config.widths = {8, 16};
    config.emb_dim = 16;
  } else if (arch == "sphere20") {
    config.height = 30, config.width = 26;
  } else {
    config.height = config.width = 32;
    if (arch == "mbf128") config.emb_dim = 128;
  }
  return config;
}

// Every BatchNorm's weight, bias and running statistics and every PReLU's slopes drawn at
// random (the defaults 1, 0, 0, 1 and 0.25 would hide a folding or layout error).
void randomize_statistics(const Module& module, Generator& gen) {
  auto draw = [&](const Tensor& t, double low, double high) {
    std::vector<double> values(t.numel());
    for (double& v : values) v = gen.uniform(low, high);
    testing::assign(t, values);
  };
  if (auto* bn = dynamic_cast<const BatchNorm*>(&module)) {
    if (bn->weight.defined()) draw(bn->weight, 0.5, 1.5);
    if (bn->bias.defined()) draw(bn->bias, -0.2, 0.2);
    draw(bn->running_mean, -0.2, 0.2);
    draw(bn->running_var, 0.5, 2.0);
  }
  if (auto* prelu = dynamic_cast<const PReLU*>(&module)) draw(prelu->weight, 0.05, 0.5);
  for (const auto& [name, child] : module.children()) randomize_statistics(*child, gen);
}

FaceModel random_model(const std::string& arch) {
  FaceModel model = build_face_model(config_of(arch), 7);
  Generator gen(11);
  randomize_statistics(*model.backbone, gen);
  model.backbone->eval();
  return model;
}

onnx::ModelProto read_model(const std::string& path) {
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing ", path);
  REQUIRE(model.ParseFromIstream(&in));
  return model;
}

std::string dims_text(const onnx::ValueInfoProto& value) {
  std::string text;
  for (const auto& dim : value.type().tensor_type().shape().dim()) {
    if (!text.empty()) text += ",";
    text += dim.has_dim_value() ? std::to_string(dim.dim_value()) : dim.dim_param();
  }
  return text;
}

void check_exported(const std::string& arch) {
  TempDir dir("onnx_check_" + arch);
  FaceModel model = random_model(arch);
  const FaceModelConfig& config = model.config;
  const std::string path = dir.file(arch + ".onnx");
  export_onnx(model, path);
  onnx::ModelProto proto = read_model(path);
  CHECK(proto.opset_import(0).version() == 11);
  CHECK_NOTHROW(onnx::checker::check_model(proto));
  onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), onnx::ShapeInferenceOptions(true, 1));
  const onnx::GraphProto& graph = proto.graph();
  REQUIRE(graph.input_size() == 1);
  REQUIRE(graph.output_size() == 1);
  CHECK(graph.input(0).name() == "images");
  CHECK(dims_text(graph.input(0)) ==
        "N," + std::to_string(config.channels) + "," + std::to_string(config.height) + "," + std::to_string(config.width));
  CHECK(graph.output(0).name() == "embeddings");
  CHECK(dims_text(graph.output(0)) == "N," + std::to_string(config.emb_dim));

  std::set<std::string> names;
  for (const Parameter& p : model.backbone->named_parameters()) names.insert(p.name);
  for (const Parameter& p : model.backbone->named_buffers()) names.insert(p.name);
  for (const onnx::TensorProto& weight : graph.initializer()) CHECK_MESSAGE(names.count(weight.name()), weight.name());
  CHECK(graph.initializer_size() == static_cast<int>(names.size()));

  std::map<std::string, std::string> metadata;
  for (const auto& entry : proto.metadata_props()) metadata[entry.key()] = entry.value();
  CHECK(metadata["arch"] == arch);
  CHECK(metadata["input"] == size_text(config.height, config.width));
  CHECK(metadata["crop"] == "120x120");
  CHECK(metadata["channels"] == std::to_string(config.channels));
  CHECK(metadata["normalize"] == "(x / 255 - 0.5) / 0.5");
  CHECK(metadata["emb_dim"] == std::to_string(config.emb_dim));
  CHECK(metadata["loss"] == "lmcl");
  CHECK(metadata["threshold"] == "0.25");
  CHECK(metadata["threshold_flip"] == "0.3");
}

TEST_CASE("export_onnx: small passes ONNX's checker, shape inference gives embeddings [N, emb_dim]") { check_exported("small"); }
TEST_CASE("export_onnx: iresnet18 passes ONNX's checker, shape inference gives embeddings [N, emb_dim]") { check_exported("iresnet18"); }
TEST_CASE("export_onnx: sphere20 passes ONNX's checker, shape inference gives embeddings [N, emb_dim]") { check_exported("sphere20"); }
TEST_CASE("export_onnx: mbf passes ONNX's checker, shape inference gives embeddings [N, emb_dim]") { check_exported("mbf"); }
TEST_CASE("export_onnx: mbf128 passes ONNX's checker, shape inference gives embeddings [N, emb_dim]") { check_exported("mbf128"); }

// ---- OpenCV's DNN module against margin's forward ----

// (The helpers of the cases that need OpenCV are unused without it.)
[[maybe_unused]] std::string lfw_images() {
  const char* shared = std::getenv("MARGIN_SHARED_DATA");
  return std::string(shared ? shared : MARGIN_SOURCE_DIR "/../shared/data") + "/lfw/images";
}

// The first image of each of the first 8 people (sorted): 8 different faces.
[[maybe_unused]] std::vector<std::string> eight_faces(const std::string& images) {
  std::vector<std::string> people;
  for (const auto& entry : std::filesystem::directory_iterator(images))
    if (entry.is_directory()) people.push_back(entry.path().string());
  std::sort(people.begin(), people.end());
  REQUIRE(people.size() >= 8);
  std::vector<std::string> faces;
  for (size_t i = 0; i < 8; ++i) faces.push_back(image_files_under(people[i]).front());
  return faces;
}

// Max |a − b| / max |b| over two [N, d] embeddings, with the worst element in `where`.
[[maybe_unused]] double normalized_error(const Tensor& actual, const Tensor& expected, std::string& where) {
  REQUIRE(actual.shape() == expected.shape());
  const std::vector<double> a = actual.to_vector(), b = expected.to_vector();
  double worst = 0, largest = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    largest = std::max(largest, std::abs(b[i]));
    if (double difference = std::abs(a[i] - b[i]); difference > worst) worst = difference, worst_at = i;
  }
  REQUIRE(largest > 0);
  std::ostringstream text;
  text << "element " << worst_at << ": " << a[worst_at] << " against " << b[worst_at] << " (max |expected| " << largest << ")";
  where = text.str();
  return worst / largest;
}

// `model` exported, read by OpenCV's DNN module and run on 8 LFW faces, at batch 1 and 8.
void check_opencv(const FaceModel& model, const std::string& label) {
#ifndef MARGIN_OPENCV_DNN
  (void)model;
  (void)label;
  return testing::skip("OpenCV's DNN module was not found when margin was configured");
#else
  const std::string images = lfw_images();
  if (!std::filesystem::is_directory(images)) return testing::skip(images + " is absent (the shared data folder)");
  TempDir dir("onnx_opencv_" + label);
  const FaceModelConfig& config = model.config;
  const std::string path = dir.file(label + ".onnx");
  export_onnx(model, path);
  cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);

  // The images as embed prepares them: decoded, cropped and resized by ImageList, then face_input.
  auto faces = std::make_shared<ImageList>(eight_faces(images), config.channels, config.height, config.width,
                                           config.crop_height, config.crop_width);
  DataLoader loader(faces, {.batch_size = 8, .shuffle = false, .workers = 0, .transform = face_input()});
  loader.start_epoch(0);
  std::optional<Batch> batch = loader.next();
  REQUIRE(batch);
  const Tensor all = batch->images.to(kCPU).to(DType::F32);
  REQUIRE(all.size(0) == 8);

  for (int64_t rows : {1, 8}) {
    CAPTURE(rows);
    Tensor input = rows == 8 ? all : all.slice(0, 0, rows);
    NoGradGuard no_grad;
    const Tensor expected = (*model.backbone)(input.to(default_device()));

    std::vector<double> pixels = input.to_vector();
    std::vector<float> floats(pixels.begin(), pixels.end());
    const int sizes[] = {static_cast<int>(rows), static_cast<int>(config.channels), static_cast<int>(config.height),
                         static_cast<int>(config.width)};
    cv::Mat blob(4, sizes, CV_32F, floats.data());
    net.setInput(blob, "images");
    cv::Mat output = net.forward();
    REQUIRE(output.total() == static_cast<size_t>(rows * config.emb_dim));
    REQUIRE(output.size[0] == rows);
    const float* values = output.ptr<float>();
    const Tensor actual = Tensor::from_vector(std::vector<double>(values, values + output.total()),
                                              {rows, config.emb_dim}, DType::F32, kCPU);
    std::string where;
    const double error = normalized_error(actual, expected, where);
    INFO(label, ": OpenCV against margin, normalized error ", error, " at ", where);
    CHECK(error < 1e-4);
  }
#endif
}

TEST_CASE("export_onnx: small in OpenCV's DNN embeds LFW faces as margin does (needs OpenCV's DNN module and the shared data folder)") { check_opencv(random_model("small"), "small"); }
TEST_CASE("export_onnx: iresnet18 in OpenCV's DNN embeds LFW faces as margin does (needs OpenCV's DNN module and the shared data folder)") { check_opencv(random_model("iresnet18"), "iresnet18"); }
TEST_CASE("export_onnx: sphere20 in OpenCV's DNN embeds LFW faces as margin does (needs OpenCV's DNN module and the shared data folder)") { check_opencv(random_model("sphere20"), "sphere20"); }
TEST_CASE("export_onnx: mbf in OpenCV's DNN embeds LFW faces as margin does (needs OpenCV's DNN module and the shared data folder)") { check_opencv(random_model("mbf"), "mbf"); }
TEST_CASE("export_onnx: mbf128 in OpenCV's DNN embeds LFW faces as margin does (needs OpenCV's DNN module and the shared data folder)") { check_opencv(random_model("mbf128"), "mbf128"); }

// The layers no backbone uses, and the forms they take in one: ReLU, Tanh, average pools
// with and without the padding counted, a dilated convolution without bias, a max pool with
// padding, a shared PReLU slope, GlobalAvgPool, Dropout and a Linear with bias, behind the
// small model's grey 30x26 input and its 16-d output.
FaceModel plain_layers_model() {
  FaceModel model = random_model("small");
  Generator& gen = *model.gen;
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Conv2d>(1, 6, 3, gen, Conv2dOptions{.padding = 1}));
  net->add(std::make_shared<ReLU>());
  net->add(std::make_shared<AvgPool2d>(3, 2, 1, /*count_include_pad=*/false));  // 30x26 → 15x13
  net->add(std::make_shared<Conv2d>(6, 8, 3, gen, Conv2dOptions{.padding = 2, .dilation = 2, .bias = false}));
  net->add(std::make_shared<Tanh>());
  net->add(std::make_shared<AvgPool2d>(3, 2, 1));  // → 8x7, the padding counted
  net->add(std::make_shared<MaxPool2d>(3, 1, 1));
  net->add(std::make_shared<BatchNorm2d>(8));
  net->add(std::make_shared<PReLU>(1));
  net->add(std::make_shared<GlobalAvgPool>());
  net->add(std::make_shared<Dropout>(0.5, gen));
  net->add(std::make_shared<Linear>(8, 16, gen));
  net->add(std::make_shared<BatchNorm1d>(16));
  Generator statistics(13);
  randomize_statistics(*net, statistics);
  net->eval();
  model.backbone = net;
  return model;
}

TEST_CASE("export_onnx: ReLU, Tanh, average pools, dilation, a shared PReLU slope, GlobalAvgPool and Dropout in OpenCV's DNN as in margin (needs OpenCV's DNN module and the shared data folder)") {
  check_opencv(plain_layers_model(), "plain_layers");
}

// ---- refusals ----

class Unexportable final : public Layer {
 public:
  std::string type_name() const override { return "Unexportable"; }
  Tensor forward(const Tensor& x) override { return x; }
};

TEST_CASE("export_onnx: a layer without an ONNX form is refused, named by its path and type, and no file is written") {
  TempDir dir("onnx_refused");
  FaceModel model = random_model("small");
  auto tail = std::make_shared<Sequential>();
  tail->add(std::make_shared<ReLU>());
  tail->add(std::make_shared<Unexportable>());
  model.backbone = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{model.backbone, tail});
  const std::string path = dir.file("refused.onnx");
  CHECK(error_of([&] { export_onnx(model, path); }) ==
        "export_onnx: " + path + ": at 1.1: export: layer Unexportable has no ONNX form");
  CHECK(!std::filesystem::exists(path));

  model.backbone = std::make_shared<Unexportable>();  // the backbone itself
  CHECK(error_of([&] { export_onnx(model, path); }) ==
        "export_onnx: " + path + ": at the backbone: export: layer Unexportable has no ONNX form");
  CHECK(!std::filesystem::exists(path));
}

TEST_CASE("export_onnx: a file that cannot be written is named and nothing is left behind") {
  TempDir dir("onnx_unwritable");
  FaceModel model = random_model("small");
  const std::string missing = dir.file("absent/model.onnx");
  std::string error = error_of([&] { export_onnx(model, missing); });
  INFO(error);
  CHECK(error.starts_with("export_onnx: cannot write " + missing + ": "));
  CHECK(!std::filesystem::exists(dir.file("absent")));

  // A folder where the file should go: the temporary file is written, the rename fails.
  std::filesystem::create_directories(dir.file("taken/inside"));
  const std::string taken = dir.file("taken");
  error = error_of([&] { export_onnx(model, taken); });
  INFO(error);
  CHECK(error.starts_with("export_onnx: cannot write " + taken + ": "));
  CHECK(std::filesystem::is_directory(taken));
  CHECK(!std::filesystem::exists(taken + ".tmp"));
}


// ---- the exported file loaded back (train/onnx_model.h) ----

// `count` colour images of random bytes, 128x124 (larger than the 120x120 crop), as PPM files.
[[maybe_unused]] std::vector<std::string> synthetic_images(const TempDir& dir, int count) {
  Generator gen(5);
  std::vector<std::string> paths;
  for (int k = 0; k < count; ++k) {
    std::string bytes = "P6 124 128 255\n";
    for (int i = 0; i < 124 * 128 * 3; ++i) bytes += static_cast<char>(static_cast<int>(gen.uniform(0, 256)) & 255);
    paths.push_back(dir.write("synthetic" + std::to_string(k) + ".ppm", bytes));
  }
  return paths;
}

// The load-back errors as load_onnx_face_model gives them; without OpenCV's DNN module it
// refuses every file at once, so the metadata are read by onnx_face_config alone.
std::string load_error(const std::string& path) {
#ifdef MARGIN_OPENCV_DNN
  return error_of([&] { load_onnx_face_model(path); });
#else
  return error_of([&] { onnx_face_config(path); });
#endif
}

void check_loaded_back(const std::string& arch) {
  TempDir dir("onnx_load_" + arch);
  FaceModel model = random_model(arch);
  const std::string path = dir.file(arch + ".onnx");
  export_onnx(model, path);
  const FaceModelConfig config = onnx_face_config(path);
  CHECK(config.arch == model.config.arch);
  CHECK(config.channels == model.config.channels);
  CHECK(config.height == model.config.height);
  CHECK(config.width == model.config.width);
  CHECK(config.crop_height == model.config.crop_height);
  CHECK(config.crop_width == model.config.crop_width);
  CHECK(config.emb_dim == model.config.emb_dim);
  CHECK(config.loss == model.config.loss);
  CHECK(config.scale == model.config.scale);
  CHECK(config.margin == model.config.margin);
  CHECK(config.threshold == model.config.threshold);
  CHECK(config.threshold_flip == model.config.threshold_flip);
#ifndef MARGIN_OPENCV_DNN
  CHECK(error_of([&] { load_onnx_face_model(path); }).find("built without OpenCV's DNN module") != std::string::npos);
  return testing::skip("OpenCV's DNN module was not found when margin was configured");
#else
  FaceModel loaded = load_onnx_face_model(path);
  CHECK(loaded.backbone->type_name() == "OnnxNetwork");
  CHECK(loaded.backbone->named_parameters().empty());
  CHECK(!loaded.head);

  std::vector<std::string> images = synthetic_images(dir, 3);
  const std::string lfw = lfw_images();
  if (std::filesystem::is_directory(lfw))
    for (const std::string& face : eight_faces(lfw)) images.push_back(face);
  auto dataset = std::make_shared<ImageList>(images, config.channels, config.height, config.width, config.crop_height,
                                             config.crop_width);
  const Embeddings expected = embed_images(*model.backbone, dataset, default_device(), 4);
  const Embeddings actual = embed_images(*loaded.backbone, dataset, default_device(), 4);
  std::string where;
  const double plain = normalized_error(actual.plain, expected.plain, where);
  INFO(arch, " on ", images.size(), " images, plain: normalized error ", plain, " at ", where);
  CHECK(plain < 1e-4);
  const double flip = normalized_error(actual.flip, expected.flip, where);
  INFO(arch, ", flip: normalized error ", flip, " at ", where);
  CHECK(flip < 1e-4);
#endif
}

TEST_CASE("load_onnx_face_model: small exported and loaded back has its config and embeds as margin does (needs OpenCV's DNN module)") { check_loaded_back("small"); }
TEST_CASE("load_onnx_face_model: iresnet18 exported and loaded back has its config and embeds as margin does (needs OpenCV's DNN module)") { check_loaded_back("iresnet18"); }
TEST_CASE("load_onnx_face_model: mbf exported and loaded back has its config and embeds as margin does (needs OpenCV's DNN module)") { check_loaded_back("mbf"); }

TEST_CASE("load_onnx_face_model: a file that is not ONNX or not export_onnx's, and a metadata key missing or malformed, are named") {
  TempDir dir("onnx_load_errors");
  const std::string exported = dir.file("small.onnx");
  export_onnx(random_model("small"), exported);
  const std::string prefix = "load_onnx_face_model: ";

  const std::string garbage = dir.write("garbage.onnx", "this is not an ONNX model\n");
  CHECK(load_error(garbage) == prefix + garbage + ": not an ONNX model (protobuf cannot parse the file: truncated, or not ONNX)");
  std::ifstream in(exported, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = dir.write("truncated.onnx", bytes.substr(0, bytes.size() / 2));
  std::string error = load_error(truncated);
  INFO(error);
  CHECK(error.starts_with(prefix + truncated + ": "));
  const std::string absent = dir.file("absent.onnx");
  CHECK(load_error(absent) == prefix + absent + ": cannot open the file");

  // The exported model with one thing edited, written as `name`.
  auto edited = [&](const std::string& name, const std::function<void(onnx::ModelProto&)>& edit) {
    onnx::ModelProto proto = read_model(exported);
    edit(proto);
    std::string out;
    REQUIRE(proto.SerializeToString(&out));
    return dir.write(name, out);
  };
  const std::string foreign = edited("foreign.onnx", [](onnx::ModelProto& proto) { proto.set_producer_name("pytorch"); });
  CHECK(load_error(foreign).starts_with(prefix + foreign + ": not written by margin's export_onnx (producer 'pytorch')"));

  auto set_metadata = [](onnx::ModelProto& proto, const std::string& key, const std::string* value) {
    auto& props = *proto.mutable_metadata_props();
    for (int i = 0; i < props.size(); ++i)
      if (props.Get(i).key() == key) {
        if (value) {
          props.Mutable(i)->set_value(*value);
        } else {
          props.DeleteSubrange(i, 1);
        }
        return;
      }
    FAIL("no metadata key ", key);
  };
  const std::string missing = edited("missing.onnx", [&](onnx::ModelProto& proto) { set_metadata(proto, "emb_dim", nullptr); });
  CHECK(load_error(missing).starts_with(prefix + missing + ": metadata key 'emb_dim' is missing (export_onnx writes "));
  const std::string word = "sixteen";
  const std::string malformed = edited("malformed.onnx", [&](onnx::ModelProto& proto) { set_metadata(proto, "emb_dim", &word); });
  CHECK(load_error(malformed) == prefix + malformed + ": metadata emb_dim = 'sixteen' is not an integer (expected a positive integer)");
  const std::string size = "30by26";
  const std::string bad_input = edited("input.onnx", [&](onnx::ModelProto& proto) { set_metadata(proto, "input", &size); });
  CHECK(load_error(bad_input).starts_with(prefix + bad_input + ": metadata input: '30by26' is not a size"));
  const std::string other = "32x32";  // the graph takes 30x26
  const std::string disagrees = edited("disagrees.onnx", [&](onnx::ModelProto& proto) { set_metadata(proto, "input", &other); });
  CHECK(load_error(disagrees) == prefix + disagrees + ": the graph's images is [N, 1, 30, 26] but its metadata say [N, 1, 32, 32]");
  const std::string normalize = "x / 255";
  const std::string unnormalized = edited("normalize.onnx", [&](onnx::ModelProto& proto) { set_metadata(proto, "normalize", &normalize); });
  CHECK(load_error(unnormalized).starts_with(prefix + unnormalized + ": metadata normalize = 'x / 255' (expected '(x / 255 - 0.5) / 0.5'"));
}

TEST_CASE("load_onnx_face_model: an input of the wrong shape, training mode and a gradient are refused, naming the file (needs OpenCV's DNN module)") {
#ifndef MARGIN_OPENCV_DNN
  return testing::skip("OpenCV's DNN module was not found when margin was configured");
#else
  TempDir dir("onnx_load_input");
  const std::string path = dir.file("small.onnx");
  export_onnx(random_model("small"), path);
  FaceModel loaded = load_onnx_face_model(path);
  Layer& network = *loaded.backbone;
  Tensor input = Tensor::zeros({2, 1, 30, 26});
  input.requires_grad_();  // gradients are on here: a model without backward must say so
  CHECK(error_of([&] { network(input); }).starts_with("OnnxNetwork: " + path + ": the input requires a gradient"));
  NoGradGuard no_grad;
  CHECK(network(input).shape() == Shape{2, 16});
  CHECK(error_of([&] { network(Tensor::zeros({2, 3, 30, 26})); }) ==
        "OnnxNetwork: " + path + ": input [2, 3, 30, 26] (the model takes [N, 1, 30, 26], N >= 1)");
  CHECK(error_of([&] { network(Tensor::zeros({1, 30, 26})); }) ==
        "OnnxNetwork: " + path + ": input [1, 30, 26] (the model takes [N, 1, 30, 26], N >= 1)");
  network.train();
  CHECK(error_of([&] { network(input); }).starts_with("OnnxNetwork: " + path + ": forward in training mode"));
#endif
}

TEST_CASE("load_face_model_or_onnx: a .onnx file goes to load_onnx_face_model, a folder to load_face_model") {
  TempDir dir("onnx_dispatch");
  const std::string absent = dir.file("absent.onnx");
  CHECK(error_of([&] { load_face_model_or_onnx(absent); }) == "--model " + absent + ": no such file");
  const std::string path = dir.file("small.onnx");
  export_onnx(random_model("small"), path);
  CHECK(error_of([&] { load_face_model_or_onnx(path, "model.bin"); }) ==
        "--weights model.bin with the ONNX model " + path + " (its weights are in the file: leave --weights out)");
  CHECK(error_of([&] { load_face_model_or_onnx(dir.path.string()); }).starts_with("load_model_config: " + dir.path.string() + "/model.txt: no such file"));
#ifdef MARGIN_OPENCV_DNN
  CHECK(load_face_model_or_onnx(path).backbone->type_name() == "OnnxNetwork");
#else
  CHECK(error_of([&] { load_face_model_or_onnx(path); }).find("built without OpenCV's DNN module") != std::string::npos);
#endif
}

// The real embed tool, on the model folder and on its export: the same embeddings.
TEST_CASE("embed: the exported .onnx file and the model folder give the same embeddings (needs OpenCV's DNN module)") {
#ifndef MARGIN_OPENCV_DNN
  return testing::skip("OpenCV's DNN module was not found when margin was configured");
#else
  TempDir dir("onnx_embed_tool");
  FaceModel model = random_model("small");
  std::filesystem::create_directories(dir.file("run"));
  save_model_config(dir.file("run/model.txt"), model.config);
  save_checkpoint(dir.file("run/model.bin"), {{"model", model.backbone.get()}, {"loss", model.head.get()}}, nullptr,
                  TrainingState{.epoch = 1, .step = 1, .values = {}});
  export_onnx(model, dir.file("small.onnx"));
  std::string images;
  for (const std::string& image : synthetic_images(dir, 3)) {
    if (!images.empty()) images += ',';
    images += image;
  }
  auto embed = [&](const std::string& model_path, const std::string& out) {
    std::string command = MARGIN_EMBED_BINARY;
    command += " --model " + model_path + " --images " + images + " --flip --out " + dir.file(out);
    command += " > " + dir.file(out + ".log") + " 2>&1";
    const int status = std::system(command.c_str());
    std::ifstream log(dir.file(out + ".log"));
    const std::string output((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    INFO(command, "\n", output);
    REQUIRE(status == 0);
    CHECK(output.find("embed: 3 images → 16-dimensional flip embeddings") != std::string::npos);
    return load_embeddings(dir.file(out + ".bin"));
  };
  const Tensor from_folder = embed(dir.file("run"), "folder");
  const Tensor from_onnx = embed(dir.file("small.onnx"), "onnx");
  std::string where;
  const double error = normalized_error(from_onnx, from_folder, where);
  INFO("normalized error ", error, " at ", where);
  CHECK(error < 1e-4);
#endif
}

}  // namespace
}  // namespace margin
