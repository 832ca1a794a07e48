// tests/test_backbones.cpp — the backbones match their reference designs (parameter counts
// computed from PyTorch definitions; MobileFaceNet's names and shapes too), produce [N, emb] for their inputs, pass gradients
// down to the first convolution, and summarize() accounts for every parameter.
#include <cmath>

#include "gradcheck.h"
#include "layers/backbones.h"
#include "layers/conv.h"
#include "layers/summary.h"

namespace margin {
namespace {

using testing::error_of;

// References from /usr/bin/python3 tests/fixtures/backbone_params.py (torch 1.13), which
// builds bench/torch_workloads.py's IResNet (insightface arcface_torch's iresnet.py) and
// FmnistCnn, and clcarwin/sphereface_pytorch's sphere20a (without its AngleLinear
// classifier). The IResNet figures agree with arcface_torch's published model sizes
// (r50 43.6 M, r100 65.2 M).
TEST_CASE("backbones: parameter counts equal the PyTorch reference designs") {
  Generator gen(0);
  CHECK(iresnet18(gen)->parameter_count() == 24025600);
  CHECK(iresnet34(gen)->parameter_count() == 34139328);
  CHECK(iresnet50(gen)->parameter_count() == 43590848);
  CHECK(iresnet100(gen)->parameter_count() == 65156160);
  CHECK(sphere20(gen)->parameter_count() == 22670656);
  CHECK(sphere64(gen)->parameter_count() == 48200512);
  CHECK(small_cnn(2, gen)->parameter_count() == 25382);
  CHECK(small_cnn(3, gen)->parameter_count() == 28521);
}

// The PyTorch mirror of arcface_torch's MobileFaceNet is bench/torch_workloads.py's; these
// figures are what `/usr/bin/python3 bench/torch_workloads.py --parameters` printed (torch 1.13):
//   mbf (get_mbf, 512-d): 2059520
//   mbf128 (the paper's, scale 1): 1003136
// (the paper gives 0.99 M for its network). Its named_parameters are 183 tensors, from
// layers.0.layers.0.weight to features.layers.3.bias.
TEST_CASE("mobilefacenet: parameter counts and names equal the PyTorch mirror of get_mbf") {
  Generator gen(0);
  auto mbf = mobilefacenet(gen);
  CHECK(mbf->parameter_count() == 2059520);
  CHECK(mobilefacenet(gen, {.emb = 128, .scale = 1})->parameter_count() == 1003136);
  std::vector<Parameter> named = mbf->named_parameters();
  REQUIRE(named.size() == 183);
  CHECK(named.front().name == "layers.0.layers.0.weight");
  CHECK(named[1].name == "layers.0.layers.1.weight");
  CHECK(named.back().name == "features.layers.3.bias");
  // the stem's second conv has 64 groups of 2 channels at scale 2; the GDC is depthwise 7x7
  auto shape_of = [&](const std::string& name) {
    for (const Parameter& p : named)
      if (p.name == name) return p.value.shape();
    return Shape{};
  };
  CHECK(shape_of("layers.1.layers.0.weight") == Shape{128, 2, 3, 3});
  CHECK(shape_of("layers.3.layers.0.layers.1.layers.0.weight") == Shape{128, 1, 3, 3});
  CHECK(shape_of("features.layers.0.layers.0.weight") == Shape{512, 1, 7, 7});
  CHECK(shape_of("features.layers.2.weight") == Shape{512, 512});
}

TEST_CASE("mobilefacenet: the GDC kernel follows the input size, and bad options are named") {
  Generator gen(5);
  // 48x36 → 24x18 → 12x9 → 6x5 → 3x3, and 40x20 → 3x2 (a non-square GDC)
  auto square = mobilefacenet(gen, {.emb = 16, .input = {48, 36}, .blocks = {1, 1, 1, 1}});
  CHECK((*square)(Tensor::randn({2, 3, 48, 36}, gen)).shape() == Shape{2, 16});
  auto oblong = mobilefacenet(gen, {.emb = 16, .input = {40, 20}, .channels = 1, .blocks = {2, 0, 1, 0}});
  CHECK((*oblong)(Tensor::randn({2, 1, 40, 20}, gen)).shape() == Shape{2, 16});
  for (const Parameter& p : oblong->named_parameters())
    if (p.name == "features.layers.0.layers.0.weight") CHECK(p.value.shape() == Shape{512, 1, 3, 2});
  CHECK(error_of([&] { (*oblong)(Tensor::randn({2, 3, 40, 20}, gen)); }).find("MobileFaceNet: expected images [N, 1, H, W]") !=
        std::string::npos);
  CHECK(error_of([&] { mobilefacenet(gen, {.blocks = {0, 4, 6, 2}}); }) ==
        "mobilefacenet: expected 4 block counts, the first at least 1 and the rest at least 0, got {0,4,6,2}");
  CHECK(error_of([&] { mobilefacenet(gen, {.scale = 0}); }).find("expected a positive scale") != std::string::npos);
}

TEST_CASE("small_cnn's general form: channels, input size and widths set the layers, counted by hand") {
  Generator gen(3);
  // 3 channels, 20x18, widths {8, 16}, emb 10: conv 3→8 (216 + 8), BN 16, PReLU 8; conv 8→16
  // (1152 + 16), BN 32, PReLU 16; sides 20 → 10 → 5 and 18 → 9 → 4, so Linear(16·5·4 → 10)
  // has 3200 + 10; BatchNorm1d 20.  224 + 24 + 1168 + 48 + 3210 + 20 = 4694.
  auto model = small_cnn(gen, {.emb = 10, .channels = 3, .input = {20, 18}, .widths = {8, 16}});
  CHECK(model->parameter_count() == 4694);
  CHECK((*model)(Tensor::randn({2, 3, 20, 18}, gen)).shape() == Shape{2, 10});
  // The Fashion-MNIST signature is the general form with its defaults.
  CHECK(small_cnn(gen, {.emb = 2})->parameter_count() == small_cnn(2, gen)->parameter_count());
  CHECK(error_of([&] { small_cnn(gen, {.input = {6, 6}, .widths = {8, 8, 8}}); }) ==
        "small_cnn: input 6x6 is too small for 3 stages (each halves both sides)");
}

TEST_CASE("iresnet, sphere and mobilefacenet on grey images: only the first convolution changes") {
  Generator gen(4);
  auto colour = iresnet18(gen, {.emb = 8, .input = {32, 32}});
  auto grey = iresnet18(gen, {.emb = 8, .input = {32, 32}, .channels = 1});
  CHECK(colour->parameter_count() - grey->parameter_count() == 2 * 9 * 64);  // conv1 3→64 vs 1→64
  CHECK((*grey)(Tensor::randn({2, 1, 32, 32}, gen)).shape() == Shape{2, 8});
  CHECK(error_of([&] { (*grey)(Tensor::randn({2, 3, 32, 32}, gen)); }).find("expected images [N, 1, H, W]") !=
        std::string::npos);
  auto sphere_grey = sphere20(gen, {.emb = 8, .input = {32, 32}, .channels = 1});
  CHECK(sphere20(gen, {.emb = 8, .input = {32, 32}})->parameter_count() - sphere_grey->parameter_count() == 2 * 9 * 64);
  CHECK((*sphere_grey)(Tensor::randn({1, 1, 32, 32}, gen)).shape() == Shape{1, 8});
  auto mbf_grey = mobilefacenet(gen, {.emb = 8, .input = {32, 32}, .channels = 1});
  CHECK(mobilefacenet(gen, {.emb = 8, .input = {32, 32}})->parameter_count() - mbf_grey->parameter_count() ==
        2 * 9 * 128);  // layers.0's conv 3→128 vs 1→128
}

// MobileFaceNet's blocks run each batch norm as one op with the PReLU or the residual add after
// it; under a layer observer (summary()) they run the layers one by one. Both give the same
// outputs, gradients and running statistics to float32's rounding (the PReLU fusion normalizes
// with the statistics as kept, core/ops.h batch_norm_prelu), which 20 batch norms in a row
// amplify to ≈ 1e-4 of a tensor's largest value: the bound is 1e-3 of it, plus 1e-5 for the
// values that are zero but for rounding (the bias gradient of a batch norm that another one
// follows, the running mean of a convolution of zero-mean channels). Leaving out a PReLU or a
// residual add changes them by more than 10%.
TEST_CASE("mobilefacenet: the fused batch norms give what the layers one by one give") {
  const MobileFaceNetOptions options{.emb = 8, .input = {32, 32}, .blocks = {2, 1, 2, 1}};
  Generator gen_fused(4), gen_layers(4), data(5);
  auto fused = mobilefacenet(gen_fused, options), layers = mobilefacenet(gen_layers, options);
  const Tensor x = Tensor::randn({4, 3, 32, 32}, data), dy = Tensor::randn({4, 8}, data);
  const Tensor y_fused = (*fused)(x);
  sum(y_fused * dy).backward();
  int calls = 0;
  set_layer_observer([&](const Layer&, const Tensor&, const Tensor&) { ++calls; });
  const Tensor y_layers = (*layers)(x);
  set_layer_observer({});
  sum(y_layers * dy).backward();
  CHECK(calls > 100);  // every conv, batch norm and PReLU was called as a layer
  // |a − b| ≤ 1e-3 · max |b| + 1e-5 over each tensor
  auto close = [](const std::string& what, const Tensor& a, const Tensor& b) {
    CAPTURE(what);
    const std::vector<double> u = a.to_vector(), v = b.to_vector();
    REQUIRE(u.size() == v.size());
    double largest = 0, worst = 0;
    for (size_t i = 0; i < u.size(); ++i)
      largest = std::max(largest, std::abs(v[i])), worst = std::max(worst, std::abs(u[i] - v[i]));
    CAPTURE(largest);
    CHECK(worst <= 1e-3 * largest + 1e-5);
  };
  close("y", y_fused, y_layers);
  const auto params_fused = fused->named_parameters(), params_layers = layers->named_parameters();
  REQUIRE(params_fused.size() == params_layers.size());
  for (size_t i = 0; i < params_fused.size(); ++i)
    close(params_fused[i].name + ".grad", params_fused[i].value.grad(), params_layers[i].value.grad());
  const auto buffers_fused = fused->named_buffers(), buffers_layers = layers->named_buffers();
  REQUIRE(buffers_fused.size() == buffers_layers.size());
  for (size_t i = 0; i < buffers_fused.size(); ++i)
    close(buffers_fused[i].name, buffers_fused[i].value, buffers_layers[i].value);
}

TEST_CASE("backbones: output shapes, and gradients reach the first convolution") {
  Generator gen(1);
  struct Case {
    std::string name;
    std::shared_ptr<Layer> model;
    Shape input;
    Shape output;
  };
  std::vector<Case> cases = {
      {"small_cnn(2) on 28x28", small_cnn(2, gen), {4, 1, 28, 28}, {4, 2}},
      {"iresnet18 on 32x32", iresnet18(gen, {.emb = 64, .input = {32, 32}}), {2, 3, 32, 32}, {2, 64}},
      {"iresnet18 on 40x36 (odd sides)", iresnet18(gen, {.emb = 8, .input = {40, 36}}), {2, 3, 40, 36}, {2, 8}},
      {"sphere20 on 56x48", sphere20(gen, {.emb = 16, .input = {56, 48}}), {2, 3, 56, 48}, {2, 16}},
      {"mobilefacenet (get_mbf) on 112x112", mobilefacenet(gen), {2, 3, 112, 112}, {2, 512}},
      {"mobilefacenet (the paper's) on 112x112", mobilefacenet(gen, {.emb = 128, .scale = 1}), {2, 3, 112, 112}, {2, 128}},
  };
  for (Case& c : cases) {
    CAPTURE(c.name);
    Tensor x = Tensor::randn(c.input, gen);
    Tensor y = (*c.model)(x);
    CHECK(y.shape() == c.output);
    sum(y * y).backward();
    Tensor first_weight = c.model->named_parameters().front().value;
    REQUIRE(first_weight.grad().defined());
    double norm = 0;
    for (double g : first_weight.grad().to_vector()) norm += g * g;
    CHECK(norm > 0);
  }
}

TEST_CASE("summary: every parameter is listed once, FLOPs of the stem by hand") {
  Generator gen(2);
  auto model = iresnet18(gen);
  ModelSummary s = summarize(*model, {1, 3, 112, 112});
  CHECK(s.parameters == model->parameter_count());
  REQUIRE(!s.layers.empty());
  CHECK(s.layers.front().name == "conv1");
  // conv3x3 3→64 over 112x112, no bias: 2 · (3·3·3) · 64 · 112 · 112
  CHECK(s.layers.front().flops == 2 * 27 * 64 * 112 * 112);
  CHECK(s.layers.back().name == "features");
  CHECK(s.layers.back().output == Shape{1, 512});
  // arcface_torch reports 2.62 G multiply-adds for r18; a multiply-add is 2 FLOPs here, and
  // the BN/PReLU/residual elementwise work is left out of Layer::flops.
  CHECK(s.flops > 5.0e9);
  CHECK(s.flops < 5.5e9);
  CHECK(model->training());  // restored
  std::string table = s.table();
  CHECK(table.find("layer1.0.downsample.0") != std::string::npos);
  CHECK(table.find("total: 24,025,600 parameters") != std::string::npos);
}

TEST_CASE("Conv2d layer: PyTorch's default init bounds and clear errors") {
  Generator gen(3);
  Conv2d conv(8, 16, 3, gen, {.groups = 2});
  CHECK(conv.weight.shape() == Shape{16, 4, 3, 3});
  double bound = 1.0 / std::sqrt(4.0 * 9.0);
  for (double w : conv.weight.to_vector()) CHECK(std::abs(w) <= bound);
  for (double b : conv.bias.to_vector()) CHECK(std::abs(b) <= bound);
  CHECK(error_of([&] { Conv2d(6, 16, 3, gen, {.groups = 4}); })
            .find("groups = 4 must divide in_channels (6)") != std::string::npos);
  CHECK(error_of([&] { conv(Tensor::zeros({1, 3, 8, 8})); }).find("Conv2d(8→16, kernel 3, groups 2): expected input [N, 8, H, W]") !=
        std::string::npos);
  CHECK(error_of([&] { iresnet(19, gen); }).find("depth 19 is not one of 18, 34, 50, 100") !=
        std::string::npos);
}

}  // namespace
}  // namespace margin
