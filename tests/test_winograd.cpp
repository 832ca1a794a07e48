// tests/test_winograd.cpp — conv2d's forward, dx and dw by Winograd's F(2×2, 3×3)
// (backends/cpu/winograd.h), switched on, under bf16 autocast on the CPU. The bound, from
// winograd.cpp: with u_b = 2^-8 (bfloat16's unit roundoff), u = 2^-24 (float32's), x̂ = bf16(x)
// and C the channels summed,
//   |got − Σ x̂ w| ≤ (2·u_b + u_b² + (C + 16)·u) · scale,
//   scale = |Aᵀ| [Σ_c (|G| |g_c| |Gᵀ|) ⊙ (|Bᵀ| |x̂_c| |B|)] |A|   (each 2×2 tile's outputs),
// the transformed image and filter each rounded once to bfloat16, their products exact and
// summed in float. dx is the same convolution of dy by the filter with its channels swapped and
// its taps rotated. dw is Gᵀ [Σ_t dM_t ⊙ V_t] G over the tiles t of the batch, with
// dM = A dy Aᵀ and V = Bᵀ x̂ B each rounded once: the same bound with the K tiles (and the
// threads' partial sums) in place of C, against Σ dy x̂ (dy is not rounded: dM is), its scale
//   |Gᵀ| [Σ_t (|A| |dy_t| |Aᵀ|) ⊙ (|Bᵀ| |x̂_t| |B|)] |G|.
// The results must also differ from the direct kernels' somewhere: the Winograd path ran, not
// the direct one (whose results lie within this bound too).
#include <omp.h>

#include <array>
#include <cmath>

#include "backends/cpu/gemm.h"
#include "backends/cpu/winograd.h"
#include "backends/half.h"
#include "conv_cases.h"
#include "core/precision.h"
#include "gradcheck.h"
#include "skip.h"

namespace margin {
namespace {

using namespace testing;

constexpr double kU = 0x1p-24, kUb = 0x1p-8;

// U = G g Gᵀ and V = Bᵀ d B as winograd.cpp computes them in float, rounded to bfloat16.
std::array<double, 16> filter_transform(const float (&g)[3][3]) {
  float u[4][3];
  for (int s = 0; s < 3; ++s) {
    u[0][s] = g[0][s];
    u[1][s] = 0.5f * (g[0][s] + g[1][s] + g[2][s]);
    u[2][s] = 0.5f * (g[0][s] - g[1][s] + g[2][s]);
    u[3][s] = g[2][s];
  }
  std::array<double, 16> U;
  for (int i = 0; i < 4; ++i) {
    const float row[4] = {u[i][0], 0.5f * (u[i][0] + u[i][1] + u[i][2]), 0.5f * (u[i][0] - u[i][1] + u[i][2]), u[i][2]};
    for (int j = 0; j < 4; ++j) U[i * 4 + j] = bf16_float(bf16_bits(row[j]));
  }
  return U;
}
std::array<double, 16> input_transform(const float (&d)[4][4]) {
  float t[4][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  std::array<double, 16> V;
  for (int i = 0; i < 4; ++i) {
    const float v[4] = {t[i][0] - t[i][2], t[i][1] + t[i][2], t[i][2] - t[i][1], t[i][1] - t[i][3]};
    for (int j = 0; j < 4; ++j) V[i * 4 + j] = bf16_float(bf16_bits(v[j]));
  }
  return V;
}

// dM = A dy Aᵀ as winograd.cpp computes it in float, rounded to bfloat16, with its scale
// |A| |dy| |Aᵀ| (A = [1 0; 1 1; 1 −1; 0 −1]).
std::array<double, 16> gradient_transform(const float (&y)[2][2], std::array<double, 16>& scale) {
  float t[4][2];
  for (int b = 0; b < 2; ++b) {
    t[0][b] = y[0][b];
    t[1][b] = y[0][b] + y[1][b];
    t[2][b] = y[0][b] - y[1][b];
    t[3][b] = -y[1][b];
  }
  const double A[4][2] = {{1, 0}, {1, 1}, {1, 1}, {0, 1}};  // |A|
  std::array<double, 16> dM;
  for (int i = 0; i < 4; ++i) {
    const float m[4] = {t[i][0], t[i][0] + t[i][1], t[i][0] - t[i][1], -t[i][1]};
    for (int j = 0; j < 4; ++j) {
      dM[i * 4 + j] = bf16_float(bf16_bits(m[j]));
      scale[i * 4 + j] = 0;
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) scale[i * 4 + j] += A[i][a] * std::abs(y[a][b]) * A[j][b];
    }
  }
  return dM;
}

// The 4×4 patch of x [N, C, H, W] under tile (th, tw) of sample n, channel c: V̂ = Bᵀ d B
// rounded, and its scale |Bᵀ| |d| |B|.
std::array<double, 16> input_tile(const std::vector<double>& x, int64_t n, int64_t c, int64_t C, int64_t H,
                                  int64_t W, int64_t th, int64_t tw, std::array<double, 16>& scale) {
  const double Bt[4][4] = {{1, 0, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 0, 1}};  // |Bᵀ|
  float d[4][4];
  scale.fill(0.0);
  for (int p = 0; p < 4; ++p)
    for (int q = 0; q < 4; ++q) {
      const int64_t h = 2 * th - 1 + p, v = 2 * tw - 1 + q;
      const bool inside = h >= 0 && h < H && v >= 0 && v < W;
      d[p][q] = inside ? static_cast<float>(x[((n * C + c) * H + h) * W + v]) : 0.0f;
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) scale[i * 4 + j] += Bt[i][p] * std::abs(d[p][q]) * Bt[j][q];
    }
  return input_transform(d);
}

// body(n, th, tw, V, V_scale) for each tile of x [N, C, H, W]: V[c] and V_scale[c] channel c's
// input_tile.
template <class Body>
void for_each_tile(const std::vector<double>& x, int64_t N, int64_t C, int64_t H, int64_t W, Body&& body) {
  std::vector<std::array<double, 16>> V(C), V_scale(C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t th = 0; th < (H + 1) / 2; ++th)
      for (int64_t tw = 0; tw < (W + 1) / 2; ++tw) {
        for (int64_t c = 0; c < C; ++c) V[c] = input_tile(x, n, c, C, H, W, th, tw, V_scale[c]);
        body(n, th, tw, V, V_scale);
      }
}

// For each output of the 3x3, stride-1, padding-1 convolution of x [N, C, H, W] (rounded
// already) by w [F, C, 3, 3]: Aᵀ [Σ_c Û_c ⊙ V̂_c] A of the rounded transforms in double
// (`on_rounded`) with its scale |Aᵀ| [Σ_c |Û_c ⊙ V̂_c|] |A|, and the bound's scale against the
// exact convolution, |Aᵀ| [Σ_c (|G| |g_c| |Gᵀ|) ⊙ (|Bᵀ| |x_c| |B|)] |A|.
struct Reference {
  std::vector<double> on_rounded, rounded_scale, exact_scale;
};
Reference winograd_reference(const std::vector<double>& x, const std::vector<double>& w, int64_t N, int64_t C,
                             int64_t H, int64_t W, int64_t F) {
  const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, {0, 0, 1}};  // |G|
  const double At[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};                           // Aᵀ
  std::vector<std::array<double, 16>> U(F * C), U_scale(F * C);
  for (int64_t f = 0; f < F; ++f)
    for (int64_t c = 0; c < C; ++c) {
      float g[3][3];
      for (int r = 0; r < 3; ++r)
        for (int s = 0; s < 3; ++s) g[r][s] = static_cast<float>(w[((f * C + c) * 3 + r) * 3 + s]);
      U[f * C + c] = filter_transform(g);
      U_scale[f * C + c].fill(0.0);
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          for (int r = 0; r < 3; ++r)
            for (int s = 0; s < 3; ++s) U_scale[f * C + c][i * 4 + j] += G[i][r] * std::abs(g[r][s]) * G[j][s];
    }
  Reference ref{std::vector<double>(N * F * H * W), std::vector<double>(N * F * H * W),
                std::vector<double>(N * F * H * W)};
  for_each_tile(x, N, C, H, W, [&](int64_t n, int64_t th, int64_t tw, const auto& V, const auto& V_scale) {
    for (int64_t f = 0; f < F; ++f) {
      double m[16] = {}, m_rounded[16] = {}, m_exact[16] = {};
      for (int64_t c = 0; c < C; ++c)
        for (int k = 0; k < 16; ++k) {
          m[k] += U[f * C + c][k] * V[c][k];
          m_rounded[k] += std::abs(U[f * C + c][k] * V[c][k]);
          m_exact[k] += U_scale[f * C + c][k] * V_scale[c][k];
        }
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
          const int64_t h = 2 * th + i, v = 2 * tw + j;
          if (h >= H || v >= W) continue;
          const int64_t at = ((n * F + f) * H + h) * W + v;
          for (int p = 0; p < 4; ++p)
            for (int q = 0; q < 4; ++q) {
              ref.on_rounded[at] += At[i][p] * m[p * 4 + q] * At[j][q];
              ref.rounded_scale[at] += std::abs(At[i][p] * At[j][q]) * m_rounded[p * 4 + q];
              ref.exact_scale[at] += std::abs(At[i][p] * At[j][q]) * m_exact[p * 4 + q];
            }
        }
    }
  });
  return ref;
}

// For each element of dw [F, C, 3, 3] of the convolution of x̂ [N, C, H, W] (rounded already)
// whose output's gradient is dy [N, F, H, W]: Gᵀ [Σ_t dM̂_t ⊙ V̂_t] G in double, with its scale
// |Gᵀ| [Σ_t |dM̂_t ⊙ V̂_t|] |G|, and the bound's scale against the exact Σ dy x̂,
// |Gᵀ| [Σ_t (|A| |dy_t| |Aᵀ|) ⊙ (|Bᵀ| |x̂_t| |B|)] |G|.
Reference winograd_filter_reference(const std::vector<double>& x, const std::vector<double>& dy, int64_t N,
                                    int64_t C, int64_t H, int64_t W, int64_t F) {
  const double Gt[3][4] = {{1, 0.5, 0.5, 0}, {0, 0.5, -0.5, 0}, {0, 0.5, 0.5, 1}};  // Gᵀ
  std::vector<std::array<double, 16>> dU(F * C), dU_rounded(F * C), dU_exact(F * C);
  for (int64_t i = 0; i < F * C; ++i) dU[i].fill(0.0), dU_rounded[i].fill(0.0), dU_exact[i].fill(0.0);
  for_each_tile(x, N, C, H, W, [&](int64_t n, int64_t th, int64_t tw, const auto& V, const auto& V_scale) {
    for (int64_t f = 0; f < F; ++f) {
      float y[2][2];
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          const int64_t h = 2 * th + a, v = 2 * tw + b;
          y[a][b] = h < H && v < W ? static_cast<float>(dy[((n * F + f) * H + h) * W + v]) : 0.0f;
        }
      std::array<double, 16> dM_scale;
      const std::array<double, 16> dM = gradient_transform(y, dM_scale);
      for (int64_t c = 0; c < C; ++c)
        for (int k = 0; k < 16; ++k) {
          dU[f * C + c][k] += dM[k] * V[c][k];
          dU_rounded[f * C + c][k] += std::abs(dM[k] * V[c][k]);
          dU_exact[f * C + c][k] += dM_scale[k] * V_scale[c][k];
        }
    }
  });
  Reference ref{std::vector<double>(F * C * 9), std::vector<double>(F * C * 9), std::vector<double>(F * C * 9)};
  for (int64_t fc = 0; fc < F * C; ++fc)
    for (int r = 0; r < 3; ++r)
      for (int s = 0; s < 3; ++s)
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) {
            ref.on_rounded[fc * 9 + r * 3 + s] += Gt[r][i] * dU[fc][i * 4 + j] * Gt[s][j];
            ref.rounded_scale[fc * 9 + r * 3 + s] += std::abs(Gt[r][i] * Gt[s][j]) * dU_rounded[fc][i * 4 + j];
            ref.exact_scale[fc * 9 + r * 3 + s] += std::abs(Gt[r][i] * Gt[s][j]) * dU_exact[fc][i * 4 + j];
          }
  return ref;
}

// Every element of got within both bounds: (1) against the rounded transforms' products summed
// in double, the float sums' rounding alone, γ_(C+4) = (C + 4)·u / (1 − (C + 4)·u) of their
// scale (C the terms each sum adds, then two levels of the output transform); (2) against the
// exact convolution, the header's. Reports the worst excess, as a fraction of each bound.
void check_bounds(const char* what, const std::vector<double>& got, const Reference& ref,
                  const std::vector<double>& exact, int64_t C) {
  REQUIRE(got.size() == exact.size());
  const double gamma = (C + 4) * kU / (1 - (C + 4) * kU);
  double worst_1 = 0, worst_2 = 0;
  size_t at_1 = 0, at_2 = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound_1 = gamma * ref.rounded_scale[i] + kU * std::abs(got[i]);
    const double bound_2 = (2 * kUb + kUb * kUb + (C + 16) * kU) * ref.exact_scale[i];
    const double excess_1 = std::abs(got[i] - ref.on_rounded[i]) / std::max(bound_1, 1e-300);
    const double excess_2 = std::abs(got[i] - exact[i]) / std::max(bound_2, 1e-300);
    if (excess_1 > worst_1) worst_1 = excess_1, at_1 = i;
    if (excess_2 > worst_2) worst_2 = excess_2, at_2 = i;
  }
  CAPTURE(what);
  CAPTURE(at_1);
  CAPTURE(got[at_1]);
  CAPTURE(ref.on_rounded[at_1]);
  CHECK(worst_1 <= 1.0);
  CAPTURE(at_2);
  CAPTURE(exact[at_2]);
  CHECK(worst_2 <= 1.0);
}

struct Run {
  std::vector<double> y, dx, dw;
};

// conv2d's y, dx and dw under bf16 autocast on the CPU, Winograd switched on or off.
Run run(const Tensor& x, const Tensor& w, const Tensor& dy, bool winograd) {
  cpu::set_winograd(winograd);
  Tensor xk = x.detach().requires_grad_(), wk = w.detach().requires_grad_();
  Tensor y;
  {
    AutocastScope bf16(Precision::BF16);
    y = conv2d(xk, wk, Tensor(), Conv2dParams{1, 1, 1, 1, 1, 1, 1});
  }
  sum(y * dy).backward();
  cpu::set_winograd(false);
  return {y.to_vector(), xk.grad().to_vector(), wk.grad().to_vector()};
}

size_t differences(const std::vector<double>& a, const std::vector<double>& b) {
  size_t count = 0;
  for (size_t i = 0; i < a.size(); ++i) count += a[i] != b[i];
  return count;
}

TEST_CASE("Winograd F(2x2,3x3) under bf16 autocast: forward, dx and dw within the transformed operands' rounding bound (needs AVX-512 BF16)") {
  cpu::set_bfloat16_kernel(cpu::BFloat16Kernel::kVector);
  if (!cpu::bfloat16_products_on_vector()) {
    cpu::set_bfloat16_kernel(cpu::BFloat16Kernel::kAuto);
    return skip("this CPU has no AVX-512 BF16 (vdpbf16ps)");
  }
  struct Case {
    const char* name;
    int64_t N, C, H, W, F;
  };
  // an odd plane; planes small enough that a block holds several samples, with filters past a
  // block of 64; a row of 35 tiles in two segments; several rows of tiles a block; more tiles
  // than one of dw's chunks (512 tiles for 32 channels and filters), cut inside a row of tiles
  const Case cases[] = {{"odd plane 9x7", 3, 32, 9, 7, 32},
                        {"4x6 planes, several samples a block, 96 filters", 5, 64, 4, 6, 96},
                        {"a row of 35 tiles in two segments", 1, 32, 5, 69, 32},
                        {"12x12, two rows of tiles a block", 2, 32, 12, 12, 64},
                        {"48x48, dw in chunks", 2, 32, 48, 48, 32}};
  Generator gen(29);
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Shape x_shape{c.N, c.C, c.H, c.W}, w_shape{c.F, c.C, 3, 3}, y_shape{c.N, c.F, c.H, c.W};
    Tensor x = Tensor::uniform(x_shape, -1, 1, gen, DType::F32, kCPU);
    Tensor w = Tensor::uniform(w_shape, -1, 1, gen, DType::F32, kCPU);
    Tensor dy = Tensor::uniform(y_shape, -1, 1, gen, DType::F32, kCPU);
    const Conv2dParams same{1, 1, 1, 1, 1, 1, 1};
    Conv2dParams products = same;
    products.operands = DType::BF16;
    cpu::set_winograd(true);
    const bool takes = cpu::winograd_convolution(products, x_shape, w_shape);
    cpu::set_winograd(false);
    REQUIRE(takes);

    const Run winograd = run(x, w, dy, true), direct = run(x, w, dy, false);
    const std::vector<double> xr = bf16_rounded(x.to_vector()), ws = w.to_vector(), dyr = bf16_rounded(dy.to_vector());
    // forward: x̂ by w
    const std::vector<double> y = direct_conv(Tensor::from_vector(xr, x_shape, DType::F64, kCPU),
                                              Tensor::from_vector(ws, w_shape, DType::F64, kCPU), same, y_shape);
    check_bounds("y", winograd.y, winograd_reference(xr, ws, c.N, c.C, c.H, c.W, c.F), y, c.C);
    // dx: dŷ by w with channels swapped, taps rotated
    std::vector<double> flipped(ws.size());
    for (int64_t f = 0; f < c.F; ++f)
      for (int64_t ch = 0; ch < c.C; ++ch)
        for (int64_t tap = 0; tap < 9; ++tap) flipped[(ch * c.F + f) * 9 + tap] = ws[(f * c.C + ch) * 9 + 8 - tap];
    const Shape flipped_shape{c.C, c.F, 3, 3};
    const std::vector<double> dx = direct_conv(Tensor::from_vector(dyr, y_shape, DType::F64, kCPU),
                                               Tensor::from_vector(flipped, flipped_shape, DType::F64, kCPU), same,
                                               x_shape);
    check_bounds("dx", winograd.dx, winograd_reference(dyr, flipped, c.N, c.F, c.H, c.W, c.C), dx, c.F);
    // dw: x̂ by dy, over the batch's tiles, each thread's sums added in the end
    const std::vector<double> dys = dy.to_vector();
    const std::vector<double> dw =
        direct_conv_backward(Tensor::from_vector(xr, x_shape, DType::F64, kCPU), w.to(DType::F64),
                             Tensor::from_vector(dys, y_shape, DType::F64, kCPU), same)
            .dw;
    const int64_t tiles = c.N * ((c.H + 1) / 2) * ((c.W + 1) / 2);
    check_bounds("dw", winograd.dw, winograd_filter_reference(xr, dys, c.N, c.C, c.H, c.W, c.F), dw,
                 tiles + omp_get_max_threads());
    // the Winograd path ran: its roundings are not the direct kernels'
    CHECK(differences(winograd.y, direct.y) > winograd.y.size() / 4);
    CHECK(differences(winograd.dx, direct.dx) > winograd.dx.size() / 4);
    CHECK(differences(winograd.dw, direct.dw) > winograd.dw.size() / 4);
  }
  cpu::set_bfloat16_kernel(cpu::BFloat16Kernel::kAuto);
}

TEST_CASE("Winograd takes only 3x3 convolutions of stride 1 and padding 1 with bf16 products, and only when switched on") {
  const Shape image{2, 32, 8, 8}, filter{32, 32, 3, 3};
  Conv2dParams p{1, 1, 1, 1, 1, 1, 1};
  p.operands = DType::BF16;
  cpu::set_bfloat16_kernel(cpu::BFloat16Kernel::kVector);
  const bool vector = cpu::bfloat16_products_on_vector();
  CHECK_FALSE(cpu::winograd_enabled());
  CHECK_FALSE(cpu::winograd_convolution(p, image, filter));  // off by default
  cpu::set_winograd(true);
  CHECK(cpu::winograd_convolution(p, image, filter) == vector);
  Conv2dParams strided = p, unpadded = p, float32 = p;
  strided.stride_h = strided.stride_w = 2;
  unpadded.pad_h = unpadded.pad_w = 0;
  float32.operands = DType::F32;
  CHECK_FALSE(cpu::winograd_convolution(strided, image, filter));
  CHECK_FALSE(cpu::winograd_convolution(unpadded, image, filter));
  CHECK_FALSE(cpu::winograd_convolution(float32, image, filter));
  CHECK_FALSE(cpu::winograd_convolution(p, image, Shape{32, 32, 1, 1}));
  CHECK_FALSE(cpu::winograd_convolution(p, Shape{2, 16, 8, 8}, Shape{32, 16, 3, 3}));  // channels not in 32s
  cpu::set_bfloat16_kernel(cpu::BFloat16Kernel::kEmulated);  // the float kernel on rounded values
  CHECK_FALSE(cpu::winograd_convolution(p, image, filter));
  cpu::set_winograd(false);
  cpu::set_bfloat16_kernel(cpu::BFloat16Kernel::kAuto);
}

}  // namespace
}  // namespace margin
