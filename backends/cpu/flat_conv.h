// backends/cpu/flat_conv.h — convolutions of stride 1 or 2 with bfloat16 products on AMX's
// tiles or on vdpbf16ps, reading the image in place: no unfolding (flat_conv.cpp has the
// method). The contracts are conv2d's in backends/backend.h; the results are the exact
// products of the bfloat16-rounded operands summed in float, as gemm.h's bfloat16 products.
#pragma once
#include "backends/backend.h"
#include "backends/half.h"

namespace margin::cpu {

// Whether these kernels take the convolution's forward and backward filter: bfloat16 products
// on AMX or on vdpbf16ps (the kernel gemm.h picks), stride 1 or 2 (the same both ways), no
// dilation, one group, input and output channels multiples of 32. Its backward data: stride 2
// with a filter larger than 1x1, or stride 1 with padding below the filter's size.
bool flat_convolution(const Conv2dParams& params, const Shape& image, const Shape& filter);
bool flat_convolution_backward_data(const Conv2dParams& params, const Shape& image, const Shape& filter);

// image [N, C, H, W] (float, or bfloat16 for an image kept rounded), filter [F, C, R, S],
// output [N, F, P, Q]; float everywhere else.
template <class Image>
void flat_conv_forward(const Conv2dParams& params, const Shape& image, const Shape& filter, const Image* x,
                      const float* w, float* y);
void flat_conv_backward_data(const Conv2dParams& params, const Shape& image, const Shape& filter, const float* dy,
                            const float* w, float* dx);
template <class Image>
void flat_conv_backward_filter(const Conv2dParams& params, const Shape& image, const Shape& filter, const Image* x,
                              const float* dy, float* dw);

}  // namespace margin::cpu
