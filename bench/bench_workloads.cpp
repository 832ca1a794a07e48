// bench/bench_workloads.cpp — margin's side of the reference workloads (definitions in
// bench/torch_workloads.py; bench/compare.sh runs both and prints the table). One workload
// per run, so the peak memory reported is that workload's alone.
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

#include "backends/cpu/gemm.h"
#include "backends/cpu/winograd.h"
#include "bench/workload_timing.h"
#include "core/flags.h"
#include "core/threads.h"
#include "core/optim.h"
#include "core/precision.h"
#include "core/profiler.h"
#include "layers/backbones.h"
#include "layers/summary.h"
#include "losses/margin_loss.h"
#include "train/distributed.h"
#include "train/trainer.h"

using namespace margin;

namespace {

struct Workload {
  std::string name;
  double flops = 0;  // counted per step: 2·M·N·K for every product, forward and backward
  std::function<void()> step;
};

std::vector<int64_t> random_labels(Generator& gen, int64_t batch, int64_t classes) {
  std::vector<int64_t> labels(batch);
  for (auto& label : labels) label = gen.below(classes);
  return labels;
}

// One SGD training step (momentum 0.9, weight decay 5e-4) of `model` + an LMCL head on
// synthetic images; FLOPs: 3× the forward (forward, backward-data, backward-filter),
// the forward counted by layers/summary.h, of the whole batch.
// Under mpirun with N ranks the step is data parallel (train/distributed.h): each rank runs
// its part of the batch and the gradients are all-reduced before the SGD step.
// Under --precision bf16 the backbone's forward runs in an AutocastScope (core/precision.h);
// the head gets the float32 embedding.
Workload training_step(const std::string& name, std::shared_ptr<Layer> model, Shape input,
                       int64_t emb, int64_t classes, double s, double m, Device device, Precision precision) {
  auto gen = std::make_shared<Generator>(1);
  auto head = std::shared_ptr<MarginLoss>(make_loss("lmcl", emb, classes, *gen, {.scale = s, .margin = m}));
  std::vector<Tensor> params = parameters_of({model.get(), head.get()});
  auto sgd = std::make_shared<SGD>(params, SgdParams{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4});
  Communicator& comm = communicator_for(device);
  auto reducer = std::make_shared<GradientReducer>(comm, params);
  const Part rows = even_part(input[0], comm.rank(), comm.size());
  const double share = static_cast<double>(rows.count) / static_cast<double>(input[0]);
  Tensor images = Tensor::randn(input, *gen, DType::F32, device).slice(0, rows.start, rows.start + rows.count).contiguous();
  Tensor labels = Tensor::from_indices(random_labels(*gen, input[0], classes), {input[0]}, device)
                      .slice(0, rows.start, rows.start + rows.count).contiguous();
  double model_flops = static_cast<double>(summarize(*model, input).flops);
  double head_flops = 2.0 * input[0] * classes * emb;
  return {name, 3 * (model_flops + head_flops), [=] {
            sgd->zero_grad();
            Tensor embeddings;
            {
              AutocastScope autocast(precision);
              embeddings = (*model)(images);
            }
            head->forward(embeddings, labels).backward();
            reducer->reduce(share);  // nothing with one rank
            sgd->step();  // also puts the class weights back on the unit sphere
          }};
}

Workload fmnist_cnn(Device device, std::optional<int64_t> batch, Precision precision) {
  Generator gen(0);
  return training_step("fmnist-cnn", small_cnn(128, gen), {batch.value_or(256), 1, 28, 28}, 128, 10, 30.0, 0.35, device, precision);
}

Workload iresnet18_face(Device device, std::optional<int64_t> batch, Precision precision) {
  Generator gen(0);
  return training_step("iresnet18-face", iresnet18(gen), {batch.value_or(32), 3, 112, 112}, 512, 10572, 64.0, 0.35, device, precision);
}

Workload mbf_face(Device device, std::optional<int64_t> batch, Precision precision) {
  Generator gen(0);
  return training_step("mbf-face", mobilefacenet(gen), {batch.value_or(64), 3, 112, 112}, 512, 10572, 64.0, 0.35, device, precision);
}

// The CosFace head alone: forward + backward to x and W (the fused head of losses/).
Workload lmcl_head(Device device, std::optional<int64_t> rows, Precision) {
  const int64_t dim = 512, classes = 100000;
  const int64_t batch = rows.value_or(256);
  auto gen = std::make_shared<Generator>(0);
  auto head = std::shared_ptr<MarginLoss>(make_loss("lmcl", dim, classes, *gen, {.scale = 64.0, .margin = 0.35}));
  Tensor x = Tensor::randn({batch, dim}, *gen, DType::F32, device).requires_grad_();
  Tensor labels = Tensor::from_indices(random_labels(*gen, batch, classes), {batch}, device);
  return {"lmcl-head", 3 * 2.0 * batch * classes * dim, [=]() mutable {
            x.zero_grad();
            head->zero_grad();
            head->forward(x, labels).backward();
          }};
}

Workload sgemm(Device device, std::optional<int64_t> batch, Precision precision) {
  if (batch) fail("--batch does not apply to W4 (a fixed 1024³ product)");
  const int64_t n = 1024;
  Generator gen(0);
  Tensor a = Tensor::randn({n, n}, gen, DType::F32, device);
  Tensor b = Tensor::randn({n, n}, gen, DType::F32, device);
  return {"sgemm", 2.0 * n * n * n, [=] {
            AutocastScope autocast(precision);
            matmul(a, b);
          }};
}

}  // namespace

int main(int argc, char** argv) try {
  Flags flags("bench_workloads", "Times one reference workload through margin (see bench/torch_workloads.py).\n"
              "  W1 fmnist-cnn: batch 256 of 1x28x28, small CNN + LMCL(10), one SGD step\n"
              "  W2 iresnet18-face: batch 32 of 3x112x112, iresnet18 + LMCL(10,572), one SGD step\n"
              "  W3 lmcl-head: B=256, d=512, C=100,000 forward + backward\n"
              "  W4 sgemm: 1024³ float32 matmul\n"
              "  W5 mbf-face: batch 64 of 3x112x112, MobileFaceNet (get_mbf) + LMCL(10,572), one SGD step");
  std::string& which = flags.add<std::string>("workload", "W4", "W1, W2, W3, W4 or W5");
  int& threads = flags.add("threads", 2, "OpenMP threads");
  int& warmup = flags.add("warmup", 2, "untimed warm-up steps");
  int& repeats = flags.add("repeats", 5, "timed steps (median, min and max reported)");
  bool& json = flags.add("json", false, "print one JSON line (for bench/compare.sh)");
  bool& profile = flags.add("profile", false, "print the per-op profile of the timed steps");
  std::string& precision_name_flag = flags.add<std::string>(
      "precision", "fp32", "fp32, or bf16: the backbone's products in bfloat16 (core/precision.h; W3, the head, "
                           "stays fp32), or fp16 on CUDA");
  std::string& bf16_kernel = flags.add<std::string>(
      "bf16-kernel", "auto", "the CPU's bf16 kernel: auto (AMX where there, else AVX-512 BF16), vector (AVX-512 BF16 "
                             "even where AMX is there) or emulated (the fp32 kernel on rounded operands)");
  std::string& conv_algorithm = flags.add<std::string>("conv-algorithm", "auto", kConvAlgorithmHelp);
  std::optional<int64_t> batch;
  flags.bind("batch", batch, "batch size of W1-W3 and W5 (default: the workload's own, 256 / 32 / 256 / 64)");
  std::optional<double> peak_flag;
  flags.bind("peak-gflops", peak_flag, "the device's FP32 peak, to report the fraction of it "
             "(default: measured on the CPU, not reported on CUDA)");
  flags.add_device_flag();
  flags.parse(argc, argv);
  set_threads(threads);

  if (batch && *batch < 1) fail("--batch must be positive, got ", *batch);
  Device device = default_device();
  std::map<std::string, std::function<Workload(Device, std::optional<int64_t>, Precision)>> workloads{
      {"W1", fmnist_cnn}, {"W2", iresnet18_face}, {"W3", lmcl_head}, {"W4", sgemm}, {"W5", mbf_face}};
  if (!workloads.count(which)) fail("unknown workload '", which, "' (see --help)");
  const Precision precision = parse_precision(precision_name_flag);
  check_precision(precision, device);
  const std::map<std::string, cpu::BFloat16Kernel> kernels{
      {"auto", cpu::BFloat16Kernel::kAuto}, {"vector", cpu::BFloat16Kernel::kVector},
      {"emulated", cpu::BFloat16Kernel::kEmulated}};
  if (!kernels.count(bf16_kernel)) fail("--bf16-kernel: expected auto, vector or emulated, got '", bf16_kernel, "'");
  cpu::set_bfloat16_kernel(kernels.at(bf16_kernel));
  use_conv_algorithm(conv_algorithm, precision, device);  // winograd: an error without bf16 on the CPU
  const bool winograd = cpu::winograd_in_use();  // the 3x3 stride-1 convolutions by Winograd
  if (precision == Precision::BF16 && device.type == DeviceType::CPU && !json)
    std::printf("bf16 products on %s, 3x3 stride-1 convolutions %s\n", cpu::bfloat16_kernel_name(),
                winograd ? "by Winograd's F(2x2,3x3)" : "direct");
  Workload workload = workloads[which](device, batch, precision);
  double matmul_rate = bench::matmul_gflops(device);
  for (int i = 0; i < warmup; ++i) workload.step();
  profiler().enable(profile);
  world().barrier();  // the ranks start timing together
  bench::Timing t = bench::time_steps(workload.step, 0, repeats, device);
  if (world().rank() != 0) return 0;  // rank 0 reports
  double gflops = workload.flops / t.median_s() * 1e-9;
  double peak = peak_flag ? *peak_flag : device.type == DeviceType::CPU ? bench::fma_peak_gflops() : 0;  // 0: unknown
  if (json) {
    std::string times;
    for (double step : t.times_s) times += (times.empty() ? "" : ", ") + std::to_string(step);
    std::printf("{\"workload\": \"%s\", \"name\": \"%s\", \"median_s\": %.6f, \"min_s\": %.6f, "
                "\"max_s\": %.6f, \"times_s\": [%s], \"peak_rss_mb\": %.1f, \"flops\": %.0f, "
                "\"fraction_of_matmul\": %.3f, \"fma_peak_gflops\": %.1f, \"precision\": \"%s\", "
                "\"convolutions\": \"%s\"}\n",
                which.c_str(), workload.name.c_str(), t.median_s(), t.min_s(), t.max_s(), times.c_str(),
                bench::peak_rss_mb(), workload.flops, gflops / matmul_rate, peak, precision_name(precision),
                winograd ? "winograd" : "direct");
  } else {
    std::printf("%s %s (%s) on %s, %s: median %.2f ms (%.2f–%.2f), %.1f GFLOP/s = %.2f of the "
                "%.1f GFLOP/s matmul rate, peak RSS %.0f MiB\n",
                which.c_str(), workload.name.c_str(), precision_name(precision), device.str().c_str(), describe_job(threads).c_str(),
                t.median_s() * 1e3, t.min_s() * 1e3, t.max_s() * 1e3, gflops, gflops / matmul_rate,
                matmul_rate, bench::peak_rss_mb());
    if (peak > 0)
      std::printf("%s FP32 peak %.1f GFLOP/s (%s): this workload %.2f of it\n", device.str().c_str(), peak,
                  peak_flag ? "given by --peak-gflops" : "measured FMA rate", gflops / peak);
  }
  if (profile) profiler().print(std::cout);
  return 0;
} catch (const std::exception& e) {
  return report_failure("bench_workloads", e);
}
