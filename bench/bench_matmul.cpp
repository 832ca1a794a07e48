// bench/bench_matmul.cpp — GFLOP/s of an n³ float32 matmul through margin (Tensor →
// autograd-free matmul op → backend → backends/cpu/gemm.cpp) and through a direct Eigen call,
// in one run, against the machine's FMA peak measured by the same binary.
#include <Eigen/Core>
#include <cstdio>
#include <omp.h>

#include "bench/workload_timing.h"
#include "core/flags.h"
#include "core/threads.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("bench_matmul",
              "GFLOP/s of an n×n×n float32 matmul: margin vs direct Eigen vs the measured FMA peak.");
  int64_t& n = flags.add<int64_t>("n", 1024, "matrix size");
  int& repeats = flags.add("repeats", 10, "timed repetitions (median reported)");
  std::optional<int> threads;
  flags.bind("threads", threads, "OpenMP threads (default: OpenMP's own, OMP_NUM_THREADS or one per core)");
  flags.parse(argc, argv);
  if (threads) set_threads(*threads);

  Generator gen(0);
  Tensor a = Tensor::randn({n, n}, gen, DType::F32, kCPU);
  Tensor b = Tensor::randn({n, n}, gen, DType::F32, kCPU);
  Tensor c;
  double flops = 2.0 * n * n * n;
  double margin_s = bench::time_steps([&] { c = matmul(a, b); }, 2, repeats).median_s();

  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Matrix> ea(a.view().ptr<float>(), n, n), eb(b.view().ptr<float>(), n, n);
  Matrix ec(n, n);
  double eigen_s = bench::time_steps([&] { ec.noalias() = ea * eb; }, 2, repeats).median_s();

  double worst = 0;
  std::vector<double> ours = c.to_vector();
  for (int64_t i = 0; i < n * n; ++i) worst = std::max(worst, std::abs(ours[i] - ec.data()[i]));

  std::printf("matmul %lldx%lldx%lld float32, %d threads, median of %d\n", (long long)n,
              (long long)n, (long long)n, omp_get_max_threads(), repeats);
  std::printf("  %-8s %9.3f ms  %8.1f GFLOP/s\n", "margin", margin_s * 1e3, flops / margin_s * 1e-9);
  std::printf("  %-8s %9.3f ms  %8.1f GFLOP/s\n", "eigen", eigen_s * 1e3, flops / eigen_s * 1e-9);
  std::printf("  margin/eigen time ratio %.3f   (max |difference| %.2e)\n", margin_s / eigen_s, worst);
  double peak = bench::fma_peak_gflops();
  std::printf("  machine FMA peak (measured) %.1f GFLOP/s: margin %.2f of it, eigen %.2f\n", peak,
              flops / margin_s * 1e-9 / peak, flops / eigen_s * 1e-9 / peak);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_matmul: %s\n", e.what());
  return 1;
}
