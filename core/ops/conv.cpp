// core/ops/conv.cpp — 2-D convolution with autograd. With y = x ⊛ w (Backend::conv2d):
//   dx = conv2d_backward_data(dy, w)    (the transposed convolution of dy by w)
//   dw = conv2d_backward_filter(x, dy)  (the correlation of x with dy)
//   db = Σ_{n, p, q} dy[n, k, p, q]     (the bias is added by broadcasting; sum_to is its adjoint)
// Left out: transposed convolution as an op of its own, double backward.
#include "core/ops/common.h"
#include "core/precision.h"

namespace margin {
using namespace ops;

namespace {

// Output size along one dim, or an error naming the layer, shapes and what was expected.
int64_t conv_output_size(const char* dim, int64_t input, int64_t kernel, int64_t stride,
                         int64_t pad, int64_t dilation, const Tensor& x, const Tensor& w) {
  int64_t extent = dilation * (kernel - 1) + 1;
  if (extent > input + 2 * pad)
    fail("conv2d: the kernel (", kernel, " with dilation ", dilation, ", spanning ", extent,
         ") is larger than the padded input ", dim, " (", input, " + 2·", pad, " = ",
         input + 2 * pad, "); x ", x.describe(), ", weight ", w.describe());
  return (input + 2 * pad - extent) / stride + 1;
}

void check_conv(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  check_pair("conv2d", x, w);
  if (x.ndim() != 4) fail("conv2d: expected input [N, C, H, W], got ", x.describe());
  if (w.ndim() != 4) fail("conv2d: expected weight [K, C/groups, R, S], got ", w.describe());
  if (p.stride_h < 1 || p.stride_w < 1 || p.dilation_h < 1 || p.dilation_w < 1 ||
      p.pad_h < 0 || p.pad_w < 0 || p.groups < 1)
    fail("conv2d: expected stride ≥ 1, dilation ≥ 1, padding ≥ 0 and groups ≥ 1, got stride ",
         p.stride_h, "x", p.stride_w, ", dilation ", p.dilation_h, "x", p.dilation_w,
         ", padding ", p.pad_h, "x", p.pad_w, ", groups ", p.groups);
  int64_t channels = x.size(1), filters = w.size(0);
  if (channels % p.groups != 0 || filters % p.groups != 0)
    fail("conv2d: groups = ", p.groups, " must divide both the input channels (", channels,
         ") and the output channels (", filters, "); x ", x.describe(), ", weight ",
         w.describe());
  if (w.size(1) * p.groups != channels)
    fail("conv2d: input has ", channels, " channels but the weight ", w.describe(),
         " with groups = ", p.groups, " expects ", w.size(1) * p.groups, "; x ", x.describe());
  if (bias.defined()) {
    check_pair("conv2d", x, bias);
    if (bias.ndim() != 1 || bias.size(0) != filters)
      fail("conv2d: expected bias [", filters, "], got ", bias.describe());
  }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dParams& params) {
  check_conv(x, weight, bias, params);
  int64_t out_h = conv_output_size("height", x.size(2), weight.size(2), params.stride_h,
                                   params.pad_h, params.dilation_h, x, weight);
  int64_t out_w = conv_output_size("width", x.size(3), weight.size(3), params.stride_w,
                                   params.pad_w, params.dilation_w, x, weight);
  Tensor input = contiguous_data(x), filter = contiguous_data(weight);
  Tensor out = Tensor::empty({x.size(0), weight.size(0), out_h, out_w}, x.dtype(), x.device());
  // The products' operands as the autocast scope says (precision.h); the backward's likewise.
  Conv2dParams product = params;
  product.operands = x.dtype() == DType::F32 ? product_operands(autocast_precision()) : DType::F32;
  const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
  // An image kept for the backward (dw needs it) with bfloat16 operands is rounded once, here:
  // the forward and backward-filter products read the very values they would round it to, and
  // the kept copy holds half the memory of the float32 input. Not kept, it is rounded as packed.
  const bool keep_image = grad_enabled() && need_w;
  Tensor image = keep_image && product.operands == DType::BF16 ? input.to(DType::BF16) : input;
  backend_of(x).conv2d(product, image.view(), filter.view(), out.view());
  // The backward keeps what it reads: the filter for dx, the image for dw.
  Tensor kept_filter = need_x ? filter : Tensor(), kept_image = keep_image ? image : Tensor();
  const Shape x_shape = x.shape(), w_shape = weight.shape();
  out = record(out, "conv2d", {x, weight}, [=](const Tensor& grad) {
    Tensor grad_out = contiguous_data(grad), grad_x, grad_w;
    if (need_x) {
      grad_x = Tensor::empty(x_shape, grad.dtype(), grad.device());
      backend_of(grad).conv2d_backward_data(product, grad_out.view(), kept_filter.view(), grad_x.view());
    }
    if (need_w) {
      grad_w = Tensor::empty(w_shape, grad.dtype(), grad.device());
      backend_of(grad).conv2d_backward_filter(product, kept_image.view(), grad_out.view(), grad_w.view());
    }
    return std::vector<Tensor>{grad_x, grad_w};
  });
  return bias.defined() ? out + bias.reshape({1, weight.size(0), 1, 1}) : out;
}

}  // namespace margin
