// tests/test_gemm.cpp — the CPU backend's own matrix product (backends/cpu/gemm.h) against the
// three-loop definition C(i, j) = alpha · Σ_k A(i, k) B(k, j) (+ C), on sizes chosen to cross
// every block edge of gemm.cpp (tiles of 8 × 48 floats, blocks of 256 along k, 128 rows,
// 768 columns), through every transpose, in float32 and float64, one thread and threaded.
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/gemm.h"
#include "backends/half.h"
#include "doctest/doctest.h"

namespace margin::cpu {
namespace {

template <class T>
std::vector<T> random_values(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(uniform(rng));
  return v;
}

struct ProductCase {
  int64_t M, N, K;
  bool trans_a, trans_b;
};

template <class T>
void check_against_definition(const ProductCase& p, bool threaded, bool accumulate, T alpha) {
  std::mt19937 rng(static_cast<unsigned>(p.M * 131 + p.N * 17 + p.K));
  // A is stored as [M, K] or, transposed, [K, M]; likewise B. C's rows are ldc = N + 3 apart.
  std::vector<T> a = random_values<T>(p.M * p.K, rng), b = random_values<T>(p.K * p.N, rng);
  const int64_t ldc = p.N + 3;
  std::vector<T> c = random_values<T>(p.M * ldc, rng);
  if (!accumulate)  // C is only written: garbage there, even NaN, must not leak into the result
    for (size_t i = 0; i < c.size(); i += 7) c[i] = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> start = c;
  auto A = p.trans_a ? StridedMatrix<T>::row_major(a.data(), p.K, p.M).transposed()
                     : StridedMatrix<T>::row_major(a.data(), p.M, p.K);
  auto B = p.trans_b ? StridedMatrix<T>::row_major(b.data(), p.N, p.K).transposed()
                     : StridedMatrix<T>::row_major(b.data(), p.K, p.N);
  if (threaded) gemm_threaded(A, B, c.data(), ldc, alpha, accumulate);
  else gemm(A, B, c.data(), ldc, alpha, accumulate);
  const double tolerance = sizeof(T) == 4 ? 1e-5 : 1e-13;
  int wrong = 0;
  for (int64_t i = 0; i < p.M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      double expected = start[i * ldc + j];
      if (j < p.N) {
        double sum = 0, magnitude = 0;
        for (int64_t k = 0; k < p.K; ++k) {
          sum += static_cast<double>(A(i, k)) * B(k, j);
          magnitude += std::abs(static_cast<double>(A(i, k)) * B(k, j));
        }
        expected = alpha * sum + (accumulate ? expected : 0.0);
        double error = std::abs(c[i * ldc + j] - expected);
        if (!(error <= tolerance * (1 + std::abs(alpha) * magnitude + std::abs(expected))) && wrong++ < 3)
          FAIL_CHECK("C(" << i << ", " << j << ") = " << c[i * ldc + j] << ", expected " << expected);
      } else if (!(c[i * ldc + j] == expected || (std::isnan(expected) && std::isnan(c[i * ldc + j]))) && wrong++ < 3) {
        FAIL_CHECK("C(" << i << ", " << j << ") beyond N was touched");
      }
    }
  }
  CHECK(wrong == 0);
}

const std::vector<ProductCase> kCases = {
    {1, 1, 1, false, false},      {8, 48, 256, false, false},    // one full tile, one k block
    {7, 47, 3, false, false},     {9, 49, 257, false, false},    // one short of / past every edge
    {130, 50, 300, true, false},  {33, 800, 40, false, true},    // past the 128-row and 768-column blocks
    {64, 70, 600, true, true},    {200, 5, 513, false, true},
};

TEST_CASE("gemm: every transpose and block edge matches the three-loop definition (float32, float64)") {
  for (const ProductCase& p : kCases)
    for (bool threaded : {false, true})
      for (bool accumulate : {false, true}) {
        CAPTURE(p.M); CAPTURE(p.N); CAPTURE(p.K); CAPTURE(p.trans_a); CAPTURE(p.trans_b);
        CAPTURE(threaded); CAPTURE(accumulate);
        check_against_definition<float>(p, threaded, accumulate, 1.0f);
        check_against_definition<double>(p, threaded, accumulate, -0.5);
      }
}

// bfloat16 operands. With u = 2^-24 (float's unit roundoff) and u_b = 2^-8 (bfloat16's), and
// â = bf16(a), b̂ = bf16(b) the rounded operands, two bounds hold entry by entry:
//   1. |C − Σ_k â b̂| ≤ γ_K · Σ_k |â b̂|,   γ_K = K·u / (1 − K·u):
//      the products of bfloat16 values are exact in float, so the only error left is float's
//      summation of K terms (vdpbf16ps and tdpbf16ps add two products a step, each add rounded once).
//      This pins the rounding itself: a truncated, or unrounded, operand misses it by far.
//   2. |C − Σ_k a b| ≤ (2·u_b + u_b²) · Σ_k |a b| + γ_K · Σ_k |â b̂|:
//      against the exact float product, each operand is off by at most a factor (1 ± u_b).
void check_bfloat16_product(const ProductCase& p, bool threaded, bool accumulate) {
  std::mt19937 rng(static_cast<unsigned>(p.M * 31 + p.N * 7 + p.K));
  std::vector<float> a = random_values<float>(p.M * p.K, rng), b = random_values<float>(p.K * p.N, rng);
  const int64_t ldc = p.N + 1;
  std::vector<float> c = random_values<float>(p.M * ldc, rng);
  const std::vector<float> start = c;
  auto A = p.trans_a ? StridedMatrix<float>::row_major(a.data(), p.K, p.M).transposed()
                     : StridedMatrix<float>::row_major(a.data(), p.M, p.K);
  auto B = p.trans_b ? StridedMatrix<float>::row_major(b.data(), p.N, p.K).transposed()
                     : StridedMatrix<float>::row_major(b.data(), p.K, p.N);
  if (threaded) gemm_threaded(A, B, c.data(), ldc, 1.0f, accumulate, Operands::kBFloat16);
  else gemm(A, B, c.data(), ldc, 1.0f, accumulate, Operands::kBFloat16);
  const double u = std::ldexp(1.0, -24), u_b = std::ldexp(1.0, -8);
  const double gamma = p.K * u / (1 - p.K * u);
  auto rounded = [](float x) { return static_cast<double>(bf16_float(bf16_bits(x))); };
  int wrong = 0;
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      double rounded_sum = 0, rounded_magnitude = 0, exact_sum = 0, exact_magnitude = 0;
      for (int64_t k = 0; k < p.K; ++k) {
        const double product = rounded(A(i, k)) * rounded(B(k, j)), exact = double(A(i, k)) * B(k, j);
        rounded_sum += product, rounded_magnitude += std::abs(product);
        exact_sum += exact, exact_magnitude += std::abs(exact);
      }
      const double base = accumulate ? start[i * ldc + j] : 0.0;
      // the final add of C's old value is one more rounding: u·|result|
      const double slack = u * (std::abs(base) + rounded_magnitude);
      const double got = c[i * ldc + j] - base;
      const double error_1 = std::abs(got - rounded_sum), bound_1 = gamma * rounded_magnitude + slack;
      const double error_2 = std::abs(got - exact_sum),
                   bound_2 = (2 * u_b + u_b * u_b) * exact_magnitude + gamma * rounded_magnitude + slack;
      if (!(error_1 <= bound_1 && error_2 <= bound_2) && wrong++ < 3)
        FAIL_CHECK("C(" << i << ", " << j << "): error " << error_1 << " against the rounded operands (bound "
                        << bound_1 << "), " << error_2 << " against the exact product (bound " << bound_2 << ")");
    }
  CHECK(wrong == 0);
}

TEST_CASE("gemm: bfloat16 operands — exact products of the rounded values, summed in float (both kernels)") {
  for (BFloat16Kernel kernel : {BFloat16Kernel::kAuto, BFloat16Kernel::kVector, BFloat16Kernel::kEmulated}) {
    set_bfloat16_kernel(kernel);
    const std::string name = bfloat16_kernel_name();
    MESSAGE("bfloat16 kernel asked " << int(kernel) << ", on this CPU: " << name);
    CAPTURE(name);
    for (const ProductCase& p : kCases)
      for (bool threaded : {false, true})
        for (bool accumulate : {false, true}) {
          CAPTURE(p.M); CAPTURE(p.N); CAPTURE(p.K); CAPTURE(p.trans_a); CAPTURE(p.trans_b);
          CAPTURE(threaded); CAPTURE(accumulate);
          check_bfloat16_product(p, threaded, accumulate);
        }
  }
  set_bfloat16_kernel(BFloat16Kernel::kAuto);
}

TEST_CASE("gemm: bfloat16 operands round to nearest even, not by truncation") {
  // A = [1 + 2^-8 + 2^-9] (rounds up to 1 + 2^-7), B = [1 + 2^-8] (a tie: rounds to even, 1):
  // C = 1 + 2^-7 exactly. Truncation would give 1, no rounding 1 + 3·2^-8 + ….
  for (BFloat16Kernel kernel : {BFloat16Kernel::kAuto, BFloat16Kernel::kVector, BFloat16Kernel::kEmulated}) {
    set_bfloat16_kernel(kernel);
    CAPTURE(std::string(bfloat16_kernel_name()));
    std::vector<float> a = {1.0f + 0x1p-8f + 0x1p-9f}, b = {1.0f + 0x1p-8f}, c = {0};
    gemm(StridedMatrix<float>::row_major(a.data(), 1, 1), StridedMatrix<float>::row_major(b.data(), 1, 1), c.data(),
         1, 1.0f, false, Operands::kBFloat16);
    CHECK(c[0] == 1.0f + 0x1p-7f);
  }
  set_bfloat16_kernel(BFloat16Kernel::kAuto);
}

TEST_CASE("gemm: an empty sum (K = 0) writes zeros, or leaves C as it was when accumulating") {
  std::vector<float> c = {1, 2, 3, 4}, none;
  auto A = StridedMatrix<float>::row_major(none.data(), 2, 0), B = StridedMatrix<float>::row_major(none.data(), 0, 2);
  gemm(A, B, c.data(), 2, 1.0f, true);
  CHECK(c == std::vector<float>{1, 2, 3, 4});
  gemm(A, B, c.data(), 2, 1.0f, false);
  CHECK(c == std::vector<float>{0, 0, 0, 0});
}

// B(k, j) given by a formula, never stored: the GEMM may only ask for panels inside B and no
// wider than the panel it packs into.
struct FormulaPanels final : PanelSource<double> {
  mutable std::vector<std::string> misuse;
  FormulaPanels(int64_t rows, int64_t cols) : PanelSource<double>(rows, cols) {}
  static double value(int64_t k, int64_t j) { return ((k * 7 + j * 13) % 17 - 8) / 8.0; }
  void pack(int64_t k0, int64_t kc, int64_t j0, int64_t n, int width, double* dst) const override {
    if (k0 < 0 || kc <= 0 || k0 + kc > rows || j0 < 0 || n <= 0 || j0 + n > cols || n > width)
      misuse.push_back("pack(k0=" + std::to_string(k0) + ", kc=" + std::to_string(kc) + ", j0=" +
                       std::to_string(j0) + ", n=" + std::to_string(n) + ", width=" + std::to_string(width) + ")");
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t j = 0; j < n; ++j) dst[k * width + j] = value(k0 + k, j0 + j);
  }
};

TEST_CASE("gemm: B as a PanelSource (never stored) gives the same C as B held in memory") {
  std::mt19937 rng(5);
  for (ProductCase p : {ProductCase{130, 800, 300, false, false}, ProductCase{9, 49, 257, true, false}}) {
    CAPTURE(p.M); CAPTURE(p.N); CAPTURE(p.K);
    std::vector<double> a = random_values<double>(p.M * p.K, rng), b(p.K * p.N);
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t j = 0; j < p.N; ++j) b[k * p.N + j] = FormulaPanels::value(k, j);
    auto A = p.trans_a ? StridedMatrix<double>::row_major(a.data(), p.K, p.M).transposed()
                       : StridedMatrix<double>::row_major(a.data(), p.M, p.K);
    auto B = StridedMatrix<double>::row_major(b.data(), p.K, p.N);
    for (bool threaded : {false, true}) {
      CAPTURE(threaded);
      FormulaPanels source(p.K, p.N);
      std::vector<double> from_source(p.M * p.N, std::nan("")), from_memory(p.M * p.N, std::nan(""));
      if (threaded) {
        gemm_threaded(A, source, from_source.data(), p.N, 1.0, false);
        gemm_threaded(A, B, from_memory.data(), p.N, 1.0, false);
      } else {
        gemm(A, source, from_source.data(), p.N, 1.0, false);
        gemm(A, B, from_memory.data(), p.N, 1.0, false);
      }
      CHECK_MESSAGE(source.misuse.empty(), (source.misuse.empty() ? "" : source.misuse.front()));
      CHECK(from_source == from_memory);  // the same packed values through the same kernel
      // and the product itself, at a few entries
      for (int64_t i : {int64_t(0), p.M / 2, p.M - 1})
        for (int64_t j : {int64_t(0), p.N / 3, p.N - 1}) {
          double sum = 0;
          for (int64_t k = 0; k < p.K; ++k) sum += A(i, k) * FormulaPanels::value(k, j);
          CHECK(from_source[i * p.N + j] == doctest::Approx(sum).epsilon(1e-12));
        }
    }
  }
}

TEST_CASE("interleave_rows: dst[k·width + j] = src[j·ld + k], in and around the 16x16 register blocks") {
  for (int64_t n : {1, 16, 37, 48})
    for (int64_t kc : {1, 15, 16, 50}) {
      CAPTURE(n); CAPTURE(kc);
      const int64_t ld = kc + 5, width = 48;
      std::vector<float> src(n * ld), dst(kc * width, -1.0f);
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
      interleave_rows(src.data(), ld, n, kc, width, dst.data());
      int wrong = 0;
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = 0; j < width; ++j) {
          float expected = j < n ? src[j * ld + k] : -1.0f;  // columns n.. are not written
          if (dst[k * width + j] != expected && wrong++ < 3)
            FAIL_CHECK("dst[" << k << "·48 + " << j << "] = " << dst[k * width + j] << ", expected " << expected);
        }
      CHECK(wrong == 0);
    }
}

}  // namespace
}  // namespace margin::cpu
