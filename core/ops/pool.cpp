// core/ops/pool.cpp — max, average and global average pooling with autograd.
//   max:  y = max over the window; the gradient goes to the (first) maximal element,
//         whose position the forward saves (argmax), as in PyTorch.
//   avg:  y = Σ window / divisor; each element of a window gets dy / divisor.
//   global average: the mean over H·W, composed from reshape and mean (no kernel of its own).
// Left out: ceil_mode, dilation, adaptive pooling to sizes other than 1x1.
#include "core/ops/common.h"

namespace margin {
using namespace ops;

namespace {

// The output shape, after checking the input and the window; `op` names the caller.
Shape pool_output_shape(const char* op, const Tensor& x, const Pool2dParams& p) {
  check_floating(op, x);
  if (x.ndim() != 4) fail(op, ": expected input [N, C, H, W], got ", x.describe());
  if (p.kernel_h < 1 || p.kernel_w < 1 || p.stride_h < 1 || p.stride_w < 1)
    fail(op, ": expected kernel ≥ 1 and stride ≥ 1, got kernel ", p.kernel_h, "x", p.kernel_w,
         ", stride ", p.stride_h, "x", p.stride_w);
  // Larger padding would allow windows that hold only padding (PyTorch's rule too).
  if (p.pad_h < 0 || p.pad_w < 0 || 2 * p.pad_h > p.kernel_h || 2 * p.pad_w > p.kernel_w)
    fail(op, ": padding ", p.pad_h, "x", p.pad_w, " must be between 0 and half the kernel ",
         p.kernel_h, "x", p.kernel_w);
  int64_t padded_h = x.size(2) + 2 * p.pad_h, padded_w = x.size(3) + 2 * p.pad_w;
  if (p.kernel_h > padded_h || p.kernel_w > padded_w)
    fail(op, ": the kernel ", p.kernel_h, "x", p.kernel_w, " is larger than the padded input ",
         padded_h, "x", padded_w, " of ", x.describe());
  return {x.size(0), x.size(1), (padded_h - p.kernel_h) / p.stride_h + 1,
          (padded_w - p.kernel_w) / p.stride_w + 1};
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dParams& params) {
  Shape shape = pool_output_shape("max_pool2d", x, params);
  Tensor input = contiguous_data(x);
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  Tensor argmax = Tensor::empty(shape, DType::I64, x.device());
  backend_of(x).max_pool2d(params, input.view(), out.view(), argmax.view());
  return record(out, "max_pool2d", {x}, [=, source = x.shape()](const Tensor& grad) {
    Tensor grad_out = contiguous_data(grad);
    Tensor grad_in = Tensor::empty(source, grad.dtype(), grad.device());
    backend_of(grad).max_pool2d_backward(params, grad_out.view(), argmax.view(), grad_in.view());
    return std::vector<Tensor>{grad_in};
  });
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& params) {
  Shape shape = pool_output_shape("avg_pool2d", x, params);
  Tensor input = contiguous_data(x);
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  backend_of(x).avg_pool2d(params, input.view(), out.view());
  return record(out, "avg_pool2d", {x}, [=, source = x.shape()](const Tensor& grad) {
    Tensor grad_out = contiguous_data(grad);
    Tensor grad_in = Tensor::empty(source, grad.dtype(), grad.device());
    backend_of(grad).avg_pool2d_backward(params, grad_out.view(), grad_in.view());
    return std::vector<Tensor>{grad_in};
  });
}

Tensor global_avg_pool(const Tensor& x) {
  check_floating("global_avg_pool", x);
  if (x.ndim() != 4 || x.size(2) * x.size(3) == 0)
    fail("global_avg_pool: expected a non-empty input [N, C, H, W], got ", x.describe());
  return mean(x.reshape({x.size(0), x.size(1), x.size(2) * x.size(3)}), 2);
}

}  // namespace margin
