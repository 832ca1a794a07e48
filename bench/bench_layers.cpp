// bench/bench_layers.cpp — forward and forward+backward time of the layers a face backbone
// is made of (3x3 and 1x1 convolutions, pools, linear) on realistic shapes, with the
// achieved GFLOP/s and its fraction of the 1024³ float32 matmul rate measured in the same
// run (the yardstick: a convolution is a matmul after im2col, so ~1.0 is the ceiling).
// FLOPs: a forward is Layer::flops; the backward of a convolution or linear layer is two
// products of the same size (data and weight gradients), so forward+backward = 3× forward.
// Pools move memory rather than compute: their rate is shown but not compared.
// --precision bf16 runs each forward in an AutocastScope (core/precision.h): the convolutions'
// and linear layers' products on bfloat16 operands, their backward too; the yardstick stays
// the float32 matmul.
// The depthwise (and narrow grouped) cases are MobileFaceNet's (layers/backbones.h); the
// summary line adds them up as many times as get_mbf holds each and compares the sum with a
// forward+backward of the whole backbone at the same batch: their share of its time.
#include <omp.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "bench/workload_timing.h"
#include "core/autograd.h"
#include "core/flags.h"
#include "core/precision.h"
#include "core/threads.h"
#include "layers/backbones.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/pool.h"
#include "train/trainer.h"

using namespace margin;

namespace {

struct LayerCase {
  std::string name;
  std::shared_ptr<Layer> layer;
  Shape input;
  bool compute_bound;  // compare with the matmul rate
  int in_mobilefacenet = 0;  // how many layers of this shape get_mbf's MobileFaceNet holds
  int in_iresnet18 = 0;      // how many convolutions of this shape iresnet18 (W2's backbone) holds
};

}  // namespace

int main(int argc, char** argv) try {
  Flags flags("bench_layers",
              "Forward and forward+backward time, GFLOP/s and fraction of the matmul rate of "
              "conv3x3, conv1x1, depthwise, pooling and linear layers on face-backbone shapes, and "
              "the share of MobileFaceNet's forward+backward spent in its depthwise convolutions.");
  int64_t& batch = flags.add<int64_t>("batch", 32, "batch size N");
  int& repeats = flags.add("repeats", 5, "timed repetitions (median reported)");
  std::string& precision_flag = flags.add<std::string>(
      "precision", "fp32", "fp32, or bf16: the products of every case's forward and backward on bfloat16 operands");
  bool& mobilefacenet_only = flags.add("mobilefacenet-only", false,
                                       "run only MobileFaceNet's depthwise and grouped cases and its share line");
  bool& iresnet18_only =
      flags.add("iresnet18-only", false, "run only iresnet18's convolutions (every shape W2 runs) and their sum");
  std::string& conv_algorithm = flags.add<std::string>("conv-algorithm", "auto", kConvAlgorithmHelp);
  std::optional<int> threads;
  flags.bind("threads", threads, "OpenMP threads (default: OpenMP's own, OMP_NUM_THREADS or one per core)");
  flags.parse(argc, argv);
  if (threads) set_threads(*threads);
  const Precision precision = parse_precision(precision_flag);
  check_precision(precision, kCPU);
  use_conv_algorithm(conv_algorithm, precision, kCPU);  // winograd: an error without bf16 on the CPU

  Generator gen(0);
  // A convolution of `channels` → `channels` with options.groups groups (all of them when
  // unset: depthwise).
  auto depthwise = [&](int64_t channels, int64_t kernel, Conv2dOptions options) {
    if (options.groups == 1) options.groups = channels;
    options.bias = false;
    return std::make_shared<Conv2d>(channels, channels, kernel, gen, options);
  };
  Conv2dOptions no_bias{.bias = false};
  Conv2dOptions padded{.padding = 1, .bias = false};
  Conv2dOptions padded_stride2{.stride = 2, .padding = 1, .bias = false};
  Conv2dOptions stride2{.stride = 2, .bias = false};
  int64_t N = batch;
  std::vector<LayerCase> cases = {
      {"conv3x3 3->64 112x112", std::make_shared<Conv2d>(3, 64, 3, gen, padded), {N, 3, 112, 112}, true, 0, 1},
      {"conv3x3 s2 64->128 56->28", std::make_shared<Conv2d>(64, 128, 3, gen, padded_stride2), {N, 64, 56, 56}, true},
      {"conv1x1 128->256 28x28", std::make_shared<Conv2d>(128, 256, 1, gen, no_bias), {N, 128, 28, 28}, true},
      {"maxpool 2x2 64@56x56", std::make_shared<MaxPool2d>(2), {N, 64, 56, 56}, false},
      {"avgpool 3x3 s1 p1 64@56x56", std::make_shared<AvgPool2d>(3, 1, 1), {N, 64, 56, 56}, false},
      {"global avgpool 512@7x7", std::make_shared<GlobalAvgPool>(), {N, 512, 7, 7}, false},
      {"linear 25088->512", std::make_shared<Linear>(512 * 7 * 7, 512, gen), {N, 512 * 7 * 7}, true},
      {"linear 512->512 (B=256)", std::make_shared<Linear>(512, 512, gen), {256, 512}, true},
      // MobileFaceNet's: the stem's grouped conv (64 groups of 2), the bottlenecks' depthwise
      // 3x3 and the GDC's depthwise 7x7
      {"conv3x3 g64 128->128 56x56", depthwise(128, 3, {.padding = 1, .groups = 64}), {N, 128, 56, 56}, true, 1},
      {"dw3x3 s2 128@56->28", depthwise(128, 3, padded_stride2), {N, 128, 56, 56}, true, 1},
      {"dw3x3 128@28x28", depthwise(128, 3, padded), {N, 128, 28, 28}, true, 4},
      {"dw3x3 s2 256@28->14", depthwise(256, 3, padded_stride2), {N, 256, 28, 28}, true, 1},
      {"dw3x3 256@14x14", depthwise(256, 3, padded), {N, 256, 14, 14}, true, 6},
      {"dw3x3 s2 512@14->7", depthwise(512, 3, padded_stride2), {N, 512, 14, 14}, true, 1},
      {"dw3x3 256@7x7", depthwise(256, 3, padded), {N, 256, 7, 7}, true, 2},
      {"dw7x7 GDC 512@7x7->1", depthwise(512, 7, no_bias), {N, 512, 7, 7}, true, 1},
  };
  // iresnet18's stages at 112 × 112 (W2's backbone), after its stem (the first case): the first
  // block runs a 3x3 at the stage's input size, a strided 3x3 and a strided 1x1 downsample, the
  // second block two 3x3 at the output size
  auto conv = [&](int64_t channels, int64_t filters, int64_t kernel, Conv2dOptions options) {
    return std::make_shared<Conv2d>(channels, filters, kernel, gen, options);
  };
  auto where = cases.begin() + 1;
  for (int64_t in = 64, out = 64, size = 112; out <= 512; in = out, out *= 2, size /= 2) {
    const std::string from = std::to_string(in) + "->" + std::to_string(out), to = std::to_string(size / 2);
    const std::string at = std::to_string(size), same = std::to_string(out) + "->" + std::to_string(out);
    where = cases.insert(
        where,
        {{"conv3x3 " + from + " " + at + "x" + at, conv(in, out, 3, padded), {N, in, size, size}, true, 0, 1},
         {"conv3x3 s2 " + same + " " + at + "->" + to, conv(out, out, 3, padded_stride2), {N, out, size, size}, true,
          0, 1},
         {"conv1x1 s2 " + from + " " + at + "->" + to, conv(in, out, 1, stride2), {N, in, size, size}, true, 0, 1},
         {"conv3x3 " + same + " " + to + "x" + to, conv(out, out, 3, padded), {N, out, size / 2, size / 2}, true, 0,
          2}});
    where += 4;
  }

  double matmul_rate = bench::matmul_gflops(kCPU);
  std::printf("bench_layers: %s, N=%lld, %d threads, median of %d; float32 matmul 1024³: %.1f GFLOP/s\n",
              precision_name(precision), (long long)N, omp_get_max_threads(), repeats, matmul_rate);
  std::printf("%-28s %10s %10s %9s %9s %8s %8s\n", "layer", "fwd ms", "fwd+bwd ms", "fwd GF/s",
              "f+b GF/s", "fwd/mm", "f+b/mm");
  if (mobilefacenet_only)
    std::erase_if(cases, [](const LayerCase& c) { return c.in_mobilefacenet == 0; });
  if (iresnet18_only) std::erase_if(cases, [](const LayerCase& c) { return c.in_iresnet18 == 0; });
  double mobilefacenet_grouped_s = 0, iresnet18_s = 0, iresnet18_flops = 0;
  for (LayerCase& c : cases) {
    Tensor x = Tensor::randn(c.input, gen).requires_grad_();
    Tensor y;
    double forward_s = bench::time_steps([&] {
      NoGradGuard no_grad;
      AutocastScope autocast(precision);
      y = (*c.layer)(x);
    }, 1, repeats).median_s();
    Tensor seed = Tensor::ones(y.shape());
    double both_s = bench::time_steps([&] {
      c.layer->zero_grad();
      x.zero_grad();
      Tensor out;
      {
        AutocastScope autocast(precision);
        out = (*c.layer)(x);
      }
      out.backward(seed);
    }, 1, repeats).median_s();
    double forward_flops = static_cast<double>(c.layer->flops(c.input, y.shape()));
    double both_flops = c.compute_bound ? 3 * forward_flops : 2 * forward_flops;
    double forward_rate = forward_flops / forward_s * 1e-9, both_rate = both_flops / both_s * 1e-9;
    if (c.compute_bound)
      std::printf("%-28s %10.2f %10.2f %9.1f %9.1f %8.2f %8.2f\n", c.name.c_str(), forward_s * 1e3,
                  both_s * 1e3, forward_rate, both_rate, forward_rate / matmul_rate,
                  both_rate / matmul_rate);
    else
      std::printf("%-28s %10.2f %10.2f %9.1f %9.1f %8s %8s\n", c.name.c_str(), forward_s * 1e3,
                  both_s * 1e3, forward_rate, both_rate, "-", "-");
    mobilefacenet_grouped_s += c.in_mobilefacenet * both_s;
    iresnet18_s += c.in_iresnet18 * both_s;
    iresnet18_flops += c.in_iresnet18 * both_flops;
  }
  if (!mobilefacenet_only)
    std::printf("iresnet18's convolutions forward+backward, N=%lld (the rows above, each times its count in "
                "iresnet18): %.1f ms, %.1f GFLOP/s\n",
                (long long)N, iresnet18_s * 1e3, iresnet18_flops / iresnet18_s * 1e-9);
  if (iresnet18_only) {
    std::printf("peak RSS %.0f MiB\n", bench::peak_rss_mb());
    return 0;
  }

  auto mbf = mobilefacenet(gen);
  Tensor images = Tensor::randn({N, 3, 112, 112}, gen);
  Tensor seed = Tensor::ones({N, 512});
  double mbf_s = bench::time_steps([&] {
    mbf->zero_grad();
    Tensor embeddings;
    {
      AutocastScope autocast(precision);
      embeddings = (*mbf)(images);
    }
    embeddings.backward(seed);
  }, 1, repeats).median_s();
  std::printf("MobileFaceNet (get_mbf) forward+backward, N=%lld: %.1f ms; of it its depthwise and grouped "
              "convolutions (the dw/g64 rows above, each times its count there): %.1f ms = %.2f\n",
              (long long)N, mbf_s * 1e3, mobilefacenet_grouped_s * 1e3, mobilefacenet_grouped_s / mbf_s);
  std::printf("peak RSS %.0f MiB\n", bench::peak_rss_mb());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_layers: %s\n", e.what());
  return 1;
}
