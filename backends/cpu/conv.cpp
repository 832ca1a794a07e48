// backends/cpu/conv.cpp — 2-D convolution (NCHW, stride, padding, dilation, groups) as
// matrix products on the backend's GEMM (gemm.h); the contracts are in backends/backend.h.
//
// For one sample and one group g, the input unfolded into columns
//   cols[(c·R + r)·S + s, p·Q + q] = x[g·Cg + c, p·stride_h − pad_h + r·dilation_h,
//                                                q·stride_w − pad_w + s·dilation_w]   (0 outside)
// makes the three kernels three matrix products per (sample, group):
//   forward          y_g  [Kg, P·Q]    = w_g [Kg, Cg·R·S] · cols
//   backward data    dcols             = w_gᵀ · dy_g,   then dx_g = col2im(dcols) (the adjoint)
//                    (stride 1: a forward convolution of dy instead, see below)
//   backward filter  dw_g [Kg, Cg·R·S] = Σ_n dy_g · colsᵀ
// cols is never stored (implicit GEMM): the GEMM packs its panels of cols straight from the
// image (Unfolding, below).
//
// Threading: with at least as many samples as threads, OpenMP splits the batch and each
// thread runs its own (single-threaded) products with its own packed panels, several
// samples per product where planes are small (see "samples side by side"); on 2 cores
// this measured 1.7-1.9x faster than a serial batch with each product threaded
// (bench_layers, N = 32: conv3x3 64→64 at 56x56 forward 36 ms vs 69 ms; the unfolding
// is parallel too, and no fork per product). With fewer samples than threads (inference
// on one image), the batch loop is serial and each product is threaded (gemm_threaded).
// Convolutions of narrow groups (depthwise ones above all) would be many products of a few
// rows each: they run on depthwise.cpp's direct kernels instead (depthwise.h says which).
// bfloat16 products (AMX or vdpbf16ps), stride 1 or 2 and channels in multiples of 32 (a
// ResNet's convolutions but its first) run on flat_conv.cpp's kernels, which read the image in
// place; with Winograd switched on (winograd.h), the 3x3 ones of stride 1 run by Winograd's
// F(2×2, 3×3) instead, all three passes.
// Left out: FFT algorithms, NHWC.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backends/cpu/flat_conv.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/depthwise.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/loops.h"
#include "backends/cpu/winograd.h"
#include "backends/half.h"

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
  Operands operands = Operands::kFloat;  // what the products multiply (set by the kernels' entry points)
  int64_t col_rows() const { return Cg * R * S; }
  int64_t out_plane() const { return P * Q; }
  int64_t in_plane() const { return H * W; }
  // Split the batch over threads, or leave the threads to the products.
  bool split_batch() const { return N >= omp_get_max_threads(); }
};

// The output positions [first, last) whose input coordinate `position·stride + offset`
// lies inside [0, size): the rest of a row of cols reads padding.
struct ValidRange {
  int64_t first, last;
};
inline ValidRange valid_range(int64_t offset, int64_t stride, int64_t size, int64_t count) {
  if (stride == 1) {  // the common case, without dividing
    const int64_t last = std::clamp<int64_t>(size - offset, 0, count);
    return {std::clamp<int64_t>(-offset, 0, last), last};
  }
  int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t last = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  last = std::min(last, count);
  first = std::min(first, last);
  return {first, last};
}

// ---- chunks: samples side by side, or bands of one sample's rows ------------------------
// Each product should be about kProductColumns wide. A 7x7 output plane alone makes products
// only 49 columns wide, which run far below the machine's rate (and backward-filter would
// re-read its whole [Kg, Cg·R·S] result for every sample), so small planes put `count` samples'
// columns side by side in one [rows, count·P·Q] matrix. A 112x112 plane alone makes products
// 12544 columns wide, whose output rows no longer stay in cache between the k blocks, so large
// planes are cut into bands of output rows (bench_layers: conv3x3 64→64 at 112², forward +
// backward, 574 → 382 ms when the columns were still unfolded into memory). One sample's chunk
// (a band or a whole plane) needs no copies of the output: the product writes y (reads dy) in
// place.
constexpr int64_t kProductColumns = 1024;

struct Chunk {
  int64_t first, count;        // samples [first, first + count)
  int64_t row_begin, row_end;  // output rows [row_begin, row_end): all P when count > 1
  int64_t rows() const { return row_end - row_begin; }
  int64_t width(const ConvGeometry& g) const { return count * rows() * g.Q; }
};

// This thread's scratch (kept between calls) for `rows` rows as wide as the chunk.
struct ConvScratch;
template <class T>
T* chunk_scratch(const ConvGeometry& g, Chunk chunk, int64_t rows) {
  return thread_buffer<T, ConvScratch>(rows * chunk.width(g));
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

// Runs body(chunk) over the batch, split over threads or, with fewer samples than threads,
// serially (the products are threaded then). Split kDynamic, each thread takes the next chunk
// when it is done: this VM's two vCPUs are not always equally fast, and with fixed halves one
// thread waited at the end for up to 7% of a W2 step (perf, in the machine's slow phases).
// kStatic gives each thread its contiguous share of samples, its chunks in order: for bodies
// that add into shared rows band after band (col2im), or into per-thread partial sums whose
// order must not depend on the schedule (results would then vary from run to run).
enum class Schedule { kDynamic, kStatic };
template <class Body>
void for_each_chunk(const ConvGeometry& g, Schedule schedule, Body&& body) {
  if (!g.split_batch()) {
    for (int64_t n = 0; n < g.N; ++n) chunks_of(g, n, n + 1, body);
    return;
  }
  if (schedule == Schedule::kStatic) {
#pragma omp parallel
    {
      int threads = omp_get_num_threads(), thread = omp_get_thread_num();
      chunks_of(g, g.N * thread / threads, g.N * (thread + 1) / threads, body);
    }
    return;
  }
  std::vector<Chunk> chunks;
  chunks_of(g, 0, g.N, [&](Chunk chunk) { chunks.push_back(chunk); });
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < chunks.size(); ++i) body(chunks[i]);
}

// Offset of sample n, channel c's plane of `plane` elements in an [N, channels, plane] tensor.
inline int64_t plane_at(int64_t n, int64_t channels, int64_t c, int64_t plane) {
  return (n * channels + c) * plane;
}

// ---- the columns, never written: implicit GEMM ---------------------------------------------
// A chunk's columns [Cg·R·S, width] for one group, read from the image on demand. Column j of
// the chunk is sample first + j / band, output pixel (row_begin + j % band / Q, j % Q), where
// band = (row_end − row_begin)·Q. The GEMM asks for its B panels through ColumnPanels (forward:
// B = cols) or TransposedColumnPanels (backward filter: B = colsᵀ), so the unfolded matrix,
// 9 times the image for a 3x3 filter, is never stored: each panel is gathered from the image
// straight into the GEMM's packed buffer. Against writing cols (im2col) and packing from it,
// W2's step measured 2.06, 2.23, 2.61, 2.53 s vs 2.35, 2.39, 3.01, 2.84 s (runs alternated),
// with the flipped backward data below and gemm.cpp's in-register transpose (interleave_rows).
// What the packing costs is mostly per piece of a row, not per element, hence unfold's order.
//
// ColumnLayout is where a chunk's columns read the image, shared by the unfolding (which reads
// there) and col2im (its adjoint, which adds there).
struct ColumnLayout {
  const ConvGeometry& g;
  Chunk chunk;

  // Column j of cols: output pixel (out_h, q) of sample first + sample.
  struct Pixel {
    int64_t sample, out_h, q;
  };
  Pixel pixel(int64_t col) const {
    const int64_t band = chunk.rows() * g.Q;
    return {col / band, chunk.row_begin + col % band / g.Q, col % g.Q};
  }

  void advance(Pixel& at, int64_t length) const {  // `length` columns on, within one output row
    if ((at.q += length) < g.Q) return;
    at.q = 0;
    if (++at.out_h == chunk.row_end) at.out_h = chunk.row_begin, ++at.sample;
  }

  // Tap (r, s)'s piece of a row of cols, `length` columns from pixel `at` within one output
  // row (q + length ≤ Q): column t reads plane[offset + t·stride_w] for lo ≤ t < hi and
  // padding elsewhere, where plane is the input channel's. It does not depend on the channel.
  struct Span {
    int64_t offset, lo, hi;
  };
  Span span(int64_t r, int64_t s, Pixel at, int64_t length) const {
    const Conv2dParams& p = g.params;
    const int64_t in_h = at.out_h * p.stride_h + r * p.dilation_h - p.pad_h;
    if (in_h < 0 || in_h >= g.H) return {0, 0, 0};  // all padding
    const int64_t w_offset = s * p.dilation_w - p.pad_w;
    const ValidRange valid = valid_range(w_offset, p.stride_w, g.W, g.Q);
    return {in_h * g.W + at.q * p.stride_w + w_offset, std::clamp(valid.first, at.q, at.q + length) - at.q,
            std::clamp(valid.last, at.q, at.q + length) - at.q};
  }
};

// The image is read as T, or as bfloat16 (S = bfloat16, T = float: an image stored rounded,
// backend.h's "Products"), whose values the columns hold widened to float, exactly.
template <class T, class S = T>
struct Unfolding : ColumnLayout {
  const S* x;  // the whole input [N, C, H, W]
  int64_t group;

  const S* plane(Pixel at, int64_t c) const {
    return x + plane_at(chunk.first + at.sample, g.C, group * g.Cg + c, g.in_plane());
  }
  void emit(const S* plane, Span span, int64_t length, T* out) const {
    const int64_t stride = g.params.stride_w;
    // The pieces are short (a few to 48 elements): loops.h's short_copy and short_fill.
    short_fill(out, span.lo);
    if constexpr (std::is_same_v<S, T>) {
      if (stride == 1)
        short_copy(plane + span.offset + span.lo, span.hi - span.lo, out + span.lo);
      else
        for (int64_t t = span.lo; t < span.hi; ++t) out[t] = plane[span.offset + t * stride];
    } else if (stride == 1) {
      short_widen(plane + span.offset + span.lo, span.hi - span.lo, out + span.lo);
    } else {
      for (int64_t t = span.lo; t < span.hi; ++t) out[t] = static_cast<T>(plane[span.offset + t * stride]);
    }
    short_fill(out + span.hi, length - span.hi);
  }

  // Rows [first_row, first_row + rows) of cols, columns [col, col + count), into out (row i
  // at out + i·row_stride). Row (c·R + r)·S + s reads channel c with filter tap (r, s). One
  // piece of an output row at a time, and within it every row: a piece's spans depend only on
  // the tap, so they are worked out once a piece for the R·S taps, and each row is then a
  // lookup and a copy.
  void unfold(int64_t first_row, int64_t rows, int64_t col, int64_t count, T* out, int64_t row_stride) const {
    const int64_t taps = g.R * g.S;
    thread_local std::vector<Span> spans;
    spans.resize(taps);
    Pixel at = pixel(col);
    for (int64_t done = 0; done < count;) {
      const int64_t length = std::min(g.Q - at.q, count - done);
      for (int64_t tap = 0; tap < taps; ++tap) spans[tap] = span(tap / g.S, tap % g.S, at, length);
      int64_t tap = first_row % taps;
      const S* channel = plane(at, first_row / taps);
      for (int64_t i = 0; i < rows; ++i) {
        emit(channel, spans[tap], length, out + i * row_stride + done);
        if (++tap == taps) tap = 0, channel += g.in_plane();
      }
      advance(at, length);
      done += length;
    }
  }
};

// B = cols: a panel's rows are rows of cols, unfolded in place.
template <class T, class S = T>
struct ColumnPanels final : PanelSource<T> {  // B = cols [Cg·R·S, width]
  Unfolding<T, S> cols;
  explicit ColumnPanels(const Unfolding<T, S>& u) : PanelSource<T>(u.g.col_rows(), u.chunk.width(u.g)), cols(u) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, int width, T* dst) const override {
    cols.unfold(k0, kc, j0, n, dst, width);
  }
};

// B = colsᵀ: a panel's rows run along the pixels, which lie along cols' rows, so the panel's
// n rows of cols are unfolded into this thread's staging buffer and interleaved into the
// panel by the GEMM's in-register transpose.
struct Staging;
template <class T, class S = T>
struct TransposedColumnPanels final : PanelSource<T> {  // B = colsᵀ [width, Cg·R·S]
  Unfolding<T, S> cols;
  explicit TransposedColumnPanels(const Unfolding<T, S>& u)
      : PanelSource<T>(u.chunk.width(u.g), u.g.col_rows()), cols(u) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, int width, T* dst) const override {
    T* staging = thread_buffer<T, Staging>(n * kc);
    cols.unfold(j0, n, k0, kc, staging, kc);
    interleave_rows(staging, kc, n, kc, width, dst);
  }
};

// The adjoint of the unfolding: image += every column entry at the position it was read
// from, for one sample of a chunk (its columns start at cols, rows `stride` apart). `image`
// (the sample's Cg planes) must be zeroed by the caller.
template <class T>
void col2im(const ColumnLayout& layout, const T* cols, int64_t stride, T* image) {
  const ConvGeometry& g = layout.g;
  const int64_t step = g.params.stride_w;
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const T* row = cols + ((c * g.R + r) * g.S + s) * stride;
        T* plane = image + c * g.in_plane();
        for (int64_t out_h = layout.chunk.row_begin; out_h < layout.chunk.row_end; ++out_h) {
          const ColumnLayout::Span span = layout.span(r, s, {0, out_h, 0}, g.Q);  // any sample's
          const T* in = row + (out_h - layout.chunk.row_begin) * g.Q;
          if (step == 1)  // unit stride, vectorized
            for (int64_t t = span.lo; t < span.hi; ++t) plane[span.offset + t] += in[t];
          else
            for (int64_t t = span.lo; t < span.hi; ++t) plane[span.offset + t * step] += in[t];
        }
      }
}

// ---- the output side ------------------------------------------------------------------------
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
// The chunk's dy as a [Kg, width] matrix (gathered into `block` when samples sit side by side).
template <class T>
StridedMatrix<T> gradient_block(const ConvGeometry& g, const T* dy, Chunk chunk, int64_t group, T* block) {
  gather_block(g, dy, chunk, group, block);
  OutputBlock<T> grad = output_block(g, const_cast<T*>(dy), chunk, group, block);
  return StridedMatrix<T>::row_major(grad.data, g.Kg, chunk.width(g), grad.stride);
}

template <class T>
StridedMatrix<T> filter_of(const ConvGeometry& g, const T* w, int64_t group) {
  return StridedMatrix<T>::row_major(w + group * g.Kg * g.col_rows(), g.Kg, g.col_rows());
}

// ---- the three kernels -----------------------------------------------------------------------
// The image x is T, or bfloat16 for float products of bfloat16 operands (S, as in Unfolding).
template <class T, class S = T>
void conv_forward(const ConvGeometry& g, const S* x, const T* w, T* y) {
  for_each_chunk(g, Schedule::kDynamic, [&](Chunk chunk) {  // each chunk writes its own outputs
    T* block = chunk.count > 1 ? chunk_scratch<T>(g, chunk, g.Kg) : nullptr;
    for (int64_t group = 0; group < g.groups; ++group) {
      OutputBlock<T> out = output_block(g, y, chunk, group, block);
      gemm_threaded(filter_of(g, w, group), ColumnPanels<T, S>({{g, chunk}, x, group}), out.data, out.stride, T(1), false,
                    g.operands);
      scatter_block(g, out.data, chunk, group, y);
    }
  });
}

// Backward data of a stride-1 convolution is itself a stride-1 convolution: of dy, by each
// group's filter with its in and out channels swapped and rotated 180°, padded by
// d·(R − 1) − pad (d the dilation). With r' = R − 1 − r,
//   dx[c, h, w] = Σ_{k,r,s} dy[k, h + pad − r·d, …] · w[k, c, r, s]
//               = Σ_{k,r',s'} dy[k, h − (d·(R − 1) − pad) + r'·d, …] · w[k, c, R−1−r', S−1−s'].
// So it runs as a forward convolution (implicit GEMM, no col2im and no zeroing of dx) whenever
// that padding is not negative, i.e. pad ≤ d·(R − 1), and the product has rows enough: its
// rows are the Cg input channels, where col2im's are Cg·R·S (3 rows of a 3→64 convolution
// leave most of the GEMM's 8-row tile empty: bench_layers' conv3x3 3→64, forward + backward,
// took 58 ms that way, 32 ms by col2im).
bool backward_data_is_convolution(const ConvGeometry& g) {
  const Conv2dParams& p = g.params;
  return p.stride_h == 1 && p.stride_w == 1 && p.pad_h <= p.dilation_h * (g.R - 1) &&
         p.pad_w <= p.dilation_w * (g.S - 1) && g.Cg >= 16;
}

struct FlippedFilter;
template <class T>
void conv_backward_data_as_convolution(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  // flipped[g·Cg + c, k, R−1−r, S−1−s] = w[g·Kg + k, c, r, s]: this thread's buffer.
  T* flipped = thread_buffer<T, FlippedFilter>(g.C * g.Kg * g.R * g.S);
  for (int64_t group = 0; group < g.groups; ++group)
    for (int64_t k = 0; k < g.Kg; ++k)
      for (int64_t c = 0; c < g.Cg; ++c)
        for (int64_t r = 0; r < g.R; ++r)
          for (int64_t s = 0; s < g.S; ++s)
            flipped[(((group * g.Cg + c) * g.Kg + k) * g.R + g.R - 1 - r) * g.S + g.S - 1 - s] =
                w[(((group * g.Kg + k) * g.Cg + c) * g.R + r) * g.S + s];
  const Conv2dParams& p = g.params;
  Conv2dParams flipped_params = p;
  flipped_params.pad_h = p.dilation_h * (g.R - 1) - p.pad_h;
  flipped_params.pad_w = p.dilation_w * (g.S - 1) - p.pad_w;
  ConvGeometry flipped_geometry(flipped_params, {g.N, g.K, g.P, g.Q}, {g.C, g.Kg, g.R, g.S},
                                {g.N, g.C, g.H, g.W});
  flipped_geometry.operands = g.operands;
  conv_forward(flipped_geometry, dy, flipped, dx);
}

// The general case (strided convolutions): dcols = w_gᵀ · dy_g, then dx = col2im(dcols).
template <class T>
void conv_backward_data_by_col2im(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  for_each_chunk(g, Schedule::kStatic, [&](Chunk chunk) {
    const int64_t width = chunk.width(g);
    T* dcols = chunk_scratch<T>(g, chunk, g.col_rows() + g.Kg);
    T* block = dcols + g.col_rows() * width;
    for (int64_t group = 0; group < g.groups; ++group) {
      gemm_threaded(filter_of(g, w, group).transposed(), gradient_block(g, dy, chunk, group, block), dcols, width,
                    T(1), false, g.operands);
      for (int64_t i = 0; i < chunk.count; ++i) {
        T* image = dx + plane_at(chunk.first + i, g.C, group * g.Cg, g.in_plane());
        if (chunk.row_begin == 0) std::fill(image, image + g.Cg * g.in_plane(), T(0));  // a sample's first band
        col2im<T>({g, chunk}, dcols + i * g.out_plane(), width, image);
      }
    }
  });
}

template <class T>
void conv_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  if (backward_data_is_convolution(g)) conv_backward_data_as_convolution(g, dy, w, dx);
  else conv_backward_data_by_col2im(g, dy, w, dx);
}

struct FilterPartial;
template <class T, class S = T>
void conv_backward_filter(const ConvGeometry& g, const S* x, const T* dy, T* dw) {
  const int64_t filter_size = g.K * g.col_rows();
  // Each thread sums its samples into its own partial dw (the first thread's is dw itself); the
  // partials are added at the end.
  const int threads = g.split_batch() ? omp_get_max_threads() : 1;
  std::vector<T*> partials(threads, dw);
  std::fill(dw, dw + filter_size, T(0));
  for_each_chunk(g, Schedule::kStatic, [&](Chunk chunk) {
    const int thread = g.split_batch() ? omp_get_thread_num() : 0;
    if (thread > 0 && partials[thread] == dw) {  // this thread's first chunk
      partials[thread] = thread_buffer<T, FilterPartial>(filter_size);
      std::fill(partials[thread], partials[thread] + filter_size, T(0));
    }
    T* block = chunk.count > 1 ? chunk_scratch<T>(g, chunk, g.Kg) : nullptr;
    for (int64_t group = 0; group < g.groups; ++group)
      gemm_threaded(gradient_block(g, dy, chunk, group, block), TransposedColumnPanels<T, S>({{g, chunk}, x, group}),
                    partials[thread] + group * g.Kg * g.col_rows(), g.col_rows(), T(1), true, g.operands);
  });
  for (int t = 1; t < threads; ++t)
    if (partials[t] != dw)
      for (int64_t i = 0; i < filter_size; ++i) dw[i] += partials[t][i];
}

// A kernel's geometry and operands. The image may be bfloat16 for bfloat16 products of float
// data (backend.h, "Products"): `data` is the dtype of the kernel's other operands.
ConvGeometry geometry(const Conv2dParams& params, const View& image, const View& filter, const View& output,
                      DType data, const char* kernel) {
  ConvGeometry g(params, image.shape, filter.shape, output.shape);
  check_kept_image(image.dtype, params.operands, data, kernel);
  g.operands = operands_of(params.operands, data, kernel);
  return g;
}

// Runs body(image) with the image's pointer: float's for a bfloat16 image (the products' T is
// float then), else the floating type the other operands have.
template <class Body>
void dispatch_image(const View& image, DType data, const char* kernel, Body&& body) {
  if (image.dtype == DType::BF16) return body(float{}, image.ptr<bfloat16>());
  dispatch_floating(data, kernel, [&](auto t) { body(t, image.ptr<decltype(t)>()); });
}

}  // namespace

void CpuBackend::conv2d(const Conv2dParams& params, const View& x, const View& w,
                        const View& y) {
  ConvGeometry g = geometry(params, x, w, y, w.dtype, "conv2d");
  if (direct_convolution(params, x.shape, w.shape))
    return direct_conv2d(params, x, w, y);
  dispatch_image(x, w.dtype, "conv2d", [&](auto t, const auto* image) {
    using T = decltype(t);
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      if (winograd_convolution(params, x.shape, w.shape))
        return winograd_conv_forward(x.shape, w.shape, image, w.ptr<float>(), y.ptr<float>());
      if (flat_convolution(params, x.shape, w.shape))
        return flat_conv_forward(params, x.shape, w.shape, image, w.ptr<float>(), y.ptr<float>());
    }
#endif
    conv_forward(g, image, w.ptr<T>(), y.ptr<T>());
  });
}

void CpuBackend::conv2d_backward_data(const Conv2dParams& params, const View& dy, const View& w,
                                      const View& dx) {
  ConvGeometry g = geometry(params, dx, w, dy, dx.dtype, "conv2d_backward_data");
  if (direct_convolution(params, dx.shape, w.shape))
    return direct_conv2d_backward_data(params, dy, w, dx);
  dispatch_floating(dy.dtype, "conv2d_backward_data", [&](auto t) {
    using T = decltype(t);
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      if (winograd_convolution(params, dx.shape, w.shape))
        return winograd_conv_backward_data(dx.shape, w.shape, dy.ptr<float>(), w.ptr<float>(), dx.ptr<float>());
      if (flat_convolution_backward_data(params, dx.shape, w.shape))
        return flat_conv_backward_data(params, dx.shape, w.shape, dy.ptr<float>(), w.ptr<float>(), dx.ptr<float>());
    }
#endif
    conv_backward_data<T>(g, dy.ptr<T>(), w.ptr<T>(), dx.ptr<T>());
  });
}

void CpuBackend::conv2d_backward_filter(const Conv2dParams& params, const View& x,
                                        const View& dy, const View& dw) {
  ConvGeometry g = geometry(params, x, dw, dy, dw.dtype, "conv2d_backward_filter");
  if (direct_convolution(params, x.shape, dw.shape))
    return direct_conv2d_backward_filter(params, x, dy, dw);
  dispatch_image(x, dw.dtype, "conv2d_backward_filter", [&](auto t, const auto* image) {
    using T = decltype(t);
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      if (winograd_convolution(params, x.shape, dw.shape))
        return winograd_conv_backward_filter(x.shape, dw.shape, image, dy.ptr<float>(), dw.ptr<float>());
      if (flat_convolution(params, x.shape, dw.shape))
        return flat_conv_backward_filter(params, x.shape, dw.shape, image, dy.ptr<float>(), dw.ptr<float>());
    }
#endif
    conv_backward_filter(g, image, dy.ptr<T>(), dw.ptr<T>());
  });
}

}  // namespace margin
