// backends/cpu/depthwise.cpp — direct convolution of narrow groups (depthwise.h says which).
//
// Each input plane is laid out as its stride_h·stride_w *phase planes*, padding included:
//   phase(a, b)[i, j] = x[i·stride_h + a − pad_h, j·stride_w + b − pad_w]   (0 outside the image)
// for i < Hp = P + ⌊d_h·(R − 1) / stride_h⌋ and j < Wp = Q + ⌊d_w·(S − 1) / stride_w⌋ (d: the
// dilation). Tap (r, s) of output pixel (p, q) reads x at row p·stride_h − pad_h + r·d_h, which
// is phase(r·d_h mod stride_h, s·d_w mod stride_w) at [p + ⌊r·d_h / stride_h⌋, q + ⌊s·d_w / stride_w⌋].
// With the output laid out in rows of Wp as well (the last Wp − Q of each row are computed and
// dropped), output element e = p·Wp + q reads its tap at e + offset(r, s) in that phase plane,
//   offset(r, s) = ⌊r·d_h / stride_h⌋·Wp + ⌊s·d_w / stride_w⌋,
// so a tap is one unit-stride loop over all P·Wp outputs of a plane, whatever the stride: long
// vectorized loops where a 7x7 or 14x14 plane's own rows are shorter than one vector.
//   forward          y_k[e] = Σ_{c, r, s} w[k, c, r, s] · phase_c(r, s)[e + offset(r, s)]
//                    (4 vectors of outputs held in registers across all the terms)
//   backward data    stride 1: the same correlation, of dy padded by d·(R − 1) − pad, with the
//                    filter rotated 180° and its input and output channels swapped (as in
//                    conv.cpp). Strided: dphase_c(r, s)[e + offset(r, s)] += w[k, c, r, s] · dy_k[e]
//                    over k, r, s, then dx_c = the image part of its phases.
//   backward filter  dw[k, c, r, s] = Σ_n Σ_e dy_k[e] · phase_c(r, s)[e + offset(r, s)]
// where dy is laid out in rows of Wp with the extra Wp − Q columns 0 (they are no outputs).
// c runs over the group's Cg input channels, k over its Kg output channels. Rows are moved with
// loops.h's short_copy: a library call per row of 7 to 56 elements costs about as much as the
// row's arithmetic. For bfloat16 products x and dy are rounded (a bfloat16 image widened) a plane
// at a time as they are read (Operand), the filter once. A filter that covers the unpadded image
// (the GDC's 7x7 over 7x7) makes one output pixel: a dot product of planes, done as such
// (global_*).
//
// Threading: forward and backward data split the (sample, group) pairs over OpenMP threads;
// backward filter splits the groups, each summing its dw over the whole batch (per sample in T,
// across samples in double), so its result does not depend on the thread count.
// Measured against the products of conv.cpp in bench/README.md ("Depthwise convolution").
#include "backends/cpu/depthwise.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/loops.h"

namespace margin::cpu {

namespace {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#else
constexpr int kVectorBytes = 32;
#endif
// Planes are padded to a multiple of kRound elements: a vector of float or double.
constexpr int64_t kRound = kVectorBytes / sizeof(float);

template <class T>
struct Lanes {
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
  static constexpr int64_t L = kVectorBytes / sizeof(T);
  static Vec load(const T* at) {
    Vec v;
    std::memcpy(&v, at, sizeof(Vec));
    return v;
  }
  static void store(const Vec& v, T* at) { std::memcpy(at, &v, sizeof(Vec)); }
};

// Columns of stride 2, in vectors: even[m] = in[2m], odd[m] = in[2m + 1] for m < pairs, and back.
template <class Vec, size_t... i>
Vec every_other(Vec a, Vec b, int first, std::index_sequence<i...>) {
  return first == 0 ? __builtin_shufflevector(a, b, (2 * i)...) : __builtin_shufflevector(a, b, (2 * i + 1)...);
}
template <class Vec, size_t L, size_t... i>
Vec zip(Vec a, Vec b, size_t half, std::index_sequence<i...>) {  // half 0: a0 b0 a1 b1 …; 1: from L/2 on
  return half == 0 ? __builtin_shufflevector(a, b, (i % 2 ? L + i / 2 : i / 2)...)
                   : __builtin_shufflevector(a, b, (i % 2 ? L + L / 2 + i / 2 : L / 2 + i / 2)...);
}
template <class T>
void split_columns(const T* in, int64_t pairs, T* even, T* odd) {
  using V = Lanes<T>;
  constexpr auto lanes = std::make_index_sequence<V::L>();
  int64_t m = 0;
  for (; m + V::L <= pairs; m += V::L) {
    const typename V::Vec a = V::load(in + 2 * m), b = V::load(in + 2 * m + V::L);
    V::store(every_other(a, b, 0, lanes), even + m);
    V::store(every_other(a, b, 1, lanes), odd + m);
  }
  for (; m < pairs; ++m) even[m] = in[2 * m], odd[m] = in[2 * m + 1];
}
template <class T>
void merge_columns(const T* even, const T* odd, int64_t pairs, T* out) {
  using V = Lanes<T>;
  constexpr auto lanes = std::make_index_sequence<V::L>();
  int64_t m = 0;
  for (; m + V::L <= pairs; m += V::L) {
    const typename V::Vec a = V::load(even + m), b = V::load(odd + m);
    V::store(zip<typename V::Vec, V::L>(a, b, 0, lanes), out + 2 * m);
    V::store(zip<typename V::Vec, V::L>(a, b, 1, lanes), out + 2 * m + V::L);
  }
  for (; m < pairs; ++m) out[2 * m] = even[m], out[2 * m + 1] = odd[m];
}

// [first, last): the j < count with 0 ≤ offset + j·step < size.
struct Range {
  int64_t first, last;
};
Range inside(int64_t offset, int64_t step, int64_t size, int64_t count) {
  const int64_t first = std::min(offset >= 0 ? 0 : (-offset + step - 1) / step, count);
  const int64_t last = offset >= size ? 0 : (size - 1 - offset) / step + 1;
  return {first, std::clamp(last, first, count)};
}

// One correlation of a plane [in_h, in_w] into [out_h, out_w] by an R × S filter, and its layout.
struct Correlation {
  int64_t in_h, in_w, out_h, out_w, R, S;
  Conv2dParams p;  // stride, padding, dilation (groups unused)
  int64_t Hp, Wp;    // a phase plane's rows and columns
  int64_t phases;    // stride_h · stride_w
  int64_t plane;     // elements kept for one phase plane (a tail of zeros included)
  int64_t outputs;   // out_h · Wp rounded up to kRound: the elements a tap's loop runs over
  std::vector<int64_t> tap_at;  // per tap r·S + s: its phase plane's start + offset(r, s)

  Correlation(int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, int64_t R, int64_t S, const Conv2dParams& p)
      : in_h(in_h), in_w(in_w), out_h(out_h), out_w(out_w), R(R), S(S), p(p) {
    Hp = out_h + p.dilation_h * (R - 1) / p.stride_h;
    Wp = out_w + p.dilation_w * (S - 1) / p.stride_w;
    phases = p.stride_h * p.stride_w;
    outputs = (out_h * Wp + kRound - 1) / kRound * kRound;
    // The last loop reads up to outputs − 1 + the largest offset < (Hp + 1)·Wp + kRound.
    plane = (Hp + 1) * Wp + kRound;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t row = r * p.dilation_h, col = s * p.dilation_w;
        const int64_t phase = (row % p.stride_h) * p.stride_w + col % p.stride_w;
        tap_at.push_back(phase * plane + row / p.stride_h * Wp + col / p.stride_w);
      }
  }
  int64_t taps() const { return R * S; }
  int64_t channel_size() const { return phases * plane; }  // one channel's phase planes
};

struct ColumnHalves;
struct RowHalves;

// One image plane [in_h, in_w] → its phase planes (`out`: phases × plane elements). Stride 2
// along rows of even width (MobileFaceNet's) splits the plane's columns by vectors first.
template <class T>
void to_phases(const Correlation& c, const T* image, T* out) {
  const Conv2dParams& p = c.p;
  const bool split = p.stride_w == 2 && c.in_w % 2 == 0;
  const int64_t half = c.in_w / 2;
  T* halves = split ? thread_buffer<T, ColumnHalves>(c.in_h * c.in_w) : nullptr;  // even columns, then odd
  if (split) split_columns(image, c.in_h * half, halves, halves + c.in_h * half);
  for (int64_t a = 0; a < p.stride_h; ++a)
    for (int64_t b = 0; b < p.stride_w; ++b) {
      T* phase = out + (a * p.stride_w + b) * c.plane;
      const int64_t col_offset = b - p.pad_w;  // column j reads image column col_offset + j·stride_w
      const Range cols = inside(col_offset, p.stride_w, c.in_w, c.Wp);
      for (int64_t i = 0; i < c.Hp; ++i) {
        T* row = phase + i * c.Wp;
        const int64_t h = i * p.stride_h + a - p.pad_h;
        if (h < 0 || h >= c.in_h) {
          short_fill(row, c.Wp);
          continue;
        }
        const T* in = image + h * c.in_w;
        short_fill(row, cols.first);
        if (p.stride_w == 1) {
          short_copy(in + (col_offset + cols.first), cols.last - cols.first, row + cols.first);
        } else if (split) {  // column col_offset + 2j is column (col_offset − parity) / 2 + j of its half
          const int64_t parity = ((col_offset % 2) + 2) % 2;
          const int64_t from = (parity * c.in_h + h) * half + (col_offset - parity) / 2 + cols.first;
          short_copy(halves + from, cols.last - cols.first, row + cols.first);
        } else {
          for (int64_t j = cols.first; j < cols.last; ++j) row[j] = in[col_offset + j * p.stride_w];
        }
        short_fill(row + cols.last, c.Wp - cols.last);
      }
      short_fill(phase + c.Hp * c.Wp, c.plane - c.Hp * c.Wp);
    }
}

// The adjoint's last step: an image plane from its phase planes (elements no tap reads get 0).
// Stride 2 along rows of even width merges the two phases' rows by vectors.
template <class T>
void from_phases(const Correlation& c, const T* phases, T* image) {
  const Conv2dParams& p = c.p;
  const int64_t half = c.in_w / 2;
  for (int64_t h = 0; h < c.in_h; ++h) {
    T* row = image + h * c.in_w;
    const int64_t i = (h + p.pad_h) / p.stride_h;
    if (i >= c.Hp) {
      short_fill(row, c.in_w);
      continue;
    }
    const T* phase_rows = phases + ((h + p.pad_h) % p.stride_h) * p.stride_w * c.plane + i * c.Wp;
    if (p.stride_w == 1) {  // column w is the phase's column w + pad_w
      const int64_t count = std::clamp<int64_t>(c.Wp - p.pad_w, 0, c.in_w);
      short_copy(phase_rows + p.pad_w, count, row);
      short_fill(row + count, c.in_w - count);
      continue;
    }
    if (p.stride_w == 2 && c.in_w % 2 == 0) {
      // column 2m + e (e = 0, 1) is phase (e + pad_w) mod 2's column (e + pad_w) / 2 + m
      T* columns = thread_buffer<T, RowHalves>(c.in_w);
      for (int64_t e = 0; e < 2; ++e) {
        const int64_t first = (e + p.pad_w) / 2, count = std::clamp<int64_t>(c.Wp - first, 0, half);
        short_copy(phase_rows + (e + p.pad_w) % 2 * c.plane + first, count, columns + e * half);
        short_fill(columns + e * half + count, half - count);
      }
      merge_columns(columns, columns + half, half, row);
      continue;
    }
    for (int64_t b = 0; b < p.stride_w; ++b) {  // the columns w with (w + pad_w) mod stride_w = b
      const T* phase_row = phase_rows + b * c.plane;
      const int64_t first = ((b - p.pad_w) % p.stride_w + p.stride_w) % p.stride_w;
      for (int64_t w = first, j = (first + p.pad_w) / p.stride_w; w < c.in_w; w += p.stride_w, ++j)
        row[w] = j < c.Wp ? phase_row[j] : T(0);
    }
  }
}

// An output-shaped plane [out_h, out_w] ↔ rows of Wp (`outputs` elements, the extra ones 0).
template <class T>
void to_rows(const Correlation& c, const T* plane, T* rows) {
  for (int64_t row = 0; row < c.out_h; ++row) {
    short_copy(plane + row * c.out_w, c.out_w, rows + row * c.Wp);
    short_fill(rows + row * c.Wp + c.out_w, c.Wp - c.out_w);
  }
  short_fill(rows + c.out_h * c.Wp, c.outputs - c.out_h * c.Wp);
}
template <class T>
void from_rows(const Correlation& c, const T* rows, T* plane) {
  for (int64_t row = 0; row < c.out_h; ++row) short_copy(rows + row * c.Wp, c.out_w, plane + row * c.out_w);
}

// rows[e] = Σ_{ch, tap} weights[ch·taps + tap] · phases_ch[tap_at[tap] + e] over `channels`
// channels' phase planes (channel_size apart) for e in [e, e + kVectors·L), kept in registers
// across every term.
template <class T, int kVectors>
void correlate_block(const Correlation& c, const T* phases, int64_t channels, const T* weights, int64_t e, T* rows) {
  using V = Lanes<T>;
  using Vec = typename V::Vec;
  const int64_t taps = c.taps();
  Vec acc[kVectors] = {};
  for (int64_t ch = 0; ch < channels; ++ch)
    for (int64_t tap = 0; tap < taps; ++tap) {
      const Vec weight = Vec{} + weights[ch * taps + tap];
      const T* in = phases + ch * c.channel_size() + c.tap_at[tap] + e;
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) acc[v] += weight * V::load(in + v * V::L);
    }
#pragma GCC unroll 4
  for (int v = 0; v < kVectors; ++v) V::store(acc[v], rows + e + v * V::L);
}
// All `outputs` elements: 4 vectors at a time, the rest one by one (a 1x1 output, the GDC's,
// is one vector).
template <class T>
void correlate(const Correlation& c, const T* phases, int64_t channels, const T* weights, T* rows) {
  constexpr int64_t L = Lanes<T>::L;
  int64_t e = 0;
  for (; e + 4 * L <= c.outputs; e += 4 * L) correlate_block<T, 4>(c, phases, channels, weights, e, rows);
  for (; e < c.outputs; e += L) correlate_block<T, 1>(c, phases, channels, weights, e, rows);
}

// The adjoint: phases_ch[tap_at[tap] + e] += weights[ch·taps + tap] · rows[e].
template <class T>
void scatter(const Correlation& c, const T* __restrict rows, int64_t channels, const T* weights,
             T* __restrict phases) {
  const int64_t taps = c.taps();
  for (int64_t ch = 0; ch < channels; ++ch)
    for (int64_t tap = 0; tap < taps; ++tap) {
      const T weight = weights[ch * taps + tap];
      T* __restrict out = phases + ch * c.channel_size() + c.tap_at[tap];
#pragma omp simd
      for (int64_t e = 0; e < c.outputs; ++e) out[e] += weight * rows[e];
    }
}

// sums[ch·taps + tap][lane] += Σ_e rows[e] · phases_ch[tap_at[tap] + e] over the e in `lane`
// (e mod L): up to 8 taps at a time, each with its vector of partial sums in T (≤ outputs / L
// terms a lane), added lane by lane into double; the caller adds the lanes up at the end.
template <class T>
void filter_sums(const Correlation& c, const T* rows, const T* phases, int64_t channels, double* sums) {
  using V = Lanes<T>;
  using Vec = typename V::Vec;
  constexpr int kTaps = 8;
  const int64_t taps = c.taps();
  for (int64_t ch = 0; ch < channels; ++ch)
    for (int64_t first = 0; first < taps; first += kTaps) {
      const int count = static_cast<int>(std::min<int64_t>(kTaps, taps - first));
      const T* in[kTaps];
      for (int t = 0; t < kTaps; ++t)
        in[t] = phases + ch * c.channel_size() + c.tap_at[first + std::min(t, count - 1)];
      Vec acc[kTaps] = {};
      for (int64_t e = 0; e < c.outputs; e += V::L) {
        const Vec grad = V::load(rows + e);
#pragma GCC unroll 8
        for (int t = 0; t < kTaps; ++t)
          if (t < count) acc[t] += grad * V::load(in[t] + e);
      }
      for (int t = 0; t < count; ++t) {
        double* into = sums + (ch * taps + first + t) * V::L;
        for (int64_t lane = 0; lane < V::L; ++lane) into[lane] += acc[t][lane];
      }
    }
}

// The sizes of one convolution, read from the image [N, C, H, W], filter [K, Cg, R, S] and
// output [N, K, P, Q] views.
struct Geometry {
  Conv2dParams p;
  int64_t N, C, H, W, K, R, S, P, Q, groups, Cg, Kg;
  Geometry(const Conv2dParams& params, const Shape& image, const Shape& filter, const Shape& output)
      : p(params), N(image[0]), C(image[1]), H(image[2]), W(image[3]), K(filter[0]), R(filter[2]),
        S(filter[3]), P(output[2]), Q(output[3]), groups(params.groups), Cg(C / params.groups),
        Kg(K / params.groups) {}
  int64_t taps() const { return R * S; }
  bool worth_threads() const { return cpu::worth_threads(N * K * P * Q * Cg * taps()); }
  // Offset of sample n, channel ch's plane of `size` elements in an [N, channels, size] tensor.
  static int64_t plane_at(int64_t n, int64_t channels, int64_t ch, int64_t size) { return (n * channels + ch) * size; }
  Correlation forward() const { return {H, W, P, Q, R, S, p}; }
  // Backward data of stride 1 as the correlation of dy, padded d·(R − 1) − pad (not negative).
  bool backward_data_correlates() const {
    return p.stride_h == 1 && p.stride_w == 1 && p.pad_h <= p.dilation_h * (R - 1) && p.pad_w <= p.dilation_w * (S - 1);
  }
  // A filter that covers the unpadded image exactly (the GDC's 7x7 over 7x7): one output pixel,
  // a dot product of planes. The layout above would pad its 1x1 gradient to 13x13 for
  // backward data, and a 49-tap scatter into one vector stalls on every store.
  bool global() const { return P == 1 && Q == 1 && R == H && S == W && p.pad_h == 0 && p.pad_w == 0; }
  Correlation backward_data() const {
    Conv2dParams flipped = p;
    flipped.pad_h = p.dilation_h * (R - 1) - p.pad_h;
    flipped.pad_w = p.dilation_w * (S - 1) - p.pad_w;
    return {P, Q, H, W, R, S, flipped};
  }
};

struct Phases;
struct Rows;
struct RotatedFilter;
struct FilterTotals;
struct OperandPlane;
struct RoundedFilter;

// `count` values of v from `at` as the products multiply them (backend.h, "Products"): T data
// as it is, or for bfloat16 products (T = float) float data rounded to bfloat16 and a bfloat16
// image widened (exactly), written to this thread's buffer Tag.
template <class T, class Tag>
const T* operand_values(const View& v, const Conv2dParams& p, int64_t at, int64_t count) {
  if constexpr (std::is_same_v<T, float>) {
    if (v.dtype == DType::BF16) {
      float* out = thread_buffer<float, Tag>(count);
      short_widen(v.ptr<bfloat16>() + at, count, out);
      return out;
    }
    if (p.operands == DType::BF16) {
      float* out = thread_buffer<float, Tag>(count);
      round_to_bfloat16(v.ptr<float>() + at, count, out);
      return out;
    }
  }
  return v.ptr<T>() + at;
}

// An image or gradient read a plane at a time: a converted plane is in cache when the layout
// (to_phases, to_rows) copies it, so bfloat16 products cost no pass over the whole tensor.
template <class T>
struct Operand {
  const View& v;
  const Conv2dParams& p;
  const T* plane(int64_t at, int64_t size) const { return operand_values<T, OperandPlane>(v, p, at, size); }
};
// The filter (small) is converted whole, on the calling thread, before the threads start.
template <class T>
const T* operand_filter(const View& w, const Conv2dParams& p) {
  return operand_values<T, RoundedFilter>(w, p, 0, w.numel());
}

template <class T>
void forward(const Geometry& g, const Operand<T>& x, const T* w, T* y) {
  const Correlation c = g.forward();
#pragma omp parallel for schedule(static) if (g.worth_threads())
  for (int64_t task = 0; task < g.N * g.groups; ++task) {
    const int64_t n = task / g.groups, group = task % g.groups;
    T* phases = thread_buffer<T, Phases>(g.Cg * c.channel_size());
    T* rows = thread_buffer<T, Rows>(c.outputs);
    for (int64_t ch = 0; ch < g.Cg; ++ch) {
      const T* plane = x.plane(g.plane_at(n, g.C, group * g.Cg + ch, g.H * g.W), g.H * g.W);
      to_phases(c, plane, phases + ch * c.channel_size());
    }
    for (int64_t k = group * g.Kg; k < (group + 1) * g.Kg; ++k) {
      correlate(c, phases, g.Cg, w + k * g.Cg * g.taps(), rows);
      from_rows(c, rows, y + g.plane_at(n, g.K, k, g.P * g.Q));
    }
  }
}

// Stride 1: dx_c = Σ_k dy_k ⋆ rotated[c, k], rotated[g·Cg + c, k, R−1−r, S−1−s] = w[g·Kg + k, c, r, s].
template <class T>
void backward_data_by_correlation(const Geometry& g, const Operand<T>& dy, const T* w, T* dx) {
  const Correlation c = g.backward_data();
  const int64_t taps = g.taps();
  T* rotated = thread_buffer<T, RotatedFilter>(g.C * g.Kg * taps);
  for (int64_t group = 0; group < g.groups; ++group)
    for (int64_t k = 0; k < g.Kg; ++k)
      for (int64_t ch = 0; ch < g.Cg; ++ch)
        for (int64_t tap = 0; tap < taps; ++tap)
          rotated[((group * g.Cg + ch) * g.Kg + k) * taps + taps - 1 - tap] =
              w[((group * g.Kg + k) * g.Cg + ch) * taps + tap];
#pragma omp parallel for schedule(static) if (g.worth_threads())
  for (int64_t task = 0; task < g.N * g.groups; ++task) {
    const int64_t n = task / g.groups, group = task % g.groups;
    T* phases = thread_buffer<T, Phases>(g.Kg * c.channel_size());
    T* rows = thread_buffer<T, Rows>(c.outputs);
    for (int64_t k = 0; k < g.Kg; ++k)
      to_phases(c, dy.plane(g.plane_at(n, g.K, group * g.Kg + k, g.P * g.Q), g.P * g.Q), phases + k * c.channel_size());
    for (int64_t ch = group * g.Cg; ch < (group + 1) * g.Cg; ++ch) {
      correlate(c, phases, g.Kg, rotated + ch * g.Kg * taps, rows);
      from_rows(c, rows, dx + g.plane_at(n, g.C, ch, g.H * g.W));
    }
  }
}

// Strided: each dy_k adds its products into the phases of its group's inputs.
template <class T>
void backward_data_by_scatter(const Geometry& g, const Operand<T>& dy, const T* w, T* dx) {
  const Correlation c = g.forward();
#pragma omp parallel for schedule(static) if (g.worth_threads())
  for (int64_t task = 0; task < g.N * g.groups; ++task) {
    const int64_t n = task / g.groups, group = task % g.groups;
    T* phases = thread_buffer<T, Phases>(g.Cg * c.channel_size());
    T* rows = thread_buffer<T, Rows>(c.outputs);
    std::fill(phases, phases + g.Cg * c.channel_size(), T(0));
    for (int64_t k = group * g.Kg; k < (group + 1) * g.Kg; ++k) {
      to_rows(c, dy.plane(g.plane_at(n, g.K, k, g.P * g.Q), g.P * g.Q), rows);
      scatter(c, rows, g.Cg, w + k * g.Cg * g.taps(), phases);
    }
    for (int64_t ch = 0; ch < g.Cg; ++ch)
      from_phases(c, phases + ch * c.channel_size(), dx + g.plane_at(n, g.C, group * g.Cg + ch, g.H * g.W));
  }
}

template <class T>
void backward_filter(const Geometry& g, const Operand<T>& x, const Operand<T>& dy, T* dw) {
  const Correlation c = g.forward();
  constexpr int64_t L = Lanes<T>::L;
  const int64_t per_group = g.Kg * g.Cg * g.taps();  // dw's elements of one group
#pragma omp parallel for schedule(static) if (g.worth_threads())
  for (int64_t group = 0; group < g.groups; ++group) {
    T* phases = thread_buffer<T, Phases>(g.Cg * c.channel_size());
    T* rows = thread_buffer<T, Rows>(c.outputs);
    double* totals = thread_buffer<double, FilterTotals>(per_group * L);  // a sum per lane
    std::fill(totals, totals + per_group * L, 0.0);
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t ch = 0; ch < g.Cg; ++ch) {
        const T* plane = x.plane(g.plane_at(n, g.C, group * g.Cg + ch, g.H * g.W), g.H * g.W);
        to_phases(c, plane, phases + ch * c.channel_size());
      }
      for (int64_t k = 0; k < g.Kg; ++k) {
        to_rows(c, dy.plane(g.plane_at(n, g.K, group * g.Kg + k, g.P * g.Q), g.P * g.Q), rows);
        filter_sums(c, rows, phases, g.Cg, totals + k * g.Cg * g.taps() * L);
      }
    }
    for (int64_t i = 0; i < per_group; ++i) {
      double total = 0;
      for (int64_t lane = 0; lane < L; ++lane) total += totals[i * L + lane];
      dw[group * per_group + i] = static_cast<T>(total);
    }
  }
}

// The global case, as plain loops over a plane's H·W elements (hw):
//   y[n, k] = Σ_{c, hw} w[k, c, hw] · x[n, c, hw]      dx[n, c, hw] = Σ_k w[k, c, hw] · dy[n, k]
//   dw[k, c, hw] = Σ_n dy[n, k] · x[n, c, hw]           (c, k within one group)
template <class T>
void global_forward(const Geometry& g, const Operand<T>& x, const T* w, T* y) {
  const int64_t plane = g.H * g.W;
#pragma omp parallel for schedule(static) if (g.worth_threads())
  for (int64_t task = 0; task < g.N * g.K; ++task) {
    const int64_t n = task / g.K, k = task % g.K, group = k / g.Kg;
    double total = 0;
    for (int64_t ch = 0; ch < g.Cg; ++ch) {
      const T* in = x.plane(g.plane_at(n, g.C, group * g.Cg + ch, plane), plane);
      const T* weight = w + (k * g.Cg + ch) * plane;
      total += chunked_sum<T>(plane, [&](int64_t hw) { return in[hw] * weight[hw]; });
    }
    y[task] = static_cast<T>(total);
  }
}
template <class T>
void global_backward_data(const Geometry& g, const Operand<T>& dy, const T* w, T* dx) {
  const int64_t plane = g.H * g.W;
#pragma omp parallel for schedule(static) if (g.worth_threads())
  for (int64_t task = 0; task < g.N * g.C; ++task) {
    const int64_t n = task / g.C, c = task % g.C, group = c / g.Cg;
    T* out = dx + task * plane;
    std::fill(out, out + plane, T(0));
    for (int64_t k = group * g.Kg; k < (group + 1) * g.Kg; ++k) {
      const T grad = *dy.plane(n * g.K + k, 1);
      const T* weight = w + (k * g.Cg + c % g.Cg) * plane;
#pragma omp simd
      for (int64_t hw = 0; hw < plane; ++hw) out[hw] += grad * weight[hw];
    }
  }
}
struct GlobalSums;
template <class T>
void global_backward_filter(const Geometry& g, const Operand<T>& x, const Operand<T>& dy, T* dw) {
  const int64_t plane = g.H * g.W;
#pragma omp parallel for schedule(static) if (g.worth_threads())
  for (int64_t k = 0; k < g.K; ++k) {
    const int64_t group = k / g.Kg;
    double* sums = thread_buffer<double, GlobalSums>(plane);
    for (int64_t ch = 0; ch < g.Cg; ++ch) {
      std::fill(sums, sums + plane, 0.0);
      for (int64_t n = 0; n < g.N; ++n) {
        const double grad = *dy.plane(n * g.K + k, 1);
        const T* in = x.plane(g.plane_at(n, g.C, group * g.Cg + ch, plane), plane);
#pragma omp simd
        for (int64_t hw = 0; hw < plane; ++hw) sums[hw] += grad * in[hw];
      }
      T* out = dw + (k * g.Cg + ch) * plane;
      for (int64_t hw = 0; hw < plane; ++hw) out[hw] = static_cast<T>(sums[hw]);
    }
  }
}

}  // namespace

bool direct_convolution(const Conv2dParams& params, const Shape& x, const Shape& w) {
  constexpr int64_t kNarrow = 4;  // channels a group, in and out: at most half the GEMM tile's 8 rows
  return params.groups > 1 && x[1] / params.groups <= kNarrow && w[0] / params.groups <= kNarrow;
}

// x and dy may be bfloat16 or float with bfloat16 operands (conv.cpp has checked the pair);
// the kernels' type T is that of their output.
void direct_conv2d(const Conv2dParams& params, const View& x, const View& w, const View& y) {
  const Geometry g(params, x.shape, w.shape, y.shape);
  dispatch_floating(y.dtype, "conv2d", [&](auto t) {
    using T = decltype(t);
    const Operand<T> image{x, params};
    if (g.global()) global_forward<T>(g, image, operand_filter<T>(w, params), y.ptr<T>());
    else forward<T>(g, image, operand_filter<T>(w, params), y.ptr<T>());
  });
}

void direct_conv2d_backward_data(const Conv2dParams& params, const View& dy, const View& w, const View& dx) {
  const Geometry g(params, dx.shape, w.shape, dy.shape);
  dispatch_floating(dx.dtype, "conv2d_backward_data", [&](auto t) {
    using T = decltype(t);
    const Operand<T> grad{dy, params};
    const T* filter = operand_filter<T>(w, params);
    if (g.global()) global_backward_data<T>(g, grad, filter, dx.ptr<T>());
    else if (g.backward_data_correlates()) backward_data_by_correlation<T>(g, grad, filter, dx.ptr<T>());
    else backward_data_by_scatter<T>(g, grad, filter, dx.ptr<T>());
  });
}

void direct_conv2d_backward_filter(const Conv2dParams& params, const View& x, const View& dy, const View& dw) {
  const Geometry g(params, x.shape, dw.shape, dy.shape);
  dispatch_floating(dw.dtype, "conv2d_backward_filter", [&](auto t) {
    using T = decltype(t);
    const Operand<T> image{x, params}, grad{dy, params};
    if (g.global()) global_backward_filter<T>(g, image, grad, dw.ptr<T>());
    else backward_filter<T>(g, image, grad, dw.ptr<T>());
  });
}

}  // namespace margin::cpu
