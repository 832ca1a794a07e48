// bench/bench_partial_fc.cpp — Partial FC's head alone: per-rank step time and peak memory of
// an LMCL head over C classes split over the ranks and sampled at rate r (losses/margin_loss.h
// PartialFcOptions), d = 512, B = 128 embeddings per rank. One step: the features of every
// rank all-gathered, the classes sampled, the head forward and backward, the gradient reduce-
// scattered to its rank, one SGD step of W (momentum 0.9, weight decay 5e-4).
//
//   ./build/bench_partial_fc --classes 1000000 --rate 0.1                  (one rank)
//   mpirun -np 2 --oversubscribe ./build/bench_partial_fc --classes 2000000 --rate 0.1 --threads 1
//   bash bench/partial_fc.sh                                               (the whole table)
//
// Peak memory is each rank's VmHWM (the largest over the ranks is printed): W, its gradient
// and its momentum are C/N × d each, whatever r; the sampled copy of W, the logits and their
// gradients are r·C/N wide. One line, from rank 0.

#include <cstdio>

#include "bench/workload_timing.h"
#include "core/flags.h"
#include "core/threads.h"
#include "core/optim.h"
#include "losses/margin_loss.h"
#include "train/distributed.h"

using namespace margin;

int main(int argc, char** argv) try {
  Flags flags("bench_partial_fc", "Partial FC head: per-rank step time and peak memory (run under mpirun for N > 1).");
  int64_t& classes = flags.add<int64_t>("classes", 100000, "C, identities over all ranks");
  double& rate = flags.add("rate", 1.0, "r, the fraction of each rank's classes a step keeps");
  int64_t& batch = flags.add<int64_t>("batch", 128, "B, embeddings per rank");
  int64_t& dim = flags.add<int64_t>("dim", 512, "d, embedding size");
  int& repeats = flags.add("repeats", 5, "timed steps (median reported)");
  int& threads = flags.add("threads", 2, "CPU threads per rank");
  flags.parse(argc, argv);
  set_threads(threads);

  Communicator& comm = world();
  Generator gen(1 + comm.rank());
  auto head = make_loss("lmcl", dim, classes, gen, {.partial_fc = PartialFcOptions{.sample_rate = rate, .seed = 3}});
  SGD sgd({head->weight()}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4});
  Tensor x = Tensor::randn({batch, dim}, gen).requires_grad_();
  std::vector<int64_t> labels(batch);
  for (int64_t& y : labels) y = gen.below(classes);
  Tensor y = Tensor::from_indices(labels, {batch}, kCPU);
  const double baseline_mib = bench::peak_rss_mb();
  int64_t step = 0;
  comm.barrier();
  bench::Timing t = bench::time_steps([&] {
    head->set_step(step++);
    sgd.zero_grad();
    x.zero_grad();
    head->forward(x, y).backward();
    sgd.step();
  }, 1, repeats);
  Tensor peaks = Tensor::from_vector({bench::peak_rss_mb(), baseline_mib, t.median_s()}, {3}, DType::F64, kCPU);
  comm.all_reduce(peaks.view(), ReduceOp::Max);
  std::vector<double> worst = peaks.to_vector();
  if (comm.rank() == 0)
    std::printf("partial fc: C=%lld N=%d r=%g d=%lld B=%lld per rank, %s: step %.1f ms (median of %d, slowest rank), "
                "peak RSS %.0f MiB per rank (%.0f MiB with W and its momentum made)\n",
                static_cast<long long>(classes), comm.size(), rate, static_cast<long long>(dim),
                static_cast<long long>(batch), describe_job(threads).c_str(), worst[2] * 1e3, repeats, worst[0], worst[1]);
  return 0;
} catch (const std::exception& e) {
  return report_failure("bench_partial_fc", e);
}
