// backends/cpu/gemm.cpp — C = alpha·A·B (+ C) the way BLIS and OpenBLAS compute it: blocks of
// A and B are copied ("packed") into the order the inner kernel reads them, and the kernel keeps
// a kRows × kCols tile of C in vector registers while it walks the shared dimension.
//
//   for each block of kNc columns of B and C
//     for each block of kKc of the shared dimension: pack B's block (panels kCols wide,
//                                                    asked of B's PanelSource)
//       for each block of kMc rows of A: pack A's block (panels kRows tall), unless A's rows
//                                         run along k: then the kernel reads them in place
//         for each kCols panel of B, for each kRows panel of A:
//           tile[kRows][kCols] = Σ_k A_panel[k][i] · B_panel[k][j]       (the kernel)
//           C tile = alpha·tile (+ C tile)
//
// The kernel does kRows·kVectors FMAs per k from kVectors loads and kRows broadcasts, all its
// accumulators in registers (8 × 3 of AVX-512's 32: 24 accumulators, 3 B vectors, 1 broadcast).
// Sizes: a packed A panel (kRows × kKc) and B panel (kKc × kCols) stay in L1, the packed B
// block (kKc × kNc, 768 KB for float) in L2.
//
// Why not Eigen, as elsewhere: on one of this project's machines (2 Zen 5 cores, AVX-512, 64 float
// FLOP/cycle each; a plain FMA loop measures ≈ 195 GFLOP/s per core), Eigen 3.4's product
// reaches ≈ 105 GFLOP/s per core on 1024³ and 80–95 on convolution shapes, this one ≈ 145 and
// 120–175 (bench_matmul, bench_layers). The vector type is GCC's vector extension (also Clang's):
// plain arithmetic on it compiles to the machine's widest FMA, and on other machines to narrower
// ones, so there are no intrinsics here. (Without AVX-512 the tile is AVX2's 6 × 16; built
// without -march=native, GCC splits each vector op into SSE halves: correct, not fast.)
#include "backends/cpu/gemm.h"

#if defined(__AVX512F__)
#include <cpuid.h>
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>

#include "backends/cpu/loops.h"
#include "backends/half.h"

namespace margin::cpu {

namespace {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64, kRows = 8, kVectors = 3;  // 32 zmm registers
#else
constexpr int kVectorBytes = 32, kRows = 6, kVectors = 2;  // 16 ymm registers (AVX2's 6 × 16)
#endif

template <class T>
struct Tile {
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
  static constexpr int kLanes = kVectorBytes / sizeof(T);
  static constexpr int kCols = kVectors * kLanes;
};

constexpr int64_t kKc = 256;  // shared-dimension block
constexpr int64_t kMc = kRows * 16;
template <class T>
constexpr int64_t kNc = Tile<T>::kCols * 16;

// ---- interleaving rows: a transpose, in registers ---------------------------------------
// A square block of kLanes × kLanes is transposed in log2(kLanes) rounds: the round of size b
// swaps, within every 2b × 2b block, the two off-diagonal b × b blocks, i.e. it exchanges bit
// b of the row and column indices wherever they differ; after every round each element (i, j)
// sits at (j, i). Each swap is two shuffles of a pair of rows (rows i and i + b, i's bit b 0):
//   row i     gets  x[j] where bit b of j is 0, y[j − b] where it is 1
//   row i + b gets  x[j + b] where bit b of j is 0, y[j] where it is 1
template <class Vec, int L, int b, size_t... j>
Vec low_half_swap(Vec x, Vec y, std::index_sequence<j...>) {
  return __builtin_shufflevector(x, y, ((j & b) ? L + j - b : j)...);
}
template <class Vec, int L, int b, size_t... j>
Vec high_half_swap(Vec x, Vec y, std::index_sequence<j...>) {
  return __builtin_shufflevector(x, y, ((j & b) ? L + j : j + b)...);
}
template <class Vec, int L, int b = L / 2>
void transpose_square(Vec* rows) {
  if constexpr (b > 0) {
    for (int i = 0; i < L; ++i)
      if (!(i & b)) {
        const Vec x = rows[i], y = rows[i + b];
        rows[i] = low_half_swap<Vec, L, b>(x, y, std::make_index_sequence<L>());
        rows[i + b] = high_half_swap<Vec, L, b>(x, y, std::make_index_sequence<L>());
      }
    transpose_square<Vec, L, b / 2>(rows);
  }
}

}  // namespace

// Whole kLanes × kLanes blocks go through transpose_square (one vector load and store per
// row, kLanes·log2(kLanes) shuffles: for float on AVX-512, 16 × 4 shuffles for 256 elements
// where element-wise stores would take 256); the ragged edges element by element.
template <class T>
void interleave_rows(const T* src, int64_t ld, int64_t n, int64_t kc, int width, T* dst) {
  using Vec = typename Tile<T>::Vec;
  constexpr int L = Tile<T>::kLanes;
  const int64_t n_blocked = n / L * L, k_blocked = kc / L * L;
  for (int64_t j = 0; j < n_blocked; j += L)
    for (int64_t k = 0; k < k_blocked; k += L) {
      Vec rows[L];
      for (int i = 0; i < L; ++i) std::memcpy(&rows[i], src + (j + i) * ld + k, sizeof(Vec));
      transpose_square<Vec, L>(rows);
      for (int i = 0; i < L; ++i) std::memcpy(dst + (k + i) * width + j, &rows[i], sizeof(Vec));
    }
  for (int64_t j = 0; j < n; ++j)  // the edges: columns k_blocked.., and rows n_blocked.. entirely
    for (int64_t k = j < n_blocked ? k_blocked : 0; k < kc; ++k) dst[k * width + j] = src[j * ld + k];
}

namespace {

// dst[k·width + i] = m(row0 + i, col0 + k) for i < rows ≤ width, k < cols: a panel of `rows`
// rows of m, interleaved. When m's rows run along k (col_stride 1), this is interleave_rows:
// B of dW = dy·colsᵀ (an A of that shape is read in place instead).
template <class T>
void pack_panel(const StridedMatrix<T>& m, int64_t row0, int64_t rows, int64_t col0, int64_t cols,
                int width, T* dst) {
  const T* origin = &m(row0, col0);
  if (m.row_stride == 1) {
    for (int64_t k = 0; k < cols; ++k) std::copy_n(origin + k * m.col_stride, rows, dst + k * width);
  } else if (m.col_stride == 1) {
    interleave_rows(origin, m.row_stride, rows, cols, width, dst);
  } else {
    for (int64_t i = 0; i < rows; ++i) {
      const T* row = origin + i * m.row_stride;
      for (int64_t k = 0; k < cols; ++k) dst[k * width + i] = row[k * m.col_stride];
    }
  }
}

// Zeroes entries [filled, width) of each of a panel's `steps` rows: the padding of a panel cut
// by the matrix's edge. It only meets tile entries that are never stored; zeros keep stale
// values (denormals, say) out of the arithmetic.
template <class T>
void zero_padding(T* panel, int64_t steps, int64_t filled, int width) {
  if (filled < width)
    for (int64_t k = 0; k < steps; ++k) std::fill(panel + k * width + filled, panel + (k + 1) * width, T(0));
}

// A B held in memory: its panels are panels of its transpose's rows.
template <class T>
struct StridedPanels final : PanelSource<T> {
  StridedMatrix<T> b;
  explicit StridedPanels(const StridedMatrix<T>& b) : PanelSource<T>(b.rows, b.cols), b(b) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, int width, T* dst) const override {
    pack_panel(b.transposed(), j0, n, k0, kc, width, dst);
  }
};

// Where the kernel reads its kRows rows of A: a packed panel (a[k·kRows + i]) or, when A's rows
// run along k, straight from A (a[i·row_stride + k]), which saves a transposing copy.
template <class T>
struct APanel {
  const T* data;
  int64_t row_stride;  // 0: packed
};

// C[i·ldc + j] for i < rows ≤ kRows, j < cols ≤ kCols = alpha · tile (+ C): a kernel's result.
template <class T>
__attribute__((always_inline)) inline void store_tile(const typename Tile<T>::Vec (&tile)[kRows][kVectors], T* c,
                                                      int64_t ldc, int rows, int cols, T alpha, bool accumulate) {
  using Vec = typename Tile<T>::Vec;
  constexpr int kLanes = Tile<T>::kLanes, kCols = Tile<T>::kCols;
  if (rows == kRows && cols == kCols) {
    for (int i = 0; i < kRows; ++i)
      for (int v = 0; v < kVectors; ++v) {
        T* out = c + i * ldc + v * kLanes;
        Vec result = alpha * tile[i][v];
        if (accumulate) {
          Vec old;
          std::memcpy(&old, out, sizeof(Vec));
          result += old;
        }
        std::memcpy(out, &result, sizeof(Vec));
      }
    return;
  }
  T edge[kRows][kCols];  // a tile cut by C's border
  std::memcpy(edge, tile, sizeof(edge));
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      T& out = c[i * ldc + j];
      out = accumulate ? out + alpha * edge[i][j] : alpha * edge[i][j];
    }
}

// C[i·ldc + j] for i < rows ≤ kRows, j < cols ≤ kCols = alpha · Σ_k A(i, k) B(k, j) (+ C),
// from kc steps of an A panel and a packed B panel (kCols per k).
template <class T, bool kPacked>
void tile_kernel(int64_t kc, APanel<T> a, const T* __restrict b, T* c, int64_t ldc, int rows,
                 int cols, T alpha, bool accumulate) {
  using Vec = typename Tile<T>::Vec;
  constexpr int kLanes = Tile<T>::kLanes, kCols = Tile<T>::kCols;
  Vec tile[kRows][kVectors] = {};
  for (int64_t k = 0; k < kc; ++k) {
    Vec b_row[kVectors];
#pragma GCC unroll 8
    for (int v = 0; v < kVectors; ++v)
      b_row[v] = *reinterpret_cast<const Vec*>(b + k * kCols + v * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      T a_ik = kPacked ? a.data[k * kRows + i] : a.data[i * a.row_stride + k];
#pragma GCC unroll 8
      for (int v = 0; v < kVectors; ++v) tile[i][v] += a_ik * b_row[v];
    }
  }
  store_tile<T>(tile, c, ldc, rows, cols, alpha, accumulate);
}

// This thread's packed blocks of A and B (loops.h: kept between calls, aligned for the kernel's
// vector loads), and the same as bfloat16 pairs.
struct PackedA;
struct PackedB;
struct PairedA;
struct PairedB;

// ---- bfloat16 operands ---------------------------------------------------------------------
// The float kernel on bfloat16-rounded operands: a packed panel rounded in place.
template <class T>
void round_panel(T* panel, int64_t count) {
  if constexpr (std::is_same_v<T, float>) round_to_bfloat16(panel, count, panel);
}

// vdpbf16ps multiplies 32-bit lanes holding two bfloat16 values each, pairwise, and adds both
// products to a float lane: lane j of a step holds rows k = 2p (low half) and 2p + 1 (high
// half) of a panel's column j. pair_rows turns a packed float panel (kc rows of `width`) into
// that layout, rounding each value to bfloat16; an odd kc gets a zero partner.
void pair_rows(const float* panel, int64_t kc, int width, uint32_t* pairs) {
  for (int64_t p = 0; p < kc / 2; ++p) {
    const float* even = panel + 2 * p * width;
    const float* odd = even + width;
    uint32_t* out = pairs + p * width;
    for (int j = 0; j < width; ++j) out[j] = bf16_bits(even[j]) | uint32_t(bf16_bits(odd[j])) << 16;
  }
  if (kc % 2) {
    const float* last = panel + (kc - 1) * width;
    uint32_t* out = pairs + kc / 2 * width;
    for (int j = 0; j < width; ++j) out[j] = bf16_bits(last[j]);
  }
}

#if defined(__AVX512F__)
// An A panel paired straight from A's rows when they run along k (col_stride 1), without the
// float staging panel: blocks of 8 rows × 16 k are rounded a row at a time (16 bfloat16 = 8
// pairs, in the row's own order), then the 8 × 8 pairs are transposed in registers
// (transpose_square) so that each k-pair step holds its 8 rows side by side. The ragged end
// (and a panel of fewer than 8 rows) goes element by element.
void pair_rows_in_place(const float* a, int64_t row_stride, int rows, int64_t kc, uint32_t* pairs) {
  static_assert(kRows == 8, "one 8 x 8 block of pairs a panel");
  typedef uint32_t Pairs __attribute__((vector_size(32)));
  const int64_t blocked = rows == kRows ? kc / 16 * 16 : 0;
  for (int64_t k = 0; k < blocked; k += 16) {
    Pairs block[kRows];
    for (int i = 0; i < kRows; ++i) {
      uint16_t halves[16];
      for (int t = 0; t < 16; ++t) halves[t] = bf16_bits(a[i * row_stride + k + t]);
      std::memcpy(&block[i], halves, sizeof(halves));
    }
    transpose_square<Pairs, kRows>(block);  // block[p] holds pair p of every row
    for (int p = 0; p < kRows; ++p) std::memcpy(pairs + (k / 2 + p) * kRows, &block[p], sizeof(Pairs));
  }
  for (int64_t p = blocked / 2; p < (kc + 1) / 2; ++p)
    for (int i = 0; i < kRows; ++i) {
      const float* row = a + i * row_stride;
      const uint32_t low = i < rows ? bf16_bits(row[2 * p]) : 0;
      const uint32_t high = i < rows && 2 * p + 1 < kc ? bf16_bits(row[2 * p + 1]) : 0;
      pairs[p * kRows + i] = low | high << 16;
    }
}

// tile_kernel on pairs: `steps` pair-steps of an A panel (kRows words a step) and a B panel
// (kCols words a step); each instruction adds 2 products to 16 lanes.
__attribute__((target("avx512f,avx512bf16"))) void tile_kernel_bfloat16(int64_t steps, const uint32_t* a,
                                                                      const uint32_t* b, float* c, int64_t ldc,
                                                                      int rows, int cols, float alpha,
                                                                      bool accumulate) {
  constexpr int kCols = Tile<float>::kCols, kLanes = Tile<float>::kLanes;
  __m512 tile[kRows][kVectors];
  for (int i = 0; i < kRows; ++i)
    for (int v = 0; v < kVectors; ++v) tile[i][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < steps; ++p) {
    __m512bh b_row[kVectors];
#pragma GCC unroll 8
    for (int v = 0; v < kVectors; ++v) b_row[v] = (__m512bh)_mm512_load_si512(b + p * kCols + v * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m512bh a_pair = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[p * kRows + i]));
#pragma GCC unroll 8
      for (int v = 0; v < kVectors; ++v) tile[i][v] = _mm512_dpbf16_ps(tile[i][v], a_pair, b_row[v]);
    }
  }
  using Vec = Tile<float>::Vec;
  store_tile<float>(reinterpret_cast<const Vec(&)[kRows][kVectors]>(tile), c, ldc, rows, cols, alpha, accumulate);
}
#endif

#if defined(__AVX512F__)
// ---- bfloat16 operands on AMX ----------------------------------------------------------------
// AMX holds eight 16-row tiles of 64 bytes a row; tdpbf16ps adds the product of an A tile
// (16 rows × 16 k-pairs, row-major pairs) and a B tile (16 k-pair rows × 16 columns: the pair
// layout of pair_rows above) to a 16 × 16 float tile: 8,192 multiply-adds an instruction. The
// kernel keeps a 16 × kCols block of C in three tiles (0–2), loads A into tile 3 and B's three
// 16-column parts into tiles 4–6, and walks k 32 values (16 pairs) at a time; k is padded to a
// multiple of 32 with zero pairs, and A to 16 rows with zero rows. Like vdpbf16ps, tdpbf16ps
// treats subnormal bfloat16 inputs and results as zero (on this project's Intel machine, a
// bfloat16 2^-127 times 2^126 gives 0 on both, not 0.5): operands below 2^-126 in magnitude
// count as 0, far below anything the tests' bounds or a network's data notice.
constexpr int kTileRows = 16, kTilePairs = 16;

// The tile shapes (palette 1: every tile 16 rows of 64 bytes), loaded once a product per thread.
struct TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// A's rows [row0, row0 + rows) and k in [k0, k0 + kc) as kTileRows rows of `padded` pairs each
// (pair p of a row: k0 + 2p low, k0 + 2p + 1 high; zeros past kc and past `rows`).
void pair_rows_amx(const StridedMatrix<float>& a, int64_t row0, int64_t rows, int64_t k0, int64_t kc,
                   int64_t padded, uint32_t* pairs) {
  for (int64_t r = 0; r < kTileRows; ++r) {
    uint32_t* out = pairs + r * padded;
    int64_t p = 0;
    if (r < rows) {
      for (; p < kc / 2; ++p)
        out[p] = bf16_bits(a(row0 + r, k0 + 2 * p)) | uint32_t(bf16_bits(a(row0 + r, k0 + 2 * p + 1))) << 16;
      if (kc % 2) out[p++] = bf16_bits(a(row0 + r, k0 + kc - 1));
    }
    std::fill(out + p, out + padded, 0u);
  }
}

// C[i·ldc + j] for i < rows ≤ 16, j < cols ≤ kCols = alpha · Σ_k A(i, k) B(k, j) (+ C), from
// `chunks` × 16 pairs of a paired A block (its rows `padded` pairs apart) and of a B panel.
__attribute__((target("amx-tile,amx-bf16"))) void tile_kernel_amx(int64_t chunks, const uint32_t* a, int64_t padded,
                                                                 const uint32_t* b, float* c, int64_t ldc, int rows,
                                                                 int cols, float alpha, bool accumulate) {
  constexpr int kCols = Tile<float>::kCols;
  static_assert(kCols == 3 * 16, "a B panel is three 16-column tiles");
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  for (int64_t q = 0; q < chunks; ++q) {
    const uint32_t* b_rows = b + q * kTilePairs * kCols;
    _tile_loadd(3, a + q * kTilePairs, padded * 4);
    _tile_loadd(4, b_rows, kCols * 4);
    _tile_loadd(5, b_rows + 16, kCols * 4);
    _tile_loadd(6, b_rows + 32, kCols * 4);
    _tile_dpbf16ps(0, 3, 4);
    _tile_dpbf16ps(1, 3, 5);
    _tile_dpbf16ps(2, 3, 6);
  }
  alignas(64) float sums[kTileRows][kCols];
  _tile_stored(0, &sums[0][0], kCols * 4);
  _tile_stored(1, &sums[0][16], kCols * 4);
  _tile_stored(2, &sums[0][32], kCols * 4);
  for (int i = 0; i < rows; ++i) {
    float* out = c + i * ldc;
    if (accumulate)
      for (int j = 0; j < cols; ++j) out[j] += alpha * sums[i][j];
    else
      for (int j = 0; j < cols; ++j) out[j] = alpha * sums[i][j];
  }
}
#endif

std::atomic<BFloat16Kernel> bfloat16_kernel{BFloat16Kernel::kAuto};

// Whether this CPU runs vdpbf16ps (and this build has the kernel: an AVX-512 build).
bool cpu_has_bfloat16() {
#if defined(__AVX512F__)
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

// Whether this CPU has AMX with bfloat16 (CPUID leaf 7: EDX bit 24 AMX-TILE, bit 22 AMX-BF16)
// and Linux lets this process use the tile registers (arch_prctl ARCH_REQ_XCOMP_PERM for
// XTILEDATA, Linux 5.16 on).
bool cpu_has_amx() {
#if defined(__AVX512F__) && defined(__linux__)
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(edx >> 24 & 1) || !(edx >> 22 & 1)) return false;
    constexpr long kRequestPermission = 0x1023, kTileData = 18;
    return syscall(SYS_arch_prctl, kRequestPermission, kTileData) == 0;
  }();
  return has;
#else
  return false;
#endif
}

enum class Picked : uint8_t { kAmx, kVector, kEmulated };
Picked picked_bfloat16_kernel() {
  const BFloat16Kernel asked = bfloat16_kernel;
  if (asked == BFloat16Kernel::kAuto && cpu_has_amx()) return Picked::kAmx;
  if (asked != BFloat16Kernel::kEmulated && cpu_has_bfloat16()) return Picked::kVector;
  return Picked::kEmulated;
}

}  // namespace

void set_bfloat16_kernel(BFloat16Kernel kernel) { bfloat16_kernel = kernel; }

bool bfloat16_products_on_amx() { return picked_bfloat16_kernel() == Picked::kAmx; }
bool bfloat16_products_on_vector() { return picked_bfloat16_kernel() == Picked::kVector; }

#if defined(__AVX512F__)
__attribute__((target("amx-tile"))) void configure_amx_tiles() {
  // A static object: GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of the
  // configuration, so the stores to a local one past those were dropped as dead.
  static const TileConfig config = [] {
    TileConfig tiles;
    for (int t = 0; t < 8; ++t) tiles.rows[t] = kTileRows, tiles.bytes_per_row[t] = 64;
    return tiles;
  }();
  _tile_loadconfig(&config);
}
__attribute__((target("amx-tile"))) void release_amx_tiles() { _tile_release(); }
#endif

void round_to_bfloat16(const float* in, int64_t count, float* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = bf16_float(bf16_bits(in[i]));
}

const char* bfloat16_kernel_name() {
  switch (picked_bfloat16_kernel()) {
    case Picked::kAmx: return "AMX (tdpbf16ps)";
    case Picked::kVector: return "AVX-512 BF16 (vdpbf16ps)";
    case Picked::kEmulated: break;
  }
  return "the float32 kernel on rounded operands";
}

Operands operands_of(DType operands, DType dtype, const char* kernel) {
  if (operands == DType::F32) return Operands::kFloat;
  if (operands == DType::BF16 && dtype == DType::F32) return Operands::kBFloat16;
  if (operands == DType::F16)
    fail(kernel, ": float16 products run on CUDA only; the CPU multiplies bfloat16 (--precision bf16) or float32");
  fail(kernel, ": ", dtype_name(operands), " operands for ", dtype_name(dtype),
       " data (expected float32 operands, or bfloat16 for float32 data)");
}

namespace {

// bfloat16 operands on the float kernel: said once a process.
void notice_emulated_bfloat16() {
  static std::atomic<bool> said{false};
  if (bfloat16_kernel == BFloat16Kernel::kAuto && !said.exchange(true))
    std::fprintf(stderr, "margin: this CPU has neither AMX nor AVX-512 BF16 (or the build no AVX-512): bfloat16 products run "
                         "on the float32 kernel (same results, float32 speed)\n");
}

#if defined(__AVX512F__)
// B's columns [col, col + n) and k in [k0, k0 + kc) as a paired panel of kCols columns
// (pair_rows, through the float staging panel), zero pairs up to `steps` ≥ ⌈kc/2⌉ pair-rows.
void pair_b_panel(const PanelSource<float>& b, int64_t k0, int64_t kc, int64_t col, int64_t n, int64_t steps,
                  float* staging, uint32_t* panel) {
  constexpr int kCols = Tile<float>::kCols;
  b.pack(k0, kc, col, n, kCols, staging);
  zero_padding(staging, kc, n, kCols);
  pair_rows(staging, kc, kCols, panel);
  std::fill(panel + (kc + 1) / 2 * kCols, panel + steps * kCols, 0u);
}

// blocked_product with bfloat16 operands on vdpbf16ps: each panel is packed as floats into a
// staging panel (the same packing as the float path), then paired and rounded (pair_rows).
void blocked_product_bfloat16(const StridedMatrix<float>& a, const PanelSource<float>& b, int64_t col_begin,
                              int64_t col_end, float* c, int64_t ldc, float alpha, bool accumulate) {
  constexpr int kCols = Tile<float>::kCols;
  const int64_t M = a.rows, K = a.cols;
  float* staging = thread_buffer<float, PackedB>(kKc * kCols);
  uint32_t* paired_a = thread_buffer<uint32_t, PairedA>(kMc * (kKc / 2));
  uint32_t* paired_b = thread_buffer<uint32_t, PairedB>(kNc<float> * (kKc / 2));
  for (int64_t j0 = col_begin; j0 < col_end; j0 += kNc<float>) {
    const int64_t nc = std::min(kNc<float>, col_end - j0);
    for (int64_t k0 = 0; k0 < K; k0 += kKc) {
      const int64_t kc = std::min(kKc, K - k0), steps = (kc + 1) / 2;
      const bool add = accumulate || k0 > 0;
      for (int64_t j = 0; j < nc; j += kCols)
        pair_b_panel(b, k0, kc, j0 + j, std::min<int64_t>(kCols, nc - j), steps, staging, paired_b + j * steps);
      for (int64_t i0 = 0; i0 < M; i0 += kMc) {
        const int64_t mc = std::min(kMc, M - i0);
        for (int64_t i = 0; i < mc; i += kRows) {
          const int64_t rows = std::min<int64_t>(kRows, mc - i);
          if (a.col_stride == 1) {
            pair_rows_in_place(&a(i0 + i, k0), a.row_stride, static_cast<int>(rows), kc, paired_a + i * steps);
          } else {
            pack_panel(a, i0 + i, rows, k0, kc, kRows, staging);
            zero_padding(staging, kc, rows, kRows);
            pair_rows(staging, kc, kRows, paired_a + i * steps);
          }
        }
        for (int64_t j = 0; j < nc; j += kCols)
          for (int64_t i = 0; i < mc; i += kRows)
            tile_kernel_bfloat16(steps, paired_a + i * steps, paired_b + j * steps, c + (i0 + i) * ldc + j0 + j, ldc,
                                 static_cast<int>(std::min<int64_t>(kRows, mc - i)),
                                 static_cast<int>(std::min<int64_t>(kCols, nc - j)), alpha, add);
      }
    }
  }
}

// blocked_product with bfloat16 operands on AMX: B's panels paired as for vdpbf16ps (k padded
// to whole tiles), A's blocks paired row by row (pair_rows_amx), tile_kernel_amx per 16 × kCols.
void blocked_product_amx(const StridedMatrix<float>& a, const PanelSource<float>& b, int64_t col_begin,
                         int64_t col_end, float* c, int64_t ldc, float alpha, bool accumulate) {
  constexpr int kCols = Tile<float>::kCols;
  static_assert(kKc % (2 * kTilePairs) == 0 && kMc % kTileRows == 0, "blocks of whole tiles");
  const int64_t M = a.rows, K = a.cols;
  float* staging = thread_buffer<float, PackedB>(kKc * kCols);
  uint32_t* paired_a = thread_buffer<uint32_t, PairedA>(kMc * (kKc / 2));
  uint32_t* paired_b = thread_buffer<uint32_t, PairedB>(kNc<float> * (kKc / 2));
  configure_amx_tiles();
  for (int64_t j0 = col_begin; j0 < col_end; j0 += kNc<float>) {
    const int64_t nc = std::min(kNc<float>, col_end - j0);
    for (int64_t k0 = 0; k0 < K; k0 += kKc) {
      const int64_t kc = std::min(kKc, K - k0), steps = (kc + 1) / 2;
      const int64_t padded = (steps + kTilePairs - 1) / kTilePairs * kTilePairs;
      const bool add = accumulate || k0 > 0;
      for (int64_t j = 0; j < nc; j += kCols)
        pair_b_panel(b, k0, kc, j0 + j, std::min<int64_t>(kCols, nc - j), padded, staging, paired_b + j * padded);
      for (int64_t i0 = 0; i0 < M; i0 += kMc) {
        const int64_t mc = std::min(kMc, M - i0);
        for (int64_t i = 0; i < mc; i += kTileRows)
          pair_rows_amx(a, i0 + i, std::min<int64_t>(kTileRows, mc - i), k0, kc, padded, paired_a + i * padded);
        for (int64_t j = 0; j < nc; j += kCols)
          for (int64_t i = 0; i < mc; i += kTileRows)
            tile_kernel_amx(padded / kTilePairs, paired_a + i * padded, padded, paired_b + j * padded,
                            c + (i0 + i) * ldc + j0 + j, ldc, static_cast<int>(std::min<int64_t>(kTileRows, mc - i)),
                            static_cast<int>(std::min<int64_t>(kCols, nc - j)), alpha, add);
      }
    }
  }
  release_amx_tiles();
}
#endif

// Columns [col_begin, col_end) of C = alpha·A·B (+ C), the blocked loops of the file header.
template <class T>
void blocked_product(const StridedMatrix<T>& a, const PanelSource<T>& b, int64_t col_begin,
                     int64_t col_end, T* c, int64_t ldc, T alpha, bool accumulate, Operands operands) {
  const bool round = operands == Operands::kBFloat16;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>)
    if (round) switch (picked_bfloat16_kernel()) {
        case Picked::kAmx: return blocked_product_amx(a, b, col_begin, col_end, c, ldc, alpha, accumulate);
        case Picked::kVector: return blocked_product_bfloat16(a, b, col_begin, col_end, c, ldc, alpha, accumulate);
        case Picked::kEmulated: break;
      }
#endif
  if (round) notice_emulated_bfloat16();
  constexpr int kCols = Tile<T>::kCols;
  const int64_t M = a.rows, K = a.cols;
  // A's full panels are read in place when its rows run along k (and need no rounding); its
  // last, short panel is always packed (zero rows), as is every panel of an A whose columns
  // are contiguous.
  const bool a_in_place = a.col_stride == 1 && !round;
  T* packed_a = thread_buffer<T, PackedA>(kMc * kKc);
  T* packed_b = thread_buffer<T, PackedB>(kKc * kNc<T>);
  for (int64_t j0 = col_begin; j0 < col_end; j0 += kNc<T>) {
    const int64_t nc = std::min(kNc<T>, col_end - j0);
    for (int64_t k0 = 0; k0 < K; k0 += kKc) {
      const int64_t kc = std::min(kKc, K - k0);
      const bool add = accumulate || k0 > 0;
      for (int64_t j = 0; j < nc; j += kCols) {
        const int64_t n = std::min<int64_t>(kCols, nc - j);
        b.pack(k0, kc, j0 + j, n, kCols, packed_b + j * kc);
        zero_padding(packed_b + j * kc, kc, n, kCols);
        if (round) round_panel(packed_b + j * kc, kc * kCols);
      }
      for (int64_t i0 = 0; i0 < M; i0 += kMc) {
        const int64_t mc = std::min(kMc, M - i0);
        for (int64_t i = 0; i < mc; i += kRows)
          if (!a_in_place || mc - i < kRows) {
            const int64_t rows = std::min<int64_t>(kRows, mc - i);
            pack_panel(a, i0 + i, rows, k0, kc, kRows, packed_a + i * kc);
            zero_padding(packed_a + i * kc, kc, rows, kRows);
            if (round) round_panel(packed_a + i * kc, kc * kRows);
          }
        for (int64_t j = 0; j < nc; j += kCols)
          for (int64_t i = 0; i < mc; i += kRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kRows, mc - i));
            const int cols = static_cast<int>(std::min<int64_t>(kCols, nc - j));
            T* out = c + (i0 + i) * ldc + j0 + j;
            if (a_in_place && rows == kRows)
              tile_kernel<T, false>(kc, {&a(i0 + i, k0), a.row_stride}, packed_b + j * kc, out,
                                    ldc, rows, cols, alpha, add);
            else
              tile_kernel<T, true>(kc, {packed_a + i * kc, 0}, packed_b + j * kc, out, ldc, rows,
                                   cols, alpha, add);
          }
      }
    }
  }
}

// Columns [col_begin, col_end) of the product, on the calling thread.
template <class T>
void product(const StridedMatrix<T>& a, const PanelSource<T>& b, int64_t col_begin,
             int64_t col_end, T* c, int64_t ldc, T alpha, bool accumulate, Operands operands) {
  if (a.rows == 0 || col_begin >= col_end) return;
  if (a.cols == 0) {  // an empty sum
    if (!accumulate)
      for (int64_t i = 0; i < a.rows; ++i) std::fill(c + i * ldc + col_begin, c + i * ldc + col_end, T(0));
    return;
  }
  blocked_product(a, b, col_begin, col_end, c, ldc, alpha, accumulate, operands);
}

}  // namespace

template <class T>
void gemm(const StridedMatrix<T>& a, const PanelSource<T>& b, T* c, int64_t ldc, T alpha,
          bool accumulate, Operands operands) {
  product(a, b, 0, b.cols, c, ldc, alpha, accumulate, operands);
}

// Each thread computes a stripe of C: a block of columns (or of rows, when C is taller than
// wide), cut on tile boundaries; it packs its own copy of the shared operand's block.
template <class T>
void gemm_threaded(const StridedMatrix<T>& a, const PanelSource<T>& b, T* c, int64_t ldc,
                   T alpha, bool accumulate, Operands operands) {
  const int64_t M = a.rows, N = b.cols, K = a.cols;
  const int threads = omp_get_max_threads();
  if (threads == 1 || omp_in_parallel() || M * N * K < (int64_t(1) << 21)) {
    product(a, b, 0, N, c, ldc, alpha, accumulate, operands);
    return;
  }
  const bool by_columns = N >= M;
  const int64_t extent = by_columns ? N : M, unit = by_columns ? Tile<T>::kCols : kRows;
  const int64_t units = (extent + unit - 1) / unit;
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t begin = std::min(extent, units * t / count * unit);
    const int64_t end = std::min(extent, units * (t + 1) / count * unit);
    if (begin < end) {
      if (by_columns) {
        product(a, b, begin, end, c, ldc, alpha, accumulate, operands);
      } else {
        StridedMatrix<T> stripe{a.data + begin * a.row_stride, end - begin, K, a.row_stride, a.col_stride};
        product(stripe, b, 0, N, c + begin * ldc, ldc, alpha, accumulate, operands);
      }
    }
  }
}

template <class T>
void gemm(const StridedMatrix<T>& a, const StridedMatrix<T>& b, T* c, int64_t ldc, T alpha,
          bool accumulate, Operands operands) {
  gemm(a, StridedPanels<T>(b), c, ldc, alpha, accumulate, operands);
}

template <class T>
void gemm_threaded(const StridedMatrix<T>& a, const StridedMatrix<T>& b, T* c, int64_t ldc,
                   T alpha, bool accumulate, Operands operands) {
  gemm_threaded(a, StridedPanels<T>(b), c, ldc, alpha, accumulate, operands);
}

template void gemm(const StridedMatrix<float>&, const StridedMatrix<float>&, float*, int64_t, float, bool, Operands);
template void gemm(const StridedMatrix<double>&, const StridedMatrix<double>&, double*, int64_t, double, bool, Operands);
template void gemm_threaded(const StridedMatrix<float>&, const StridedMatrix<float>&, float*, int64_t, float, bool, Operands);
template void gemm_threaded(const StridedMatrix<double>&, const StridedMatrix<double>&, double*, int64_t, double, bool, Operands);
template void interleave_rows(const float*, int64_t, int64_t, int64_t, int, float*);
template void interleave_rows(const double*, int64_t, int64_t, int64_t, int, double*);
template void gemm(const StridedMatrix<float>&, const PanelSource<float>&, float*, int64_t, float, bool, Operands);
template void gemm(const StridedMatrix<double>&, const PanelSource<double>&, double*, int64_t, double, bool, Operands);
template void gemm_threaded(const StridedMatrix<float>&, const PanelSource<float>&, float*, int64_t, float, bool, Operands);
template void gemm_threaded(const StridedMatrix<double>&, const PanelSource<double>&, double*, int64_t, double, bool, Operands);

}  // namespace margin::cpu
