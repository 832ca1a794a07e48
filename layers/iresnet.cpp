// layers/iresnet.cpp — insightface's IR-ResNet (see layers/backbones.h for the design).
// Module names follow arcface_torch's state_dict (conv1, bn1, prelu, layer1.0.bn1, …,
// layer1.0.downsample.0, bn2, fc, features), so its weights map one to one.
#include <map>

#include "core/ops.h"
#include "layers/activation.h"
#include "layers/backbones.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"

namespace margin {

namespace {

// arcface_torch builds every BatchNorm with eps = 1e-5 and momentum 0.1 (PyTorch's defaults).
BatchNormOptions batch_norm_options() { return {}; }

// A 3x3 convolution with padding 1 and no bias (a BatchNorm follows, which has its own).
std::shared_ptr<Conv2d> conv3x3(int64_t in, int64_t out, int64_t stride, Generator& gen) {
  return std::make_shared<Conv2d>(in, out, 3, gen, Conv2dOptions{.stride = stride, .padding = 1, .bias = false});
}

// BN → conv3x3 → BN → PReLU → conv3x3(stride) → BN, plus the shortcut.
class IBasicBlock final : public Layer {
 public:
  IBasicBlock(int64_t in, int64_t planes, int64_t stride, Generator& gen) {
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(in, batch_norm_options()));
    conv1 = register_module("conv1", conv3x3(in, planes, 1, gen));
    bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes, batch_norm_options()));
    prelu = register_module("prelu", std::make_shared<PReLU>(planes));
    conv2 = register_module("conv2", conv3x3(planes, planes, stride, gen));
    bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(planes, batch_norm_options()));
    if (stride != 1 || in != planes) {
      auto shortcut = std::make_shared<Sequential>();
      shortcut->add(std::make_shared<Conv2d>(in, planes, 1, gen,
                                             Conv2dOptions{.stride = stride, .bias = false}));
      shortcut->add(std::make_shared<BatchNorm2d>(planes, batch_norm_options()));
      downsample = register_module("downsample", shortcut);
    }
  }
  std::string type_name() const override { return "IBasicBlock"; }
  Tensor forward(const Tensor& x) override {
    Tensor out = (*conv2)(bn2->forward_prelu((*conv1)((*bn1)(x)), *prelu));
    return bn3->forward_add(out, downsample ? (*downsample)(x) : x);
  }
  std::string to_graph(GraphWriter& graph, const std::string& x) const override {
    std::string out = graph.child("conv1", *conv1, graph.child("bn1", *bn1, x));
    out = graph.child("prelu", *prelu, graph.child("bn2", *bn2, out));
    out = graph.child("bn3", *bn3, graph.child("conv2", *conv2, out));
    return graph.node("Add", {out, downsample ? graph.child("downsample", *downsample, x) : x});
  }

 private:
  std::shared_ptr<Layer> bn1, conv1, conv2, downsample;
  std::shared_ptr<BatchNorm2d> bn2, bn3;
  std::shared_ptr<PReLU> prelu;
};

class IResNet final : public Layer {
 public:
  IResNet(const std::vector<int>& stage_depths, Generator& gen, const IResNetOptions& options) {
    channels_ = options.channels;
    conv1 = register_module("conv1", conv3x3(channels_, 64, 1, gen));
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(64, batch_norm_options()));
    prelu = register_module("prelu", std::make_shared<PReLU>(64));
    int64_t in = 64, height = options.input.height, width = options.input.width;
    const int64_t widths[] = {64, 128, 256, 512};
    for (size_t stage = 0; stage < stage_depths.size(); ++stage) {
      auto blocks = std::make_shared<Sequential>();
      for (int block = 0; block < stage_depths[stage]; ++block) {
        blocks->add(std::make_shared<IBasicBlock>(in, widths[stage], block == 0 ? 2 : 1, gen));
        in = widths[stage];
      }
      stages.push_back(register_module("layer" + std::to_string(stage + 1), blocks));
      // a 3x3 convolution with stride 2 and padding 1 maps a side s to ⌈s / 2⌉
      height = (height + 1) / 2;
      width = (width + 1) / 2;
    }
    bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(512, batch_norm_options()));
    dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout, gen));
    flatten = std::make_shared<Flatten>();
    fc = register_module("fc", std::make_shared<Linear>(512 * height * width, options.emb, gen));
    features = register_module("features",
                               std::make_shared<BatchNorm1d>(options.emb, batch_norm_options()));
  }
  std::string type_name() const override { return "IResNet"; }
  Tensor forward(const Tensor& x) override {
    if (x.ndim() != 4 || x.size(1) != channels_)
      fail("IResNet: expected images [N, ", channels_, ", H, W], got ", x.describe());
    Tensor out = bn1->forward_prelu((*conv1)(x), *prelu);
    for (auto& stage : stages) out = (*stage)(out);
    out = (*flatten)((*dropout)((*bn2)(out)));
    return (*features)((*fc)(out));
  }
  std::string to_graph(GraphWriter& graph, const std::string& x) const override {
    std::string out = graph.child("prelu", *prelu, graph.child("bn1", *bn1, graph.child("conv1", *conv1, x)));
    for (size_t stage = 0; stage < stages.size(); ++stage)
      out = graph.child("layer" + std::to_string(stage + 1), *stages[stage], out);
    out = graph.child("flatten", *flatten, graph.child("dropout", *dropout, graph.child("bn2", *bn2, out)));
    return graph.child("features", *features, graph.child("fc", *fc, out));
  }

 private:
  std::shared_ptr<Layer> conv1, bn2, dropout, flatten, fc, features;
  std::shared_ptr<BatchNorm2d> bn1;
  std::shared_ptr<PReLU> prelu;
  std::vector<std::shared_ptr<Layer>> stages;
  int64_t channels_ = 3;
};

}  // namespace

std::shared_ptr<Layer> iresnet(int depth, Generator& gen, IResNetOptions options) {
  static const std::map<int, std::vector<int>> stage_depths = {
      {18, {2, 2, 2, 2}}, {34, {3, 4, 6, 3}}, {50, {3, 4, 14, 3}}, {100, {3, 13, 30, 3}}};
  auto found = stage_depths.find(depth);
  if (found == stage_depths.end())
    fail("iresnet: depth ", depth, " is not one of 18, 34, 50, 100");
  if (options.input.height < 1 || options.input.width < 1 || options.emb < 1 || options.channels < 1)
    fail("iresnet: expected a positive input size, embedding size and channel count, got input ",
         options.input.height, "x", options.input.width, ", emb ", options.emb, ", ", options.channels, " channels");
  return std::make_shared<IResNet>(found->second, gen, options);
}

}  // namespace margin
