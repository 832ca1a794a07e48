// backends/cpu/winograd.cpp — Winograd's F(2×2, 3×3) for 3x3 convolutions of stride 1 and
// padding 1, the products on vdpbf16ps.
//
// Each 2×2 tile of outputs reads a 4×4 patch d of the padded input. With
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1],
// the tile is Aᵀ [Σ_c U_c ⊙ V_c] A, where U_c = G g_c Gᵀ (the filter of channel c, 4×4) and
// V_c = Bᵀ d_c B (4×4): for each of the 16 positions ξ of the 4×4, a matrix product
//   M_ξ[f, t] = Σ_c U_ξ[f, c] · V_ξ[c, t]   (t: the tiles),
// 16 multiply-adds per channel and tile where the direct convolution makes 4 × 9 = 36. The
// products run on bf16_rows.h's vdpbf16ps block (rows f, k = channel pairs, 32 tiles), so U_ξ
// is packed as bfloat16 rows of channels and V_ξ as channel pairs of 32 tiles.
//
// Work goes in blocks of at most 32 tiles: a segment of a row of tiles (rows of more than 32
// tiles in equal segments), several rows of tiles where a row is short, several samples where a
// whole plane is. For each block: V for every channel pair (the input transform, 16 tiles a
// vector: a tile's four columns are the even and odd values of two loads), then for each block
// of 64 filters M for every ξ (16 × 64 × 32 sums, in L2) and the output transform into y.
//
// The backward data is the same pass: dy convolved by the filter with its channels swapped
// and its taps rotated. The backward filter follows the forward back: M_ξ reaches y only
// through Aᵀ M A and U_ξ only through G g Gᵀ, so with dM = A dy Aᵀ (each 2×2 tile of dy to
// a 4×4; A = [1 0; 1 1; 1 −1; 0 −1])
//   dU_ξ[c, f] = Σ_t V_ξ[c, t] · dM_ξ[f, t]   (t: the batch's tiles),   dw_{f,c} = Gᵀ dU G,
// 16 products per tile where the direct kernels make 36. The tiles go in chunks (64–512 of
// them): V's rows and dM's rows as bfloat16, dM's turned into pairs of tiles by filters (B),
// and the products on the same vdpbf16ps block (rows c, k the tiles in pairs, 32 filters),
// into per-thread sums added in thread order at the end.
//
// The error. Where the direct kernels round x and w and multiply exactly, this rounds x (as
// they do), then V and U, to bfloat16 (unit roundoff u = 2⁻⁸), and sums their exact products in
// float. So against the exact convolution y of x̂ = bf16(x) by the unrounded w,
//   |ŷ − y| ≤ (2u + u² + (C + 16)·2⁻²⁴) · |Aᵀ| [Σ_c (|G| |g_c| |Gᵀ|) ⊙ (|Bᵀ| |x̂_c| |B|)] |A|,
// the scale tests/test_winograd.cpp computes: the products' two roundings, and the float sums
// over C channels and through the transforms. On uniform random data (iresnet18's eight
// stride-1 shapes, batch 32, 3000 outputs each) its largest error relative to the output's
// Σ |x̂ w| measured 2.1–3.0 times the direct kernels' (docs/precision.md). The backward filter
// rounds V and dM (not dy: its transform), and its sums run over the K tiles of the batch: the
// same bound with K (and the threads' partial sums) in place of C, the scale
// |Gᵀ| [Σ_t (|A| |dy_t| |Aᵀ|) ⊙ (|Bᵀ| |x̂_t| |B|)] |G|; measured 2.1–5.3 times the direct
// kernels' error.
//
// Left out: larger tiles (F(4×4, 3×3) makes 36 products where the direct makes 144, but its
// transforms' coefficients grow the error bound several times), AMX (whose direct kernels are
// faster than these products on vdpbf16ps).
#include "backends/cpu/winograd.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "backends/cpu/bf16_rows.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/loops.h"

namespace margin::cpu {

namespace {
std::atomic<bool> winograd_on{false};
}

void set_winograd(bool on) { winograd_on = on; }
bool winograd_enabled() { return winograd_on; }

bool winograd_in_use() {
#if defined(__AVX512F__)
  return winograd_on && bfloat16_products_on_vector();
#else
  return false;
#endif
}

bool winograd_convolution(const Conv2dParams& p, const Shape& image, const Shape& filter) {
#if defined(__AVX512F__)
  return winograd_in_use() && p.operands == DType::BF16 && filter[2] == 3 && filter[3] == 3 && p.stride_h == 1 &&
         p.stride_w == 1 && p.pad_h == 1 && p.pad_w == 1 && p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1 &&
         image[1] % 32 == 0 && filter[0] % 32 == 0;
#else
  (void)p, (void)image, (void)filter;
  return false;
#endif
}

#if defined(__AVX512F__)
namespace {

constexpr int64_t kTiles = 32;    // a block's tiles: the vector block's columns
constexpr int64_t kFilters = 64;  // the filters whose M a block holds at once

// The blocks of tiles: rows of TW tiles cut into `segments` segments of S, `rows` rows of tiles
// a block (rows > 1 only where a row is one segment), `samples` samples a block (> 1 only where
// a block holds a whole plane). Tile (s, r, k) of a block is column t = (s·rows + r)·S + k.
struct Tiling {
  int64_t N, TH, TW, segments, S, rows, samples, row_blocks, groups;
  Tiling(int64_t N, int64_t H, int64_t W) : N(N), TH((H + 1) / 2), TW((W + 1) / 2) {
    segments = (TW + kTiles - 1) / kTiles;
    S = (TW + segments - 1) / segments;
    rows = segments == 1 ? std::clamp<int64_t>(kTiles / S, 1, TH) : 1;
    samples = segments == 1 && rows == TH ? std::max<int64_t>(1, kTiles / (TH * S)) : 1;
    row_blocks = (TH + rows - 1) / rows;
    groups = (N + samples - 1) / samples;
  }
};

// U_ξ[f, c] = (G g_{f,c} Gᵀ)_ξ as bfloat16 bits, [16][F][C], 16 channels at a time: tap (r, s)
// of g_{f,c} at w + f·f_stride + c·c_stride + taps[r·3 + s].
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void transform_filter(int64_t F, int64_t C, uint16_t* U,
                                                                             const float* w, int64_t f_stride,
                                                                             int64_t c_stride, const int (&taps)[9]) {
  const __m512i lanes = _mm512_mullo_epi32(_mm512_set1_epi32(static_cast<int>(c_stride)),
                                           _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m512 half = _mm512_set1_ps(0.5f);
#pragma omp parallel for if (worth_threads(F * C * 9))
  for (int64_t f = 0; f < F; ++f)
    for (int64_t c = 0; c < C; c += 16) {
      const float* base = w + f * f_stride + c * c_stride;
      __m512 g[3][3], u[4][3];
      for (int r = 0; r < 3; ++r)
        for (int s = 0; s < 3; ++s) g[r][s] = _mm512_i32gather_ps(lanes, base + taps[r * 3 + s], 4);
      for (int s = 0; s < 3; ++s) {
        u[0][s] = g[0][s];
        u[1][s] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g[0][s], g[1][s]), g[2][s]));
        u[2][s] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g[0][s], g[1][s]), g[2][s]));
        u[3][s] = g[2][s];
      }
      for (int i = 0; i < 4; ++i) {
        const __m512 row[4] = {u[i][0], _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(u[i][0], u[i][1]), u[i][2])),
                               _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(u[i][0], u[i][1]), u[i][2])), u[i][2]};
        for (int j = 0; j < 4; ++j)
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(U + ((i * 4 + j) * F + f) * C + c),
                              (__m256i)_mm512_cvtneps_pbh(row[j]));
      }
    }
}

// Which of 16 (or 32) values from column `at` of a row lie inside [0, W).
inline __mmask16 inside_16(int64_t at, int64_t W) { return first_lanes(W - at) & ~first_lanes(-at); }
inline __mmask32 inside_32(int64_t at, int64_t W) { return inside_16(at, W) | __mmask32(inside_16(at + 16, W)) << 16; }

// 32 values of a row from `at` as bfloat16 bits in 16-bit lanes, zero outside the row
// (`inside`: inside_32(at, W)): a bfloat16 row as it is, a float one rounded
// (vcvtne2ps2bf16: to nearest even, NaN kept).
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline __m512i row_bits(const bfloat16* row, int64_t at,
                                                                               __mmask32 inside) {
  return _mm512_maskz_loadu_epi16(inside, reinterpret_cast<const uint16_t*>(row) + at);
}
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline __m512i row_bits(const float* row, int64_t at,
                                                                               __mmask32 inside) {
  return (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(__mmask16(inside >> 16), row + at + 16),
                                      _mm512_maskz_loadu_ps(__mmask16(inside), row + at));
}

// V = Bᵀ d B of 16 tiles of one channel's plane [H, W], row of tiles th, from column `at`
// (= 2·tw − 1 of the first tile; `inside`, `inside_2`: inside_32 of at and at + 2), as floats:
// v[ξ] lane k for tile k. `ahead`: how far on the same rows of this thread's next block lie,
// prefetched (0: none).
template <class Image>
__attribute__((target("avx512f,avx512bw,avx512bf16"), always_inline)) inline void input_tiles(
    const Image* plane, int64_t H, int64_t W, int64_t th, int64_t at, __mmask32 inside, __mmask32 inside_2,
    int64_t ahead, __m512 (&v)[16]) {
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  // d[i][j]: row 2th − 1 + i, column at + 2k + j of the 16 tiles k, as floats
  __m512 d[4][4];
  for (int i = 0; i < 4; ++i) {
    const int64_t h = 2 * th - 1 + i;
    if (h < 0 || h >= H) {
      for (auto& value : d[i]) value = _mm512_setzero_ps();
      continue;
    }
    const Image* row = plane + h * W;
    if (ahead)
      for (int64_t byte = 0; byte < 34 * int64_t(sizeof(Image)); byte += 64)
        _mm_prefetch(reinterpret_cast<const char*>(row + ahead + std::max<int64_t>(at, 0)) + byte, _MM_HINT_T1);
    const __m512i v0 = row_bits(row, at, inside), v2 = row_bits(row, at + 2, inside_2);
    d[i][0] = _mm512_castsi512_ps(_mm512_slli_epi32(v0, 16));
    d[i][1] = _mm512_castsi512_ps(_mm512_and_si512(v0, high));
    d[i][2] = _mm512_castsi512_ps(_mm512_slli_epi32(v2, 16));
    d[i][3] = _mm512_castsi512_ps(_mm512_and_si512(v2, high));
  }
  __m512 t[4][4];  // Bᵀ d
  for (int j = 0; j < 4; ++j) {
    t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
    t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
    t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
    t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
  }
  for (int i = 0; i < 4; ++i) {  // (Bᵀ d) B
    v[i * 4 + 0] = _mm512_sub_ps(t[i][0], t[i][2]);
    v[i * 4 + 1] = _mm512_add_ps(t[i][1], t[i][2]);
    v[i * 4 + 2] = _mm512_sub_ps(t[i][2], t[i][1]);
    v[i * 4 + 3] = _mm512_sub_ps(t[i][1], t[i][3]);
  }
}

// V_ξ for channels c, c + 1 of one sample (`plane`: channel c's [H, W]) at tiles
// (th, tw0 … tw0 + count − 1), rounded, as consecutive words from V (position ξ's `stride`
// words apart), channel c in each word's low half (the forward's B).
template <class Image>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void transform_input(const Image* plane, int64_t H, int64_t W,
                                                                            int64_t th, int64_t tw0, int64_t count,
                                                                            int64_t ahead, uint32_t* V,
                                                                            int64_t stride) {
  for (int64_t k0 = 0; k0 < count; k0 += 16) {
    const int64_t at = 2 * (tw0 + k0) - 1;  // tile tw's columns 2tw − 1 … 2tw + 2
    const __mmask32 inside = inside_32(at, W), inside_2 = inside_32(at + 2, W);
    __m512i pair[16];
    for (int e = 0; e < 2; ++e) {  // channel c + e in the word's half e
      __m512 v[16];
      input_tiles(plane + e * H * W, H, W, th, at, inside, inside_2, ahead, v);
      for (int xi = 0; xi < 16; ++xi) {
        const __m512i bits = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(v[xi]));
        pair[xi] = e == 0 ? bits : _mm512_or_si512(pair[xi], _mm512_slli_epi32(bits, 16));
      }
    }
    for (int xi = 0; xi < 16; ++xi) _mm512_mask_storeu_epi32(V + xi * stride + k0, first_lanes(count - k0), pair[xi]);
  }
}

// The same for one channel, as bfloat16 values from V (the backward filter's A rows).
template <class Image>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void transform_input_row(
    const Image* plane, int64_t H, int64_t W, int64_t th, int64_t tw0, int64_t count, int64_t ahead, uint16_t* V,
    int64_t stride) {
  for (int64_t k0 = 0; k0 < count; k0 += 16) {
    const int64_t at = 2 * (tw0 + k0) - 1;
    __m512 v[16];
    input_tiles(plane, H, W, th, at, inside_32(at, W), inside_32(at + 2, W), ahead, v);
    for (int xi = 0; xi < 16; ++xi)
      _mm256_mask_storeu_epi16(V + xi * stride + k0, first_lanes(count - k0), (__m256i)_mm512_cvtneps_pbh(v[xi]));
  }
}

// dM = A dY Aᵀ (A = the 4×2 of Aᵀ above transposed) of one filter's gradient plane [H, W] at
// tiles (th, tw0 … tw0 + count − 1), zero outside the plane, rounded to bfloat16, from D
// (position ξ's `stride` values apart, the tiles consecutive): the forward's M_ξ[f, t] reaches
// y only through Aᵀ M A, so the loss's gradient by M_ξ is this. `ahead` as transform_input's.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void transform_gradient_row(
    const float* plane, int64_t H, int64_t W, int64_t th, int64_t tw0, int64_t count, int64_t ahead, uint16_t* D,
    int64_t stride) {
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  for (int64_t k0 = 0; k0 < count; k0 += 16) {
    const int64_t w0 = 2 * (tw0 + k0), n = std::min<int64_t>(2 * std::min<int64_t>(16, count - k0), W - w0);
    __m512 y[2][2];  // y[a][b]: row 2th + a, column 2tw + b of the 16 tiles
    for (int a = 0; a < 2; ++a) {
      if (2 * th + a >= H) {
        y[a][0] = y[a][1] = _mm512_setzero_ps();
        continue;
      }
      const float* row = plane + (2 * th + a) * W + w0;
      if (ahead) _mm_prefetch(reinterpret_cast<const char*>(row + ahead), _MM_HINT_T1),
                 _mm_prefetch(reinterpret_cast<const char*>(row + ahead + 16), _MM_HINT_T1);
      const __m512 low = _mm512_maskz_loadu_ps(first_lanes(n), row);
      const __m512 high = _mm512_maskz_loadu_ps(first_lanes(n - 16), row + 16);
      y[a][0] = _mm512_permutex2var_ps(low, evens, high);
      y[a][1] = _mm512_permutex2var_ps(low, odds, high);
    }
    __m512 t[4][2];  // A dY
    for (int b = 0; b < 2; ++b) {
      t[0][b] = y[0][b];
      t[1][b] = _mm512_add_ps(y[0][b], y[1][b]);
      t[2][b] = _mm512_sub_ps(y[0][b], y[1][b]);
      t[3][b] = _mm512_sub_ps(_mm512_setzero_ps(), y[1][b]);
    }
    for (int i = 0; i < 4; ++i) {  // (A dY) Aᵀ
      const __m512 m[4] = {t[i][0], _mm512_add_ps(t[i][0], t[i][1]), _mm512_sub_ps(t[i][0], t[i][1]),
                           _mm512_sub_ps(_mm512_setzero_ps(), t[i][1])};
      for (int j = 0; j < 4; ++j)
        _mm256_mask_storeu_epi16(D + (i * 4 + j) * stride + k0, first_lanes(count - k0),
                                 (__m256i)_mm512_cvtneps_pbh(m[j]));
    }
  }
}

// y's tiles (th, tw0 … tw0 + count − 1) of one filter's plane `out` [H, W] from their sums m
// (M: position ξ's `stride` floats apart, the tiles consecutive): Aᵀ m A, written where inside
// the plane.
__attribute__((target("avx512f"))) void transform_output(const float* M, int64_t stride, int64_t H, int64_t W,
                                                          int64_t th, int64_t tw0, int64_t count, float* out) {
  const __m512i low_half = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high_half = _mm512_add_epi32(low_half, _mm512_set1_epi32(8));
  for (int64_t k0 = 0; k0 < count; k0 += 16) {
    __m512 m[16];
    for (int xi = 0; xi < 16; ++xi) m[xi] = _mm512_loadu_ps(M + xi * stride + k0);
    __m512 s[2][4];  // Aᵀ m
    for (int j = 0; j < 4; ++j) {
      s[0][j] = _mm512_add_ps(_mm512_add_ps(m[j], m[4 + j]), m[8 + j]);
      s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m[4 + j], m[8 + j]), m[12 + j]);
    }
    const int64_t w0 = 2 * (tw0 + k0), n = std::min<int64_t>(2 * std::min<int64_t>(16, count - k0), W - w0);
    for (int i = 0; i < 2 && 2 * th + i < H; ++i) {  // (Aᵀ m) A: columns 2tw and 2tw + 1, interleaved
      const __m512 even = _mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]);
      const __m512 odd = _mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]);
      float* o = out + (2 * th + i) * W + w0;
      _mm512_mask_storeu_ps(o, first_lanes(n), _mm512_permutex2var_ps(even, low_half, odd));
      if (n > 16) _mm512_mask_storeu_ps(o + 16, first_lanes(n - 16), _mm512_permutex2var_ps(even, high_half, odd));
    }
  }
}

struct WinogradFilter;
struct WinogradInput;
struct WinogradSums;

// y [N, F, H, W] = the convolution of x [N, C, H, W] by the transformed filter U.
template <class Image>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void winograd_pass(int64_t N, int64_t C, int64_t H, int64_t W,
                                                                          int64_t F, const Image* x, const uint16_t* U,
                                                                          float* y) {
  const Tiling tiling(N, H, W);
  const int64_t filters = std::min(F, kFilters);
  // each ξ's rows of V and M, 64 bytes more than they need apart: at a multiple of 4 KB (64 channels) the
  // 16 would share one set of L1 lines
  const int64_t v_stride = C / 2 * kTiles + 16, m_stride = filters * kTiles + 16;
#pragma omp parallel
  {
    uint32_t* V = thread_buffer<uint32_t, WinogradInput>(16 * v_stride);
    float* M = thread_buffer<float, WinogradSums>(16 * m_stride + 16);
    const int64_t threads = omp_get_num_threads();
    // one thread takes a whole row of tiles (all its segments): its next one is `threads` on
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < tiling.groups * tiling.row_blocks; ++item) {
      const int64_t n0 = item / tiling.row_blocks * tiling.samples, th0 = item % tiling.row_blocks * tiling.rows;
      const int64_t samples = std::min(tiling.samples, N - n0), rows = std::min(tiling.rows, tiling.TH - th0);
      const int64_t ahead = tiling.row_blocks > 1
                                ? (th0 + tiling.rows * threads < tiling.TH ? 2 * tiling.rows * threads * W : 0)
                                : (n0 + samples * threads < N ? tiling.samples * threads * C * H * W : 0);
      for (int64_t segment = 0; segment < tiling.segments; ++segment) {
        const int64_t tw0 = segment * tiling.S, count = std::min(tiling.S, tiling.TW - tw0);
        for (int64_t c = 0; c < C; c += 2)
          for (int64_t s = 0; s < samples; ++s)
            for (int64_t r = 0; r < rows; ++r)
              transform_input(x + ((n0 + s) * C + c) * H * W, H, W, th0 + r, tw0, count, ahead,
                              V + c / 2 * kTiles + (s * rows + r) * tiling.S, v_stride);
        for (int64_t f0 = 0; f0 < F; f0 += filters) {
          const int64_t block = std::min(filters, F - f0);
          for (int xi = 0; xi < 16; ++xi)
            for (int64_t f = 0; f < block; f += kVectorRows) {
              VectorRows sums;
              for (auto& row : sums) row[0] = row[1] = _mm512_setzero_ps();
              add_products(U + (xi * F + f0 + f) * C, C, 2, V + xi * v_stride, kTiles, C / 2, sums);
              for (int i = 0; i < kVectorRows; ++i) {
                _mm512_storeu_ps(M + xi * m_stride + (f + i) * kTiles, sums[i][0]);
                _mm512_storeu_ps(M + xi * m_stride + (f + i) * kTiles + 16, sums[i][1]);
              }
            }
          for (int64_t f = 0; f < block; ++f)
            for (int64_t s = 0; s < samples; ++s)
              for (int64_t r = 0; r < rows; ++r)
                transform_output(M + f * kTiles + (s * rows + r) * tiling.S, m_stride, H, W, th0 + r, tw0, count,
                                 y + ((n0 + s) * F + f0 + f) * H * W);
        }
      }
    }
  }
}

struct WinogradRows;
struct WinogradGradient;
struct WinogradGradientPairs;
struct WinogradFilterSums;
struct WinogradFilterTotal;

// The tiles of one backward-filter chunk: a multiple of 32 from 64 to 512, so that one ξ's
// rows of V and D take about 128 KB. (On iresnet18's eight stride-1 shapes, 2 threads, Zen 5,
// chunks of 64, 128, …, 1024 tiles: within 6% of each shape's best, where the slowest size
// took up to 1.2× as long for 64 channels and 3× for 512.)
int64_t chunk_tiles(int64_t C, int64_t F) {
  return std::clamp<int64_t>((1 << 16) / (C + F) / kTiles * kTiles, 2 * kTiles, 16 * kTiles);
}

// dU_ξ[c, f] = Σ_t V_ξ[c, t] · dM_ξ[f, t] over the tiles t of this thread's share of the batch
// (in order, so that the result does not depend on the schedule), into sums [16][C][F]; false
// where the share is empty. A chunk of tiles at a time: V's rows (transform_input_row) and
// dM's (transform_gradient_row), dM's then turned into pairs of tiles by filters (B), and the
// products on the vdpbf16ps block: rows c, k the chunk's tiles in pairs, 32 filters.
template <class Image>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) bool filter_sums(int64_t N, int64_t C, int64_t H, int64_t W,
                                                                        int64_t F, const Image* x, const float* dy,
                                                                        float* sums) {
  const int64_t TH = (H + 1) / 2, TW = (W + 1) / 2, chunk = chunk_tiles(C, F), steps = chunk / 2;
  // each ξ's rows 64 bytes more than they need apart (as winograd_pass's V and M)
  const int64_t v_stride = C * chunk + 32, d_stride = F * chunk + 32;
  const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
  const int64_t begin = N * thread / threads, end = N * (thread + 1) / threads, tiles = (end - begin) * TH * TW;
  uint16_t* V = thread_buffer<uint16_t, WinogradRows>(16 * v_stride);      // [ξ][c][t]
  uint16_t* D = thread_buffer<uint16_t, WinogradGradient>(16 * d_stride);  // [ξ][f][t]
  uint32_t* B = thread_buffer<uint32_t, WinogradGradientPairs>(16 * steps * F);  // [ξ][t/2][f]
  for (int64_t t0 = 0; t0 < tiles; t0 += chunk) {
    const int64_t count = std::min(chunk, tiles - t0);
    for (int64_t t = t0; t < t0 + count;) {  // a run of tiles along one row of tiles
      const int64_t n = begin + t / (TH * TW), th = t % (TH * TW) / TW, tw = t % TW;
      const int64_t run = std::min(TW - tw, t0 + count - t), at = t - t0;
      // the next run's rows, prefetched: its sample and row of tiles from these
      const int64_t next = t + run, n_on = next < tiles ? begin + next / (TH * TW) - n : 0;
      const int64_t rows_on = next < tiles ? 2 * (next % (TH * TW) / TW - th) * W : 0;
      const int64_t x_ahead = n_on * C * H * W + rows_on, dy_ahead = n_on * F * H * W + rows_on;
      for (int64_t c = 0; c < C; ++c)
        transform_input_row(x + (n * C + c) * H * W, H, W, th, tw, run, x_ahead, V + c * chunk + at, v_stride);
      for (int64_t f = 0; f < F; ++f)
        transform_gradient_row(dy + (n * F + f) * H * W, H, W, th, tw, run, dy_ahead, D + f * chunk + at,
                               d_stride);
      t += run;
    }
    if (count < chunk) {  // the last chunk's missing tiles: zeros on both sides
      for (int xi = 0; xi < 16; ++xi) {
        for (int64_t c = 0; c < C; ++c) short_fill(V + xi * v_stride + c * chunk + count, chunk - count);
        for (int64_t f = 0; f < F; ++f) short_fill(D + xi * d_stride + f * chunk + count, chunk - count);
      }
    }
    // B_ξ[k][f] = word k of D_ξ's row f (gemm.h's in-register transpose moves them bit for bit)
    for (int xi = 0; xi < 16; ++xi)
      for (int64_t f0 = 0; f0 < F; f0 += 16)
        interleave_rows(reinterpret_cast<const float*>(D + xi * d_stride + f0 * chunk), steps, 16, steps,
                        static_cast<int>(F), reinterpret_cast<float*>(B + xi * steps * F) + f0);
    for (int xi = 0; xi < 16; ++xi)
      for (int64_t f0 = 0; f0 < F; f0 += kTiles)
        for (int64_t c0 = 0; c0 < C; c0 += kVectorRows) {
          float* out = sums + (xi * C + c0) * F + f0;
          VectorRows rows;
          for (int i = 0; i < kVectorRows; ++i)
            if (t0 == 0)
              rows[i][0] = rows[i][1] = _mm512_setzero_ps();
            else
              rows[i][0] = _mm512_loadu_ps(out + i * F), rows[i][1] = _mm512_loadu_ps(out + i * F + 16);
          add_products(V + xi * v_stride + c0 * chunk, chunk, 2, B + xi * steps * F + f0, F, steps, rows);
          for (int i = 0; i < kVectorRows; ++i)
            _mm512_storeu_ps(out + i * F, rows[i][0]), _mm512_storeu_ps(out + i * F + 16, rows[i][1]);
        }
  }
  return tiles > 0;
}

}  // namespace

template <class Image>
void winograd_conv_forward(const Shape& image, const Shape& filter, const Image* x, const float* w, float* y) {
  const int64_t N = image[0], C = image[1], H = image[2], W = image[3], F = filter[0];
  uint16_t* U = thread_buffer<uint16_t, WinogradFilter>(16 * F * C);
  static constexpr int kTaps[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  transform_filter(F, C, U, w, 9 * C, 9, kTaps);
  winograd_pass(N, C, H, W, F, x, U, y);
}

void winograd_conv_backward_data(const Shape& image, const Shape& filter, const float* dy, const float* w,
                                 float* dx) {
  const int64_t N = image[0], C = image[1], H = image[2], W = image[3], F = filter[0];
  uint16_t* U = thread_buffer<uint16_t, WinogradFilter>(16 * F * C);
  static constexpr int kRotated[9] = {8, 7, 6, 5, 4, 3, 2, 1, 0};  // tap (r, s) reads (2 − r, 2 − s)
  transform_filter(C, F, U, w, 9, 9 * C, kRotated);  // its filters: the channels
  winograd_pass(N, F, H, W, C, dy, U, dx);
}

template <class Image>
void winograd_conv_backward_filter(const Shape& image, const Shape& filter, const Image* x, const float* dy,
                                   float* dw) {
  const int64_t N = image[0], C = image[1], H = image[2], W = image[3], F = filter[0];
  std::vector<float*> partials(omp_get_max_threads(), nullptr);
#pragma omp parallel
  {
    float* sums = thread_buffer<float, WinogradFilterSums>(16 * C * F);
    if (filter_sums(N, C, H, W, F, x, dy, sums)) partials[omp_get_thread_num()] = sums;
#pragma omp barrier
    // dw[f, c] = Gᵀ dU G of the threads' sums added in thread order: the loss reaches the filter
    // g only through U = G g Gᵀ
    float* total = thread_buffer<float, WinogradFilterTotal>(16 * F);
#pragma omp for
    for (int64_t c = 0; c < C; ++c) {
      add_thread_sums(partials, 16, C, F, c, total);
      for (int64_t f = 0; f < F; ++f) {
        float du[4][4], t[3][4];  // dU of (f, c), then Gᵀ dU
        for (int xi = 0; xi < 16; ++xi) du[xi / 4][xi % 4] = total[xi * F + f];
        for (int j = 0; j < 4; ++j) {
          t[0][j] = du[0][j] + 0.5f * (du[1][j] + du[2][j]);
          t[1][j] = 0.5f * (du[1][j] - du[2][j]);
          t[2][j] = 0.5f * (du[1][j] + du[2][j]) + du[3][j];
        }
        float* out = dw + (f * C + c) * 9;
        for (int r = 0; r < 3; ++r) {
          out[r * 3 + 0] = t[r][0] + 0.5f * (t[r][1] + t[r][2]);
          out[r * 3 + 1] = 0.5f * (t[r][1] - t[r][2]);
          out[r * 3 + 2] = 0.5f * (t[r][1] + t[r][2]) + t[r][3];
        }
      }
    }
  }
}

template void winograd_conv_forward(const Shape&, const Shape&, const float*, const float*, float*);
template void winograd_conv_forward(const Shape&, const Shape&, const bfloat16*, const float*, float*);
template void winograd_conv_backward_filter(const Shape&, const Shape&, const float*, const float*, float*);
template void winograd_conv_backward_filter(const Shape&, const Shape&, const bfloat16*, const float*, float*);
#endif

}  // namespace margin::cpu
