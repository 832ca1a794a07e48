// tests/test_precision.cpp — mixed precision (core/precision.h): under an AutocastScope of bf16
// the matrix products multiply bfloat16-rounded operands and sum in float32, their backward
// products too, on every built device; the master weights stay float32.
//
// The bounds, stated once. With u = 2^-24 (float32's unit roundoff), u_b = 2^-8 (bfloat16's),
// x̂ = bf16(x) the rounded operands and n the number of terms summed into an element
// (forward: Cg·R·S; dx: Kg·R·S; dw: N·P·Q; matmul: K):
//   1. |got − Σ x̂ ŵ| ≤ γ_n · Σ |x̂ ŵ| + u·|got|,  γ_n = n·u / (1 − n·u):
//      the products of bfloat16 values are exact in float32; only the sum rounds (and the
//      result's own rounding). A truncated or unrounded operand is far outside it.
//   2. |got − Σ x w| ≤ (2·u_b + u_b²) · Σ |x w| + (bound 1):
//      each rounded operand is within a factor (1 ± u_b) of the float32 one.
#include <array>
#include <cmath>

#include "backends/cpu/gemm.h"
#include "backends/half.h"
#include "conv_cases.h"
#include "core/optim.h"
#include "core/precision.h"
#include "gradcheck.h"

namespace margin {
namespace {

using namespace testing;

constexpr double kU = 0x1p-24, kUb = 0x1p-8;

double gamma(double n) { return n * kU / (1 - n * kU); }

Tensor host_f64(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape, DType::F64, kCPU);
}

// Every element within bounds 1 and 2 (see the header); reports the worst excess.
void check_bounds(const char* what, const std::vector<double>& got, const std::vector<double>& on_rounded,
                  const std::vector<double>& rounded_scale, const std::vector<double>& exact,
                  const std::vector<double>& exact_scale, double n) {
  REQUIRE(got.size() == on_rounded.size());
  REQUIRE(got.size() == exact.size());
  double worst_1 = 0, worst_2 = 0;
  size_t at_1 = 0, at_2 = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound_1 = gamma(n) * rounded_scale[i] + kU * std::abs(got[i]);
    const double bound_2 = (2 * kUb + kUb * kUb) * exact_scale[i] + bound_1;
    // excess over the bound, as a fraction of it (≤ 1 passes); a zero bound needs equality
    const double excess_1 = std::abs(got[i] - on_rounded[i]) / std::max(bound_1, 1e-300);
    const double excess_2 = std::abs(got[i] - exact[i]) / std::max(bound_2, 1e-300);
    if (excess_1 > worst_1) worst_1 = excess_1, at_1 = i;
    if (excess_2 > worst_2) worst_2 = excess_2, at_2 = i;
  }
  CAPTURE(what);
  CAPTURE(n);
  CAPTURE(at_1);
  CAPTURE(got[at_1]);
  CAPTURE(on_rounded[at_1]);
  CHECK(worst_1 <= 1.0);
  CAPTURE(at_2);
  CAPTURE(exact[at_2]);
  CHECK(worst_2 <= 1.0);
}

TEST_CASE("precision: names, nested scopes, and fp16 refused on the CPU naming both") {
  CHECK(parse_precision("bf16") == Precision::BF16);
  CHECK(parse_precision("fp32") == Precision::FP32);
  CHECK(contains(error_of([] { parse_precision("bf17"); }), "--precision 'bf17': expected fp32, bf16 or fp16"));
  CHECK(product_operands(Precision::BF16) == DType::BF16);
  CHECK(autocast_precision() == Precision::FP32);
  {
    AutocastScope outer(Precision::BF16);
    CHECK(autocast_precision() == Precision::BF16);
    {
      AutocastScope inner(Precision::FP32);
      CHECK(autocast_precision() == Precision::FP32);
    }
    CHECK(autocast_precision() == Precision::BF16);
  }
  CHECK(autocast_precision() == Precision::FP32);
  const std::string refused = error_of([] { check_precision(Precision::FP16, kCPU); });
  CHECK(contains(refused, "fp16"));
  CHECK(contains(refused, "cpu"));
  // the CPU backend itself, asked for float16 products
  Generator gen(1);
  Tensor a = Tensor::randn({2, 2}, gen, DType::F32, kCPU);
  const std::string kernel = error_of([&] {
    AutocastScope fp16(Precision::FP16);
    matmul(a, a);
  });
  CHECK(contains(kernel, "float16 products run on CUDA only"));
}

// The bfloat16 kernels a convolution test runs on: on the CPU each of gemm.h's (AMX's and
// vdpbf16ps' where the CPU has them, falling to the next where it lacks one; the float kernel
// on rounded values), which also pick the convolution's algorithm (flat_conv.cpp or the
// implicit GEMM); another device has one.
std::vector<cpu::BFloat16Kernel> bfloat16_kernels(Device device) {
  if (device != kCPU) return {cpu::BFloat16Kernel::kAuto};
  return {cpu::BFloat16Kernel::kAuto, cpu::BFloat16Kernel::kVector, cpu::BFloat16Kernel::kEmulated};
}

std::vector<ConvCase> all_conv_cases() {
  std::vector<ConvCase> cases = conv_cases(), direct = direct_cases(), flat = flat_cases(default_device());
  cases.insert(cases.end(), direct.begin(), direct.end());
  cases.insert(cases.end(), flat.begin(), flat.end());
  return cases;
}

TEST_CASE("conv2d under bf16 autocast: forward, dx and dw are exact products of bfloat16 operands summed in float32") {
  Generator gen(17);
  for (const ConvCase& c : all_conv_cases()) {
    CAPTURE(c.name);
    Tensor x = Tensor::uniform(c.x, -1, 1, gen, DType::F32, default_device());
    Tensor w = Tensor::uniform(c.w, -1, 1, gen, DType::F32, default_device());
    const Shape y_shape = conv2d(x, w, Tensor(), c.params).shape();
    Tensor dy = Tensor::uniform(y_shape, -1, 1, gen, DType::F32, default_device());

    const std::vector<double> xs = x.to_vector(), ws = w.to_vector(), dys = dy.to_vector();
    Tensor x64 = host_f64(xs, c.x), w64 = host_f64(ws, c.w), dy64 = host_f64(dys, y_shape);
    Tensor xr = host_f64(bf16_rounded(xs), c.x), wr = host_f64(bf16_rounded(ws), c.w);
    Tensor dyr = host_f64(bf16_rounded(dys), y_shape);
    // forward: the backward reference with dy = 1 at one output would be slow; the forward's
    // own reference and scale (|x̂|·|ŵ| summed) instead
    const std::vector<double> y_exact = direct_conv(x64, w64, c.params, y_shape);
    const std::vector<double> y_rounded = direct_conv(xr, wr, c.params, y_shape);
    const std::vector<double> y_scale = direct_conv(abs(xr), abs(wr), c.params, y_shape);
    const std::vector<double> y_exact_scale = direct_conv(abs(x64), abs(w64), c.params, y_shape);
    const Reference exact = direct_conv_backward(x64, w64, dy64, c.params);
    const Reference on_rounded = direct_conv_backward(xr, wr, dyr, c.params);
    const double Cg = static_cast<double>(c.w[1]), RS = static_cast<double>(c.w[2] * c.w[3]);
    const double Kg = static_cast<double>(c.w[0] / c.params.groups);
    const double NPQ = static_cast<double>(y_shape[0] * y_shape[2] * y_shape[3]);

    for (cpu::BFloat16Kernel kernel : bfloat16_kernels(default_device())) {
      cpu::set_bfloat16_kernel(kernel);
      CAPTURE(std::string(cpu::bfloat16_kernel_name()));
      Tensor xk = x.detach().requires_grad_(), wk = w.detach().requires_grad_();
      Tensor y;
      {
        AutocastScope bf16(Precision::BF16);
        y = conv2d(xk, wk, Tensor(), c.params);
      }
      sum(y * dy).backward();  // outside the scope: the backward keeps the forward's precision
      check_bounds("y", y.to_vector(), y_rounded, y_scale, y_exact, y_exact_scale, Cg * RS);
      check_bounds("dx", xk.grad().to_vector(), on_rounded.dx, on_rounded.dx_scale, exact.dx, exact.dx_scale, Kg * RS);
      check_bounds("dw", wk.grad().to_vector(), on_rounded.dw, on_rounded.dw_scale, exact.dw, exact.dw_scale, NPQ);
    }
    cpu::set_bfloat16_kernel(cpu::BFloat16Kernel::kAuto);
  }
}

TEST_CASE("conv2d and its backward-filter kernel take the image stored as bfloat16 and give bit for bit what its float32 values give") {
  Generator gen(23);
  const std::vector<ConvCase> cases = all_conv_cases();
  Backend& backend = backend_for(default_device());
  for (const ConvCase& c : cases) {
    CAPTURE(c.name);
    Conv2dParams params = c.params;
    params.operands = DType::BF16;
    Tensor x = Tensor::uniform(c.x, -1, 1, gen, DType::F32, default_device());
    Tensor w = Tensor::uniform(c.w, -1, 1, gen, DType::F32, default_device());
    Tensor stored = x.to(DType::BF16);
    Tensor y = conv2d(x, w, Tensor(), c.params).detach();  // for its shape
    Tensor dy = Tensor::uniform(y.shape(), -1, 1, gen, DType::F32, default_device());
    for (cpu::BFloat16Kernel kernel : bfloat16_kernels(default_device())) {
      cpu::set_bfloat16_kernel(kernel);
      CAPTURE(std::string(cpu::bfloat16_kernel_name()));
      Tensor y_float = Tensor::empty(y.shape()), y_stored = Tensor::empty(y.shape());
      backend.conv2d(params, x.view(), w.view(), y_float.view());
      backend.conv2d(params, stored.view(), w.view(), y_stored.view());
      CHECK(y_stored.to_vector() == y_float.to_vector());
      Tensor dw_float = Tensor::empty(c.w), dw_stored = Tensor::empty(c.w);
      backend.conv2d_backward_filter(params, x.view(), dy.view(), dw_float.view());
      backend.conv2d_backward_filter(params, stored.view(), dy.view(), dw_stored.view());
      CHECK(dw_stored.to_vector() == dw_float.to_vector());
    }
    cpu::set_bfloat16_kernel(cpu::BFloat16Kernel::kAuto);
  }
  // A bfloat16 image is for bfloat16 products only.
  const ConvCase& c = cases.front();
  Tensor x = Tensor::zeros(c.x, DType::BF16), w = Tensor::zeros(c.w), y = conv2d(Tensor::zeros(c.x), w, Tensor(), c.params);
  CHECK(contains(error_of([&] { backend.conv2d(c.params, x.view(), w.view(), y.view()); }),
                 "a bfloat16 image with float32 operands"));
}

TEST_CASE("conv2d under bf16 autocast keeps its input for the backward in bfloat16, not the float32 tensor") {
  Generator gen(29);
  Tensor w = Tensor::uniform({8, 4, 3, 3}, -1, 1, gen).requires_grad_();
  for (Precision precision : {Precision::FP32, Precision::BF16}) {
    const std::string name = precision_name(precision);
    CAPTURE(name);
    Tensor leaf = Tensor::uniform({2, 4, 6, 6}, -1, 1, gen).requires_grad_();
    Tensor x = leaf + leaf;  // a layer's output (add keeps nothing for its backward)
    Tensor y;
    {
      AutocastScope scope(precision);
      y = conv2d(x, w, Tensor(), Conv2dParams{});
    }
    // x's memory is held by x alone under bf16 (the graph keeps a rounded copy), by x and the
    // graph under fp32
    CHECK(x.impl()->storage.use_count() == (precision == Precision::BF16 ? 1 : 2));
    // and dw from the kept copy is the backend's dw of x itself with the precision's operands
    sum(y).backward();
    Conv2dParams params;
    params.operands = product_operands(precision);
    Tensor expected = Tensor::empty(w.shape()), ones = Tensor::ones(y.shape());
    backend_for(default_device()).conv2d_backward_filter(params, x.view(), ones.view(), expected.view());
    CHECK(w.grad().to_vector() == expected.to_vector());
    w.zero_grad();
  }
}

// x [N, 6, …] and batch norm's weight and bias and a PReLU's slopes for its 6 channels, all
// requiring gradients.
std::array<Tensor, 4> norm_inputs(const Shape& shape, Generator& gen, Device device) {
  return {Tensor::uniform(shape, -2, 3, gen, DType::F32, device).requires_grad_(),
          Tensor::uniform({6}, 0.5, 1.5, gen, DType::F32, device).requires_grad_(),
          Tensor::uniform({6}, -1, 1, gen, DType::F32, device).requires_grad_(),
          Tensor::uniform({6}, 0, 0.5, gen, DType::F32, device).requires_grad_()};
}

// Fused, the PReLU's input is recomputed from batch norm's kept x: one rounded copy in all.
TEST_CASE("batch_norm_prelu under bf16 autocast keeps x alone in bfloat16, and its gradients are the kernel's on that x") {
  Generator gen(37);
  const Device device = default_device();
  Backend& backend = backend_for(device);
  const Shape shape{4, 6, 5, 7};
  const std::array<Tensor, 4> inputs = norm_inputs(shape, gen, device);
  Tensor leaf = inputs[0], gamma = inputs[1], beta = inputs[2], slopes = inputs[3];
  Tensor x = leaf + leaf, z;
  {
    AutocastScope bf16(Precision::BF16);
    z = batch_norm_prelu(x, gamma, beta, Tensor(), Tensor(), slopes, true);
  }
  CHECK(x.impl()->storage.use_count() == 1);
  // the forward reads x in float32: the kernel's output on x itself
  Tensor mean = Tensor::empty({6}, DType::F32, device), inv_std = Tensor::empty({6}, DType::F32, device);
  Tensor expected = Tensor::empty(shape, DType::F32, device);
  backend.batch_norm_forward_train(BatchNormParams{1e-5, 0.1}, x.detach().view(), gamma.detach().view(),
                                   beta.detach().view(), slopes.detach().view(), View{}, expected.view(),
                                   mean.view(), inv_std.view(), View{}, View{}, View{});
  CHECK(z.to_vector() == expected.to_vector());
  Tensor dz = Tensor::uniform(shape, -1, 1, gen, DType::F32, device);
  sum(z * dz).backward();
  Tensor x_rounded = x.detach().to(DType::BF16).to(DType::F32);
  Tensor dx = Tensor::empty(shape, DType::F32, device), dgamma = Tensor::empty({6}, DType::F32, device),
         dbeta = Tensor::empty({6}, DType::F32, device), dslopes = Tensor::empty({6}, DType::F32, device);
  backend.batch_norm_backward(true, x_rounded.view(), dz.view(), gamma.detach().view(), beta.detach().view(),
                              slopes.detach().view(), mean.view(), inv_std.view(), dx.view(), dgamma.view(),
                              dbeta.view(), dslopes.view());
  CHECK(gamma.grad().to_vector() == dgamma.to_vector());
  CHECK(beta.grad().to_vector() == dbeta.to_vector());
  CHECK(slopes.grad().to_vector() == dslopes.to_vector());
  CHECK(leaf.grad().to_vector() == (dx + dx).to_vector());
  // and dx is within 1e-3 of the float32 x's (the rounding of x moves x̂ by ≤ 2⁻⁹·|x̂|),
  // but where a u within that of 0 recomputes on the other side: a handful at most
  Tensor dx32 = Tensor::empty(shape, DType::F32, device), dslopes32 = Tensor::empty({6}, DType::F32, device);
  backend.batch_norm_backward(true, x.detach().view(), dz.view(), gamma.detach().view(), beta.detach().view(),
                              slopes.detach().view(), mean.view(), inv_std.view(), dx32.view(), View{}, View{},
                              dslopes32.view());
  const std::vector<double> a = dx.to_vector(), b = dx32.to_vector();
  int64_t far = 0;
  for (size_t i = 0; i < a.size(); ++i) far += std::abs(a[i] - b[i]) > 1e-3;
  CHECK(far <= 2);
}

TEST_CASE("batch norm and PReLU under bf16 autocast keep their inputs in bfloat16, and their gradients are the kernels' on those rounded inputs") {
  Generator gen(31);
  const Device device = default_device();
  Backend& backend = backend_for(device);
  const Shape shape{4, 6, 5, 7};
  const std::array<Tensor, 4> inputs = norm_inputs(shape, gen, device);
  Tensor leaf = inputs[0], gamma = inputs[1], beta = inputs[2], slopes = inputs[3];
  Tensor x = leaf + leaf;  // a layer's output (add keeps nothing for its backward)
  Tensor y, z;
  {
    AutocastScope bf16(Precision::BF16);
    y = batch_norm(x, gamma, beta, Tensor(), Tensor(), true, 0.1, 1e-5);
    z = prelu(y, slopes);
  }
  // x and y are held by their handles alone: batch norm and PReLU keep rounded copies
  CHECK(x.impl()->storage.use_count() == 1);
  CHECK(y.impl()->storage.use_count() == 1);
  Tensor dz = Tensor::uniform(shape, -1, 1, gen, DType::F32, device);
  sum(z * dz).backward();

  // The same kernels on the inputs rounded to bfloat16 and widened back, by hand.
  Tensor x_rounded = x.detach().to(DType::BF16).to(DType::F32), y_rounded = y.detach().to(DType::BF16).to(DType::F32);
  Tensor dy = Tensor::empty(shape, DType::F32, device), dslopes = Tensor::empty({6}, DType::F32, device);
  backend.prelu_backward(y_rounded.view(), slopes.detach().view(), dz.view(), dy.view(), dslopes.view());
  CHECK(slopes.grad().to_vector() == dslopes.to_vector());
  Tensor dslopes_alone = Tensor::empty({6}, DType::F32, device);  // the slopes' sum without dx's pass
  backend.prelu_backward(y_rounded.view(), slopes.detach().view(), dz.view(), View{}, dslopes_alone.view());
  CHECK(dslopes_alone.to_vector() == dslopes.to_vector());
  Tensor mean = Tensor::empty({6}, DType::F32, device), inv_std = Tensor::empty({6}, DType::F32, device);
  Tensor normalized = Tensor::empty(shape, DType::F32, device);
  backend.batch_norm_forward_train(BatchNormParams{1e-5, 0.1}, x.detach().view(), gamma.detach().view(),
                                   beta.detach().view(), View{}, View{}, normalized.view(), mean.view(), inv_std.view(),
                                   View{}, View{}, View{});
  Tensor dx = Tensor::empty(shape, DType::F32, device), dgamma = Tensor::empty({6}, DType::F32, device),
         dbeta = Tensor::empty({6}, DType::F32, device);
  backend.batch_norm_backward(true, x_rounded.view(), dy.view(), gamma.detach().view(), View{}, View{}, mean.view(),
                              inv_std.view(), dx.view(), dgamma.view(), dbeta.view(), View{});
  CHECK(gamma.grad().to_vector() == dgamma.to_vector());
  CHECK(beta.grad().to_vector() == dbeta.to_vector());
  CHECK(leaf.grad().to_vector() == (dx + dx).to_vector());  // x = leaf + leaf
  // The kept copies the forward kernels write as they read x are copy's rounding, bit for bit,
  // and writing one changes nothing else.
  Tensor kept = Tensor::empty(shape, DType::BF16, device), again = Tensor::empty(shape, DType::F32, device);
  Tensor mean_again = Tensor::empty({6}, DType::F32, device), inv_std_again = Tensor::empty({6}, DType::F32, device);
  backend.batch_norm_forward_train(BatchNormParams{1e-5, 0.1}, x.detach().view(), gamma.detach().view(),
                                   beta.detach().view(), View{}, View{}, again.view(), mean_again.view(),
                                   inv_std_again.view(), View{}, View{}, kept.view());
  CHECK(kept.to(DType::F32).to_vector() == x_rounded.to_vector());
  CHECK(again.to_vector() == normalized.to_vector());
  CHECK(mean_again.to_vector() == mean.to_vector());
  CHECK(inv_std_again.to_vector() == inv_std.to_vector());
  Tensor activated = Tensor::empty(shape, DType::F32, device);
  backend.prelu(y.detach().view(), slopes.detach().view(), activated.view(), kept.view());
  CHECK(kept.to(DType::F32).to_vector() == y_rounded.to_vector());
  CHECK(activated.to_vector() == z.detach().to_vector());
  CHECK(contains(error_of([&] {
                   backend.prelu(y.detach().view(), slopes.detach().view(), activated.view(), again.view());
                 }),
                 "prelu: the kept copy is float32 of 840 elements for float32 x of 840"));
  // In eval mode (the running statistics) batch norm keeps the same rounded copy.
  Tensor running_mean = Tensor::uniform({6}, -0.5, 0.5, gen, DType::F32, device);
  Tensor running_var = Tensor::uniform({6}, 0.5, 2, gen, DType::F32, device);
  Tensor eval_leaf = leaf.detach().requires_grad_(), eval_gamma = gamma.detach().requires_grad_();
  Tensor eval_x = eval_leaf + eval_leaf, eval_y;
  {
    AutocastScope bf16(Precision::BF16);
    eval_y = batch_norm(eval_x, eval_gamma, Tensor(), running_mean, running_var, false, 0.1, 1e-5);
  }
  CHECK(eval_x.impl()->storage.use_count() == 1);
  sum(eval_y * dz).backward();
  Tensor eval_mean = Tensor::empty({6}, DType::F32, device), eval_inv_std = Tensor::empty({6}, DType::F32, device);
  backend.batch_norm_forward_eval(BatchNormParams{1e-5, 0.1}, x.detach().view(), gamma.detach().view(), View{},
                                  View{}, View{}, running_mean.view(), running_var.view(), normalized.view(), eval_mean.view(),
                                  eval_inv_std.view());
  backend.batch_norm_backward(false, x_rounded.view(), dz.view(), gamma.detach().view(), View{}, View{},
                              eval_mean.view(), eval_inv_std.view(), dx.view(), dgamma.view(), View{}, View{});
  CHECK(eval_gamma.grad().to_vector() == dgamma.to_vector());
  CHECK(eval_leaf.grad().to_vector() == (dx + dx).to_vector());
  // a bfloat16 input goes with float32 data only
  Tensor x64 = Tensor::zeros(shape, DType::F64, device), s64 = Tensor::zeros({6}, DType::F64, device);
  CHECK(contains(error_of([&] {
                   backend.prelu_backward(x_rounded.to(DType::BF16).view(), s64.view(), x64.view(), x64.view(),
                                          s64.view());
                 }),
                 "expected one dtype, or a bfloat16 x with float32 dy"));
}

TEST_CASE("matmul under bf16 autocast: the product and both gradients round their operands, and only inside the scope") {
  Generator gen(3);
  const int64_t M = 37, K = 300, N = 53;
  Tensor a = Tensor::uniform({M, K}, -1, 1, gen, DType::F32, default_device()).requires_grad_();
  Tensor b = Tensor::uniform({K, N}, -1, 1, gen, DType::F32, default_device()).requires_grad_();
  Tensor g = Tensor::uniform({M, N}, -1, 1, gen, DType::F32, default_device());
  Tensor c;
  {
    AutocastScope bf16(Precision::BF16);
    c = matmul(a, b);
  }
  sum(c * g).backward();
  // references in float64 on the host: C = A B, dA = G Bᵀ, dB = Aᵀ G, on exact and rounded
  // operands, with the sums of magnitudes
  const std::vector<double> as = a.to_vector(), bs = b.to_vector(), gs = g.to_vector();
  const std::vector<double> ar = bf16_rounded(as), br = bf16_rounded(bs), gr = bf16_rounded(gs);
  struct Sums {
    std::vector<double> value, scale;
  };
  auto product = [](const std::vector<double>& l, const std::vector<double>& r, int64_t rows, int64_t inner,
                    int64_t cols, bool l_t, bool r_t) {
    Sums s{std::vector<double>(rows * cols), std::vector<double>(rows * cols)};
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t k = 0; k < inner; ++k) {
          const double term = (l_t ? l[k * rows + i] : l[i * inner + k]) * (r_t ? r[j * inner + k] : r[k * cols + j]);
          s.value[i * cols + j] += term;
          s.scale[i * cols + j] += std::abs(term);
        }
    return s;
  };
  Sums c_exact = product(as, bs, M, K, N, false, false), c_rounded = product(ar, br, M, K, N, false, false);
  check_bounds("C", c.to_vector(), c_rounded.value, c_rounded.scale, c_exact.value, c_exact.scale, K);
  Sums da_exact = product(gs, bs, M, N, K, false, true), da_rounded = product(gr, br, M, N, K, false, true);
  check_bounds("dA", a.grad().to_vector(), da_rounded.value, da_rounded.scale, da_exact.value, da_exact.scale, N);
  Sums db_exact = product(as, gs, K, M, N, true, false), db_rounded = product(ar, gr, K, M, N, true, false);
  check_bounds("dB", b.grad().to_vector(), db_rounded.value, db_rounded.scale, db_exact.value, db_exact.scale, M);
  // The same product outside any scope is float32's: within float32's bound of the exact
  // product, which the bfloat16 one (off by ~u_b) misses.
  const std::vector<double> plain = matmul(a, b).to_vector(), in_bf16 = c.to_vector();
  double plain_worst = 0, bf16_worst = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    const double bound = gamma(K) * c_exact.scale[i] + kU * std::abs(plain[i]);
    plain_worst = std::max(plain_worst, std::abs(plain[i] - c_exact.value[i]) / bound);
    bf16_worst = std::max(bf16_worst, std::abs(in_bf16[i] - c_exact.value[i]) / bound);
  }
  CHECK(plain_worst <= 1.0);
  CHECK(bf16_worst > 1.0);
}

TEST_CASE("a bf16 training step keeps float32 master weights: updates below bfloat16's resolution still land") {
  // w = 1 everywhere; one SGD step of lr 1e-4 on L = Σ (x w)·g moves each weight by 1e-4·(xᵀg),
  // far below bfloat16's spacing at 1 (2^-7 ≈ 0.0078): a bfloat16 master copy would not move.
  Generator gen(5);
  Tensor w = Tensor::ones({4, 3}, DType::F32, default_device()).requires_grad_();
  Tensor x = Tensor::uniform({6, 4}, -1, 1, gen, DType::F32, default_device());
  Tensor g = Tensor::uniform({6, 3}, -1, 1, gen, DType::F32, default_device());
  SGD sgd({w}, {.lr = 1e-4});
  {
    AutocastScope bf16(Precision::BF16);
    Tensor y = matmul(x, w);
    sum(y * g).backward();  // (inside the scope too: the gradient products are bf16's either way)
  }
  const std::vector<double> grad = w.grad().to_vector();
  sgd.step();
  const std::vector<double> after = w.to_vector();
  CHECK(w.dtype() == DType::F32);
  for (size_t i = 0; i < after.size(); ++i) {
    CAPTURE(i);
    CHECK(after[i] != 1.0);
    CHECK(std::abs(after[i] - (1.0 - 1e-4 * grad[i])) <= 0x1p-23);  // float32's spacing at 1
    CHECK(bf16_float(bf16_bits(static_cast<float>(after[i]))) == 1.0f);  // what a bf16 copy would hold
  }
}

}  // namespace
}  // namespace margin
