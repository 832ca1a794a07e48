// tests/test_conv.cpp — convolution and pooling: values on tiny hand-computed cases, a
// direct-sum reference for every geometry in the tables (the general one, and the narrow
// groups that run on the CPU's direct kernels, whose float32 gradients are held to direct sums
// too), float64 gradient checks of input, weight and bias, and the errors for bad shapes
// (checking that the message names them).
#include <cmath>

#include "conv_cases.h"
#include "gradcheck.h"
#include "skip.h"

namespace margin {
namespace {

using namespace testing;

Tensor values(std::vector<double> data, const Shape& shape) {
  return Tensor::from_vector(data, shape, DType::F64, kCPU);
}

void check_close(const Tensor& actual, const std::vector<double>& expected) {
  std::vector<double> got = actual.to_vector();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]));
}

TEST_CASE("conv2d: a 2x2 filter over 1..9, by hand") {
  Tensor x = values({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = values({1, 2, 3, 4}, {1, 1, 2, 2});
  check_close(conv2d(x, w, values({1}, {1})), {38, 48, 68, 78});
  // padding 1, stride 2: each corner window sees only what lies inside the image
  check_close(conv2d(x, w, Tensor(), {2, 2, 1, 1, 1, 1, 1}), {4, 18, 36, 77});
}

std::vector<ConvCase> all_conv_cases() {
  std::vector<ConvCase> cases = conv_cases(), direct = direct_cases();
  cases.insert(cases.end(), direct.begin(), direct.end());
  return cases;
}

TEST_CASE("conv2d: every geometry matches the direct sum, in float32 and float64") {
  Generator gen(7);
  for (const ConvCase& c : all_conv_cases()) {
    for (DType dtype : {DType::F64, DType::F32}) {
      CAPTURE(c.name);
      Tensor x = Tensor::uniform(c.x, -1, 1, gen, dtype, kCPU);
      Tensor w = Tensor::uniform(c.w, -1, 1, gen, dtype, kCPU);
      Tensor y = conv2d(x, w, Tensor(), c.params);
      std::vector<double> expected = direct_conv(x, w, c.params, y.shape());
      std::vector<double> got = y.to_vector();
      double tolerance = dtype == DType::F64 ? 1e-12 : 1e-5;
      for (size_t i = 0; i < got.size(); ++i)
        CHECK(std::abs(got[i] - expected[i]) <= tolerance * (1 + std::abs(expected[i])));
    }
  }
}

void check_conv_gradients(const std::vector<ConvCase>& cases, Device device) {
  Generator gen(11);
  for (const ConvCase& c : cases) {
    CAPTURE(c.name);
    auto leaf = [&](const Shape& shape) {
      return Tensor::uniform(shape, -1, 1, gen, DType::F64, kCPU).to(device).requires_grad_();
    };
    Tensor x = leaf(c.x), w = leaf(c.w), bias = leaf({c.w[0]});
    Conv2dParams params = c.params;
    CHECK(gradcheck([params](const std::vector<Tensor>& in) {
      return conv2d(in[0], in[1], in[2], params);
    }, {x, w, bias}) == "");
  }
}

// Finite differences on the CPU, the reference backend; another default device (CUDA) is held
// to the CPU geometry by geometry in the next case (a float64 gradient check there cost the
// emulated CI run over a minute and checked the same kernels' results).
TEST_CASE("conv2d: gradients of input, weight and bias (float64 finite differences)") {
  check_conv_gradients(conv_cases(), kCPU);
}

TEST_CASE("conv2d: on the default device, y, dx, dw and the bias gradient of every geometry equal the CPU's in float64 (needs a CUDA device)") {
  if (default_device() == kCPU) return skip("the default device is the CPU, which the case above checks");
  Generator gen(19);
  for (const ConvCase& c : conv_cases()) {
    CAPTURE(c.name);
    const Tensor x = Tensor::uniform(c.x, -1, 1, gen, DType::F64, kCPU), w = Tensor::uniform(c.w, -1, 1, gen, DType::F64, kCPU);
    const Tensor bias = Tensor::uniform({c.w[0]}, -1, 1, gen, DType::F64, kCPU);
    std::vector<std::vector<double>> results[2];
    for (int side = 0; side < 2; ++side) {
      const Device device = side == 0 ? kCPU : default_device();
      Tensor xs = x.to(device).detach().requires_grad_(), ws = w.to(device).detach().requires_grad_();
      Tensor bs = bias.to(device).detach().requires_grad_();
      Tensor y = conv2d(xs, ws, bs, c.params);
      sum(y * y).backward();
      results[side] = {y.to_vector(), xs.grad().to_vector(), ws.grad().to_vector(), bs.grad().to_vector()};
    }
    for (size_t k = 0; k < 4; ++k) {
      CAPTURE(k);  // 0 y, 1 dx, 2 dw, 3 the bias gradient
      REQUIRE(results[1][k].size() == results[0][k].size());
      double scale = 1, worst = 0;
      for (double v : results[0][k]) scale = std::max(scale, std::abs(v));
      for (size_t i = 0; i < results[0][k].size(); ++i) {
        const double difference = std::abs(results[1][k][i] - results[0][k][i]);
        if (!(difference <= worst)) worst = difference;  // a NaN is the worst of all
      }
      CHECK(worst / scale <= 1e-12);
    }
  }
}

// The direct kernels are the CPU backend's: their cases run there whatever the default device
// (a GPU's grouped convolutions are held to the CPU's by tests/test_parity.cpp).
TEST_CASE("conv2d: the CPU's direct kernels' gradients of input, weight and bias (float64 finite differences)") {
  check_conv_gradients(direct_cases(), kCPU);
}

TEST_CASE("conv2d: the direct kernels' float32 gradients match the direct sums") {
  // Tolerance: |got − exact| ≤ 1e-5 · (1 + Σ|terms|), the terms being the products summed into
  // that element; float32 rounds each at 6e-8 and the kernels add at most a few hundred here.
  Generator gen(13);
  for (const ConvCase& c : direct_cases()) {
    CAPTURE(c.name);
    Tensor x = Tensor::uniform(c.x, -1, 1, gen, DType::F32, kCPU).requires_grad_();
    Tensor w = Tensor::uniform(c.w, -1, 1, gen, DType::F32, kCPU).requires_grad_();
    Tensor y = conv2d(x, w, Tensor(), c.params);
    Tensor dy = Tensor::uniform(y.shape(), -1, 1, gen, DType::F32, kCPU);
    sum(y * dy).backward();
    Reference ref = direct_conv_backward(x, w, dy, c.params);
    auto check = [](const char* what, const std::vector<double>& got, const std::vector<double>& exact,
                    const std::vector<double>& scale) {
      REQUIRE(got.size() == exact.size());
      double worst = 0;
      size_t worst_at = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        double excess = std::abs(got[i] - exact[i]) / (1 + scale[i]);
        if (excess > worst) worst = excess, worst_at = i;
      }
      CAPTURE(what);
      CAPTURE(worst_at);
      CAPTURE(got[worst_at]);
      CAPTURE(exact[worst_at]);
      CHECK(worst <= 1e-5);
    };
    check("dx", x.grad().to_vector(), ref.dx, ref.dx_scale);
    check("dw", w.grad().to_vector(), ref.dw, ref.dw_scale);
  }
}

TEST_CASE("conv2d: the batch split over threads, in chunks of samples, gives the one-sample result") {
  // N = 11 ≥ threads takes the OpenMP batch path; with 16x16 planes each thread cuts its
  // share into uneven chunks of samples side by side; N = 1 is the serial, one-sample path.
  // Output, input gradient and filter gradient must all agree.
  Generator gen(3);
  Tensor x = Tensor::uniform({11, 2, 16, 16}, -1, 1, gen, DType::F64, kCPU).requires_grad_();
  Tensor w = Tensor::uniform({3, 2, 3, 3}, -1, 1, gen, DType::F64, kCPU).requires_grad_();
  Tensor weights = Tensor::uniform({11, 3, 16, 16}, -1, 1, gen, DType::F64, kCPU);  // dL/dy
  Conv2dParams params{1, 1, 1, 1, 1, 1, 1};
  Tensor y_batch = conv2d(x, w, Tensor(), params);
  sum(y_batch * weights).backward();
  std::vector<double> y_all = y_batch.to_vector(), dx_all = x.grad().to_vector(), dw_all = w.grad().to_vector();
  std::vector<double> dw_serial(dw_all.size(), 0.0);
  const int64_t y_plane = 3 * 16 * 16, x_plane = 2 * 16 * 16;
  for (int64_t n = 0; n < 11; ++n) {
    CAPTURE(n);
    w.zero_grad();
    Tensor xn = x.detach().slice(0, n, n + 1).contiguous().requires_grad_();
    Tensor yn = conv2d(xn, w, Tensor(), params);
    sum(yn * weights.slice(0, n, n + 1)).backward();
    std::vector<double> y_one = yn.to_vector(), dx_one = xn.grad().to_vector(), dw_one = w.grad().to_vector();
    for (int64_t i = 0; i < y_plane; ++i) CHECK(y_all[n * y_plane + i] == doctest::Approx(y_one[i]).epsilon(1e-12));
    for (int64_t i = 0; i < x_plane; ++i) CHECK(dx_all[n * x_plane + i] == doctest::Approx(dx_one[i]).epsilon(1e-12));
    for (size_t i = 0; i < dw_one.size(); ++i) dw_serial[i] += dw_one[i];
  }
  for (size_t i = 0; i < dw_all.size(); ++i) CHECK(dw_all[i] == doctest::Approx(dw_serial[i]).epsilon(1e-12));
}

TEST_CASE("conv2d: errors name the shapes and what was expected") {
  Generator gen(1);
  Tensor x = Tensor::zeros({2, 3, 5, 5}, DType::F64, kCPU);
  std::string wrong_channels = error_of([&] { conv2d(x, Tensor::zeros({4, 2, 3, 3}, DType::F64, kCPU)); });
  CHECK(wrong_channels.find("input has 3 channels") != std::string::npos);
  CHECK(wrong_channels.find("expects 2") != std::string::npos);
  std::string too_large = error_of([&] { conv2d(x, Tensor::zeros({4, 3, 7, 7}, DType::F64, kCPU)); });
  CHECK(too_large.find("larger than the padded input height (5 + 2·0 = 5)") != std::string::npos);
  std::string groups = error_of([&] {
    conv2d(x, Tensor::zeros({4, 1, 3, 3}, DType::F64, kCPU), Tensor(), {1, 1, 0, 0, 1, 1, 2});
  });
  CHECK(groups.find("groups = 2 must divide both the input channels (3)") != std::string::npos);
  std::string bias = error_of([&] {
    conv2d(x, Tensor::zeros({4, 3, 3, 3}, DType::F64, kCPU), Tensor::zeros({3}, DType::F64, kCPU));
  });
  CHECK(bias.find("expected bias [4]") != std::string::npos);
  CHECK(error_of([&] { conv2d(Tensor::zeros({3, 5, 5}, DType::F64, kCPU), x); })
            .find("expected input [N, C, H, W]") != std::string::npos);
}

Pool2dParams pool(int64_t kernel, int64_t stride, int64_t pad, bool count_include_pad = true) {
  return {kernel, kernel, stride, stride, pad, pad, count_include_pad};
}

TEST_CASE("pooling: 1..9 by hand") {
  Tensor x = values({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  check_close(max_pool2d(x, pool(2, 1, 0)), {5, 6, 8, 9});
  check_close(max_pool2d(x, pool(2, 2, 1)), {1, 3, 7, 9});
  // padding counts in the divisor by default (PyTorch's count_include_pad = True)
  check_close(avg_pool2d(x, pool(2, 2, 1)), {0.25, 1.25, 2.75, 7});
  check_close(avg_pool2d(x, pool(2, 2, 1, false)), {1, 2.5, 5.5, 7});
  check_close(global_avg_pool(x), {5});
}

TEST_CASE("pooling: gradients with overlapping, non-overlapping and padded windows") {
  struct PoolCase {
    std::string name;
    Shape x;
    Pool2dParams params;
  };
  std::vector<PoolCase> cases = {
      {"pool(N=2,C=3,H=6,W=6,k=2,s=2)", {2, 3, 6, 6}, pool(2, 2, 0)},
      {"pool(N=2,C=2,H=7,W=7,k=3,s=2) overlapping", {2, 2, 7, 7}, pool(3, 2, 0)},
      {"pool(N=1,C=2,H=5,W=6,k=3,s=2,p=1) padded", {1, 2, 5, 6}, pool(3, 2, 1)},
      {"pool(N=1,C=2,H=5,W=5,k=3,s=1,p=1) padded, exclude pad", {1, 2, 5, 5}, pool(3, 1, 1, false)},
      {"pool(N=1,C=1,H=6,W=5,k=3x2,s=1x2)", {1, 1, 6, 5}, {3, 2, 1, 2, 0, 0, true}},
  };
  Generator gen(5);
  for (const PoolCase& c : cases) {
    CAPTURE(c.name);
    Pool2dParams params = c.params;
    // distinct values away from each other, so no max is tied and finite differences hold
    Tensor x = testing::leaf(c.x, gen);
    std::vector<double> spread(x.numel());
    for (size_t i = 0; i < spread.size(); ++i) spread[i] = std::sin(1.7 * i) + 0.001 * i;
    Tensor distinct = values(spread, c.x).requires_grad_();
    CHECK(gradcheck([params](const std::vector<Tensor>& in) { return max_pool2d(in[0], params); },
                    {distinct}) == "");
    CHECK(gradcheck([params](const std::vector<Tensor>& in) { return avg_pool2d(in[0], params); },
                    {x}) == "");
  }
  Tensor x = testing::leaf({2, 3, 4, 5}, gen);
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); }, {x}) == "");
}

TEST_CASE("max pooling 2x2 stride 2 (its fast path): the first maximum wins ties, NaN propagates, odd sizes floor") {
  // [1, 2, 5, 5] of values in {0, 1, 2}: many ties; one NaN. The reference scans each window
  // row by row and keeps the first element not ≤ the best so far (PyTorch's rule).
  const int64_t C = 2, H = 5, W = 5, P = 2, Q = 2;
  std::vector<double> data(C * H * W);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<double>((i * 7) % 3);
  data[W + 1] = std::nan("");
  Tensor x = values(data, {1, C, H, W}).requires_grad_();
  Tensor y = max_pool2d(x, pool(2, 2, 0));
  sum(y).backward();
  std::vector<double> got = y.to_vector(), grad = x.grad().to_vector(), want_grad(data.size(), 0.0);
  REQUIRE(got.size() == static_cast<size_t>(C * P * Q));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        double best = -INFINITY;
        int64_t best_at = -1;
        for (int64_t h = 2 * p; h < 2 * p + 2; ++h)
          for (int64_t w = 2 * q; w < 2 * q + 2; ++w) {
            int64_t at = (c * H + h) * W + w;
            if (!(data[at] <= best)) best = data[at], best_at = at;
          }
        double value = got[(c * P + p) * Q + q];
        CAPTURE(c);
        CAPTURE(p);
        CAPTURE(q);
        CHECK((std::isnan(best) ? std::isnan(value) : value == best));
        want_grad[best_at] += 1;
      }
  for (size_t i = 0; i < data.size(); ++i) {
    CAPTURE(i);
    CHECK(grad[i] == want_grad[i]);  // the gradient lands on the winner, not on a tie
  }
}

TEST_CASE("pooling: errors name the shapes and what was expected") {
  Tensor x = Tensor::zeros({1, 1, 4, 4}, DType::F64, kCPU);
  CHECK(error_of([&] { max_pool2d(x, pool(2, 2, 2)); }).find("must be between 0 and half the kernel") !=
        std::string::npos);
  CHECK(error_of([&] { avg_pool2d(x, pool(6, 1, 0)); }).find("larger than the padded input 4x4") !=
        std::string::npos);
  CHECK(error_of([&] { max_pool2d(Tensor::zeros({4, 4}, DType::F64, kCPU), pool(2, 2, 0)); })
            .find("max_pool2d: expected input [N, C, H, W]") != std::string::npos);
}

}  // namespace
}  // namespace margin
