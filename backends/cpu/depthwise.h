// backends/cpu/depthwise.h — direct kernels for convolutions of narrow groups: depthwise ones
// (one input and one output channel a group) and groups of a few channels. conv.cpp's
// products have Kg rows a group, and one of ≤ 4 rows fills at most half of the GEMM's 8-row
// tile, with an unfolding and a call per group besides; these kernels run the taps as
// vectorized loops over whole planes instead. Contracts: backends/backend.h (conv2d and its two
// backward kernels); conv.cpp sends a convolution here when direct_convolution says so, having
// checked the image's dtype against params.operands (a bfloat16 image for bfloat16 products).
#pragma once
#include "backends/backend.h"

namespace margin::cpu {

// groups > 1 with at most 4 input and 4 output channels a group (x [N, C, H, W], w [K, Cg, R, S]).
bool direct_convolution(const Conv2dParams& params, const Shape& x, const Shape& w);

void direct_conv2d(const Conv2dParams& params, const View& x, const View& w, const View& y);
void direct_conv2d_backward_data(const Conv2dParams& params, const View& dy, const View& w, const View& dx);
void direct_conv2d_backward_filter(const Conv2dParams& params, const View& x, const View& dy, const View& dw);

}  // namespace margin::cpu
