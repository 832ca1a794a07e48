// core/ops/linalg.cpp — matrix product, plain or batched, with optional transposes.
#include "core/ops/common.h"
#include "core/precision.h"

namespace margin {
using namespace ops;

// C = op(A)·op(B). With dC the gradient of C:
//   C = A B    : dA = dC Bᵀ      dB = Aᵀ dC
//   C = Aᵀ B   : dA = B dCᵀ      dB = A dC
//   C = A Bᵀ   : dA = dC B       dB = dCᵀ A
//   C = Aᵀ Bᵀ  : dA = Bᵀ dCᵀ     dB = dCᵀ Aᵀ
// which the backward below writes as two matmuls, each with the right transposes.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_pair("matmul", a, b);
  int n = a.ndim();
  if ((n != 2 && n != 3) || b.ndim() != n)
    fail("matmul: expected two 2-D or two 3-D (batched) tensors, got ", a.describe(), " and ",
         b.describe());
  if (n == 3 && a.size(0) != b.size(0))
    fail("matmul: batch sizes differ: ", a.describe(), " and ", b.describe());
  int64_t m = trans_a ? a.size(-1) : a.size(-2), k_a = trans_a ? a.size(-2) : a.size(-1);
  int64_t k_b = trans_b ? b.size(-1) : b.size(-2), cols = trans_b ? b.size(-2) : b.size(-1);
  if (k_a != k_b)
    fail("matmul: inner sizes differ: op(a) is ", m, "x", k_a, " and op(b) is ", k_b, "x", cols,
         " (a ", a.describe(), trans_a ? " transposed" : "", ", b ", b.describe(),
         trans_b ? " transposed" : "", ")");
  Shape shape = n == 3 ? Shape{a.size(0), m, cols} : Shape{m, cols};
  Tensor left = contiguous_data(a), right = contiguous_data(b);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  // The products' operands as the autocast scope says (precision.h); the backward's two
  // products run in the forward's precision.
  const Precision precision = a.dtype() == DType::F32 ? autocast_precision() : Precision::FP32;
  backend_of(a).gemm(trans_a, trans_b, 1.0, left.view(), right.view(), 0.0, out.view(),
                     product_operands(precision));
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record(out, "matmul", {a, b},
                [=](const Tensor& grad) {
                  AutocastScope scope(precision);
                  Tensor grad_a, grad_b;
                  if (need_a)
                    grad_a = trans_a ? matmul(right, grad, trans_b, true)
                                     : matmul(grad, right, false, !trans_b);
                  if (need_b)
                    grad_b = trans_b ? matmul(grad, left, true, trans_a)
                                     : matmul(left, grad, !trans_a, false);
                  return std::vector<Tensor>{grad_a, grad_b};
                });
}

}  // namespace margin
