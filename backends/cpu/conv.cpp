// backends/cpu/conv.cpp — 2-D convolution (NCHW, stride, padding, dilation, groups) as
// im2col + the backend's GEMM (gemm.h); the contracts are in backends/backend.h.
//
// For one sample and one group g, unfold the input into columns
//   cols[(c·R + r)·S + s, p·Q + q] = x[g·Cg + c, p·stride_h − pad_h + r·dilation_h,
//                                                q·stride_w − pad_w + s·dilation_w]   (0 outside)
// so that the three kernels are three matrix products per (sample, group):
//   forward          y_g  [Kg, P·Q]    = w_g [Kg, Cg·R·S] · cols
//   backward data    dcols             = w_gᵀ · dy_g,   then dx_g = col2im(dcols) (the adjoint)
//   backward filter  dw_g [Kg, Cg·R·S] = Σ_n dy_g · colsᵀ
// A 1x1 convolution with stride 1 and no padding needs no unfolding: cols is the input itself.
//
// Threading: with at least as many samples as threads, OpenMP splits the batch and each
// thread runs its own (single-threaded) products on its own column buffer, several
// samples per product where planes are small (see "samples side by side"); on 2 cores
// this measured 1.7-1.9x faster than a serial batch with each product threaded
// (bench_layers, N = 32: conv3x3 64→64 at 56x56 forward 36 ms vs 69 ms; the unfolding
// is parallel too, and no fork per product). With fewer samples than threads (inference
// on one image), the batch loop is serial and each product is threaded (gemm_threaded).
// Left out: Winograd/FFT algorithms, a direct kernel for depthwise convolutions (they take
// the same path, as many thin products), NHWC.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/loops.h"

namespace margin {
using namespace cpu;

namespace {

// The sizes of one convolution, read from the image [N, C, H, W], filter [K, Cg, R, S] and
// output [N, K, P, Q] views.
struct ConvGeometry {
  Conv2dParams params;
  int64_t N, C, H, W, K, R, S, P, Q, groups, Cg, Kg;
  ConvGeometry(const Conv2dParams& p, const Shape& image, const Shape& filter, const Shape& output)
      : params(p), N(image[0]), C(image[1]), H(image[2]), W(image[3]), K(filter[0]),
        R(filter[2]), S(filter[3]), P(output[2]), Q(output[3]), groups(p.groups),
        Cg(C / p.groups), Kg(K / p.groups) {}
  int64_t col_rows() const { return Cg * R * S; }
  int64_t out_plane() const { return P * Q; }
  int64_t in_plane() const { return H * W; }
  // The input itself is the column matrix (no copy needed).
  bool is_pointwise() const {
    return R == 1 && S == 1 && params.stride_h == 1 && params.stride_w == 1 &&
           params.pad_h == 0 && params.pad_w == 0;
  }
  // Split the batch over threads, or leave the threads to the products.
  bool split_batch() const { return N >= omp_get_max_threads(); }
};

// The output positions [first, last) whose input coordinate `position·stride + offset`
// lies inside [0, size): the rest of a row of cols reads padding.
struct ValidRange {
  int64_t first, last;
};
ValidRange valid_range(int64_t offset, int64_t stride, int64_t size, int64_t count) {
  int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t last = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  last = std::min(last, count);
  first = std::min(first, last);
  return {first, last};
}

// cols [Cg·R·S, (row_end − row_begin)·Q] from the Cg channel planes starting at `image` (see
// the file header), for output rows [row_begin, row_end); consecutive rows of cols are `stride`
// elements apart (the band's width, or more for samples side by side).
template <class T>
void im2col(const ConvGeometry& g, const T* image, T* cols, int64_t stride, int64_t row_begin,
            int64_t row_end) {
  const Conv2dParams& p = g.params;
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        T* row = cols + ((c * g.R + r) * g.S + s) * stride;
        const T* plane = image + c * g.in_plane();
        int64_t h_offset = r * p.dilation_h - p.pad_h, w_offset = s * p.dilation_w - p.pad_w;
        ValidRange columns = valid_range(w_offset, p.stride_w, g.W, g.Q);
        for (int64_t out_h = row_begin; out_h < row_end; ++out_h) {
          T* out = row + (out_h - row_begin) * g.Q;
          int64_t in_h = out_h * p.stride_h + h_offset;
          if (in_h < 0 || in_h >= g.H) {
            std::fill(out, out + g.Q, T(0));
            continue;
          }
          const T* in = plane + in_h * g.W;
          std::fill(out, out + columns.first, T(0));
          if (p.stride_w == 1)  // a plain copy, vectorized
            std::copy(in + columns.first + w_offset, in + columns.last + w_offset, out + columns.first);
          else
            for (int64_t q = columns.first; q < columns.last; ++q) out[q] = in[q * p.stride_w + w_offset];
          std::fill(out + columns.last, out + g.Q, T(0));
        }
      }
}

// The adjoint of im2col: image += every column entry at the position it was read from.
// `image` (Cg planes) must be zeroed by the caller; rows of cols are `stride` apart.
template <class T>
void col2im(const ConvGeometry& g, const T* cols, int64_t stride, int64_t row_begin,
            int64_t row_end, T* image) {
  const Conv2dParams& p = g.params;
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const T* row = cols + ((c * g.R + r) * g.S + s) * stride;
        T* plane = image + c * g.in_plane();
        int64_t h_offset = r * p.dilation_h - p.pad_h, w_offset = s * p.dilation_w - p.pad_w;
        ValidRange columns = valid_range(w_offset, p.stride_w, g.W, g.Q);
        for (int64_t out_h = row_begin; out_h < row_end; ++out_h) {
          int64_t in_h = out_h * p.stride_h + h_offset;
          if (in_h < 0 || in_h >= g.H) continue;
          const T* in = row + (out_h - row_begin) * g.Q;
          T* out = plane + in_h * g.W;
          if (p.stride_w == 1) {  // unit stride, vectorized
            T* shifted = out + w_offset;
            for (int64_t q = columns.first; q < columns.last; ++q) shifted[q] += in[q];
          } else {
            for (int64_t q = columns.first; q < columns.last; ++q) out[q * p.stride_w + w_offset] += in[q];
          }
        }
      }
}

// ---- chunks: samples side by side, or bands of one sample's rows ------------------------
// Each product should be about kProductColumns wide. A 7x7 output plane alone makes products
// only 49 columns wide, which run far below the machine's rate (and backward-filter would
// re-read its whole [Kg, Cg·R·S] result for every sample), so small planes put `count` samples'
// columns side by side in one [rows, count·P·Q] matrix. A 112x112 plane alone makes columns of
// [576, 12544], 29 MB: im2col's writes and the product's reads would both go to memory, so large
// planes are cut into bands of output rows whose columns stay in cache (bench_layers: conv3x3
// 64→64 at 112², forward+backward, 574 → 382 ms). One sample's chunk (a band or a whole plane)
// needs no copies of the output: the product writes y (reads dy) in place, and a pointwise
// convolution's columns are the input itself.
constexpr int64_t kProductColumns = 1024;

struct Chunk {
  int64_t first, count;        // samples [first, first + count)
  int64_t row_begin, row_end;  // output rows [row_begin, row_end): all P when count > 1
  int64_t width(const ConvGeometry& g) const { return count * (row_end - row_begin) * g.Q; }
};

// A chunk's scratch (this thread's, kept between calls) holds its columns and one output block.
struct ConvScratch;
template <class T>
T* chunk_scratch(const ConvGeometry& g, Chunk chunk) {
  return thread_buffer<T, ConvScratch>((g.col_rows() + g.Kg) * chunk.width(g));
}

// Calls body(chunk) over samples [begin, end) in order: bands of rows for large planes, else
// groups of near-equal size.
template <class Body>
void chunks_of(const ConvGeometry& g, int64_t begin, int64_t end, Body&& body) {
  if (g.out_plane() >= 2 * kProductColumns) {
    int64_t band = std::max<int64_t>(1, kProductColumns / g.Q);
    for (int64_t n = begin; n < end; ++n)
      for (int64_t row = 0; row < g.P; row += band) body(Chunk{n, 1, row, std::min(row + band, g.P)});
    return;
  }
  int64_t wanted = std::max<int64_t>(1, (kProductColumns + g.out_plane() - 1) / g.out_plane());
  int64_t chunks = std::max<int64_t>(1, (end - begin + wanted - 1) / wanted);
  int64_t size = std::max<int64_t>(1, (end - begin + chunks - 1) / chunks);
  for (int64_t first = begin; first < end; first += size)
    body(Chunk{first, std::min(size, end - first), 0, g.P});
}

// Runs body(chunk) over the batch: split over threads (each thread its contiguous share of
// samples) or, with fewer samples than threads, serially (the products are threaded).
template <class Body>
void for_each_chunk(const ConvGeometry& g, Body&& body) {
  if (!g.split_batch()) {
    for (int64_t n = 0; n < g.N; ++n) chunks_of(g, n, n + 1, body);
    return;
  }
#pragma omp parallel
  {
    int threads = omp_get_num_threads(), thread = omp_get_thread_num();
    chunks_of(g, g.N * thread / threads, g.N * (thread + 1) / threads, body);
  }
}

// Offset of sample n, channel c's plane of `plane` elements in an [N, channels, plane] tensor.
inline int64_t plane_at(int64_t n, int64_t channels, int64_t c, int64_t plane) {
  return (n * channels + c) * plane;
}

// The columns [Cg·R·S, width] of group `group` for a chunk: the input itself (one pointwise
// sample, rows P·Q apart) or the chunk's unfoldings side by side in `scratch`.
template <class T>
StridedMatrix<T> columns_of(const ConvGeometry& g, const T* x, Chunk chunk, int64_t group, T* scratch) {
  const int64_t width = chunk.width(g);
  if (chunk.count == 1 && g.is_pointwise())
    return StridedMatrix<T>::row_major(x + plane_at(chunk.first, g.C, group * g.Cg, g.in_plane()) + chunk.row_begin * g.Q,
                                       g.col_rows(), width, g.in_plane());
  for (int64_t i = 0; i < chunk.count; ++i)
    im2col(g, x + plane_at(chunk.first + i, g.C, group * g.Cg, g.in_plane()), scratch + i * g.out_plane(), width,
           chunk.row_begin, chunk.row_end);
  return StridedMatrix<T>::row_major(scratch, g.col_rows(), width);
}

// An output-shaped tensor [N, K, P·Q]'s planes of group `group` for a chunk, as one
// [Kg, width] matrix: the tensor itself for one sample (rows P·Q apart), else copied to/from
// `block` (rows `width` apart).
template <class T>
struct OutputBlock {
  T* data;
  int64_t stride;
};
template <class T>
OutputBlock<T> output_block(const ConvGeometry& g, T* tensor, Chunk chunk, int64_t group, T* block) {
  if (chunk.count > 1) return {block, chunk.width(g)};
  return {tensor + plane_at(chunk.first, g.K, group * g.Kg, g.out_plane()) + chunk.row_begin * g.Q, g.out_plane()};
}
template <class T>
void gather_block(const ConvGeometry& g, const T* tensor, Chunk chunk, int64_t group, T* block) {
  if (chunk.count == 1) return;
  for (int64_t i = 0; i < chunk.count; ++i)
    for (int64_t k = 0; k < g.Kg; ++k)
      std::copy_n(tensor + plane_at(chunk.first + i, g.K, group * g.Kg + k, g.out_plane()), g.out_plane(),
                  block + (k * chunk.count + i) * g.out_plane());
}
template <class T>
void scatter_block(const ConvGeometry& g, const T* block, Chunk chunk, int64_t group, T* tensor) {
  if (chunk.count == 1) return;
  for (int64_t i = 0; i < chunk.count; ++i)
    for (int64_t k = 0; k < g.Kg; ++k)
      std::copy_n(block + (k * chunk.count + i) * g.out_plane(), g.out_plane(),
                  tensor + plane_at(chunk.first + i, g.K, group * g.Kg + k, g.out_plane()));
}

template <class T>
StridedMatrix<T> filter_of(const ConvGeometry& g, const T* w, int64_t group) {
  return StridedMatrix<T>::row_major(w + group * g.Kg * g.col_rows(), g.Kg, g.col_rows());
}

template <class T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
  for_each_chunk(g, [&](Chunk chunk) {
    T* scratch = chunk_scratch<T>(g, chunk);
    T* block_scratch = scratch + g.col_rows() * chunk.width(g);
    for (int64_t group = 0; group < g.groups; ++group) {
      OutputBlock<T> out = output_block(g, y, chunk, group, block_scratch);
      gemm_threaded(filter_of(g, w, group), columns_of(g, x, chunk, group, scratch), out.data, out.stride, T(1), false);
      scatter_block(g, out.data, chunk, group, y);
    }
  });
}

template <class T>
void conv_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  for_each_chunk(g, [&](Chunk chunk) {
    const int64_t width = chunk.width(g);
    T* scratch = chunk_scratch<T>(g, chunk);
    T* block_scratch = scratch + g.col_rows() * width;
    for (int64_t group = 0; group < g.groups; ++group) {
      gather_block(g, dy, chunk, group, block_scratch);
      OutputBlock<T> grad = output_block(g, const_cast<T*>(dy), chunk, group, block_scratch);
      auto grad_out = StridedMatrix<T>::row_major(grad.data, g.Kg, width, grad.stride);
      auto filter_t = filter_of(g, w, group).transposed();
      if (chunk.count == 1 && g.is_pointwise()) {  // dx is the columns: written in place
        T* image = dx + plane_at(chunk.first, g.C, group * g.Cg, g.in_plane());
        gemm_threaded(filter_t, grad_out, image + chunk.row_begin * g.Q, g.in_plane(), T(1), false);
        continue;
      }
      gemm_threaded(filter_t, grad_out, scratch, width, T(1), false);
      for (int64_t i = 0; i < chunk.count; ++i) {
        T* image = dx + plane_at(chunk.first + i, g.C, group * g.Cg, g.in_plane());
        if (chunk.row_begin == 0) std::fill(image, image + g.Cg * g.in_plane(), T(0));  // a sample's first band
        col2im(g, scratch + i * g.out_plane(), width, chunk.row_begin, chunk.row_end, image);
      }
    }
  });
}

template <class T>
void conv_backward_filter(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
  int64_t filter_size = g.K * g.col_rows();
  // Each thread sums its samples into its own partial dw; the partials are added at the end.
  int threads = g.split_batch() ? omp_get_max_threads() : 1;
  std::vector<std::vector<T>> partials(threads, std::vector<T>(filter_size, T(0)));
  for_each_chunk(g, [&](Chunk chunk) {
    const int64_t width = chunk.width(g);
    T* scratch = chunk_scratch<T>(g, chunk);
    T* block_scratch = scratch + g.col_rows() * width;
    T* partial = partials[g.split_batch() ? omp_get_thread_num() : 0].data();
    for (int64_t group = 0; group < g.groups; ++group) {
      StridedMatrix<T> columns = columns_of(g, x, chunk, group, scratch);
      gather_block(g, dy, chunk, group, block_scratch);
      OutputBlock<T> grad = output_block(g, const_cast<T*>(dy), chunk, group, block_scratch);
      auto grad_out = StridedMatrix<T>::row_major(grad.data, g.Kg, width, grad.stride);
      gemm_threaded(grad_out, columns.transposed(), partial + group * g.Kg * g.col_rows(), g.col_rows(), T(1), true);
    }
  });
  std::copy(partials[0].begin(), partials[0].end(), dw);
  for (int t = 1; t < threads; ++t)
    for (int64_t i = 0; i < filter_size; ++i) dw[i] += partials[t][i];
}

}  // namespace

void CpuBackend::conv2d(const Conv2dParams& params, const View& x, const View& w,
                        const View& y) {
  ConvGeometry g(params, x.shape, w.shape, y.shape);
  dispatch_floating(x.dtype, "conv2d", [&](auto t) {
    using T = decltype(t);
    conv_forward<T>(g, x.ptr<T>(), w.ptr<T>(), y.ptr<T>());
  });
}

void CpuBackend::conv2d_backward_data(const Conv2dParams& params, const View& dy, const View& w,
                                      const View& dx) {
  ConvGeometry g(params, dx.shape, w.shape, dy.shape);
  dispatch_floating(dy.dtype, "conv2d_backward_data", [&](auto t) {
    using T = decltype(t);
    conv_backward_data<T>(g, dy.ptr<T>(), w.ptr<T>(), dx.ptr<T>());
  });
}

void CpuBackend::conv2d_backward_filter(const Conv2dParams& params, const View& x,
                                        const View& dy, const View& dw) {
  ConvGeometry g(params, x.shape, dw.shape, dy.shape);
  dispatch_floating(x.dtype, "conv2d_backward_filter", [&](auto t) {
    using T = decltype(t);
    conv_backward_filter<T>(g, x.ptr<T>(), dy.ptr<T>(), dw.ptr<T>());
  });
}

}  // namespace margin
