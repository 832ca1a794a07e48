// tests/test_norm.cpp — batch norm, PReLU and dropout: float64 gradient checks of every
// input, running statistics against hand-computed values, closed-form gradients where a
// finite difference cannot see the convention (PReLU at 0, dropout's mask), and errors.
#include <algorithm>
#include <cmath>

#include "gradcheck.h"
#include "layers/activation.h"
#include "layers/norm.h"

namespace margin {
namespace {

using testing::assign;
using testing::error_of;
using testing::gradcheck;
using V = const std::vector<Tensor>&;

constexpr BatchNormOptions kF64{1e-5, 0.1, true, DType::F64};
constexpr BatchNormOptions kF64NoAffine{1e-5, 0.1, false, DType::F64};

// Non-trivial affine parameters and running statistics, so every term of the formula shows.
void randomize(BatchNorm& layer, Generator& gen) {
  int64_t c = layer.channels();
  std::vector<double> weight(c), bias(c), mean(c), var(c);
  for (int64_t i = 0; i < c; ++i) {
    weight[i] = gen.uniform(0.5, 1.5);
    bias[i] = gen.uniform(-0.5, 0.5);
    mean[i] = gen.uniform(-0.3, 0.3);
    var[i] = gen.uniform(0.5, 2.0);
  }
  if (layer.weight.defined()) assign(layer.weight, weight);
  if (layer.bias.defined()) assign(layer.bias, bias);
  assign(layer.running_mean, mean);
  assign(layer.running_var, var);
}

// x and, when affine, the layer's weight and bias: all three are gradient-checked.
std::vector<Tensor> bn_inputs(BatchNorm& layer, const Shape& shape, Generator& gen) {
  std::vector<Tensor> inputs{testing::leaf(shape, gen)};
  if (layer.weight.defined()) inputs.push_back(layer.weight);
  if (layer.bias.defined()) inputs.push_back(layer.bias);
  return inputs;
}

void check_bn_gradients(BatchNorm& layer, const Shape& shape, bool training) {
  Generator gen(11);
  randomize(layer, gen);
  layer.train(training);
  CHECK(gradcheck([&](V x) { return layer(x[0]); }, bn_inputs(layer, shape, gen)) == "");
}

TEST_CASE("BatchNorm2d training: gradients of x, weight and bias match finite differences") {
  BatchNorm2d layer(3, kF64);
  check_bn_gradients(layer, {2, 3, 3, 2}, true);
}

TEST_CASE("BatchNorm2d training without affine: gradient of x") {
  BatchNorm2d layer(2, kF64NoAffine);
  check_bn_gradients(layer, {3, 2, 2, 2}, true);
}

TEST_CASE("BatchNorm2d eval: gradients through the running statistics' affine map") {
  BatchNorm2d layer(3, kF64);
  check_bn_gradients(layer, {2, 3, 2, 3}, false);
  BatchNorm2d plain(2, kF64NoAffine);
  check_bn_gradients(plain, {2, 2, 2, 2}, false);
}

TEST_CASE("BatchNorm1d training and eval, [N, C] and [N, C, L]: gradients") {
  BatchNorm1d layer(4, kF64);
  check_bn_gradients(layer, {5, 4}, true);
  check_bn_gradients(layer, {3, 4, 3}, true);
  check_bn_gradients(layer, {5, 4}, false);
  BatchNorm1d plain(3, kF64NoAffine);
  check_bn_gradients(plain, {4, 3}, true);
  check_bn_gradients(plain, {4, 3}, false);
}

// The running buffers, computed by hand: mean over N (and L), UNBIASED variance (÷ M−1),
// running ← 0.9·running + 0.1·stat starting from mean 0, var 1.
TEST_CASE("BatchNorm1d running statistics after three steps match hand-computed values") {
  const int64_t batch = 4, channels = 2;
  BatchNorm1d layer(channels, {1e-5, 0.1, true, DType::F64});
  Generator gen(5);
  std::vector<double> expected_mean(channels, 0.0), expected_var(channels, 1.0);
  std::vector<double> last_batch;
  for (int step = 0; step < 3; ++step) {
    Tensor x = Tensor::uniform({batch, channels}, -2.0, 3.0, gen, DType::F64);
    std::vector<double> values = x.to_vector();
    Tensor y = layer(x);
    std::vector<double> out = y.to_vector();
    for (int64_t c = 0; c < channels; ++c) {
      double mean = 0, squares = 0;
      for (int64_t n = 0; n < batch; ++n) mean += values[n * channels + c] / batch;
      for (int64_t n = 0; n < batch; ++n)
        squares += std::pow(values[n * channels + c] - mean, 2);
      expected_mean[c] = 0.9 * expected_mean[c] + 0.1 * mean;
      expected_var[c] = 0.9 * expected_var[c] + 0.1 * squares / (batch - 1);
      // The output normalizes with the biased variance (weight 1, bias 0).
      for (int64_t n = 0; n < batch; ++n)
        CHECK(out[n * channels + c] ==
              doctest::Approx((values[n * channels + c] - mean) /
                              std::sqrt(squares / batch + 1e-5)).epsilon(1e-12));
    }
    last_batch = values;
  }
  std::vector<double> running_mean = layer.running_mean.to_vector();
  std::vector<double> running_var = layer.running_var.to_vector();
  for (int64_t c = 0; c < channels; ++c) {
    CHECK(running_mean[c] == doctest::Approx(expected_mean[c]).epsilon(1e-12));
    CHECK(running_var[c] == doctest::Approx(expected_var[c]).epsilon(1e-12));
  }

  // Eval uses exactly those buffers and leaves them alone.
  layer.eval();
  Tensor x = Tensor::from_vector(last_batch, {batch, channels}, DType::F64);
  std::vector<double> out = layer(x).to_vector();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      CHECK(out[n * channels + c] ==
            doctest::Approx((last_batch[n * channels + c] - expected_mean[c]) /
                            std::sqrt(expected_var[c] + 1e-5)).epsilon(1e-12));
  CHECK(layer.running_mean.to_vector() == running_mean);
  CHECK(layer.running_var.to_vector() == running_var);
}

TEST_CASE("BatchNorm2d running statistics pool over N, H and W") {
  BatchNorm2d layer(2, {1e-5, 0.25, false, DType::F64});
  Generator gen(9);
  Tensor x = Tensor::uniform({2, 2, 3, 2}, -1.0, 1.0, gen, DType::F64);
  std::vector<double> values = x.to_vector();
  layer(x);
  const int64_t per_channel = 2 * 3 * 2;
  for (int64_t c = 0; c < 2; ++c) {
    std::vector<double> channel;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 6; ++i) channel.push_back(values[(n * 2 + c) * 6 + i]);
    double mean = 0, squares = 0;
    for (double v : channel) mean += v / per_channel;
    for (double v : channel) squares += (v - mean) * (v - mean);
    CHECK(layer.running_mean.to_vector()[c] == doctest::Approx(0.25 * mean).epsilon(1e-12));
    CHECK(layer.running_var.to_vector()[c] ==
          doctest::Approx(0.75 + 0.25 * squares / (per_channel - 1)).epsilon(1e-12));
  }
}

TEST_CASE("PReLU: gradients of x and of per-channel and shared slopes") {
  Generator gen(3);
  PReLU per_channel(3, 0.25, DType::F64);
  assign(per_channel.weight, {0.1, -0.4, 0.7});
  CHECK(gradcheck([&](V x) { return per_channel(x[0]); },
                  {testing::leaf_away_from_zero({4, 3, 2}, gen), per_channel.weight}) == "");
  CHECK(gradcheck([&](V x) { return per_channel(x[0]); },
                  {testing::leaf_away_from_zero({5, 3}, gen), per_channel.weight}) == "");
  PReLU shared(1, 0.3, DType::F64);
  CHECK(gradcheck([&](V x) { return shared(x[0]); },
                  {testing::leaf_away_from_zero({2, 4, 3}, gen), shared.weight}) == "");
}

// A kink: finite differences straddle it, so the convention is checked in closed form.
// PyTorch takes the x ≤ 0 branch at 0: dy/dx = a_c, and dy/da_c = x = 0.
TEST_CASE("PReLU at x = 0 follows PyTorch: dx = a·dy, no slope gradient") {
  PReLU layer(2, 0.25, DType::F64);
  assign(layer.weight, {0.5, -2.0});
  // x [3, 2]: channel 0 gets (0, 1.5, -1), channel 1 gets (0, -3, 0).
  Tensor x = Tensor::from_vector({0.0, 0.0, 1.5, -3.0, -1.0, 0.0}, {3, 2}, DType::F64)
                 .requires_grad_();
  std::vector<double> seed{1.0, 2.0, 3.0, 4.0, 5.0, 6.0};
  Tensor y = layer(x);
  CHECK(y.to_vector() == std::vector<double>{0.0, 0.0, 1.5, 6.0, -0.5, 0.0});
  y.backward(Tensor::from_vector(seed, {3, 2}, DType::F64));
  CHECK(x.grad().to_vector() == std::vector<double>{0.5 * 1, -2.0 * 2, 3, -2.0 * 4, 0.5 * 5,
                                                    -2.0 * 6});
  // Σ over x ≤ 0 of x·dy: channel 0: −1·5; channel 1: −3·4 (the zeros add nothing).
  CHECK(layer.weight.grad().to_vector() == std::vector<double>{-5.0, -12.0});
}

TEST_CASE("Dropout: training scales kept values by 1/(1−p), the gradient is mask/(1−p)") {
  const double p = 0.3;
  Generator gen(21), init(4);
  Dropout layer(p, gen);
  Tensor x = testing::leaf_away_from_zero({40, 25}, init);
  Tensor y = layer(x);
  Tensor seed = Tensor::randn({40, 25}, init, DType::F64);
  y.backward(seed);
  std::vector<double> in = x.to_vector(), out = y.to_vector(), up = seed.to_vector(),
                      grad = x.grad().to_vector();
  int64_t dropped = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    bool kept = out[i] != 0.0;
    dropped += kept ? 0 : 1;
    double mask = kept ? 1.0 / (1.0 - p) : 0.0;
    CHECK(out[i] == doctest::Approx(in[i] * mask).epsilon(1e-15));
    CHECK(grad[i] == doctest::Approx(up[i] * mask).epsilon(1e-15));
  }
  // 1000 Bernoulli(0.3) draws: the dropped share lies within 5 standard deviations of p.
  CHECK(std::abs(double(dropped) / in.size() - p) < 5 * std::sqrt(p * (1 - p) / in.size()));
}

TEST_CASE("Dropout: a fixed mask passes the gradient check, eval is the identity") {
  Generator init(8);
  CHECK(gradcheck(
            [](V x) {
              Generator same_mask(77);  // re-seeded so every evaluation draws the same mask
              return dropout(x[0], 0.4, true, same_mask);
            },
            {testing::leaf({6, 5}, init)}) == "");
  Generator gen(1);
  Dropout layer(0.5, gen);
  layer.eval();
  Tensor x = testing::leaf({3, 4}, init);
  CHECK(layer(x).to_vector() == x.to_vector());
  Dropout all(1.0, gen);
  for (double v : all(x).to_vector()) CHECK(v == 0.0);
}

// to's parameters and running statistics set to from's values.
void copy_state(const BatchNorm& from, BatchNorm& to) {
  assign(to.weight, from.weight.to_vector());
  assign(to.bias, from.bias.to_vector());
  assign(to.running_mean, from.running_mean.to_vector());
  assign(to.running_var, from.running_var.to_vector());
}

// batch_norm_prelu is prelu(batch_norm(x)) in one op: the backward recomputes the PReLU's
// input from x instead of keeping it. In float64 the two give the same values, gradients and
// running statistics.
TEST_CASE("BatchNorm2d then PReLU as one op equals the two layers: values, gradients, running stats") {
  for (const bool training : {true, false})
    for (const int64_t slopes : {3, 1}) {
      CAPTURE(training);
      CAPTURE(slopes);
      Generator gen(5);
      BatchNorm2d bn(3, kF64), fused_bn(3, kF64);
      randomize(bn, gen);
      copy_state(bn, fused_bn);
      PReLU prelu(slopes, 0.25, DType::F64), fused_prelu(slopes, 0.25, DType::F64);
      assign(prelu.weight, slopes == 3 ? std::vector<double>{0.1, -0.4, 0.7} : std::vector<double>{0.3});
      assign(fused_prelu.weight, prelu.weight.to_vector());
      bn.train(training);
      fused_bn.train(training);
      const Shape shape{4, 3, 3, 2};
      Tensor x = testing::leaf(shape, gen), fused_x = x.detach().requires_grad_();
      Tensor y = prelu(bn(x)), fused_y = fused_bn.forward_prelu(fused_x, fused_prelu);
      // some of the normalized values are negative, some positive: both branches run
      const std::vector<double> values = y.to_vector();
      CHECK(std::count_if(values.begin(), values.end(), [](double v) { return v < 0; }) > 4);
      CHECK(std::count_if(values.begin(), values.end(), [](double v) { return v > 0; }) > 4);
      const std::vector<double> fused_values = fused_y.to_vector();
      for (size_t i = 0; i < values.size(); ++i) CHECK(fused_values[i] == doctest::Approx(values[i]).epsilon(1e-13));
      Tensor dy = testing::leaf(shape, gen);
      sum(y * dy.detach()).backward();
      sum(fused_y * dy.detach()).backward();
      auto close = [](const Tensor& a, const Tensor& b) {
        const std::vector<double> u = a.to_vector(), v = b.to_vector();
        REQUIRE(u.size() == v.size());
        for (size_t i = 0; i < u.size(); ++i) CHECK(u[i] == doctest::Approx(v[i]).epsilon(1e-12));
      };
      close(fused_x.grad(), x.grad());
      close(fused_bn.weight.grad(), bn.weight.grad());
      close(fused_bn.bias.grad(), bn.bias.grad());
      close(fused_prelu.weight.grad(), prelu.weight.grad());
      close(fused_bn.running_mean, bn.running_mean);
      close(fused_bn.running_var, bn.running_var);
    }
}

// batch_norm_add is batch_norm(x) + residual in one op, bit for bit.
TEST_CASE("BatchNorm2d plus a residual as one op equals the layer and the add, bit for bit") {
  for (const DType dtype : {DType::F64, DType::F32})
    for (const bool training : {true, false}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(training);
      Generator gen(9);
      BatchNormOptions options = kF64;
      options.dtype = dtype;
      BatchNorm2d bn(3, options), fused_bn(3, options);
      randomize(bn, gen);
      copy_state(bn, fused_bn);
      bn.train(training);
      fused_bn.train(training);
      const Shape shape{4, 3, 3, 2};
      Tensor x = testing::leaf(shape, gen).to(dtype).detach().requires_grad_();
      Tensor residual = testing::leaf(shape, gen).to(dtype).detach().requires_grad_();
      Tensor fused_x = x.detach().requires_grad_(), fused_residual = residual.detach().requires_grad_();
      Tensor y = bn(x) + residual, fused_y = fused_bn.forward_add(fused_x, fused_residual);
      CHECK(fused_y.to_vector() == y.to_vector());
      Tensor dy = testing::leaf(shape, gen).to(dtype).detach();
      sum(y * dy).backward();
      sum(fused_y * dy).backward();
      CHECK(fused_x.grad().to_vector() == x.grad().to_vector());
      CHECK(fused_residual.grad().to_vector() == residual.grad().to_vector());
      CHECK(fused_bn.weight.grad().to_vector() == bn.weight.grad().to_vector());
      CHECK(fused_bn.bias.grad().to_vector() == bn.bias.grad().to_vector());
      CHECK(fused_bn.running_mean.to_vector() == bn.running_mean.to_vector());
      CHECK(fused_bn.running_var.to_vector() == bn.running_var.to_vector());
    }
  Tensor x = Tensor::zeros({2, 3, 2, 2}), wrong = Tensor::zeros({2, 3, 2, 1});
  const std::string error =
      testing::error_of([&] { batch_norm_add(x, Tensor(), Tensor(), Tensor(), Tensor(), wrong, true); });
  CHECK(error.find("batch_norm_add: residual float32[2, 3, 2, 1]") == 0);
  CHECK(error.find("must have x's shape, x float32[2, 3, 2, 2]") != std::string::npos);
}

// A float32 output of 64 MB or more is written by streaming stores (backends/cpu/norm.cpp).
// Batch norm's channels are independent, so a channel of such a batch must come out exactly as
// that channel alone, whose 16 MB take the plain stores: values, dx and the parameters' sums.
TEST_CASE("batch norm's outputs of 64 MB and more are written as the smaller ones: a channel of a large batch equals that channel alone") {
  Generator gen(13);
  const Shape part{4, 1, 1000, 1001};  // runs of 1,001,000 values: most start off a 64-byte line
  std::vector<Tensor> xs, dys;
  for (int c = 0; c < 5; ++c) {
    xs.push_back(Tensor::uniform(part, -2, 3, gen));
    dys.push_back(Tensor::uniform(part, -1, 1, gen));
  }
  Tensor x = concat(xs, 1).requires_grad_(), dy = concat(dys, 1);  // [4, 5, 1000, 1001]: 80 MB
  Tensor gamma = Tensor::uniform({5}, 0.5, 1.5, gen).requires_grad_();
  Tensor beta = Tensor::uniform({5}, -1, 1, gen).requires_grad_();
  Tensor slopes = Tensor::uniform({5}, 0, 0.5, gen).requires_grad_();
  Tensor y = batch_norm_prelu(x, gamma, beta, Tensor(), Tensor(), slopes, true);
  sum(y * dy).backward();
  Tensor added = batch_norm_add(x.detach(), gamma.detach(), beta.detach(), Tensor(), Tensor(), dy, true);
  for (const int64_t c : {0, 3}) {
    CAPTURE(c);
    Tensor x_alone = xs[c].detach().requires_grad_();
    Tensor gamma_alone = gamma.detach().slice(0, c, c + 1).contiguous().requires_grad_();
    Tensor beta_alone = beta.detach().slice(0, c, c + 1).contiguous().requires_grad_();
    Tensor slope_alone = slopes.detach().slice(0, c, c + 1).contiguous().requires_grad_();
    Tensor y_alone = batch_norm_prelu(x_alone, gamma_alone, beta_alone, Tensor(), Tensor(), slope_alone, true);
    sum(y_alone * dys[c]).backward();
    CHECK(y.slice(1, c, c + 1).to_vector() == y_alone.to_vector());
    CHECK(x.grad().slice(1, c, c + 1).to_vector() == x_alone.grad().to_vector());
    CHECK(gamma.grad().to_vector()[c] == gamma_alone.grad().to_vector()[0]);
    CHECK(beta.grad().to_vector()[c] == beta_alone.grad().to_vector()[0]);
    CHECK(slopes.grad().to_vector()[c] == slope_alone.grad().to_vector()[0]);
    Tensor added_alone = batch_norm_add(xs[c], gamma_alone.detach(), beta_alone.detach(), Tensor(), Tensor(), dys[c], true);
    CHECK(added.slice(1, c, c + 1).to_vector() == added_alone.to_vector());
  }
}

// summary() watches every layer call: under its observer the fused calls run as the layers.
TEST_CASE("BatchNorm::forward_prelu and forward_add under a layer observer call the layers") {
  Generator gen(2);
  BatchNorm2d bn(2, kF64);
  PReLU prelu(2, 0.25, DType::F64);
  std::vector<std::string> seen;
  set_layer_observer([&](const Layer& layer, const Tensor&, const Tensor&) { seen.push_back(layer.type_name()); });
  Tensor watched = bn.forward_prelu(testing::leaf({2, 2, 2, 2}, gen), prelu);
  set_layer_observer({});
  CHECK(seen == std::vector<std::string>{"BatchNorm2d", "PReLU"});
  Generator again(2);
  seen.clear();
  Tensor fused = bn.forward_prelu(testing::leaf({2, 2, 2, 2}, again), prelu);
  CHECK(seen.empty());
  const std::vector<double> a = fused.to_vector(), b = watched.to_vector();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-13));
  set_layer_observer([&](const Layer& layer, const Tensor&, const Tensor&) { seen.push_back(layer.type_name()); });
  Tensor summed = bn.forward_add(watched, watched);
  set_layer_observer({});
  CHECK(seen == std::vector<std::string>{"BatchNorm2d"});  // the add is no layer
  CHECK(summed.to_vector() == bn.forward_add(watched, watched).to_vector());
}

TEST_CASE("Wrong channel counts and shapes are named with the layer and both shapes") {
  Generator gen(2);
  BatchNorm2d bn2d(3);
  std::string message = error_of([&] { bn2d(Tensor::zeros({2, 4, 5, 5}, DType::F32)); });
  CHECK(message.find("BatchNorm2d(3)") != std::string::npos);
  CHECK(message.find("[N, 3, H, W]") != std::string::npos);
  CHECK(message.find("[2, 4, 5, 5]") != std::string::npos);
  message = error_of([&] { bn2d(Tensor::zeros({2, 3}, DType::F32)); });
  CHECK(message.find("BatchNorm2d(3)") != std::string::npos);

  BatchNorm1d bn1d(4);
  message = error_of([&] { bn1d(Tensor::zeros({8, 3}, DType::F32)); });
  CHECK(message.find("BatchNorm1d(4)") != std::string::npos);
  CHECK(message.find("[N, 4]") != std::string::npos);
  CHECK(message.find("[8, 3]") != std::string::npos);
  message = error_of([&] { bn1d(Tensor::zeros({1, 4}, DType::F32)); });
  CHECK(message.find("more than one value per channel") != std::string::npos);

  PReLU prelu_layer(3);
  message = error_of([&] { prelu_layer(Tensor::zeros({2, 5}, DType::F32)); });
  CHECK(message.find("PReLU(3)") != std::string::npos);
  CHECK(message.find("[2, 5]") != std::string::npos);

  message = error_of([&] {
    batch_norm(Tensor::zeros({2, 3}, DType::F32), Tensor::ones({2}, DType::F32),
               Tensor(), Tensor(), Tensor(), true);
  });
  CHECK(message.find("batch_norm: weight") != std::string::npos);
  CHECK(message.find("must be [3]") != std::string::npos);
  CHECK(error_of([&] { Dropout(1.5, gen); }).find("p must be in [0, 1]") != std::string::npos);
}

}  // namespace
}  // namespace margin
