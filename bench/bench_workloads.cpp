// bench/bench_workloads.cpp — margin's side of the reference workloads (definitions in
// bench/torch_workloads.py; bench/compare.sh runs both and prints the table). One workload
// per run, so the peak memory reported is that workload's alone.
#include <cstdio>
#include <iostream>
#include <map>
#include <omp.h>

#include "bench/workload_timing.h"
#include "core/flags.h"
#include "core/optim.h"
#include "core/profiler.h"

using namespace margin;

namespace {

struct Workload {
  std::string name;
  double flops = 0;  // counted per step: 2·M·N·K for every product, forward and backward
  std::function<void()> step;
};

// The CosFace head, composed: cos θ = x̂ Ŵᵀ, logits = s (cos θ − m·onehot), cross-entropy.
Tensor lmcl_loss(const Tensor& x, const Tensor& weight, const Tensor& labels, double s, double m) {
  Tensor cos_theta = matmul(l2_normalize(x), l2_normalize(weight), false, true);
  Tensor logits = (cos_theta - one_hot(labels, weight.size(0)) * m) * s;
  return -mean(gather(log_softmax(logits), 1, labels.reshape({-1, 1})));
}

Workload lmcl_head(Device device) {
  const int64_t batch = 256, dim = 512, classes = 100000;
  auto gen = std::make_shared<Generator>(0);
  Tensor x = Tensor::randn({batch, dim}, *gen, DType::F32, device).requires_grad_();
  Tensor weight = Tensor::randn({classes, dim}, *gen, DType::F32, device).requires_grad_();
  std::vector<int64_t> y(batch);
  for (auto& label : y) label = gen->below(classes);
  Tensor labels = Tensor::from_indices(y, {batch}, device);
  return {"lmcl-head", 3 * 2.0 * batch * classes * dim, [=]() mutable {
            x.zero_grad();
            weight.zero_grad();
            lmcl_loss(x, weight, labels, 64.0, 0.35).backward();
          }};
}

Workload sgemm(Device device) {
  const int64_t n = 1024;
  Generator gen(0);
  Tensor a = Tensor::randn({n, n}, gen, DType::F32, device);
  Tensor b = Tensor::randn({n, n}, gen, DType::F32, device);
  return {"sgemm", 2.0 * n * n * n, [=] { matmul(a, b); }};
}

}  // namespace

int main(int argc, char** argv) try {
  Flags flags("bench_workloads", "Times one reference workload through margin (see bench/torch_workloads.py).\n"
              "  W3 lmcl-head: B=256, d=512, C=100,000 forward + backward\n"
              "  W4 sgemm: 1024³ float32 matmul");
  std::string& which = flags.add<std::string>("workload", "W4", "W3 or W4");
  int& threads = flags.add("threads", 2, "OpenMP threads");
  int& warmup = flags.add("warmup", 2, "untimed warm-up steps");
  int& repeats = flags.add("repeats", 5, "timed steps (median, min and max reported)");
  bool& json = flags.add("json", false, "print one JSON line (for bench/compare.sh)");
  bool& profile = flags.add("profile", false, "print the per-op profile of the timed steps");
  flags.parse(argc, argv);
  omp_set_num_threads(threads);

  Device device = default_device();
  std::map<std::string, std::function<Workload(Device)>> workloads{{"W3", lmcl_head}, {"W4", sgemm}};
  if (!workloads.count(which)) fail("unknown workload '", which, "' (see --help)");
  Workload workload = workloads[which](device);
  double matmul_rate = bench::matmul_gflops(device);
  for (int i = 0; i < warmup; ++i) workload.step();
  profiler().enable(profile);
  bench::Timing t = bench::time_steps(workload.step, 0, repeats, device);
  double gflops = workload.flops / t.median_s * 1e-9;
  if (json) {
    std::printf("{\"workload\": \"%s\", \"name\": \"%s\", \"median_s\": %.6f, \"min_s\": %.6f, "
                "\"max_s\": %.6f, \"peak_rss_mb\": %.1f, \"flops\": %.0f, \"fraction_of_matmul\": %.3f}\n",
                which.c_str(), workload.name.c_str(), t.median_s, t.min_s, t.max_s,
                bench::peak_rss_mb(), workload.flops, gflops / matmul_rate);
  } else {
    std::printf("%s %s on %s, %d threads: median %.2f ms (%.2f–%.2f), %.1f GFLOP/s = %.2f of the "
                "%.1f GFLOP/s matmul rate, peak RSS %.0f MiB\n",
                which.c_str(), workload.name.c_str(), device.str().c_str(), threads,
                t.median_s * 1e3, t.min_s * 1e3, t.max_s * 1e3, gflops, gflops / matmul_rate,
                matmul_rate, bench::peak_rss_mb());
  }
  if (profile) profiler().print(std::cout);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_workloads: %s\n", e.what());
  return 1;
}
