// tests/test_ops.cpp — one table of op cases, each gradient-checked in float64 on the CPU
// (central finite differences against autograd; see gradcheck.h). A case is data: a
// printable name, input shapes, the domain the inputs are drawn from, and the function.
#include "gradcheck.h"

namespace margin {
namespace {

using testing::Fn;

enum class Domain { Any, Positive, AwayFromZero };

struct OpCase {
  std::string name;
  std::vector<Shape> shapes;
  Domain domain;
  Fn f;
};

Tensor make_input(const Shape& shape, Domain domain, Generator& gen) {
  switch (domain) {
    case Domain::Any: return testing::leaf(shape, gen);
    case Domain::Positive: return testing::leaf(shape, gen, 0.2, 2.0);
    case Domain::AwayFromZero: return testing::leaf_away_from_zero(shape, gen);
  }
  return {};
}

Tensor labels(std::vector<int64_t> values) {
  return Tensor::from_indices(values, {static_cast<int64_t>(values.size())}, kCPU);
}

std::vector<OpCase> op_cases() {
  using V = const std::vector<Tensor>&;
  return {
      // elementwise, with NumPy broadcasting (row, column, scalar, leading dims)
      {"add(a=[3,4], b=[3,4])", {{3, 4}, {3, 4}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"add(a=[3,4], b=[4]) row", {{3, 4}, {4}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"add(a=[3,4], b=[3,1]) column", {{3, 4}, {3, 1}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"add(a=[], b=[2,3]) scalar", {{}, {2, 3}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"add(a=[2,1,3], b=[4,1])", {{2, 1, 3}, {4, 1}}, Domain::Any, [](V x) { return x[0] + x[1]; }},
      {"sub(a=[3,4], b=[4])", {{3, 4}, {4}}, Domain::Any, [](V x) { return x[0] - x[1]; }},
      {"sub(a=[3,1], b=[1,4])", {{3, 1}, {1, 4}}, Domain::Any, [](V x) { return x[0] - x[1]; }},
      {"mul(a=[3,4], b=[3,4])", {{3, 4}, {3, 4}}, Domain::Any, [](V x) { return x[0] * x[1]; }},
      {"mul(a=[3,4], b=[3,1]) column", {{3, 4}, {3, 1}}, Domain::Any, [](V x) { return x[0] * x[1]; }},
      {"mul(a=[1,1], b=[2,5])", {{1, 1}, {2, 5}}, Domain::Any, [](V x) { return x[0] * x[1]; }},
      {"div(a=[3,4], b=[3,4])", {{3, 4}, {3, 4}}, Domain::AwayFromZero, [](V x) { return x[0] / x[1]; }},
      {"div(a=[3,4], b=[4]) row", {{3, 4}, {4}}, Domain::AwayFromZero, [](V x) { return x[0] / x[1]; }},
      {"div(a=[3,1], b=[3,4])", {{3, 1}, {3, 4}}, Domain::AwayFromZero, [](V x) { return x[0] / x[1]; }},
      {"neg(x=[5])", {{5}}, Domain::Any, [](V x) { return neg(x[0]); }},
      {"exp(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return exp(x[0]); }},
      {"log(x=[3,4])", {{3, 4}}, Domain::Positive, [](V x) { return log(x[0]); }},
      {"sqrt(x=[3,4])", {{3, 4}}, Domain::Positive, [](V x) { return sqrt(x[0]); }},
      {"abs(x=[3,4])", {{3, 4}}, Domain::AwayFromZero, [](V x) { return abs(x[0]); }},
      {"relu(x=[3,4])", {{3, 4}}, Domain::AwayFromZero, [](V x) { return relu(x[0]); }},
      {"sigmoid(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return sigmoid(x[0]); }},
      {"tanh(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return tanh(x[0]); }},
      {"pow(x=[3,4], p=2.5)", {{3, 4}}, Domain::Positive, [](V x) { return pow(x[0], 2.5); }},
      {"pow(x=[3,4], p=-1)", {{3, 4}}, Domain::Positive, [](V x) { return pow(x[0], -1.0); }},
      {"add_scalar(x=[3], 2.5)", {{3}}, Domain::Any, [](V x) { return x[0] + 2.5; }},
      {"mul_scalar(x=[3], -1.5)", {{3}}, Domain::Any, [](V x) { return x[0] * -1.5; }},
      {"rsub(1 - x=[3])", {{3}}, Domain::Any, [](V x) { return 1.0 - x[0]; }},
      {"clamp(x=[4,4], -0.5, 0.5)", {{4, 4}}, Domain::Any, [](V x) { return clamp(x[0], -0.5, 0.5); }},
      {"acos(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return acos(x[0] * 0.95); }},
      {"cos(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return cos(x[0] * 3.0); }},
      // matrix products: each transpose case, batched, size-1 dims
      {"matmul(a=[3,4], b=[4,5])", {{3, 4}, {4, 5}}, Domain::Any, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul(aᵀ: a=[4,3], b=[4,5])", {{4, 3}, {4, 5}}, Domain::Any, [](V x) { return matmul(x[0], x[1], true, false); }},
      {"matmul(bᵀ: a=[3,4], b=[5,4])", {{3, 4}, {5, 4}}, Domain::Any, [](V x) { return matmul(x[0], x[1], false, true); }},
      {"matmul(aᵀbᵀ: a=[4,3], b=[5,4])", {{4, 3}, {5, 4}}, Domain::Any, [](V x) { return matmul(x[0], x[1], true, true); }},
      {"matmul(batched a=[2,3,4], b=[2,4,5])", {{2, 3, 4}, {2, 4, 5}}, Domain::Any, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul(batched bᵀ a=[2,3,4], b=[2,5,4])", {{2, 3, 4}, {2, 5, 4}}, Domain::Any, [](V x) { return matmul(x[0], x[1], false, true); }},
      {"matmul(a=[1,4], b=[4,1])", {{1, 4}, {4, 1}}, Domain::Any, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul(a=[3,4]ᵀ view, b=[3,2])", {{3, 4}, {3, 2}}, Domain::Any, [](V x) { return matmul(x[0].t(), x[1]); }},
      // reductions
      {"sum(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return sum(x[0]); }},
      {"sum(x=[3,4], axis=0)", {{3, 4}}, Domain::Any, [](V x) { return sum(x[0], 0); }},
      {"sum(x=[3,4], axis=1, keepdim)", {{3, 4}}, Domain::Any, [](V x) { return sum(x[0], 1, true); }},
      {"sum(x=[2,3,4], axis=1)", {{2, 3, 4}}, Domain::Any, [](V x) { return sum(x[0], 1); }},
      {"sum(x=[2,1,4], axis=-1)", {{2, 1, 4}}, Domain::Any, [](V x) { return sum(x[0], -1); }},
      {"mean(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return mean(x[0]); }},
      {"mean(x=[3,4], axis=0)", {{3, 4}}, Domain::Any, [](V x) { return mean(x[0], 0); }},
      {"max(x=[3,4])", {{3, 4}}, Domain::Any, [](V x) { return max(x[0]); }},
      {"max(x=[3,4], axis=1)", {{3, 4}}, Domain::Any, [](V x) { return max(x[0], 1); }},
      {"max(x=[2,3,4], axis=1, keepdim)", {{2, 3, 4}}, Domain::Any, [](V x) { return max(x[0], 1, true); }},
      {"sum_to(x=[2,3,4] → [3,1])", {{2, 3, 4}}, Domain::Any, [](V x) { return sum_to(x[0], {3, 1}); }},
      {"expand(x=[3,1] → [2,3,4])", {{3, 1}}, Domain::Any, [](V x) { return expand(x[0], {2, 3, 4}); }},
      // softmax family and normalization
      {"softmax(x=[3,5], axis=-1)", {{3, 5}}, Domain::Any, [](V x) { return softmax(x[0] * 3.0); }},
      {"softmax(x=[3,5], axis=0)", {{3, 5}}, Domain::Any, [](V x) { return softmax(x[0], 0); }},
      {"softmax(x=[2,3,4], axis=1)", {{2, 3, 4}}, Domain::Any, [](V x) { return softmax(x[0], 1); }},
      {"log_softmax(x=[3,5], axis=-1)", {{3, 5}}, Domain::Any, [](V x) { return log_softmax(x[0] * 3.0); }},
      {"log_softmax(x=[2,3,4], axis=1)", {{2, 3, 4}}, Domain::Any, [](V x) { return log_softmax(x[0], 1); }},
      {"log_softmax(x=[4,1])", {{4, 1}}, Domain::Any, [](V x) { return log_softmax(x[0]); }},
      {"l2_normalize(x=[4,5])", {{4, 5}}, Domain::Any, [](V x) { return l2_normalize(x[0]); }},
      {"l2_normalize(x=[1,3])", {{1, 3}}, Domain::Any, [](V x) { return l2_normalize(x[0]); }},
      // indexing: the target logit, repeated indices (gradients add up)
      {"gather(x=[4,5], axis=1, index=[4,1])", {{4, 5}}, Domain::Any,
       [](V x) { return gather(x[0], 1, labels({2, 0, 4, 2}).reshape({4, 1})); }},
      {"gather(x=[4,5], axis=0, index=[2,5]) repeats", {{4, 5}}, Domain::Any,
       [](V x) { return gather(x[0], 0, Tensor::from_indices({1, 1, 3, 0, 1, 1, 1, 3, 0, 2}, {2, 5}, kCPU)); }},
      {"scatter(x=[3,4], axis=1, index=[3,1], src=[3,1])", {{3, 4}, {3, 1}}, Domain::Any,
       [](V x) { return scatter(x[0], 1, labels({3, 0, 1}).reshape({3, 1}), x[1] * 2.0); }},
      {"scatter(x=[4,3], axis=0, index=[2,3], src=[2,3])", {{4, 3}, {2, 3}}, Domain::Any,
       [](V x) { return scatter(x[0], 0, Tensor::from_indices({0, 3, 1, 2, 1, 3}, {2, 3}, kCPU), x[1]); }},
      {"one_hot mask: x=[3,4] ⊙ one_hot([1,-1,3])", {{3, 4}}, Domain::Any,
       [](V x) { return x[0] * one_hot(labels({1, -1, 3}), 4, DType::F64); }},
      // views and layout
      {"reshape(x=[3,4] → [2,6])", {{3, 4}}, Domain::Any, [](V x) { return x[0].reshape({2, -1}) * 2.0; }},
      {"transpose(x=[2,3,4], 0, 2)", {{2, 3, 4}}, Domain::Any, [](V x) { return x[0].transpose(0, 2).contiguous(); }},
      {"slice(x=[5,3], 0, 1..4)", {{5, 3}}, Domain::Any, [](V x) { return x[0].slice(0, 1, 4); }},
      {"slice(x=[3,5], 1, 2..5) then exp", {{3, 5}}, Domain::Any, [](V x) { return exp(x[0].slice(1, 2, 5)); }},
      {"concat(a=[2,3], b=[4,3], axis=0)", {{2, 3}, {4, 3}}, Domain::Any, [](V x) { return concat({x[0], x[1]}, 0); }},
      {"concat(a=[2,3], b=[2,1], axis=1)", {{2, 3}, {2, 1}}, Domain::Any, [](V x) { return concat({x[0], x[1]}, 1); }},
      // shared subexpressions: x used three times
      {"x·x + sin-free x (shared node)", {{3, 3}}, Domain::Any,
       [](V x) { Tensor y = exp(x[0]); return y * y + y; }},
  };
}

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
