// layers/mobilefacenet.cpp — MobileFaceNet as insightface arcface_torch's get_mbf builds it (see
// layers/backbones.h for the design). Module names follow its state_dict (layers.0.layers.0,
// layers.2.layers.1.layers.0, layers.3.layers.0.layers.2.layers.1, conv_sep.layers.0,
// features.layers.0.layers.0, features.layers.2, features.layers.3), so its weights map one to one.
#include <string>

#include "core/ops.h"
#include "layers/activation.h"
#include "layers/backbones.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"

namespace margin {

namespace {

// A named stack of layers, as arcface_torch's small modules hold theirs: one child "layers"
// (a Sequential).
class Block final : public Layer {
 public:
  Block(std::string type, const std::vector<std::shared_ptr<Layer>>& body) : type_(std::move(type)) {
    layers = register_module("layers", std::make_shared<Sequential>(body));
  }
  std::string type_name() const override { return type_; }
  Tensor forward(const Tensor& x) override { return (*layers)(x); }
  std::string to_graph(GraphWriter& graph, const std::string& x) const override {
    return graph.child("layers", *layers, x);
  }

 private:
  std::string type_;
  std::shared_ptr<Layer> layers;
};

// conv (no bias) → BN → PReLU ("ConvBlock"), or without the PReLU ("LinearBlock"), in one child
// "layers". The batch norm runs as one op with the PReLU after it, or with the residual add of
// the DepthWise block it ends (BatchNorm::forward_prelu, forward_add: what IResNet does); while
// a layer observer watches, the layers run one by one, so that it sees each.
class ConvBlock final : public Layer {
 public:
  ConvBlock(int64_t in, int64_t out, KernelSize kernel, Conv2dOptions options, bool activation, Generator& gen) {
    options.bias = false;
    conv = std::make_shared<Conv2d>(in, out, kernel, gen, options);
    bn = std::make_shared<BatchNorm2d>(out);
    std::vector<std::shared_ptr<Layer>> body{conv, bn};
    if (activation) body.push_back(prelu = std::make_shared<PReLU>(out));
    layers = register_module("layers", std::make_shared<Sequential>(body));
  }
  std::string type_name() const override { return prelu ? "ConvBlock" : "LinearBlock"; }
  Tensor forward(const Tensor& x) override {
    if (layer_observer_set()) return (*layers)(x);
    return prelu ? bn->forward_prelu((*conv)(x), *prelu) : (*bn)((*conv)(x));
  }
  // residual + this(x), for a LinearBlock.
  Tensor forward_add(const Tensor& x, const Tensor& residual) {
    if (layer_observer_set() || prelu) return residual + (*this)(x);
    return bn->forward_add((*conv)(x), residual);
  }
  std::string to_graph(GraphWriter& graph, const std::string& x) const override {
    return graph.child("layers", *layers, x);
  }

 private:
  std::shared_ptr<Layer> layers;
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
  std::shared_ptr<PReLU> prelu;  // null in a LinearBlock
};

std::shared_ptr<ConvBlock> conv_block(int64_t in, int64_t out, int64_t kernel, Conv2dOptions conv, bool activation,
                                      Generator& gen) {
  return std::make_shared<ConvBlock>(in, out, KernelSize{kernel, kernel}, conv, activation, gen);
}

// "DepthWise": 1x1 in → width, depthwise 3x3 (stride) over the width channels, linear 1x1
// width → out, in one child "layers"; with `residual`, the input is added back.
class DepthWise final : public Layer {
 public:
  DepthWise(int64_t in, int64_t out, int64_t width, int64_t stride, bool residual, Generator& gen)
      : residual_(residual) {
    expand = conv_block(in, width, 1, {}, true, gen);
    depthwise = conv_block(width, width, 3, {.stride = stride, .padding = 1, .groups = width}, true, gen);
    project = conv_block(width, out, 1, {}, false, gen);
    layers = register_module(
        "layers", std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{expand, depthwise, project}));
  }
  std::string type_name() const override { return "DepthWise"; }
  Tensor forward(const Tensor& x) override {
    if (layer_observer_set()) return residual_ ? x + (*layers)(x) : (*layers)(x);
    const Tensor h = (*depthwise)((*expand)(x));
    return residual_ ? project->forward_add(h, x) : (*project)(h);
  }
  std::string to_graph(GraphWriter& graph, const std::string& x) const override {
    std::string out = graph.child("layers", *layers, x);
    return residual_ ? graph.node("Add", {x, out}) : out;
  }

 private:
  bool residual_;
  std::shared_ptr<Layer> layers;
  std::shared_ptr<ConvBlock> expand, depthwise, project;
};

std::shared_ptr<Layer> depthwise_block(int64_t in, int64_t out, int64_t width, int64_t stride, bool residual,
                                       Generator& gen) {
  return std::make_shared<DepthWise>(in, out, width, stride, residual, gen);
}

// "Residual": `count` residual DepthWise blocks of stride 1 at `channels`.
std::shared_ptr<Layer> residual_stage(int64_t channels, int count, int64_t width, Generator& gen) {
  std::vector<std::shared_ptr<Layer>> blocks;
  for (int i = 0; i < count; ++i) blocks.push_back(depthwise_block(channels, channels, width, 1, true, gen));
  return std::make_shared<Block>("Residual", blocks);
}

class MobileFaceNet final : public Layer {
 public:
  MobileFaceNet(Generator& gen, const MobileFaceNetOptions& options) : channels_(options.channels) {
    const int64_t c64 = 64 * options.scale, c128 = 128 * options.scale;
    const std::vector<int>& blocks = options.blocks;
    auto body = std::make_shared<Sequential>();
    body->add(conv_block(channels_, c64, 3, {.stride = 2, .padding = 1}, true, gen));
    if (blocks[0] == 1)
      body->add(conv_block(c64, c64, 3, {.padding = 1, .groups = 64}, true, gen));
    else
      body->add(residual_stage(c64, blocks[0], 128, gen));
    body->add(depthwise_block(c64, c64, 128, 2, false, gen));
    body->add(residual_stage(c64, blocks[1], 128, gen));
    body->add(depthwise_block(c64, c128, 256, 2, false, gen));
    body->add(residual_stage(c128, blocks[2], 256, gen));
    body->add(depthwise_block(c128, c128, 512, 2, false, gen));
    body->add(residual_stage(c128, blocks[3], 256, gen));
    layers = register_module("layers", body);
    conv_sep = register_module("conv_sep", conv_block(c128, 512, 1, {}, true, gen));
    // Four 3x3 convolutions of stride 2 and padding 1, each mapping a side s to ⌈s / 2⌉; the
    // GDC's depthwise kernel covers the whole plane that is left (7x7 for 112x112).
    int64_t height = options.input.height, width = options.input.width;
    for (int i = 0; i < 4; ++i) height = (height + 1) / 2, width = (width + 1) / 2;
    features = register_module(
        "features", std::make_shared<Block>(
                        "GDC", std::vector<std::shared_ptr<Layer>>{
                                   std::make_shared<ConvBlock>(512, 512, KernelSize{height, width},
                                                               Conv2dOptions{.groups = 512}, false, gen),
                                   std::make_shared<Flatten>(),
                                   std::make_shared<Linear>(512, options.emb, gen, /*bias=*/false),
                                   std::make_shared<BatchNorm1d>(options.emb)}));
  }
  std::string type_name() const override { return "MobileFaceNet"; }
  Tensor forward(const Tensor& x) override {
    if (x.ndim() != 4 || x.size(1) != channels_)
      fail("MobileFaceNet: expected images [N, ", channels_, ", H, W], got ", x.describe());
    return (*features)((*conv_sep)((*layers)(x)));
  }
  std::string to_graph(GraphWriter& graph, const std::string& x) const override {
    return graph.child("features", *features, graph.child("conv_sep", *conv_sep, graph.child("layers", *layers, x)));
  }

 private:
  int64_t channels_;
  std::shared_ptr<Layer> layers, conv_sep, features;
};

}  // namespace

std::shared_ptr<Layer> mobilefacenet(Generator& gen, MobileFaceNetOptions options) {
  const std::vector<int>& b = options.blocks;
  if (b.size() != 4 || b[0] < 1 || b[1] < 0 || b[2] < 0 || b[3] < 0) {
    std::string counts;
    for (int count : b) counts.append(counts.empty() ? "" : ",").append(std::to_string(count));
    fail("mobilefacenet: expected 4 block counts, the first at least 1 and the rest at least 0, got {", counts, "}");
  }
  if (options.scale < 1 || options.emb < 1 || options.channels < 1 || options.input.height < 1 ||
      options.input.width < 1)
    fail("mobilefacenet: expected a positive scale, embedding size, channel count and input size, got scale ",
         options.scale, ", emb ", options.emb, ", ", options.channels, " channels, input ", options.input.height,
         "x", options.input.width);
  return std::make_shared<MobileFaceNet>(gen, options);
}

}  // namespace margin
