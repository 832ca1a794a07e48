// tests/test_margin_head.cpp — the fused margin head against the composed losses (the
// reference): same loss and gradients in float32 at a realistic size, and the op's own
// gradient check in float64.
#include <cmath>
#include <sstream>

#include "gradcheck.h"
#include "losses/margin_loss.h"

namespace margin {
namespace {

// The largest |got − want| and where, printed with the first values on failure (llm.c).
std::string max_difference_report(const std::string& what, const std::vector<double>& got,
                                  const std::vector<double>& want, double tolerance) {
  double worst = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double difference = std::abs(got[i] - want[i]);
    if (!(difference <= worst)) worst = difference, worst_at = i;
  }
  if (worst <= tolerance) return "";
  std::ostringstream out;
  out << what << ": first fused/composed:";
  for (size_t i = 0; i < 4 && i < got.size(); ++i) out << " " << got[i] << "/" << want[i];
  out << "; max |difference| " << worst << " at " << worst_at << " (" << got[worst_at] << " vs "
      << want[worst_at] << ")";
  return out.str();
}

TEST_CASE("fused head = composed loss within 1e-5 in float32 (B=256, d=512, C=10,000)") {
  const int64_t batch = 256, dim = 512, classes = 10000;
  for (std::string name : {"lmcl", "arcface"}) {
    CAPTURE(name);
    Generator gen(42);
    std::vector<int64_t> labels(batch);
    for (auto& y : labels) y = gen.below(classes);
    labels[7] = -1;
    Tensor label_tensor = Tensor::from_indices(labels, {batch});
    Tensor x_values = Tensor::randn({batch, dim}, gen);
    std::vector<double> loss_values[2], grad_x[2], grad_w[2];
    for (int fused = 0; fused < 2; ++fused) {
      LossOptions options;
      options.fused = fused == 1;
      Generator weights(7);
      auto loss = make_loss(name, dim, classes, weights, options);
      Tensor x = x_values.detach().clone().requires_grad_();
      Tensor value = loss->forward(x, label_tensor);
      value.backward();
      loss_values[fused] = {value.item()};
      grad_x[fused] = x.grad().to_vector();
      grad_w[fused] = loss->weight().grad().to_vector();
    }
    std::string loss_report = max_difference_report("loss", loss_values[1], loss_values[0], 1e-5);
    std::string x_report = max_difference_report("grad_x", grad_x[1], grad_x[0], 1e-5);
    std::string w_report = max_difference_report("grad_W", grad_w[1], grad_w[0], 1e-5);
    CHECK_MESSAGE(loss_report.empty(), loss_report);
    CHECK_MESSAGE(x_report.empty(), x_report);
    CHECK_MESSAGE(w_report.empty(), w_report);
  }
}

TEST_CASE("margin_head's gradients for x̂, ŵ and the target logit match finite differences") {
  Generator gen(3);
  Tensor x = testing::leaf({4, 5}, gen), w = testing::leaf({6, 5}, gen);
  Tensor target = testing::leaf({4}, gen, -3, 3);
  Tensor labels = Tensor::from_indices({2, -1, 5, 0}, {4});
  std::string report = testing::gradcheck(
      [&](const std::vector<Tensor>& in) { return margin_head(in[0], in[1], labels, in[2], 7.0); },
      {x, w, target});
  CHECK_MESSAGE(report.empty(), report);
  // The ignored row's loss is 0.
  CHECK(margin_head(x, w, labels, target, 7.0).to_vector()[1] == 0.0);
  CHECK(testing::error_of([&] { margin_head(x, w, Tensor::from_indices({2, 6, 0, 0}, {4}), target, 1.0); })
            .find("label 6 at row 1") != std::string::npos);
}

TEST_CASE("CosFace's margin inside the head: gradients match finite differences, and it equals the target-logit path") {
  Generator gen(5);
  Tensor x = testing::leaf({4, 5}, gen), w = testing::leaf({6, 5}, gen);
  Tensor labels = Tensor::from_indices({2, -1, 5, 0}, {4});
  const double s = 7.0, m = 0.35;
  // The kernel's own target logit s·(x̂_b·ŵ_{y_b} − m): its gradient reaches x̂ and ŵ through
  // the p − 1 left in the target column.
  std::string report = testing::gradcheck(
      [&](const std::vector<Tensor>& in) { return margin_head(in[0], in[1], labels, Tensor(), s, m); }, {x, w});
  CHECK_MESSAGE(report.empty(), report);
  // The same loss and gradients as handing the head t_b = s·(x̂_b·ŵ_{y_b} − m) built by autograd.
  auto run = [&](bool inside) {
    Tensor xi = x.detach().clone().requires_grad_(), wi = w.detach().clone().requires_grad_();
    Tensor loss;
    if (inside) {
      loss = sum(margin_head(xi, wi, labels, Tensor(), s, m));
    } else {
      Tensor safe = Tensor::from_indices({2, 0, 5, 0}, {4, 1});
      Tensor cos_y = gather(matmul(xi, wi, false, true), 1, safe).reshape({4});
      loss = sum(margin_head(xi, wi, labels, (cos_y - m) * s, s));
    }
    loss.backward();
    return std::vector<std::vector<double>>{{loss.item()}, xi.grad().to_vector(), wi.grad().to_vector()};
  };
  std::vector<std::vector<double>> inside = run(true), outside = run(false);
  for (size_t part = 0; part < 3; ++part)
    for (size_t i = 0; i < inside[part].size(); ++i) {
      CAPTURE(part);
      CAPTURE(i);
      CHECK(inside[part][i] == doctest::Approx(outside[part][i]).epsilon(1e-12));
    }
  CHECK(testing::error_of([&] { margin_head(x, w, labels, Tensor::zeros({4}, DType::F64), s, m); })
            .find("only taken without a target_logit") != std::string::npos);
}

}  // namespace
}  // namespace margin
