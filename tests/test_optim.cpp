// tests/test_optim.cpp — SGD against PyTorch's update rule computed by hand, and the
// learning-rate schedules against their formulas.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/ops.h"
#include "core/optim.h"
#include "core/schedule.h"

namespace margin {
namespace {

// Two steps of SGD on p with a fixed gradient g, computed by hand from PyTorch's rule.
std::vector<double> sgd_by_hand(double p, double g, SgdParams o, int steps) {
  std::vector<double> trace;
  double v = 0;
  for (int i = 0; i < steps; ++i) {
    double d = g + o.weight_decay * p;
    v = o.momentum * v + d;
    double step = o.momentum == 0 ? d : (o.nesterov ? d + o.momentum * v : v);
    p -= o.lr * step;
    trace.push_back(p);
  }
  return trace;
}

void check_sgd(SgdParams options) {
  CAPTURE(options.momentum);
  CAPTURE(options.nesterov);
  CAPTURE(options.weight_decay);
  Tensor p = Tensor::full({1}, 1.5, DType::F64, kCPU).requires_grad_();
  SGD sgd({p}, options);
  std::vector<double> expected = sgd_by_hand(1.5, 0.4, options, 3);
  for (int i = 0; i < 3; ++i) {
    sgd.zero_grad();
    sum(p * 0.4).backward();  // gradient 0.4
    sgd.step();
    CHECK(p.item() == doctest::Approx(expected[i]).epsilon(1e-15));
  }
}

TEST_CASE("SGD follows PyTorch's rule: plain, momentum, weight decay, Nesterov") {
  check_sgd({0.1, 0.0, 0.0, false});
  check_sgd({0.1, 0.9, 0.0, false});
  check_sgd({0.1, 0.9, 5e-4, false});
  check_sgd({0.05, 0.9, 5e-4, true});
}

TEST_CASE("SGD skips parameters without a gradient and rejects bad options") {
  Tensor a = Tensor::ones({2}, DType::F32, kCPU).requires_grad_();
  Tensor b = Tensor::ones({2}, DType::F32, kCPU).requires_grad_();
  SGD sgd({a, b}, {0.5, 0.0, 0.0, false});
  sum(a).backward();
  sgd.step();
  CHECK(a.to_vector() == std::vector<double>{0.5, 0.5});
  CHECK(b.to_vector() == std::vector<double>{1, 1});
  CHECK_THROWS_WITH_AS(SGD({a}, {0.1, 0.0, 0.0, true}), "SGD: Nesterov needs momentum > 0", Error);
  CHECK_THROWS_AS(SGD({a * 2.0}, {0.1, 0.0, 0.0, false}), Error);
}

TEST_CASE("SGD applies a parameter's constraint after each update of it, and only then") {
  Tensor a = Tensor::ones({2}, DType::F64, kCPU).requires_grad_();
  Tensor b = Tensor::ones({2}, DType::F64, kCPU).requires_grad_();
  int calls = 0;
  // A projection onto [0, 0.7]: applied to the updated values, in place.
  auto clip = [&calls](const Tensor& param) {
    ++calls;
    std::vector<double> values = param.to_vector();
    for (double& v : values) v = std::min(std::max(v, 0.0), 0.7);
    param.copy_(Tensor::from_vector(values, param.shape(), DType::F64, kCPU));
  };
  a.set_constraint(clip);
  b.set_constraint(clip);
  SGD sgd({a, b}, {0.1, 0.0, 0.0, false});
  sum(a * Tensor::from_vector({1, -4}, {2}, DType::F64, kCPU)).backward();  // b gets no gradient
  sgd.step();
  CHECK(a.to_vector() == std::vector<double>{0.7, 0.7});  // updated to 0.9 and 1.4, then clipped
  CHECK(b.to_vector() == std::vector<double>{1, 1});  // not updated, so not projected
  CHECK(calls == 1);
}

TEST_CASE("multi-step schedule: the CosFace paper's 0.1 → 0.01 → 0.001 → 0.0001") {
  MultiStepLr schedule(0.1, {16000, 24000, 28000}, 0.1);
  CHECK(schedule.lr(0) == doctest::Approx(0.1));
  CHECK(schedule.lr(15999) == doctest::Approx(0.1));
  CHECK(schedule.lr(16000) == doctest::Approx(0.01));
  CHECK(schedule.lr(24000) == doctest::Approx(0.001));
  CHECK(schedule.lr(30000) == doctest::Approx(0.0001));
}

TEST_CASE("cosine schedule and linear warm-up") {
  CosineLr cosine(0.2, 100, 0.02);
  CHECK(cosine.lr(0) == doctest::Approx(0.2));
  CHECK(cosine.lr(50) == doctest::Approx(0.11));  // halfway: (0.2 + 0.02) / 2
  CHECK(cosine.lr(25) == doctest::Approx(0.02 + 0.18 * (1 + std::cos(std::numbers::pi / 4)) / 2));
  CHECK(cosine.lr(100) == doctest::Approx(0.02));
  CHECK(cosine.lr(500) == doctest::Approx(0.02));
  WarmupLr warm(std::make_shared<CosineLr>(0.2, 100, 0.02), 10);
  CHECK(warm.lr(0) == doctest::Approx(0.02));  // (0 + 1) / 10 of 0.2
  CHECK(warm.lr(4) == doctest::Approx(cosine.lr(4) * 0.5));
  CHECK(warm.lr(10) == doctest::Approx(cosine.lr(10)));
}

}  // namespace
}  // namespace margin
