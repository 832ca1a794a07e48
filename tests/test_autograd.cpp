// tests/test_autograd.cpp — the autograd engine itself: shared subexpressions, accumulation
// across backward calls, no_grad, graph freeing, and its errors.
#include "gradcheck.h"

#include "core/autograd.h"
#include "core/ops.h"
#include "core/profiler.h"

namespace margin {
namespace {

Tensor scalar_leaf(double value) {
  return Tensor::scalar(value, DType::F64, kCPU).requires_grad_();
}

using testing::error_of;

TEST_CASE("a node used twice receives the sum of both gradients") {
  // y = x·x + x  ⇒  dy/dx = 2x + 1
  Tensor x = scalar_leaf(3.0);
  Tensor y = x * x + x;
  y.backward();
  CHECK(x.grad().item() == 7.0);

  // A diamond: a = 2x, b = a + 1, c = a · b ⇒ dc/dx = 2(b + a) = 2(4x + 1)
  Tensor z = scalar_leaf(1.5);
  Tensor a = z * 2.0;
  Tensor c = a * (a + 1.0);
  c.backward();
  CHECK(z.grad().item() == doctest::Approx(2 * (4 * 1.5 + 1)));
}

// The engine sums a tensor's gradients into the first one's buffer when nothing else holds it
// (core/autograd.cpp). A gradient the caller still holds, or a view of it, is never written.
TEST_CASE("summing a tensor's gradients never writes into a gradient held elsewhere") {
  const std::vector<double> values{1, -2, 3, 0.5, 4, -1};
  for (const bool view_first : {true, false}) {
    CAPTURE(view_first);
    Tensor x = Tensor::zeros({2, 3}, DType::F64, kCPU).requires_grad_();
    Tensor a = x * 1.0;  // a node with two consumers
    // one path hands a the seed itself, reshaped (a view of the caller's tensor), the other 2·seed
    Tensor alias = a.reshape({6}), doubled = (a * 2.0).reshape({6});
    Tensor z = view_first ? alias + doubled : doubled + alias;
    Tensor seed = Tensor::from_vector(values, {6}, DType::F64, kCPU);
    z.backward(seed);
    CHECK(seed.to_vector() == values);
    CHECK(x.grad().to_vector() == std::vector<double>{3, -6, 9, 1.5, 12, -3});
  }
  // a + a: both gradients are the seed, one tensor
  Tensor x = Tensor::zeros({3}, DType::F64, kCPU).requires_grad_();
  Tensor a = x * 1.0;
  Tensor seed = Tensor::from_vector({1, 2, 3}, {3}, DType::F64, kCPU);
  (a + a).backward(seed);
  CHECK(seed.to_vector() == std::vector<double>{1, 2, 3});
  CHECK(x.grad().to_vector() == std::vector<double>{2, 4, 6});
}

TEST_CASE("gradients accumulate across backward calls until zeroed") {
  Tensor x = scalar_leaf(2.0);
  (x * 3.0).backward();
  (x * 3.0).backward();
  CHECK(x.grad().item() == 6.0);
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  (x * x).backward();
  CHECK(x.grad().item() == 4.0);
}

TEST_CASE("a leaf's gradient is its own buffer, never an alias of another") {
  // add passes the same gradient tensor to both inputs; each leaf must own a copy.
  Tensor a = Tensor::zeros({3}, DType::F64, kCPU).requires_grad_();
  Tensor b = Tensor::zeros({3}, DType::F64, kCPU).requires_grad_();
  sum(a + b).backward();
  CHECK(a.grad().view().data != b.grad().view().data);
  sum(a * 2.0).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{3, 3, 3});
  CHECK(b.grad().to_vector() == std::vector<double>{1, 1, 1});
}

TEST_CASE("no_grad records nothing") {
  Tensor x = scalar_leaf(1.0);
  {
    NoGradGuard no_grad;
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("inputs without requires_grad get no gradient and record no node") {
  Tensor x = Tensor::scalar(1.0, DType::F64, kCPU);
  Tensor w = scalar_leaf(2.0);
  Tensor y = x * w;
  CHECK(y.requires_grad());
  y.backward();
  CHECK_FALSE(x.grad().defined());
  CHECK(w.grad().item() == 1.0);
  CHECK((x * x).grad_fn() == nullptr);
}

TEST_CASE("backward frees the graph, a second backward through it is an error") {
  Tensor x = scalar_leaf(1.0);
  Tensor y = exp(x) * 2.0;
  y.backward();
  CHECK(y.grad_fn()->inputs.empty());
  CHECK(error_of([&] { y.backward(); }).find("already freed") != std::string::npos);
}

TEST_CASE("the graph keeps alive only what backward functions save, not the intermediate results themselves") {
  Tensor x = Tensor::ones({4}, DType::F64, kCPU).requires_grad_();
  Tensor constant = Tensor::full({4}, 5.0, DType::F64, kCPU);
  Tensor a = x + x;         // add saves nothing (its gradients are grad, grad)
  Tensor b = a + x;         // nor here
  Tensor c = b * x;         // mul saves both factors: each is the other's derivative
  Tensor d = c * constant;  // only the constant: c's derivative; c itself takes no part
  Tensor loss = sum(d);
  CHECK(a.impl()->storage.use_count() == 1);  // its handle alone
  CHECK(b.impl()->storage.use_count() == 2);  // and mul's backward
  CHECK(c.impl()->storage.use_count() == 1);
  CHECK(d.impl()->storage.use_count() == 1);
  a = Tensor(), b = Tensor(), c = Tensor(), d = Tensor();  // the backward needs none of them
  loss.backward();
  CHECK(x.grad().to_vector() == std::vector<double>(4, 30.0));  // d/dx Σ 5·3x² = 30x
}

TEST_CASE("a non-scalar needs a seed of its own shape") {
  Tensor x = Tensor::ones({2, 2}, DType::F64, kCPU).requires_grad_();
  Tensor y = x * 3.0;
  CHECK(error_of([&] { y.backward(); }) ==
        "backward(): float64[2, 2] on cpu is not a scalar; pass a seed gradient of the same shape");
  CHECK(error_of([&] { y.backward(Tensor::ones({3}, DType::F64, kCPU)); }).find("does not match") != std::string::npos);
  y.backward(Tensor::from_vector({1, 2, 3, 4}, {2, 2}, DType::F64, kCPU));
  CHECK(x.grad().to_vector() == std::vector<double>{3, 6, 9, 12});
  Tensor constant = Tensor::ones({1}, DType::F64, kCPU);
  CHECK(error_of([&] { constant.backward(); }).find("does not require grad") != std::string::npos);
}

TEST_CASE("the profiler counts each node's backward when on, and nothing when off") {
  Tensor x = Tensor::ones({3}, DType::F64, kCPU).requires_grad_();
  profiler().reset();
  sum(exp(x)).backward();
  CHECK(profiler().calls("backward", "exp") == 0);
  profiler().enable();
  sum(exp(exp(x))).backward();
  profiler().enable(false);
  CHECK(profiler().calls("backward", "exp") == 2);
  CHECK(profiler().calls("backward", "sum_to") == 1);
  profiler().reset();
}

TEST_CASE("a deep chain does not overflow the stack") {
  Tensor x = scalar_leaf(1.0);
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y + 0.0;
  y.backward();
  CHECK(x.grad().item() == 1.0);
}

TEST_CASE("dropping a deep graph without backward does not overflow the stack") {
  Tensor x = scalar_leaf(1.0);
  {
    Tensor y = x;
    for (int i = 0; i < 200000; ++i) y = y + 0.0;
    CHECK(y.grad_fn() != nullptr);
  }  // 200,000 nodes released here: recursion would need ~50 MB of stack
  CHECK(x.requires_grad());
}

}  // namespace
}  // namespace margin
