// tests/conv_cases.h — the convolution geometries the tests run (every path of the CPU's
// kernels: implicit GEMM, flipped backward data, col2im, bands, samples side by side, and the
// direct kernels of narrow groups), and the definitions of backends/backend.h summed in double
// as the reference: the forward y, and dx, dw with the sum of their terms' magnitudes beside
// each (the scale a float sum's rounding error is bounded by). tests/test_conv.cpp and
// tests/test_precision.cpp share them.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"

namespace margin::testing {

// y[n,k,p,q] straight from the definition in backends/backend.h: the slow reference.
inline std::vector<double> direct_conv(const Tensor& x, const Tensor& w, const Conv2dParams& p,
                                const Shape& out) {
  std::vector<double> xs = x.to_vector(), ws = w.to_vector(), ys(shape_numel(out), 0.0);
  int64_t C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), Cg = w.size(1);
  int64_t R = w.size(2), S = w.size(3), Kg = K / p.groups;
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < out[2]; ++oh)
        for (int64_t ow = 0; ow < out[3]; ++ow) {
          double total = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                int64_t h = oh * p.stride_h - p.pad_h + r * p.dilation_h;
                int64_t v = ow * p.stride_w - p.pad_w + s * p.dilation_w;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                int64_t channel = (k / Kg) * Cg + c;
                total += xs[((n * C + channel) * H + h) * W + v] * ws[((k * Cg + c) * R + r) * S + s];
              }
          ys[((n * K + k) * out[2] + oh) * out[3] + ow] = total;
        }
  return ys;
}

struct ConvCase {
  std::string name;
  Shape x, w;
  Conv2dParams params;
};

inline std::vector<ConvCase> conv_cases() {
  return {
      {"conv2d(N=2,C=3,H=5,W=6,K=4,k=3)", {2, 3, 5, 6}, {4, 3, 3, 3}, {}},
      {"conv2d(N=2,C=3,H=7,W=5,K=4,k=3,s=2,p=1)", {2, 3, 7, 5}, {4, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 1}},
      {"conv2d(N=1,C=2,H=6,W=6,K=3,k=3,s=2) last row unread", {1, 2, 6, 6}, {3, 2, 3, 3}, {2, 2, 0, 0, 1, 1, 1}},
      {"conv2d(N=2,C=2,H=7,W=7,K=3,k=3,d=2,p=2)", {2, 2, 7, 7}, {3, 2, 3, 3}, {1, 1, 2, 2, 2, 2, 1}},
      {"conv2d(N=2,C=4,H=5,W=5,K=6,k=3,p=1,groups=2)", {2, 4, 5, 5}, {6, 2, 3, 3}, {1, 1, 1, 1, 1, 1, 2}},
      {"conv2d(N=2,C=4,H=5,W=5,K=4,k=3,p=1) depthwise", {2, 4, 5, 5}, {4, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 4}},
      {"conv2d(N=1,C=3,H=5,W=5,K=6,k=3,s=2,p=1) depthwise x2", {1, 3, 5, 5}, {6, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 3}},
      {"conv2d(N=2,C=3,H=4,W=5,K=5,k=1) pointwise", {2, 3, 4, 5}, {5, 3, 1, 1}, {}},
      {"conv2d(N=2,C=3,H=5,W=5,K=4,k=1,s=2) strided 1x1", {2, 3, 5, 5}, {4, 3, 1, 1}, {2, 2, 0, 0, 1, 1, 1}},
      {"conv2d(N=1,C=2,H=6,W=5,K=3,k=3x2,s=2x1,p=0x1) asymmetric", {1, 2, 6, 5}, {3, 2, 3, 2}, {2, 1, 0, 1, 1, 1, 1}},
      // stride 1 and at least 16 input channels a group: backward data runs as a convolution
      // by the flipped filter, padded d·(R−1) − pad ...
      {"conv2d(N=2,C=32,H=6,W=5,K=4,k=3x2,d=2x1,p=1x0,groups=2) flipped", {2, 32, 6, 5}, {4, 16, 3, 2}, {1, 1, 1, 0, 2, 1, 2}},
      {"conv2d(N=1,C=16,H=4,W=4,K=3,k=1) pointwise flipped", {1, 16, 4, 4}, {3, 16, 1, 1}, {}},
      // ... unless pad > d·(R−1), which would be a negative padding, or strided: col2im then
      {"conv2d(N=2,C=16,H=4,W=4,K=2,k=1,p=1) padded 1x1", {2, 16, 4, 4}, {2, 16, 1, 1}, {1, 1, 1, 1, 1, 1, 1}},
      {"conv2d(N=2,C=16,H=7,W=6,K=3,k=3,s=2,p=1) strided, 16 channels", {2, 16, 7, 6}, {3, 16, 3, 3}, {2, 2, 1, 1, 1, 1, 1}},
      {"conv2d(N=2,C=16,H=5,W=5,K=4,k=1,s=2) strided 1x1, 16 channels", {2, 16, 5, 5}, {4, 16, 1, 1}, {2, 2, 0, 0, 1, 1, 1}},
      {"conv2d(N=1,C=16,H=9,W=8,K=2,k=3,s=2,d=2,p=2) odd rows unread", {1, 16, 9, 8}, {2, 16, 3, 3}, {2, 2, 2, 2, 2, 2, 1}},
      {"conv2d(N=1,C=32,H=8,W=7,K=4,k=3x2,s=3x2,p=1x0,groups=2) strided, asymmetric", {1, 32, 8, 7}, {4, 16, 3, 2}, {3, 2, 1, 0, 1, 1, 2}},
      // small planes: several samples side by side in one product, in uneven chunks
      {"conv2d(N=7,C=3,H=4,W=4,K=4,k=3,p=1) samples side by side", {7, 3, 4, 4}, {4, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
      {"conv2d(N=9,C=4,H=3,W=3,K=6,k=1,groups=2) pointwise side by side", {9, 4, 3, 3}, {6, 2, 1, 1}, {1, 1, 0, 0, 1, 1, 2}},
      // large planes (≥ 2048 outputs): cut into bands of 22 output rows (22, 22, 2)
      {"conv2d(N=1,C=1,H=46,W=46,K=2,k=3,p=1) bands of rows", {1, 1, 46, 46}, {2, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
      {"conv2d(N=2,C=2,H=46,W=46,K=2,k=1) pointwise bands", {2, 2, 46, 46}, {2, 2, 1, 1}, {}},
      // one or two input channels (a first layer): products with a short inner dimension
      {"conv2d(N=3,C=1,H=6,W=5,K=5,k=3,p=1) one channel", {3, 1, 6, 5}, {5, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
      {"conv2d(N=2,C=1,H=4,W=3,K=2,k=3,p=2) output wider than its input", {2, 1, 4, 3}, {2, 1, 3, 3}, {1, 1, 2, 2, 1, 1, 1}},
      {"conv2d(N=2,C=2,H=5,W=6,K=3,k=2x4,p=0x1) two channels, asymmetric", {2, 2, 5, 6}, {3, 2, 2, 4}, {1, 1, 0, 1, 1, 1, 1}},
      {"conv2d(N=1,C=1,H=7,W=7,K=2,k=4) one channel, 4x4, no padding", {1, 1, 7, 7}, {2, 1, 4, 4}, {}},
  };
}

// Narrow groups (≤ 4 input and 4 output channels a group, groups > 1) take the CPU backend's
// direct kernels (backends/cpu/depthwise.cpp): every branch of them, odd sizes included.
inline std::vector<ConvCase> direct_cases() {
  return {
      {"depthwise(N=3,C=5,H=9,W=7,k=3,p=1)", {3, 5, 9, 7}, {5, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 5}},
      {"depthwise(N=2,C=5,H=9,W=7,k=3,s=2,p=1) odd width", {2, 5, 9, 7}, {5, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 5}},
      {"depthwise(N=2,C=3,H=7,W=10,k=3,s=2,p=1) even width: columns split by vectors", {2, 3, 7, 10}, {3, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 3}},
      {"depthwise(N=1,C=2,H=9,W=40,k=3,s=2,p=1) rows wider than two vectors", {1, 2, 9, 40}, {2, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 2}},
      {"depthwise(N=2,C=2,H=8,W=8,k=3,s=2,p=0) even width, no padding", {2, 2, 8, 8}, {2, 1, 3, 3}, {2, 2, 0, 0, 1, 1, 2}},
      {"depthwise(N=1,C=3,H=11,W=10,k=3,s=3,p=2) three phases a side", {1, 3, 11, 10}, {3, 1, 3, 3}, {3, 3, 2, 2, 1, 1, 3}},
      {"depthwise(N=1,C=2,H=9,W=5,k=3x2,s=2x1,p=1x0) asymmetric", {1, 2, 9, 5}, {2, 1, 3, 2}, {2, 1, 1, 0, 1, 1, 2}},
      {"depthwise(N=2,C=4,H=9,W=8,k=3,d=2,p=2) dilated", {2, 4, 9, 8}, {4, 1, 3, 3}, {1, 1, 2, 2, 2, 2, 4}},
      {"depthwise(N=1,C=2,H=5,W=4,k=3,p=3) padded past the filter: scattered", {1, 2, 5, 4}, {2, 1, 3, 3}, {1, 1, 3, 3, 1, 1, 2}},
      {"depthwise(N=2,C=3,H=4,W=5,k=1) 1x1", {2, 3, 4, 5}, {3, 1, 1, 1}, {1, 1, 0, 0, 1, 1, 3}},
      {"depthwise(N=3,C=20,H=6,W=6,k=3,p=1) 20 channels", {3, 20, 6, 6}, {20, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 20}},
      {"grouped(N=2,C=8,H=11,W=9,K=8,k=3,p=1,groups=4) 2 in, 2 out a group", {2, 8, 11, 9}, {8, 2, 3, 3}, {1, 1, 1, 1, 1, 1, 4}},
      {"grouped(N=2,C=8,H=9,W=8,K=8,k=3,s=2,p=1,groups=4) 2 in, 2 out, strided", {2, 8, 9, 8}, {8, 2, 3, 3}, {2, 2, 1, 1, 1, 1, 4}},
      {"grouped(N=2,C=3,H=7,W=7,K=6,k=3,s=2,p=1,groups=3) 1 in, 2 out", {2, 3, 7, 7}, {6, 1, 3, 3}, {2, 2, 1, 1, 1, 1, 3}},
      {"grouped(N=1,C=8,H=6,W=7,K=2,k=3,p=1,groups=2) 4 in, 1 out", {1, 8, 6, 7}, {2, 4, 3, 3}, {1, 1, 1, 1, 1, 1, 2}},
      {"global depthwise(N=3,C=6,H=5,W=5,k=5) the GDC's shape", {3, 6, 5, 5}, {6, 1, 5, 5}, {1, 1, 0, 0, 1, 1, 6}},
      {"global grouped(N=2,C=4,H=3,W=2,K=4,k=3x2,groups=2) oblong", {2, 4, 3, 2}, {4, 2, 3, 2}, {1, 1, 0, 0, 1, 1, 2}},
  };
}

// Stride 1 or 2, one group, input and output channels multiples of 32: with bfloat16 products
// on a CPU with AMX or AVX-512 BF16, backends/cpu/flat_conv.cpp's kernels take them (elsewhere
// the implicit GEMM).
// Planes of every width against the 32 outputs of a step, several samples laid out at once,
// and, on the CPU, a backward filter whose sums are stored and reloaded between runs of steps
// (its references take 6 s, which on another device would check nothing new).
inline std::vector<ConvCase> flat_cases(Device device) {
  std::vector<ConvCase> cases = {
      {"flat(N=3,C=32,H=9,W=7,K=32,k=3,p=1) odd plane", {3, 32, 9, 7}, {32, 32, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
      {"flat(N=2,C=64,H=5,W=12,K=32,k=3) no padding", {2, 64, 5, 12}, {32, 64, 3, 3}, {}},
      {"flat(N=2,C=32,H=6,W=5,K=64,k=1) pointwise", {2, 32, 6, 5}, {64, 32, 1, 1}, {}},
      {"flat(N=1,C=32,H=7,W=6,K=32,k=3x2,p=2x1) asymmetric", {1, 32, 7, 6}, {32, 32, 3, 2}, {1, 1, 2, 1, 1, 1, 1}},
      // stride 2 (backward data by the image's phases: 2x2, 2x1, 1x2 and 1x1 sub-filters of a
      // 3x3; none for a 3x1's odd columns; rows no output reads; padding past the filter; a 1x1's
      // on the implicit GEMM)
      {"flat(N=2,C=32,H=9,W=8,K=32,k=3,s=2,p=1) odd rows, even columns", {2, 32, 9, 8}, {32, 32, 3, 3}, {2, 2, 1, 1, 1, 1, 1}},
      {"flat(N=3,C=32,H=8,W=7,K=64,k=1,s=2) downsampling 1x1", {3, 32, 8, 7}, {64, 32, 1, 1}, {2, 2, 0, 0, 1, 1, 1}},
      {"flat(N=1,C=64,H=6,W=9,K=32,k=2x3,s=2,p=0x2) asymmetric", {1, 64, 6, 9}, {32, 64, 2, 3}, {2, 2, 0, 2, 1, 1, 1}},
      {"flat(N=2,C=32,H=5,W=6,K=32,k=2,s=2,p=2) padding past the filter", {2, 32, 5, 6}, {32, 32, 2, 2}, {2, 2, 2, 2, 1, 1, 1}},
      {"flat(N=2,C=32,H=8,W=5,K=32,k=3x1,s=2) a column of taps, the last row unread", {2, 32, 8, 5}, {32, 32, 3, 1},
       {2, 2, 0, 0, 1, 1, 1}},
  };
  if (device == kCPU) {
    cases.push_back({"flat(N=4,C=64,H=40,W=40,K=64,k=3,p=1) runs of steps", {4, 64, 40, 40}, {64, 64, 3, 3},
                     {1, 1, 1, 1, 1, 1, 1}});
    // stride 2's phases interleaved 16 columns at a time, from column 1 (odd padding) or 0
    cases.push_back({"flat(N=2,C=32,H=6,W=75,K=32,k=3,s=2,p=1) rows of 75 columns", {2, 32, 6, 75}, {32, 32, 3, 3},
                     {2, 2, 1, 1, 1, 1, 1}});
    cases.push_back({"flat(N=1,C=32,H=5,W=69,K=32,k=2,s=2) rows of 69 columns, the last unread", {1, 32, 5, 69},
                     {32, 32, 2, 2}, {2, 2, 0, 0, 1, 1, 1}});
  }
  return cases;
}

// dx and dw straight from backends/backend.h's definitions, summed in double, with the sum of
// the terms' magnitudes beside each (the scale a float32 sum's rounding error is bounded by).
struct Reference {
  std::vector<double> dx, dx_scale, dw, dw_scale;
};
inline Reference direct_conv_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Conv2dParams& p) {
  std::vector<double> xs = x.to_vector(), ws = w.to_vector(), dys = dy.to_vector();
  Reference ref{std::vector<double>(xs.size()), std::vector<double>(xs.size()), std::vector<double>(ws.size()),
                std::vector<double>(ws.size())};
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), Cg = w.size(1);
  int64_t R = w.size(2), S = w.size(3), P = dy.size(2), Q = dy.size(3), Kg = K / p.groups;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < P; ++oh)
        for (int64_t ow = 0; ow < Q; ++ow)
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                int64_t h = oh * p.stride_h - p.pad_h + r * p.dilation_h;
                int64_t v = ow * p.stride_w - p.pad_w + s * p.dilation_w;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                int64_t x_at = ((n * C + (k / Kg) * Cg + c) * H + h) * W + v, w_at = ((k * Cg + c) * R + r) * S + s;
                double grad = dys[((n * K + k) * P + oh) * Q + ow];
                ref.dx[x_at] += grad * ws[w_at];
                ref.dx_scale[x_at] += std::abs(grad * ws[w_at]);
                ref.dw[w_at] += grad * xs[x_at];
                ref.dw_scale[w_at] += std::abs(grad * xs[x_at]);
              }
  return ref;
}

}  // namespace margin::testing
