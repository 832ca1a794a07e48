// tests/test_ops.cpp — every case of the op table (op_cases.h) gradient-checked in float64 on
// the default device (central finite differences against autograd; see gradcheck.h), plus forward values
// and stability checks written out by hand.
#include "op_cases.h"

namespace margin {
namespace {

using testing::Fn;
using testing::labels;
using testing::make_input;
using testing::op_cases;
using testing::OpCase;

TEST_CASE("every op's gradient matches float64 finite differences") {
  for (const OpCase& c : op_cases()) {
    CAPTURE(c.name);
    Generator gen(7);
    std::vector<Tensor> inputs;
    for (const Shape& shape : c.shapes) inputs.push_back(make_input(shape, c.domain, gen));
    std::string report = testing::gradcheck(c.f, inputs);
    CHECK_MESSAGE(report.empty(), c.name << ": " << report);
  }
}

TEST_CASE("the gradient check catches a dropped or scaled backward term") {
  // A hand-made op whose backward forgets the b-term of d(a·b): the checker must object.
  Fn broken_mul = [](const std::vector<Tensor>& x) {
    Tensor out;
    {
      NoGradGuard no_grad;
      out = x[0] * x[1];
    }
    Tensor b = x[1].detach();
    return record(out, "broken_mul", {x[0], x[1]}, [b](const Tensor& grad) {
      return std::vector<Tensor>{grad * b, Tensor()};
    });
  };
  Generator gen(3);
  std::string report = testing::gradcheck(broken_mul, {testing::leaf({3}, gen), testing::leaf({3}, gen)});
  CHECK(report.find("input 1") != std::string::npos);
  CHECK(report.find("no gradient") != std::string::npos);

  Fn scaled_exp = [](const std::vector<Tensor>& x) {
    Tensor out;
    {
      NoGradGuard no_grad;
      out = exp(x[0]);
    }
    Tensor saved = out.detach();
    return record(out, "scaled_exp", {x[0]}, [saved](const Tensor& grad) {
      return std::vector<Tensor>{grad * saved * 1.001};
    });
  };
  CHECK_FALSE(testing::gradcheck(scaled_exp, {testing::leaf({4}, gen)}).empty());
}

TEST_CASE("forward values match hand-computed ones") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::F64, kCPU);
  Tensor row = Tensor::from_vector({10, 20, 30}, {3}, DType::F64, kCPU);
  Tensor column = Tensor::from_vector({100, 200}, {2, 1}, DType::F64, kCPU);
  CHECK((x + row).to_vector() == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK((x * column).to_vector() == std::vector<double>{100, 200, 300, 800, 1000, 1200});
  CHECK(sum(x).item() == 21);
  CHECK(sum(x, 0).to_vector() == std::vector<double>{5, 7, 9});
  CHECK(mean(x, 1).to_vector() == std::vector<double>{2, 5});
  CHECK(max(x, 0).to_vector() == std::vector<double>{4, 5, 6});
  CHECK(argmax(x, 1).to_indices() == std::vector<int64_t>{2, 2});
  CHECK(matmul(x, x, false, true).to_vector() == std::vector<double>{14, 32, 32, 77});
  CHECK(x.t().contiguous().to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(x.slice(1, 1, 3).contiguous().to_vector() == std::vector<double>{2, 3, 5, 6});
  CHECK(concat({x, row.reshape({1, 3})}, 0).to_vector() ==
        std::vector<double>{1, 2, 3, 4, 5, 6, 10, 20, 30});
  CHECK(gather(x, 1, Tensor::from_indices({2, 0}, {2, 1}, kCPU)).to_vector() ==
        std::vector<double>{3, 4});
  CHECK(scatter(x, 1, Tensor::from_indices({1, 2}, {2, 1}, kCPU),
                Tensor::from_vector({-1, -2}, {2, 1}, DType::F64, kCPU)).to_vector() ==
        std::vector<double>{1, -1, 3, 4, 5, -2});
  CHECK(one_hot(labels({2, -1}), 3).to_vector() == std::vector<double>{0, 0, 1, 0, 0, 0});
  std::vector<double> normalized = l2_normalize(Tensor::from_vector({3, 4}, {1, 2}, DType::F64, kCPU)).to_vector();
  CHECK(normalized[0] == doctest::Approx(0.6));
  CHECK(normalized[1] == doctest::Approx(0.8));
}

// The CPU's binary kernel merges the dims that a and b both walk as one and splits long rows
// into pieces for the threads: broadcasts of every kind, a transposed view, and rows of up to
// 140,000 values (several pieces) give each element a ∘ b of its own two operands.
TEST_CASE("add, sub, mul and div equal the element-by-element definition under any broadcast") {
  Generator gen(13);
  struct Case {
    Shape a, b;
    bool transpose_a;  // a is the transposed view of a [a[1], a[0]] tensor
  };
  const std::vector<Case> cases = {
      {{2, 3, 5000, 7}, {1, 3, 1, 1}, false},  // a channel's value over rows of 35,000: pieces
      {{1, 3, 1, 1}, {2, 3, 5000, 7}, false},
      {{2, 70000}, {2, 70000}, false},  // one row of 140,000 after the merge
      {{3, 1, 6}, {1, 5, 1}, false},    // both broadcast
      {{4, 5, 6}, {5, 1}, false},
      {{6, 7}, {7}, true},  // a's columns 6 apart
      {{}, {3, 4}, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.a);
    CAPTURE(c.b);
    Tensor a = c.transpose_a ? Tensor::randn({c.a[1], c.a[0]}, gen, DType::F64).t()
                             : Tensor::randn(c.a, gen, DType::F64);
    Tensor b = Tensor::uniform(c.b, 0.5, 2, gen, DType::F64);  // away from 0: a divisor
    const Tensor sum_ab = a + b, difference = a - b, product = a * b, quotient = a / b;
    const Shape out = sum_ab.shape();
    const std::vector<double> av = a.contiguous().to_vector(), bv = b.to_vector(), sums = sum_ab.to_vector(),
                              differences = difference.to_vector(), products = product.to_vector(),
                              quotients = quotient.to_vector();
    // the position in a row-major tensor of `shape`, right-aligned to out, of out's element i
    auto at = [&](const Shape& shape, int64_t i) {
      int64_t offset = 0, stride = 1;
      int64_t d = static_cast<int64_t>(out.size()) - 1;
      for (int64_t k = static_cast<int64_t>(shape.size()) - 1; k >= 0; --d, --k) {
        const int64_t index = (i / shape_numel(Shape(out.begin() + d + 1, out.end()))) % out[d];
        offset += (shape[k] == 1 ? 0 : index) * stride;
        stride *= shape[k];
      }
      return offset;
    };
    const Shape a_shape = a.shape();
    int wrong = 0;
    for (int64_t i = 0; i < shape_numel(out); ++i) {
      const double x = av[at(a_shape, i)], y = bv[at(c.b, i)];
      wrong += sums[i] != x + y || differences[i] != x - y || products[i] != x * y || quotients[i] != x / y;
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("softmax and log_softmax are stable at large logits (s = 64, C = 100,000)") {
  const int64_t classes = 100000;
  std::vector<double> values(classes);
  Generator gen(5);
  for (double& v : values) v = 64.0 * gen.uniform(-1, 1);  // s · cos θ ∈ [−64, 64]
  values[17] = 64.0;
  Tensor logits = Tensor::from_vector(values, {1, classes}, DType::F32, kCPU);
  std::vector<double> log_p = log_softmax(logits).to_vector();
  std::vector<double> p = softmax(logits).to_vector();
  double total = 0;
  int64_t non_finite = 0;
  for (int64_t j = 0; j < classes; ++j) {
    non_finite += !std::isfinite(log_p[j]);
    total += p[j];
  }
  CHECK(non_finite == 0);
  CHECK(total == doctest::Approx(1.0).epsilon(1e-4));
  CHECK(std::exp(log_p[17]) == doctest::Approx(p[17]).epsilon(1e-4));
  // All-equal huge logits: uniform, not NaN.
  Tensor flat = Tensor::full({1, 4}, 1e30, DType::F32, kCPU);
  for (double v : softmax(flat).to_vector()) CHECK(v == doctest::Approx(0.25));
}

}  // namespace
}  // namespace margin
