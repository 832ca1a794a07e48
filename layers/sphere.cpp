// layers/sphere.cpp — SphereFace's residual CNN and the small Fashion-MNIST CNN (see
// layers/backbones.h for both designs).
#include "core/ops.h"
#include "layers/activation.h"
#include "layers/backbones.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"

namespace margin {

namespace {

// y = x + PReLU(conv3x3(PReLU(conv3x3(x)))), the channel count unchanged.
class SphereUnit final : public Layer {
 public:
  SphereUnit(int64_t channels, Generator& gen) {
    Conv2dOptions same{.padding = 1};
    conv1 = register_module("conv1", std::make_shared<Conv2d>(channels, channels, 3, gen, same));
    prelu1 = register_module("prelu1", std::make_shared<PReLU>(channels));
    conv2 = register_module("conv2", std::make_shared<Conv2d>(channels, channels, 3, gen, same));
    prelu2 = register_module("prelu2", std::make_shared<PReLU>(channels));
  }
  std::string type_name() const override { return "SphereUnit"; }
  Tensor forward(const Tensor& x) override {
    return x + (*prelu2)((*conv2)((*prelu1)((*conv1)(x))));
  }
  std::string to_graph(GraphWriter& graph, const std::string& x) const override {
    std::string out = graph.child("conv1", *conv1, x);
    out = graph.child("prelu2", *prelu2, graph.child("conv2", *conv2, graph.child("prelu1", *prelu1, out)));
    return graph.node("Add", {x, out});
  }

 private:
  std::shared_ptr<Layer> conv1, prelu1, conv2, prelu2;
};

}  // namespace

std::shared_ptr<Layer> sphere(int depth, Generator& gen, SphereOptions options) {
  std::vector<int> units;
  if (depth == 20) units = {1, 2, 4, 1};
  else if (depth == 64) units = {3, 8, 16, 3};
  else fail("sphere: depth ", depth, " is not one of 20, 64");
  if (options.channels < 1 || options.input.height < 1 || options.input.width < 1 || options.emb < 1)
    fail("sphere: expected positive channels, input size and embedding size, got ", options.channels,
         " channels, input ", options.input.height, "x", options.input.width, ", emb ", options.emb);
  auto net = std::make_shared<Sequential>();
  int64_t in = options.channels, height = options.input.height, width = options.input.width;
  const int64_t widths[] = {64, 128, 256, 512};
  for (size_t stage = 0; stage < units.size(); ++stage) {
    net->add(std::make_shared<Conv2d>(in, widths[stage], 3, gen,
                                      Conv2dOptions{.stride = 2, .padding = 1}));
    net->add(std::make_shared<PReLU>(widths[stage]));
    for (int unit = 0; unit < units[stage]; ++unit)
      net->add(std::make_shared<SphereUnit>(widths[stage], gen));
    in = widths[stage];
    height = (height + 1) / 2;  // stride 2, padding 1, kernel 3: ⌈s / 2⌉
    width = (width + 1) / 2;
  }
  net->add(std::make_shared<Flatten>());
  net->add(std::make_shared<Linear>(512 * height * width, options.emb, gen));
  return net;
}

std::shared_ptr<Layer> small_cnn(Generator& gen, SmallCnnOptions options) {
  if (options.channels < 1 || options.emb < 1 || options.widths.empty())
    fail("small_cnn: expected positive channels and embedding size and at least one stage, got ",
         options.channels, " channels, emb ", options.emb, ", ", options.widths.size(), " stages");
  auto net = std::make_shared<Sequential>();
  Conv2dOptions same{.padding = 1};
  int64_t in = options.channels, height = options.input.height, width = options.input.width;
  for (int64_t out : options.widths) {
    if (height < 2 || width < 2)
      fail("small_cnn: input ", options.input.height, "x", options.input.width, " is too small for ",
           options.widths.size(), " stages (each halves both sides)");
    net->add(std::make_shared<Conv2d>(in, out, 3, gen, same));
    net->add(std::make_shared<BatchNorm2d>(out));
    net->add(std::make_shared<PReLU>(out));
    net->add(std::make_shared<MaxPool2d>(2));
    in = out;
    height /= 2;
    width /= 2;
  }
  net->add(std::make_shared<Flatten>());
  net->add(std::make_shared<Linear>(in * height * width, options.emb, gen));
  net->add(std::make_shared<BatchNorm1d>(options.emb));
  return net;
}

std::shared_ptr<Layer> small_cnn(int64_t emb, Generator& gen) { return small_cnn(gen, {.emb = emb}); }

}  // namespace margin
