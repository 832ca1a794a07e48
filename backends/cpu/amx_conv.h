// backends/cpu/amx_conv.h — stride-1 convolutions with bfloat16 products straight on AMX's
// tiles: no unfolding and no packing of the image (amx_conv.cpp has the method). The
// contracts are conv2d's in backends/backend.h; the results are the exact products of the
// bfloat16-rounded operands summed in float, as gemm.h's bfloat16 products.
#pragma once
#include "backends/backend.h"
#include "backends/half.h"

namespace margin::cpu {

// Whether these kernels take the convolution's forward and backward filter: bfloat16 products
// on AMX (gemm.h), stride 1 or 2 (the same both ways), no dilation, one group, input and
// output channels multiples of 32. Its backward data: stride 1 only, padding below the
// filter's size.
bool amx_convolution(const Conv2dParams& params, const Shape& image, const Shape& filter);
bool amx_convolution_backward_data(const Conv2dParams& params, const Shape& image, const Shape& filter);

// image [N, C, H, W] (float, or bfloat16 for an image kept rounded), filter [F, C, R, S],
// output [N, F, P, Q]; float everywhere else.
template <class Image>
void amx_conv_forward(const Conv2dParams& params, const Shape& image, const Shape& filter, const Image* x,
                      const float* w, float* y);
void amx_conv_backward_data(const Conv2dParams& params, const Shape& image, const Shape& filter, const float* dy,
                            const float* w, float* dx);
template <class Image>
void amx_conv_backward_filter(const Conv2dParams& params, const Shape& image, const Shape& filter, const Image* x,
                              const float* dy, float* dw);

}  // namespace margin::cpu
