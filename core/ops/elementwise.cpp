// core/ops/elementwise.cpp — elementwise ops. Each forward is one backend call; each
// backward sits beside it, reducing broadcast gradients back to the input's shape.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape result(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t size_a = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t size_b = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (size_a != size_b && size_a != 1 && size_b != 1)
      fail(op, ": shapes ", shape_str(a), " and ", shape_str(b),
           " do not broadcast (sizes must match or be 1, aligned from the right)");
    result[i] = size_a == 1 ? size_b : size_a;
  }
  return result;
}

namespace {

// x's view stretched to `shape`: stride 0 where x has size 1 or lacks the dim.
View expanded_view(const Tensor& x, const Shape& shape) {
  View v = x.view();
  size_t lead = shape.size() - v.shape.size();
  Shape strides(shape.size(), 0);
  for (size_t i = 0; i < v.shape.size(); ++i)
    strides[lead + i] = v.shape[i] == 1 ? 0 : v.strides[i];
  v.shape = shape;
  v.strides = strides;
  return v;
}

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  check_pair(name, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  backend_of(a).binary(op, expanded_view(a, shape), expanded_view(b, shape), out.view());
  return out;
}

Tensor unary_forward(UnaryOp op, const Tensor& x, double alpha = 0, double beta = 0) {
  check_floating(unary_name(op), x);
  Tensor input = contiguous_data(x);
  Tensor out = empty_like(input);
  backend_of(x).unary(op, alpha, beta, input.view(), out.view());
  return record(out, unary_name(op), {x},
                [op, alpha, beta, input, saved_out = out.detach()](const Tensor& grad) {
                  Tensor grad_out = contiguous_data(grad), grad_in = empty_like(input);
                  backend_of(input).unary_backward(op, alpha, beta, input.view(),
                                                   saved_out.view(), grad_out.view(),
                                                   grad_in.view());
                  return std::vector<Tensor>{grad_in};
                });
}

}  // namespace

// d(a + b) = da + db
Tensor add(const Tensor& a, const Tensor& b) {
  return record(binary_forward(BinaryOp::Add, a, b), "add", {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& grad) {
                  return std::vector<Tensor>{sum_to(grad, sa), sum_to(grad, sb)};
                });
}

// d(a − b) = da − db
Tensor sub(const Tensor& a, const Tensor& b) {
  return record(binary_forward(BinaryOp::Sub, a, b), "sub", {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& grad) {
                  return std::vector<Tensor>{sum_to(grad, sa), neg(sum_to(grad, sb))};
                });
}

// d(a·b) = b·da + a·db: each factor is kept only when the other one needs its gradient.
Tensor mul(const Tensor& a, const Tensor& b) {
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record(binary_forward(BinaryOp::Mul, a, b), "mul", {a, b},
                [need_a, need_b, shape_a = a.shape(), shape_b = b.shape(), sa = need_b ? a.detach() : Tensor(),
                 sb = need_a ? b.detach() : Tensor()](const Tensor& grad) {
                  return std::vector<Tensor>{
                      need_a ? sum_to(grad * sb, shape_a) : Tensor(),
                      need_b ? sum_to(grad * sa, shape_b) : Tensor()};
                });
}

// d(a/b) = da/b − (a/b)·db/b
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Div, a, b);
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record(out, "div", {a, b},
                [need_a, need_b, sa = a.shape(), sb = b.detach(), quotient = out.detach()](
                    const Tensor& grad) {
                  return std::vector<Tensor>{
                      need_a ? sum_to(grad / sb, sa) : Tensor(),
                      need_b ? neg(sum_to(grad * quotient / sb, sb.shape())) : Tensor()};
                });
}

Tensor neg(const Tensor& x) { return unary_forward(UnaryOp::Neg, x); }
Tensor exp(const Tensor& x) { return unary_forward(UnaryOp::Exp, x); }
Tensor log(const Tensor& x) { return unary_forward(UnaryOp::Log, x); }
Tensor sqrt(const Tensor& x) { return unary_forward(UnaryOp::Sqrt, x); }
Tensor abs(const Tensor& x) { return unary_forward(UnaryOp::Abs, x); }
Tensor relu(const Tensor& x) { return unary_forward(UnaryOp::Relu, x); }
Tensor sigmoid(const Tensor& x) { return unary_forward(UnaryOp::Sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary_forward(UnaryOp::Tanh, x); }
Tensor pow(const Tensor& x, double exponent) { return unary_forward(UnaryOp::Pow, x, exponent); }
Tensor add_scalar(const Tensor& x, double value) {
  return unary_forward(UnaryOp::AddScalar, x, value);
}
Tensor mul_scalar(const Tensor& x, double value) {
  return unary_forward(UnaryOp::MulScalar, x, value);
}
Tensor acos(const Tensor& x) { return unary_forward(UnaryOp::Acos, x); }
Tensor cos(const Tensor& x) { return unary_forward(UnaryOp::Cos, x); }
Tensor clamp(const Tensor& x, double low, double high) {
  if (!(low <= high)) fail("clamp: low ", low, " is above high ", high);
  return unary_forward(UnaryOp::Clamp, x, low, high);
}

// The materialized broadcast of x to `shape`; its adjoint is sum_to.
Tensor expand(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Shape target = broadcast_shapes(x.shape(), shape, "expand");
  if (target != shape) fail("expand: ", x.describe(), " does not broadcast to ", shape_str(shape));
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  backend_of(x).copy(expanded_view(x, shape), out.view());
  return record(out, "expand", {x}, [source = x.shape()](const Tensor& grad) {
    return std::vector<Tensor>{sum_to(grad, source)};
  });
}

}  // namespace margin
