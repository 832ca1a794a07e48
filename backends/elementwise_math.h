// backends/elementwise_math.h — the formulas of the unary ops, their derivatives and the
// binary ops, written once for both backends (backends/cpu/elementwise.cpp runs them in
// OpenMP loops, backends/cuda/elementwise.cu one thread per element). The op is a runtime
// value and each function a small inline switch. GCC 12 keeps that switch inside the CPU loop,
// so these loops are not vectorized (checked with -fopt-info-vec); the hot paths of training
// (conv, batch norm, PReLU, the margin head, SGD) have fused kernels of their own.
//
// Clamps are spelled as comparisons in std::max / std::min's order, (x < lo ? lo : x), so a
// NaN passes through on both devices; std:: math functions have device overloads under nvcc.
#pragma once
#include <cmath>

#include "backends/backend.h"
#include "backends/host_device.h"

namespace margin {

template <class T>
MARGIN_HD inline T apply_unary(UnaryOp op, T x, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Abs: return std::abs(x);
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::Sigmoid: return T(1) / (T(1) + std::exp(-x));
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Pow: return std::pow(x, alpha);
    case UnaryOp::AddScalar: return x + alpha;
    case UnaryOp::MulScalar: return x * alpha;
    case UnaryOp::Clamp: {  // min(max(x, alpha), beta)
      T above = x < alpha ? alpha : x;
      return beta < above ? beta : above;
    }
    case UnaryOp::Acos: {  // clamped to [−1, 1] first: rounding can push a cosine past 1
      T above = x < T(-1) ? T(-1) : x;
      return std::acos(T(1) < above ? T(1) : above);
    }
    case UnaryOp::Cos: return std::cos(x);
  }
  return x;
}

// d op(x) / dx, given x and y = op(x).
template <class T>
MARGIN_HD inline T unary_derivative(UnaryOp op, T x, T y, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg: return T(-1);
    case UnaryOp::Exp: return y;
    case UnaryOp::Log: return T(1) / x;
    case UnaryOp::Sqrt: return T(0.5) / y;
    case UnaryOp::Abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::Relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::Sigmoid: return y * (T(1) - y);
    case UnaryOp::Tanh: return T(1) - y * y;
    case UnaryOp::Pow: return alpha * std::pow(x, alpha - T(1));
    case UnaryOp::AddScalar: return T(1);
    case UnaryOp::MulScalar: return alpha;
    case UnaryOp::Clamp: return (x > alpha && x < beta) ? T(1) : T(0);
    case UnaryOp::Acos: {  // −1/√(1 − x²), with 1 − x² floored at 1e-12 (finite at x = ±1)
      T room = T(1) - x * x;
      return T(-1) / std::sqrt(room < T(1e-12) ? T(1e-12) : room);
    }
    case UnaryOp::Cos: return -std::sin(x);
  }
  return T(0);
}

// PReLU with slope a: y = x where x > 0, else a·x (NaN takes a's side), written as a select:
// on the CPU a branch on random signs mispredicts half the time. Its backward gates dy the same
// way, and ∂y/∂a is the value a multiplied: 0 where x > 0, else x. Batch norm's fused kernels
// (batch_norm_prelu) apply the same three to their recomputed u.
template <class T>
MARGIN_HD inline T prelu_value(T x, T slope) {
  return x > T(0) ? x : slope * x;
}
template <class T>
MARGIN_HD inline T prelu_gate(T x, T slope, T dy) {
  return x > T(0) ? dy : slope * dy;
}
template <class T>
MARGIN_HD inline T prelu_slope_factor(T x) {
  return x > T(0) ? T(0) : x;
}

template <class T>
MARGIN_HD inline T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return a;
}

}  // namespace margin
