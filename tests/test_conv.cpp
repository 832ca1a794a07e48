// tests/test_conv.cpp — convolution and pooling: values on tiny hand-computed cases, a
// direct-sum reference for every geometry in the tables (the general one, and the narrow
// groups that run on the CPU's direct kernels, whose float32 gradients are held to direct sums
// too), float64 gradient checks of input, weight and bias, and the errors for bad shapes
// (checking that the message names them).
#include <cmath>

#include "gradcheck.h"

namespace margin {
namespace {

using testing::error_of;
using testing::gradcheck;

Tensor values(std::vector<double> data, const Shape& shape) {
  return Tensor::from_vector(data, shape, DType::F64, kCPU);
}

void check_close(const Tensor& actual, const std::vector<double>& expected) {
  std::vector<double> got = actual.to_vector();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]));
}

// y[n,k,p,q] straight from the definition in backends/backend.h: the slow reference.
std::vector<double> direct_conv(const Tensor& x, const Tensor& w, const Conv2dParams& p,
                                const Shape& out) {
  std::vector<double> xs = x.to_vector(), ws = w.to_vector(), ys(shape_numel(out), 0.0);
  int64_t C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), Cg = w.size(1);
  int64_t R = w.size(2), S = w.size(3), Kg = K / p.groups;
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < out[2]; ++oh)
        for (int64_t ow = 0; ow < out[3]; ++ow) {
          double total = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                int64_t h = oh * p.stride_h - p.pad_h + r * p.dilation_h;
                int64_t v = ow * p.stride_w - p.pad_w + s * p.dilation_w;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                int64_t channel = (k / Kg) * Cg + c;
                total += xs[((n * C + channel) * H + h) * W + v] * ws[((k * Cg + c) * R + r) * S + s];
              }
          ys[((n * K + k) * out[2] + oh) * out[3] + ow] = total;
        }
  return ys;
}

struct ConvCase {
  std::string name;
  Shape x, w;
  Conv2dParams params;
};

std::vector<ConvCase> conv_cases() {
  return {
      {"conv2d(N=2,C=3,H=5,W=6,K=4,k=3)", {2, 3, 5, 6}, {4, 3, 3, 3}, {}},
      {"conv2d(N=2,C=3,H=7,W=5,K=4,k=3,s=2,p=1)", {2, 3, 7, 5}, {4, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 1}},
      {"conv2d(N=1,C=2,H=6,W=6,K=3,k=3,s=2) last row unread", {1, 2, 6, 6}, {3, 2, 3, 3}, {2, 2, 0, 0, 1, 1, 1}},
      {"conv2d(N=2,C=2,H=7,W=7,K=3,k=3,d=2,p=2)", {2, 2, 7, 7}, {3, 2, 3, 3}, {1, 1, 2, 2, 2, 2, 1}},
      {"conv2d(N=2,C=4,H=5,W=5,K=6,k=3,p=1,groups=2)", {2, 4, 5, 5}, {6, 2, 3, 3}, {1, 1, 1, 1, 1, 1, 2}},
      {"conv2d(N=2,C=4,H=5,W=5,K=4,k=3,p=1) depthwise", {2, 4, 5, 5}, {4, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 4}},
      {"conv2d(N=1,C=3,H=5,W=5,K=6,k=3,s=2,p=1) depthwise x2", {1, 3, 5, 5}, {6, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 3}},
      {"conv2d(N=2,C=3,H=4,W=5,K=5,k=1) pointwise", {2, 3, 4, 5}, {5, 3, 1, 1}, {}},
      {"conv2d(N=2,C=3,H=5,W=5,K=4,k=1,s=2) strided 1x1", {2, 3, 5, 5}, {4, 3, 1, 1}, {2, 2, 0, 0, 1, 1, 1}},
      {"conv2d(N=1,C=2,H=6,W=5,K=3,k=3x2,s=2x1,p=0x1) asymmetric", {1, 2, 6, 5}, {3, 2, 3, 2}, {2, 1, 0, 1, 1, 1, 1}},
      // stride 1 and at least 16 input channels a group: backward data runs as a convolution
      // by the flipped filter, padded d·(R−1) − pad ...
      {"conv2d(N=2,C=32,H=6,W=5,K=4,k=3x2,d=2x1,p=1x0,groups=2) flipped", {2, 32, 6, 5}, {4, 16, 3, 2}, {1, 1, 1, 0, 2, 1, 2}},
      {"conv2d(N=1,C=16,H=4,W=4,K=3,k=1) pointwise flipped", {1, 16, 4, 4}, {3, 16, 1, 1}, {}},
      // ... unless pad > d·(R−1), which would be a negative padding, or strided: col2im then
      {"conv2d(N=2,C=16,H=4,W=4,K=2,k=1,p=1) padded 1x1", {2, 16, 4, 4}, {2, 16, 1, 1}, {1, 1, 1, 1, 1, 1, 1}},
      {"conv2d(N=2,C=16,H=7,W=6,K=3,k=3,s=2,p=1) strided, 16 channels", {2, 16, 7, 6}, {3, 16, 3, 3}, {2, 2, 1, 1, 1, 1, 1}},
      {"conv2d(N=2,C=16,H=5,W=5,K=4,k=1,s=2) strided 1x1, 16 channels", {2, 16, 5, 5}, {4, 16, 1, 1}, {2, 2, 0, 0, 1, 1, 1}},
      {"conv2d(N=1,C=16,H=9,W=8,K=2,k=3,s=2,d=2,p=2) odd rows unread", {1, 16, 9, 8}, {2, 16, 3, 3}, {2, 2, 2, 2, 2, 2, 1}},
      {"conv2d(N=1,C=32,H=8,W=7,K=4,k=3x2,s=3x2,p=1x0,groups=2) strided, asymmetric", {1, 32, 8, 7}, {4, 16, 3, 2}, {3, 2, 1, 0, 1, 1, 2}},
      // small planes: several samples side by side in one product, in uneven chunks
      {"conv2d(N=7,C=3,H=4,W=4,K=4,k=3,p=1) samples side by side", {7, 3, 4, 4}, {4, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
      {"conv2d(N=9,C=4,H=3,W=3,K=6,k=1,groups=2) pointwise side by side", {9, 4, 3, 3}, {6, 2, 1, 1}, {1, 1, 0, 0, 1, 1, 2}},
      // large planes (≥ 2048 outputs): cut into bands of 22 output rows (22, 22, 2)
      {"conv2d(N=1,C=1,H=46,W=46,K=2,k=3,p=1) bands of rows", {1, 1, 46, 46}, {2, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
      {"conv2d(N=2,C=2,H=46,W=46,K=2,k=1) pointwise bands", {2, 2, 46, 46}, {2, 2, 1, 1}, {}},
      // one or two input channels (a first layer): products with a short inner dimension
      {"conv2d(N=3,C=1,H=6,W=5,K=5,k=3,p=1) one channel", {3, 1, 6, 5}, {5, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
      {"conv2d(N=2,C=1,H=4,W=3,K=2,k=3,p=2) output wider than its input", {2, 1, 4, 3}, {2, 1, 3, 3}, {1, 1, 2, 2, 1, 1, 1}},
      {"conv2d(N=2,C=2,H=5,W=6,K=3,k=2x4,p=0x1) two channels, asymmetric", {2, 2, 5, 6}, {3, 2, 2, 4}, {1, 1, 0, 1, 1, 1, 1}},
      {"conv2d(N=1,C=1,H=7,W=7,K=2,k=4) one channel, 4x4, no padding", {1, 1, 7, 7}, {2, 1, 4, 4}, {}},
  };
}

// Narrow groups (≤ 4 input and 4 output channels a group, groups > 1) take the CPU backend's
// direct kernels (backends/cpu/depthwise.cpp): every branch of them, odd sizes included.
std::vector<ConvCase> direct_cases() {
  return {
      {"depthwise(N=3,C=5,H=9,W=7,k=3,p=1)", {3, 5, 9, 7}, {5, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 5}},
      {"depthwise(N=2,C=5,H=9,W=7,k=3,s=2,p=1) odd width", {2, 5, 9, 7}, {5, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 5}},
      {"depthwise(N=2,C=3,H=7,W=10,k=3,s=2,p=1) even width: columns split by vectors", {2, 3, 7, 10}, {3, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 3}},
      {"depthwise(N=1,C=2,H=9,W=40,k=3,s=2,p=1) rows wider than two vectors", {1, 2, 9, 40}, {2, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 2}},
      {"depthwise(N=2,C=2,H=8,W=8,k=3,s=2,p=0) even width, no padding", {2, 2, 8, 8}, {2, 1, 3, 3}, {2, 2, 0, 0, 1, 1, 2}},
      {"depthwise(N=1,C=3,H=11,W=10,k=3,s=3,p=2) three phases a side", {1, 3, 11, 10}, {3, 1, 3, 3}, {3, 3, 2, 2, 1, 1, 3}},
      {"depthwise(N=1,C=2,H=9,W=5,k=3x2,s=2x1,p=1x0) asymmetric", {1, 2, 9, 5}, {2, 1, 3, 2}, {2, 1, 1, 0, 1, 1, 2}},
      {"depthwise(N=2,C=4,H=9,W=8,k=3,d=2,p=2) dilated", {2, 4, 9, 8}, {4, 1, 3, 3}, {1, 1, 2, 2, 2, 2, 4}},
      {"depthwise(N=1,C=2,H=5,W=4,k=3,p=3) padded past the filter: scattered", {1, 2, 5, 4}, {2, 1, 3, 3}, {1, 1, 3, 3, 1, 1, 2}},
      {"depthwise(N=2,C=3,H=4,W=5,k=1) 1x1", {2, 3, 4, 5}, {3, 1, 1, 1}, {1, 1, 0, 0, 1, 1, 3}},
      {"depthwise(N=3,C=20,H=6,W=6,k=3,p=1) 20 channels", {3, 20, 6, 6}, {20, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 20}},
      {"grouped(N=2,C=8,H=11,W=9,K=8,k=3,p=1,groups=4) 2 in, 2 out a group", {2, 8, 11, 9}, {8, 2, 3, 3}, {1, 1, 1, 1, 1, 1, 4}},
      {"grouped(N=2,C=8,H=9,W=8,K=8,k=3,s=2,p=1,groups=4) 2 in, 2 out, strided", {2, 8, 9, 8}, {8, 2, 3, 3}, {2, 2, 1, 1, 1, 1, 4}},
      {"grouped(N=2,C=3,H=7,W=7,K=6,k=3,s=2,p=1,groups=3) 1 in, 2 out", {2, 3, 7, 7}, {6, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 3}},
      {"grouped(N=1,C=8,H=6,W=7,K=2,k=3,p=1,groups=2) 4 in, 1 out", {1, 8, 6, 7}, {2, 4, 3, 3}, {1, 1, 1, 1, 1, 1, 2}},
      {"global depthwise(N=3,C=6,H=5,W=5,k=5) the GDC's shape", {3, 6, 5, 5}, {6, 1, 5, 5}, {1, 1, 0, 0, 1, 1, 6}},
      {"global grouped(N=2,C=4,H=3,W=2,K=4,k=3x2,groups=2) oblong", {2, 4, 3, 2}, {4, 2, 3, 2}, {1, 1, 0, 0, 1, 1, 2}},
  };
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

TEST_CASE("conv2d: gradients of input, weight and bias (float64 finite differences)") {
  check_conv_gradients(conv_cases(), default_device());
}

// The direct kernels are the CPU backend's: their cases run there whatever the default device
// (a GPU's grouped convolutions are held to the CPU's by tests/test_parity.cpp).
TEST_CASE("conv2d: the CPU's direct kernels' gradients of input, weight and bias (float64 finite differences)") {
  check_conv_gradients(direct_cases(), kCPU);
}

// dx and dw straight from backends/backend.h's definitions, summed in double, with the sum of
// the terms' magnitudes beside each (the scale a float32 sum's rounding error is bounded by).
struct Reference {
  std::vector<double> dx, dx_scale, dw, dw_scale;
};
Reference direct_conv_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Conv2dParams& p) {
  std::vector<double> xs = x.to_vector(), ws = w.to_vector(), dys = dy.to_vector();
  Reference ref{std::vector<double>(xs.size()), std::vector<double>(xs.size()), std::vector<double>(ws.size()),
                std::vector<double>(ws.size())};
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), Cg = w.size(1);
  int64_t R = w.size(2), S = w.size(3), P = dy.size(2), Q = dy.size(3), Kg = K / p.groups;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < P; ++oh)
        for (int64_t ow = 0; ow < Q; ++ow)
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                int64_t h = oh * p.stride_h - p.pad_h + r * p.dilation_h;
                int64_t v = ow * p.stride_w - p.pad_w + s * p.dilation_w;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                int64_t x_at = ((n * C + (k / Kg) * Cg + c) * H + h) * W + v, w_at = ((k * Cg + c) * R + r) * S + s;
                double grad = dys[((n * K + k) * P + oh) * Q + ow];
                ref.dx[x_at] += grad * ws[w_at];
                ref.dx_scale[x_at] += std::abs(grad * ws[w_at]);
                ref.dw[w_at] += grad * xs[x_at];
                ref.dw_scale[w_at] += std::abs(grad * xs[x_at]);
              }
  return ref;
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
