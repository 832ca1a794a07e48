// backends/cpu/winograd.h — 3x3 convolutions of stride 1 and padding 1 by Winograd's
// F(2×2, 3×3) on vdpbf16ps: 16 products where the direct convolution makes 36 for each 2×2 of
// outputs and channel (winograd.cpp has the method and its error bound).
//
// Switched on by set_winograd (the training programs' --conv-algorithm auto does, train/trainer.h):
// its results are not conv2d's bfloat16 contract (backend.h: the exact products of the rounded
// operands, summed in float). It rounds the transformed operands instead, so each output's
// error is bounded by 2⁻⁷ times its own scale, a sum of absolute values through the transforms
// (winograd.cpp; tests/test_winograd.cpp), and on random data it is two to five times the
// direct kernels' (docs/precision.md).
#pragma once
#include "backends/backend.h"
#include "backends/half.h"

namespace margin::cpu {

// Whether conv2d's forward, backward data and backward filter on the CPU go through Winograd
// where they can.
// Off in the library unless asked for; a process-wide switch, set before the work starts.
void set_winograd(bool on);
bool winograd_enabled();
// Whether it runs where it can: switched on, and the bfloat16 products on vdpbf16ps in a build
// with AVX-512 (gemm.h's kernel: with AMX the direct tile kernels are faster).
bool winograd_in_use();

// Whether winograd_conv_forward takes a convolution (and so its backward data, the same with
// image and filter channels swapped, and its backward filter): winograd_in_use(), bfloat16
// operands, a 3x3 filter, stride 1, padding 1, no dilation, one group, input and output channels
// multiples of 32.
bool winograd_convolution(const Conv2dParams& params, const Shape& image, const Shape& filter);

// image [N, C, H, W] (float, or bfloat16 for an image kept rounded), filter [F, C, 3, 3],
// output [N, F, H, W] in float. A float image is rounded to bfloat16 as it is read.
template <class Image>
void winograd_conv_forward(const Shape& image, const Shape& filter, const Image* x, const float* w, float* y);
// dx [N, C, H, W] of dy [N, F, H, W]: dy convolved by w with its channels swapped and taps
// rotated 180° (padding 3 − 1 − 1 = 1).
void winograd_conv_backward_data(const Shape& image, const Shape& filter, const float* dy, const float* w,
                                 float* dx);
// dw [F, C, 3, 3] of dy [N, F, H, W] and the image x (float or bfloat16, as the forward's).
template <class Image>
void winograd_conv_backward_filter(const Shape& image, const Shape& filter, const Image* x, const float* dy,
                                   float* dw);

}  // namespace margin::cpu
