// bench/bench_margin_head.cpp — forward + backward time and peak memory of the LMCL head,
// fused (one B×C buffer) vs composed (the readable reference), at B=256, d=512, C=100,000.
//
// Peak memory is the process's VmHWM (/proc/self/status), so each variant runs in a fresh
// process of its own: without --variant this program re-runs itself once per variant and
// prints both lines. The baseline line is the process after creating W and x, before any step.
// Left out: CUDA (the head runs on the default device, but VmHWM only sees host memory).
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "bench/workload_timing.h"
#include "core/flags.h"
#include "losses/margin_loss.h"

using namespace margin;

namespace {

// The peak resident memory of this process so far, in MiB.
double peak_resident_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib;
      status >> kib;
      return kib / 1024.0;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  Flags flags("bench_margin_head",
              "LMCL head forward+backward: fused vs composed time and peak memory (VmHWM).");
  int64_t& batch = flags.add<int64_t>("batch", 256, "B, embeddings per step");
  int64_t& dim = flags.add<int64_t>("dim", 512, "d, embedding size");
  int64_t& classes = flags.add<int64_t>("classes", 100000, "C, identities");
  int& repeats = flags.add("repeats", 5, "timed steps (median reported)");
  std::optional<std::string> variant;
  flags.bind("variant", variant, "fused | composed (default: both, each in its own process)");
  flags.parse(argc, argv);

  if (!variant) {
    std::printf("LMCL head, B=%lld d=%lld C=%lld float32, %d threads, median of %d steps\n",
                (long long)batch, (long long)dim, (long long)classes, omp_get_max_threads(), repeats);
    for (const char* which : {"composed", "fused"}) {
      std::string command = std::filesystem::read_symlink("/proc/self/exe").string() + " --variant " + which + " --batch " +
                            std::to_string(batch) + " --dim " + std::to_string(dim) +
                            " --classes " + std::to_string(classes) + " --repeats " +
                            std::to_string(repeats);
      std::fflush(stdout);
      if (std::system(command.c_str()) != 0) fail("the ", which, " run failed");
    }
    return 0;
  }
  if (*variant != "fused" && *variant != "composed")
    fail("bench_margin_head: --variant must be fused or composed, got '", *variant, "'");

  LossOptions options;
  options.fused = *variant == "fused";
  Generator gen(0);
  auto loss = make_loss("lmcl", dim, classes, gen, options);
  Tensor x = Tensor::randn({batch, dim}, gen).requires_grad_();
  std::vector<int64_t> labels(batch);
  for (auto& y : labels) y = gen.below(classes);
  Tensor label_tensor = Tensor::from_indices(labels, {batch});
  double baseline = peak_resident_mib();
  double value = 0;
  bench::Timing timing = bench::time_steps(
      [&] {
        loss->zero_grad();
        x.zero_grad();
        Tensor l = loss->forward(x, label_tensor);
        l.backward();
        value = l.item();
      },
      1, repeats);
  std::printf("  %-9s %9.1f ms/step   peak %8.1f MiB (baseline %.1f MiB; B×C float32 = %.1f MiB)  loss %.5f\n",
              variant->c_str(), timing.median_s() * 1e3, peak_resident_mib(), baseline,
              batch * classes * 4.0 / (1 << 20), value);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_margin_head: %s\n", e.what());
  return 1;
}
