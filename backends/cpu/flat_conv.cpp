// backends/cpu/flat_conv.cpp — convolutions of stride 1 or 2 with bfloat16 products on AMX or
// on vdpbf16ps, reading the image where it lies instead of an unfolded copy of it.
//
// The flat padded plane. Pad each input plane with its zeros and lay it out row after row,
// rows `row` = W + 2·pad_w apart. With o = h·row + w, output (h, w) reads, for filter tap
// (r, s), the padded input at (h + r, w + s): flat index o + r·row + s. So for one tap,
// consecutive o read consecutive words: a tile row of 16 outputs is 16 consecutive words of
// the plane, shifted by the tap. The kernels run over every o < P·row, the row − Q columns
// past each output row included: those outputs read the next row's start and are dropped.
// That is (row − Q)/Q more work (2/56 for a 3x3 filter on 56 columns, 2/7 on 7) and no
// unfolding: the 9 copies of the image that conv.cpp's implicit GEMM gathers for a 3x3 filter
// are here 9 tile loads at 9 shifts of one copy. Stride 2 lays out the image's four phases
// instead (Flat, below), each tap a shift of one of them.
//
// AMX's tdpbf16ps (gemm.cpp) multiplies an A tile of 16 rows × 16 k-pairs by a B tile of
// 16 k-pair rows × 16 columns, each k-pair two bfloat16 side by side in 32 bits. On a CPU with
// AVX-512 BF16 but no AMX, vdpbf16ps computes the same blocks from the same layouts, 8 rows at
// a time ("On vdpbf16ps", below).
//   forward          y[f, o]  = Σ_{tap, c} w[f, c, tap] · x[c, o + offset(tap)]
//                    A = the filter (rows f, pairs of channels: packed once a call),
//                    B = the image (rows: channel pairs; columns: 16 consecutive o). The image
//                    is laid out with its channels paired: plane i holds x[2i] and x[2i + 1]
//                    of each flat position in one 32-bit word, so a B tile is 16 rows of 16
//                    words, the channel pairs' planes a fixed stride apart.
//   backward data    stride 1: a forward convolution of dy by the filter with its channels
//                    swapped and its taps rotated 180°, padded R − 1 − pad (conv.cpp says
//                    why); stride 2: the same for each phase of the image, by the sub-filter
//                    of the taps that read it (backward_data_by_phases).
//   backward filter  dw[f, c, tap] = Σ_{n, o} dy[f, o] · x[c, o + offset(tap)], for each tap
//                    a product with k = o: A = the image (rows c, 32 consecutive positions:
//                    the plane as it lies, unpaired), B = dy as pairs of consecutive o (word
//                    (q, f) holds dy[f, 2q] and dy[f, 2q + 1]), zero at the dropped columns,
//                    so that whatever the image holds there adds nothing.
// Each output tile keeps its sums in the tile registers over its whole k (forward) or over a
// run of it (backward filter, whose sums for all taps live in a float buffer between runs).
// Laying out the image and dy costs one pass over each; with writing the results out, ≈ 20% of
// a W2 bf16 step on AMX in perf, the tile kernels themselves about a third (2026-12-06).
//
// Threading: the forward (and so the backward data) hands out groups of samples to the threads
// as they come free. The backward filter gives each thread its share of the batch in order, so
// that its per-thread partial sums, added in thread order, do not depend on the schedule.
// (Handing out its blocks of sums instead, each thread reading every sample, made it 20%
// slower: each thread's L2 then holds a whole run of data for half the blocks' work.)
#include "backends/cpu/flat_conv.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cpu/bf16_rows.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/loops.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace margin::cpu {

bool flat_convolution(const Conv2dParams& p, const Shape& image, const Shape& filter) {
#if defined(__AVX512F__)
  return (bfloat16_products_on_amx() || bfloat16_products_on_vector()) && p.operands == DType::BF16 &&
         p.stride_h == p.stride_w && (p.stride_h == 1 || p.stride_h == 2) && p.dilation_h == 1 &&
         p.dilation_w == 1 && p.groups == 1 && image[1] % 32 == 0 && filter[0] % 32 == 0;
#else
  (void)p, (void)image, (void)filter;
  return false;
#endif
}

bool flat_convolution_backward_data(const Conv2dParams& p, const Shape& image, const Shape& filter) {
  if (p.stride_h == 2) return flat_convolution(p, image, filter) && filter[2] * filter[3] > 1;
  return flat_convolution(p, image, filter) && p.pad_h < filter[2] && p.pad_w < filter[3];
}

#if defined(__AVX512F__)
namespace {

constexpr int64_t kStep = 32;            // outputs a step of k or of columns: two tiles' worth
constexpr int64_t kGroupBytes = 1 << 20;  // a group of samples' laid-out data: about half of L2

// One convolution of stride 1 or 2 on flat planes: image [N, C, H, W], filter [F, C, R, S].
// Stride 2 splits the padded image into its four phases (even or odd rows by even or odd
// columns), each a plane of ⌈(H + 2·pad_h)/2⌉ × ⌈(W + 2·pad_w)/2⌉: output (h, w) reads for tap
// (r, s) the padded input (2h + r, 2w + s), which is phase (r mod 2, s mod 2) at
// (h + ⌊r/2⌋, w + ⌊s/2⌋), so each tap is again a shift of one flat plane. Stride 1 has one phase.
struct Flat {
  int64_t N, C, H, W, F, R, S, pad_h, pad_w, stride;
  int64_t P, Q;
  int64_t rows, row;  // a phase plane's rows and its row length (the flat index o = h·row + w)
  int64_t steps;      // ⌈P·row / kStep⌉: the outputs o run to steps·kStep
  int64_t length;     // a laid-out phase plane: the image, then zeros as far as the last step reads
  int64_t shift_h = 0, shift_w = 0;  // rows and columns every tap reads further (phase_of, below)
  Flat(int64_t N, int64_t C, int64_t H, int64_t W, int64_t F, int64_t R, int64_t S, int64_t pad_h, int64_t pad_w,
       int64_t stride)
      : N(N), C(C), H(H), W(W), F(F), R(R), S(S), pad_h(pad_h), pad_w(pad_w), stride(stride),
        P((H + 2 * pad_h - R) / stride + 1), Q((W + 2 * pad_w - S) / stride + 1),
        rows((H + 2 * pad_h + stride - 1) / stride), row((W + 2 * pad_w + stride - 1) / stride),
        steps((P * row + kStep - 1) / kStep) {
    const int64_t reach = (R - 1) / stride * row + (S - 1) / stride;  // the largest tap's shift
    length = (std::max(rows * row, steps * kStep + reach) + 15) / 16 * 16;
  }
  Flat(const Conv2dParams& p, const Shape& image, const Shape& filter)
      : Flat(image[0], image[1], image[2], image[3], filter[0], filter[2], filter[3], p.pad_h, p.pad_w, p.stride_h) {}
  int64_t taps() const { return R * S; }
  int64_t phases() const { return stride * stride; }
  int64_t planes() const { return phases() * length; }  // a channel's (or channel pair's) phase planes
  // Where tap (r, s) reads output o's input: o + tap_offset(tap) in a channel's planes.
  int64_t tap_offset(int64_t tap) const {
    const int64_t r = tap / S, s = tap % S;
    return (r % stride * stride + s % stride) * length + (r / stride + shift_h) * row + s / stride + shift_w;
  }
};

inline uint16_t bits_of(float value) { return bf16_bits(value); }
inline uint16_t bits_of(bfloat16 value) { return value.bits; }
inline uint32_t pair_of(uint16_t low, uint16_t high) { return low | uint32_t(high) << 16; }

// 16 values' bfloat16 bits in the low halves of 32-bit lanes: bf16_bits, 16 at a time.
inline __m512i rounded_bits_16(__m512 values) {
  const __m512i bits = _mm512_castps_si512(values);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i carry = _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, carry), 16);
  const __m512i quiet_nan = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_mov_epi32(rounded, nan, quiet_nan);
}
inline __m512i bits_16(const float* values) { return rounded_bits_16(_mm512_loadu_ps(values)); }
inline __m512i bits_16(const bfloat16* values) {
  return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(values)));
}
// The same of the even ones of 32 values (at 0, 2, …, 30: a stride-2 phase's row), the 32nd
// not read, so that a row's last even value is read without the value past it.
inline __m512i even_bits_16(const float* values) {
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return rounded_bits_16(
      _mm512_permutex2var_ps(_mm512_loadu_ps(values), evens, _mm512_maskz_loadu_ps(0x7fff, values + 16)));
}
inline __m512i even_bits_16(const bfloat16* values) {  // pairs 0 … 14 as words, the 16th lane set alone
  const __m512i pairs = _mm512_mask_set1_epi32(_mm512_maskz_loadu_epi32(0x7fff, values), 0x8000, values[30].bits);
  return _mm512_and_si512(pairs, _mm512_set1_epi32(0xffff));
}

// `count` channels' (or channel pairs') phase planes of one sample into out (channel i at
// out + i·planes()): the image's words at its positions, zeros at the padding and past it.
// Only the phases some tap reads: tap (r, s) reads phase (r mod stride, s mod stride), so a 1x1
// filter of stride 2 reads one of the four. words(i, at, n, line) writes channel i's n words at
// image offsets at, at + stride, … to line.
template <class Word, class Words>
void lay_out(const Flat& g, int64_t count, Word* out, Words&& words) {
  const int64_t stride = g.stride;
  for (int64_t i = 0; i < count; ++i)
    for (int64_t a = 0; a < std::min(stride, g.R); ++a)
      for (int64_t b = 0; b < std::min(stride, g.S); ++b) {
        Word* plane = out + i * g.planes() + (a * stride + b) * g.length;
        // the phase's columns j whose image column j·stride + b − pad_w lies in [0, W)
        const int64_t first = std::max<int64_t>(0, g.pad_w - b + stride - 1) / stride;
        const int64_t last = std::clamp<int64_t>((g.W + g.pad_w - b + stride - 1) / stride, first, g.row);
        for (int64_t i_row = 0; i_row < g.rows; ++i_row) {
          const int64_t h = i_row * stride + a - g.pad_h, at = h * g.W + b - g.pad_w;
          Word* line = plane + i_row * g.row;
          if (h < 0 || h >= g.H) {
            short_fill(line, g.row);
            continue;
          }
          short_fill(line, first);
          words(i, at + first * stride, last - first, line + first);
          short_fill(line + last, g.row - last);
        }
        short_fill(plane + g.rows * g.row, g.length - g.rows * g.row);
      }
}

// A sample's image with its channels paired (the forward's B), or as it is (the backward
// filter's A), as bfloat16 bits.
template <class Image>
void paired_planes(const Flat& g, const Image* x, uint32_t* out) {
  const int64_t plane = g.H * g.W;
  lay_out(g, g.C / 2, out, [&](int64_t i, int64_t at, int64_t n, uint32_t* line) {
    const Image *low = x + 2 * i * plane + at, *high = low + plane;
    int64_t j = 0;
    if (g.stride == 1)
      for (; j + 16 <= n; j += 16)
        _mm512_storeu_si512(line + j, _mm512_or_si512(bits_16(low + j), _mm512_slli_epi32(bits_16(high + j), 16)));
    else
      for (; j + 16 <= n; j += 16)
        _mm512_storeu_si512(line + j, _mm512_or_si512(even_bits_16(low + 2 * j), _mm512_slli_epi32(even_bits_16(high + 2 * j), 16)));
    for (; j < n; ++j) line[j] = pair_of(bits_of(low[j * g.stride]), bits_of(high[j * g.stride]));
  });
}
template <class Image>
void single_planes(const Flat& g, const Image* x, uint16_t* out) {
  const int64_t plane = g.H * g.W;
  lay_out(g, g.C, out, [&](int64_t c, int64_t at, int64_t n, uint16_t* line) {
    const Image* in = x + c * plane + at;
    int64_t j = 0;
    if (g.stride == 1)
      for (; j < n; ++j) line[j] = bits_of(in[j]);  // vectorized
    else
      for (; j + 16 <= n; j += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(line + j), _mm512_cvtepi32_epi16(even_bits_16(in + 2 * j)));
    for (; j < n; ++j) line[j] = bits_of(in[j * g.stride]);
  });
}

// The filter as the forward's A tiles: tile (fb, tap, cb) holds filters 16·fb … 16·fb + 15
// (rows) by channels 32·cb … 32·cb + 31 of the tap (16 pairs a row), 256 words, in that order.
// weight(f, c, r, s) gives the filter's values. The blocks of 16 filters are packed in
// parallel (a 512 × 512 × 3 × 3 filter alone took 0.5 ms, the other thread waiting).
template <class Weight>
void pack_filter(const Flat& g, uint32_t* packed, Weight&& weight) {
  const int64_t channel_blocks = g.C / 32;
#pragma omp parallel for if (worth_threads(g.F * g.C * g.taps()))
  for (int64_t fb = 0; fb < g.F / 16; ++fb) {
    uint32_t* out = packed + fb * g.taps() * channel_blocks * 256;
    for (int64_t tap = 0; tap < g.taps(); ++tap)
      for (int64_t cb = 0; cb < channel_blocks; ++cb)
        for (int64_t row = 0; row < 16; ++row)
          for (int64_t pair = 0; pair < 16; ++pair) {
            const int64_t f = fb * 16 + row, c = cb * 32 + 2 * pair, r = tap / g.S, s = tap % g.S;
            *out++ = pair_of(bf16_bits(weight(f, c, r, s)), bf16_bits(weight(f, c + 1, r, s)));
          }
  }
}

// Outputs f0 … f0 + 31 by o0 … o0 + 31 of one sample: the sums of every tap and channel pair,
// into sums (a 32 × 32 block).
__attribute__((target("amx-tile,amx-bf16"))) void forward_step(const Flat& g, const uint32_t* image,
                                                              const uint32_t* filter, int64_t f0, int64_t o0,
                                                              float (*sums)[kStep]) {
  const int64_t channel_blocks = g.C / 32, tile_words = 256;
  const int64_t stride = g.planes() * 4;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t tap = 0; tap < g.taps(); ++tap) {
    const uint32_t* a0 = filter + ((f0 / 16 * g.taps() + tap) * channel_blocks) * tile_words;
    const uint32_t* a1 = a0 + g.taps() * channel_blocks * tile_words;  // the next 16 filters
    const uint32_t* b = image + o0 + g.tap_offset(tap);
    for (int64_t cb = 0; cb < channel_blocks; ++cb) {
      _tile_loadd(4, a0 + cb * tile_words, 64);
      _tile_loadd(5, a1 + cb * tile_words, 64);
      _tile_loadd(6, b + cb * 16 * g.planes(), stride);
      _tile_loadd(7, b + cb * 16 * g.planes() + 16, stride);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, &sums[0][0], kStep * 4);
  _tile_stored(1, &sums[0][16], kStep * 4);
  _tile_stored(2, &sums[16][0], kStep * 4);
  _tile_stored(3, &sums[16][16], kStep * 4);
}

// The pieces of output rows among the 32 columns of the block at o0, those that exist (h < P,
// w < Q): each one's first column in the block, its length, and its place h·Q + w in a plane.
struct Piece {
  int64_t column, length, at;
};
int64_t block_pieces(const Flat& g, int64_t o0, Piece (&pieces)[kStep]) {
  int64_t count = 0;
  for (int64_t o = o0; o < o0 + kStep;) {
    const int64_t h = o / g.row, w = o % g.row, length = std::min(g.Q - w, o0 + kStep - o);
    if (h >= g.P) break;
    if (length > 0) pieces[count++] = {o - o0, length, h * g.Q + w};
    o += length > 0 ? length : g.row - w;  // to the next row's start past the dropped columns
  }
  return count;
}

// The block's outputs into y, one sample's [F, P, Q]: each piece copied whole.
void write_block(const Flat& g, const float (*sums)[kStep], int64_t f0, int64_t o0, float* y) {
  Piece pieces[kStep];
  const int64_t count = block_pieces(g, o0, pieces);
  for (int64_t i = 0; i < kStep; ++i) {
    float* plane = y + (f0 + i) * g.P * g.Q;
    for (int64_t k = 0; k < count; ++k) short_copy(&sums[i][pieces[k].column], pieces[k].length, plane + pieces[k].at);
  }
}

// ---- On vdpbf16ps ---------------------------------------------------------------------------
// The 32 × 32 blocks of forward_step and filter_step as four blocks of 8 rows × 32 columns
// (add_products, bf16_rows.h): same layouts, same pairs, so the same sums but for the order in
// which they are added.

// A piece of a row of 32 sums (low: columns 0 … 15, high: 16 … 31) to out: its columns moved
// to the first lanes by one permute of the two vectors, 16 at a time, stored under a mask.
__attribute__((target("avx512f"), always_inline)) inline void store_piece(__m512 low, __m512 high,
                                                                            const Piece& piece, float* out) {
  const __m512i columns = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(piece.column)),
                                           _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  _mm512_mask_storeu_ps(out, first_lanes(piece.length), _mm512_permutex2var_ps(low, columns, high));
  if (piece.length > 16)
    _mm512_mask_storeu_ps(out + 16, first_lanes(piece.length - 16),
                          _mm512_permutex2var_ps(low, _mm512_add_epi32(columns, _mm512_set1_epi32(16)), high));
}

// forward_step and write_block on vdpbf16ps: rows f, k = (tap, channel pair); A from the packed
// filter's tiles (row f of tile (f/16, tap, cb) at (f mod 16)·16 words), B the paired image.
// Each 8 rows' sums go from their registers straight to y's pieces.
__attribute__((target("avx512f,avx512bf16"))) void forward_step_vector(const Flat& g, const uint32_t* image,
                                                                     const uint32_t* filter, int64_t f0, int64_t o0,
                                                                     float* y) {
  const int64_t channel_blocks = g.C / 32, tile_words = 256;
  Piece pieces[kStep];
  const int64_t count = block_pieces(g, o0, pieces);
  for (int64_t r0 = 0; r0 < kStep; r0 += kVectorRows) {
    VectorRows rows;
    for (auto& row : rows) row[0] = row[1] = _mm512_setzero_ps();
    const int64_t f = f0 + r0;
    for (int64_t tap = 0; tap < g.taps(); ++tap) {
      const uint32_t* a = filter + (f / 16 * g.taps() + tap) * channel_blocks * tile_words + f % 16 * 16;
      const uint32_t* b = image + o0 + g.tap_offset(tap);
      for (int64_t cb = 0; cb < channel_blocks; ++cb)
        add_products(reinterpret_cast<const uint16_t*>(a + cb * tile_words), 32, 2, b + cb * 16 * g.planes(),
                     g.planes(), 16, rows);
    }
#pragma GCC unroll 8  // constant indices: the sums stay in registers
    for (int i = 0; i < kVectorRows; ++i)
      for (int64_t k = 0; k < count; ++k)
        store_piece(rows[i][0], rows[i][1], pieces[k], y + (f + i) * g.P * g.Q + pieces[k].at);
  }
}

// filter_step on vdpbf16ps: rows c, k = the run's positions in pairs; A the image's planes,
// B dy's pairs. The next 8 rows' sums (or, after the last, the next block's along F) are
// prefetched while these run: for 512 channels the sums of all taps are 9.4 MB, so a block's
// rows come from memory, and their 16 loads would otherwise wait on it together.
__attribute__((target("avx512f,avx512bf16"))) void filter_step_vector(const Flat& g, const uint16_t* image,
                                                                    const uint32_t* grad, int64_t tap, int64_t c0,
                                                                    int64_t f0, int64_t v0, int64_t v1, bool fresh,
                                                                    float* sums) {
  const int64_t image_words = g.C * g.planes(), grad_words = g.steps * kStep / 2 * g.F;
  for (int64_t r0 = 0; r0 < kStep; r0 += kVectorRows) {
    float* c = sums + (tap * g.C + c0 + r0) * g.F + f0;
    VectorRows rows;
    for (int i = 0; i < kVectorRows; ++i)
      if (fresh)
        rows[i][0] = rows[i][1] = _mm512_setzero_ps();
      else
        rows[i][0] = _mm512_loadu_ps(c + i * g.F), rows[i][1] = _mm512_loadu_ps(c + i * g.F + 16);
    const float* next = r0 + kVectorRows < kStep ? c + kVectorRows * g.F
                        : f0 + kStep < g.F       ? c - (kStep - kVectorRows) * g.F + kStep
                                                 : nullptr;
    if (next)
      for (int i = 0; i < kVectorRows; ++i) {
        _mm_prefetch(next + i * g.F, _MM_HINT_T0);
        _mm_prefetch(next + i * g.F + 16, _MM_HINT_T0);
      }
    for (int64_t v = v0; v < v1; ++v) {
      const int64_t n = v / g.steps, o0 = v % g.steps * kStep;
      add_products(image + n * image_words + (c0 + r0) * g.planes() + o0 + g.tap_offset(tap), g.planes(), 2,
                   grad + n * grad_words + o0 / 2 * g.F + f0, g.F, kStep / 2, rows);
    }
    for (int i = 0; i < kVectorRows; ++i)
      _mm512_storeu_ps(c + i * g.F, rows[i][0]), _mm512_storeu_ps(c + i * g.F + 16, rows[i][1]);
  }
}

// The batch in groups of samples whose laid-out data fit kGroupBytes (at least one sample, and
// at most a quarter of a thread's share): body(first, count) for each group, inside an OpenMP
// parallel region, the groups handed to the threads as they come free, so that a core slowed
// by another job takes fewer instead of holding the others at the region's end. (Each group
// reads the whole filter, 4.7 MB for 512 × 512 × 3 × 3, so groups are not made smaller still.)
template <class Body>
void for_groups(const Flat& g, int64_t sample_bytes, Body&& body) {
  const int64_t most = std::max<int64_t>(1, g.N / (4 * omp_get_num_threads()));
  const int64_t group = std::clamp<int64_t>(kGroupBytes / sample_bytes, 1, most);
  const int64_t groups = (g.N + group - 1) / group;
#pragma omp for schedule(dynamic, 1) nowait
  for (int64_t i = 0; i < groups; ++i) body(i * group, std::min(group, g.N - i * group));
}

// Each thread's samples in groups whose laid-out data fit kGroupBytes (at least one sample):
// body(first, count) on this thread, inside an OpenMP parallel region.
template <class Body>
void for_my_groups(const Flat& g, int64_t sample_bytes, Body&& body) {
  const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
  const int64_t begin = g.N * thread / threads, end = g.N * (thread + 1) / threads;
  const int64_t group = std::max<int64_t>(1, kGroupBytes / sample_bytes);
  for (int64_t first = begin; first < end; first += group) body(first, std::min(group, end - first));
}

// The convolution on g of `count` laid-out samples (sample_words apart) by the packed filter
// (pack_filter's layout), into y's [count, F, P, Q]. `sums` is the AMX kernels' block.
void convolve_group(const Flat& g, const uint32_t* planes, int64_t sample_words, const uint32_t* filter,
                    int64_t count, float* y, bool amx, float (*sums)[kStep]) {
  // the filter's tiles for 32 outputs (up to 9·512·32 bfloat16) stay in L2 over the group
  for (int64_t f0 = 0; f0 < g.F; f0 += kStep)
    for (int64_t i = 0; i < count; ++i) {
      float* out = y + i * g.F * g.P * g.Q;
      for (int64_t step = 0; step < g.steps; ++step)
        if (amx) {
          forward_step(g, planes + i * sample_words, filter, f0, step * kStep, sums);
          write_block(g, sums, f0, step * kStep, out);
        } else {
          forward_step_vector(g, planes + i * sample_words, filter, f0, step * kStep, out);
        }
    }
}

struct PairedImage;
// Samples first … first + count − 1 of x laid out paired (paired_planes), sample_words apart,
// in this thread's buffer.
template <class Image>
const uint32_t* paired_group(const Flat& g, const Image* x, int64_t first, int64_t count, int64_t sample_words) {
  uint32_t* planes = thread_buffer<uint32_t, PairedImage>(count * sample_words);
  for (int64_t i = 0; i < count; ++i) paired_planes(g, x + (first + i) * g.C * g.H * g.W, planes + i * sample_words);
  return planes;
}

// y = the convolution of x by the packed filter (pack_filter's layout) on g.
template <class Image>
void forward_pass(const Flat& g, const Image* x, const uint32_t* filter, float* y) {
  const int64_t sample_words = g.C / 2 * g.planes();
  const bool amx = bfloat16_products_on_amx();
#pragma omp parallel
  {
    if (amx) configure_amx_tiles();
    alignas(64) float sums[kStep][kStep];
    for_groups(g, sample_words * 4, [&](int64_t first, int64_t count) {
      const uint32_t* planes = paired_group(g, x, first, count, sample_words);
      convolve_group(g, planes, sample_words, filter, count, y + first * g.F * g.P * g.Q, amx, sums);
    });
    if (amx) release_amx_tiles();
  }
}

struct PackedFilter;
uint32_t* packed_filter(const Flat& g) { return thread_buffer<uint32_t, PackedFilter>(g.F * g.C / 2 * g.taps()); }

// The backward filter's sums for taps × C × F over a run of (sample, step) pairs v0 … v1 of a
// group (v = sample·steps + step): channels c0 … c0 + 31 by filters f0 … f0 + 31 of one tap,
// added to their place in sums [tap][C][F], or written there if `fresh` (its first run).
__attribute__((target("amx-tile,amx-bf16"))) void filter_step(const Flat& g, const uint16_t* image,
                                                             const uint32_t* grad, int64_t tap, int64_t c0,
                                                             int64_t f0, int64_t v0, int64_t v1, bool fresh,
                                                             float* sums) {
  float* c = sums + (tap * g.C + c0) * g.F + f0;
  const int64_t ldc = g.F * 4, a_stride = g.planes() * 2, b_stride = g.F * 4;
  const int64_t image_words = g.C * g.planes(), grad_words = g.steps * kStep / 2 * g.F;
  if (fresh) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  } else {
    _tile_loadd(0, c, ldc);
    _tile_loadd(1, c + 16, ldc);
    _tile_loadd(2, c + 16 * g.F, ldc);
    _tile_loadd(3, c + 16 * g.F + 16, ldc);
  }
  for (int64_t v = v0; v < v1; ++v) {
    const int64_t n = v / g.steps, o0 = v % g.steps * kStep;
    const uint16_t* a = image + n * image_words + c0 * g.planes() + o0 + g.tap_offset(tap);
    const uint32_t* b = grad + n * grad_words + o0 / 2 * g.F + f0;
    _tile_loadd(4, a, a_stride);
    _tile_loadd(5, a + 16 * g.planes(), a_stride);
    _tile_loadd(6, b, b_stride);
    _tile_loadd(7, b + 16, b_stride);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, ldc);
  _tile_stored(1, c + 16, ldc);
  _tile_stored(2, c + 16 * g.F, ldc);
  _tile_stored(3, c + 16 * g.F + 16, ldc);
}

// One sample's dy [F, P, Q] as pairs of consecutive outputs: word (q, f) = dy[f, 2q], dy[f, 2q + 1]
// (o = h·row + w), zero where o is no output. Sixteen filters at a time: their flat planes (as
// bfloat16 pairs) into `flat`, then transposed by the GEMM's in-register transpose
// (interleave_rows, gemm.h), which moves the 32-bit words as floats, bit for bit, by memcpy
// and shuffles: `pairs` is a multiple of 16, so no word goes through a float register alone.
struct FlatGradient;
void paired_gradient(const Flat& g, const float* dy, uint32_t* out) {
  const int64_t pairs = g.steps * kStep / 2;
  uint16_t* flat = thread_buffer<uint16_t, FlatGradient>(16 * 2 * pairs);  // read back as words by vector loads
  for (int64_t f0 = 0; f0 < g.F; f0 += 16) {
    for (int64_t i = 0; i < 16; ++i) {
      uint16_t* plane = flat + i * 2 * pairs;
      const float* rows = dy + (f0 + i) * g.P * g.Q;
      for (int64_t h = 0; h < g.P; ++h) {
        uint16_t* line = plane + h * g.row;
        for (int64_t w = 0; w < g.Q; ++w) line[w] = bf16_bits(rows[h * g.Q + w]);
        short_fill(line + g.Q, g.row - g.Q);
      }
      short_fill(plane + g.P * g.row, 2 * pairs - g.P * g.row);
    }
    interleave_rows(reinterpret_cast<const float*>(flat), pairs, 16, pairs, static_cast<int>(g.F),
                    reinterpret_cast<float*>(out) + f0);
  }
}

// Backward data of stride 2, by the padded input's phases (Flat). Phase (a, b) at (u, v) is
// the padded input at (2u + a, 2v + b), which only the taps (a + 2r', b + 2s') read:
//   dx_ab[c, u, v] = Σ_f Σ_{r', s'} w[f, c, a + 2r', b + 2s'] · dy[f, u − r', v − s'],
// the stride-1 backward data of a convolution by that sub-filter (R_a × S_b taps, R_a = ⌈(R − a)/2⌉)
// padded R_a − 1: a forward convolution of dy by the sub-filter rotated, with its channels
// swapped. All four read one layout of dy, padded for the largest sub-filter (phase_of). A
// group of samples at a time, on one thread: dy laid out, then for each row parity a its two
// phases computed into buffers of (P + R_a − 1) × (Q + S_b − 1) positions and interleaved into
// dx's rows of that parity in one pass; a phase beyond its buffer, or with no taps (the odd
// columns' phases of a 3x1 filter), is zero. A 1x1 filter stays with conv.cpp's col2im, which
// for it is a plain strided copy: three of its four phases would be zeros, and copying them
// measured 1.3–1.6× slower on iresnet18's downsampling shapes.
template <int kColumnParity>
struct PhaseGradient;
struct Phase {
  const float* data = nullptr;  // null: no taps
  int64_t rows = 0, cols = 0;
};

// Phase (a, b)'s convolution (R × S = R_a × S_b taps) on `dys`, dy laid out padded for phase
// (0, 0)'s R_0 × S_0 taps: its output (u, v) reads dy at (u − r', v − s'), which lies there
// R_0 − R_a rows and S_0 − S_b columns further than in a layout padded for its own taps.
Flat phase_of(const Flat& dys, int64_t R, int64_t S) {
  Flat sub = dys;  // the layout's rows, row and length
  sub.R = R, sub.S = S;
  sub.shift_h = dys.R - R, sub.shift_w = dys.S - S;
  sub.P = dys.H + R - 1, sub.Q = dys.W + S - 1;
  sub.steps = (sub.P * sub.row + kStep - 1) / kStep;
  return sub;
}

// dx's rows y with y + pad_h = 2u + a, of the g.N samples at dx: column x, with
// x + pad_w = 2v + b, is phase b's (u, v), zero past the phase's columns. 16 columns at a time
// from x = 0: the even lanes from one phase and the odd ones from the other (8 values each,
// masked loads, zeros past its columns), interleaved in one permute. Whole 64-byte-aligned
// blocks of dx are written by streaming stores: dx is written once here and its lines need not
// be read first.
void interleave_phases(const Flat& g, int64_t a, const Phase (&phase)[2], float* dx) {
  const int64_t first_y = (g.pad_h + a) % 2;
  const __m512i interleaved = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const float zero = 0;
  for (int64_t nc = 0; nc < g.N * g.C; ++nc)
    for (int64_t y = first_y; y < g.H; y += 2) {
      const int64_t u = (y + g.pad_h) / 2;
      float* out = dx + (nc * g.H + y) * g.W;
      const float* in[2] = {&zero, &zero};  // a phase without row u: no columns, never read
      int64_t cols[2] = {0, 0};
      for (int b = 0; b < 2; ++b)
        if (phase[b].data && u < phase[b].rows) {
          in[b] = phase[b].data + (nc * phase[b].rows + u) * phase[b].cols;
          cols[b] = phase[b].cols;
        }
      for (int64_t x = 0; x < g.W; x += 16) {
        // lane 2k: column x + 2k, phase b at v + k; lane 2k + 1: the other phase at v1 + k
        const int64_t b = (x + g.pad_w) % 2, v = (x + g.pad_w) / 2, v1 = (x + g.pad_w + 1) / 2;
        auto load = [&](int64_t p, int64_t at) {  // zeros from the phase's last column on
          return _mm512_maskz_loadu_ps(first_lanes(std::min<int64_t>(cols[p] - at, 8)),
                                       at < cols[p] ? in[p] + at : in[p]);
        };
        const __m512 values = _mm512_permutex2var_ps(load(b, v), interleaved, load(1 - b, v1));
        if (x + 16 <= g.W && reinterpret_cast<uintptr_t>(out + x) % 64 == 0)
          _mm512_stream_ps(out + x, values);
        else
          _mm512_mask_storeu_ps(out + x, first_lanes(g.W - x), values);
      }
    }
  _mm_sfence();  // the streamed lines, ordered before whatever this thread does next
}

struct PhaseFilters;
void backward_data_by_phases(const Flat& g, const float* dy, const float* w, float* dx) {
  // phase (a, b)'s sub-filter: taps_h(a) × taps_w(b) taps
  auto taps_h = [&](int64_t a) { return (g.R - a + 1) / 2; };
  auto taps_w = [&](int64_t b) { return (g.S - b + 1) / 2; };
  const int64_t R0 = taps_h(0), S0 = taps_w(0);
  const Flat dys(g.N, g.F, g.P, g.Q, g.C, R0, S0, R0 - 1, S0 - 1, 1);
  // each phase's sub-filter, rotated, packed once for every group below
  const int64_t most = g.C * g.F / 2 * R0 * S0;  // the largest sub-filter's words
  uint32_t* filters = thread_buffer<uint32_t, PhaseFilters>(4 * most);
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b) {
      const int64_t R = taps_h(a), S = taps_w(b);
      if (R * S == 0) continue;
      pack_filter(phase_of(dys, R, S), filters + (a * 2 + b) * most, [&](int64_t c, int64_t f, int64_t r, int64_t s) {
        return w[((f * g.C + c) * g.R + a + 2 * (R - 1 - r)) * g.S + b + 2 * (S - 1 - s)];
      });
    }
  const int64_t sample_words = dys.C / 2 * dys.planes();
  const int64_t phase_floats = g.C * dys.P * dys.Q;  // a sample's phase buffer, at most: phase (0, 0)'s
  const bool amx = bfloat16_products_on_amx();
#pragma omp parallel
  {
    if (amx) configure_amx_tiles();
    alignas(64) float sums[kStep][kStep];
    for_groups(dys, (sample_words + 2 * phase_floats) * 4, [&](int64_t first, int64_t count) {
      const uint32_t* planes = paired_group(dys, dy, first, count, sample_words);
      const Flat part(count, g.C, g.H, g.W, g.F, g.R, g.S, g.pad_h, g.pad_w, g.stride);
      for (int64_t a = 0; a < 2; ++a) {
        Phase phase[2];
        for (int64_t b = 0; b < 2; ++b) {
          const int64_t R = taps_h(a), S = taps_w(b);
          if (R * S == 0) continue;
          const Flat sub = phase_of(dys, R, S);
          const int64_t size = count * g.C * sub.P * sub.Q;
          float* buffer =
              b == 0 ? thread_buffer<float, PhaseGradient<0>>(size) : thread_buffer<float, PhaseGradient<1>>(size);
          convolve_group(sub, planes, sample_words, filters + (a * 2 + b) * most, count, buffer, amx, sums);
          phase[b] = Phase{buffer, sub.P, sub.Q};
        }
        interleave_phases(part, a, phase, dx + first * g.C * g.H * g.W);
      }
    });
    if (amx) release_amx_tiles();
  }
}

struct SingleImage;
struct PairedGradient;
struct FilterSums;
struct FilterTotal;

}  // namespace

template <class Image>
void flat_conv_forward(const Conv2dParams& params, const Shape& image, const Shape& filter, const Image* x,
                      const float* w, float* y) {
  const Flat g(params, image, filter);
  uint32_t* packed = packed_filter(g);
  pack_filter(g, packed, [&](int64_t f, int64_t c, int64_t r, int64_t s) {
    return w[((f * g.C + c) * g.R + r) * g.S + s];
  });
  forward_pass(g, x, packed, y);
}

void flat_conv_backward_data(const Conv2dParams& params, const Shape& image, const Shape& filter, const float* dy,
                             const float* w, float* dx) {
  const Flat g(params, image, filter);
  if (g.stride == 2) return backward_data_by_phases(g, dy, w, dx);
  // dx = dy convolved by w with in and out channels swapped and taps rotated, padded R − 1 − pad
  const Flat flipped(g.N, g.F, g.P, g.Q, g.C, g.R, g.S, g.R - 1 - g.pad_h, g.S - 1 - g.pad_w, 1);
  uint32_t* packed = packed_filter(flipped);
  pack_filter(flipped, packed, [&](int64_t c, int64_t f, int64_t r, int64_t s) {
    return w[((f * g.C + c) * g.R + g.R - 1 - r) * g.S + g.S - 1 - s];
  });
  forward_pass(flipped, dy, packed, dx);
}

template <class Image>
void flat_conv_backward_filter(const Conv2dParams& params, const Shape& image, const Shape& filter, const Image* x,
                              const float* dy, float* dw) {
  const Flat g(params, image, filter);
  const int64_t image_words = g.C * g.planes(), grad_words = g.steps * kStep / 2 * g.F;
  const int64_t sums_size = g.taps() * g.C * g.F;
  // a run of steps whose image rows and dy pairs fit kGroupBytes together: the sums' tiles are
  // loaded and stored once a run
  const int64_t run = std::max<int64_t>(1, kGroupBytes / (kStep * 2 * (g.C + g.F)));
  std::vector<float*> partials(omp_get_max_threads(), nullptr);
  const bool amx = bfloat16_products_on_amx();
#pragma omp parallel
  {
    float* sums = thread_buffer<float, FilterSums>(sums_size);  // written whole by the first run
    bool fresh = true;
    if (amx) configure_amx_tiles();
    for_my_groups(g, image_words * 2 + grad_words * 4, [&](int64_t first, int64_t count) {
      uint16_t* planes = thread_buffer<uint16_t, SingleImage>(count * image_words);
      uint32_t* grad = thread_buffer<uint32_t, PairedGradient>(count * grad_words);
      for (int64_t i = 0; i < count; ++i) {
        single_planes(g, x + (first + i) * g.C * g.H * g.W, planes + i * image_words);
        paired_gradient(g, dy + (first + i) * g.F * g.P * g.Q, grad + i * grad_words);
      }
      for (int64_t v0 = 0; v0 < count * g.steps; v0 += run, fresh = false) {
        const int64_t v1 = std::min(v0 + run, count * g.steps);
        for (int64_t tap = 0; tap < g.taps(); ++tap)
          for (int64_t c0 = 0; c0 < g.C; c0 += kStep)
            for (int64_t f0 = 0; f0 < g.F; f0 += kStep)
              if (amx)
                filter_step(g, planes, grad, tap, c0, f0, v0, v1, fresh, sums);
              else
                filter_step_vector(g, planes, grad, tap, c0, f0, v0, v1, fresh, sums);
      }
    });
    if (amx) release_amx_tiles();
    if (!fresh) partials[omp_get_thread_num()] = sums;  // a thread without samples has none
#pragma omp barrier
    // dw[f, c, tap] = the threads' sums[tap, c, f], added in thread order
    // (one channel at a time: its taps × F sums added along F, then written tap after tap)
    float* total = thread_buffer<float, FilterTotal>(g.taps() * g.F);
#pragma omp for
    for (int64_t c = 0; c < g.C; ++c) {
      add_thread_sums(partials, g.taps(), g.C, g.F, c, total);
      for (int64_t f = 0; f < g.F; ++f)
        for (int64_t tap = 0; tap < g.taps(); ++tap) dw[(f * g.C + c) * g.taps() + tap] = total[tap * g.F + f];
    }
  }
}

template void flat_conv_forward(const Conv2dParams&, const Shape&, const Shape&, const float*, const float*, float*);
template void flat_conv_forward(const Conv2dParams&, const Shape&, const Shape&, const bfloat16*, const float*,
                               float*);
template void flat_conv_backward_filter(const Conv2dParams&, const Shape&, const Shape&, const float*, const float*,
                                       float*);
template void flat_conv_backward_filter(const Conv2dParams&, const Shape&, const Shape&, const bfloat16*,
                                       const float*, float*);
#endif

}  // namespace margin::cpu
