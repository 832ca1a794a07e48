// tests/test_dist_training.cpp — training on several ranks equals training on one.
// ctest runs this file in one process and under mpirun with 2 and 3 ranks (CMakeLists.txt);
// each case holds for any number of ranks (with one rank it checks the single path against
// itself, which still exercises the code).
//
//   data parallel   two SGD steps (momentum, weight decay) of N ranks × their parts of a batch
//                   of 10 rows equal 1 rank × 10 rows to 1e-12 (float64, batch norm in eval
//                   mode: per-rank statistics would differ by design), uneven parts included
//   Partial FC      at r = 1 the loss, dx and dW equal the single-process loss with the whole W
//                   to 1e-10 (LMCL and ArcFace, C = 11 not divisible by 2 or 3, ignored rows)
//   sampling        every positive kept, ⌊r·C_r⌋ classes when the positives fit, the same for
//                   the same seed and step, labels remapped; at r < 1 the loss equals the
//                   single-process loss over the sampled classes only
//   start-up        ranks that disagree on the model or the loss stop, every one of them
// Everything here runs on the CPU, whatever the build's default device: several ranks move
// CPU tensors over MPI (GPU tensors need NCCL, which the GPU check covers).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "backends/communicator.h"
#include "core/ops.h"
#include "data/fashion_mnist.h"
#include "data/loader.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"
#include "losses/margin_loss.h"
#include "train/distributed.h"
#include "train/trainer.h"
#include "gradcheck.h"

namespace margin {
namespace {

using testing::error_of;

// Before any test case makes a tensor: the CPU is the default device of this file.
const bool cpu_by_default = (set_default_device(kCPU), true);

// float32 images in, float64 out: the test's model computes in float64.
class ToFloat64 final : public Layer {
 public:
  std::string type_name() const override { return "ToFloat64"; }
  Tensor forward(const Tensor& x) override { return x.to(DType::F64); }
};

std::shared_ptr<const Dataset> images(int64_t count, uint64_t seed) {
  Generator gen(seed);
  std::vector<uint8_t> pixels(static_cast<size_t>(count) * 8 * 8), labels(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    labels[i] = static_cast<uint8_t>(gen.below(5));
    for (int64_t p = 0; p < 64; ++p) pixels[i * 64 + p] = static_cast<uint8_t>(gen.below(256));
  }
  return std::make_shared<GreyImageDataset>(std::move(pixels), std::move(labels), 8, 8, 5);
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// The rows [part.start, part.start + part.count) of a [n, d] tensor's values.
std::vector<double> rows_of(const Tensor& t, Part part) {
  return t.slice(0, part.start, part.start + part.count).contiguous().to_vector();
}

// Two steps of SGD on 20 images in batches of 10, with `comm` and the loader's part for it.
std::vector<double> train_two_steps(Communicator& comm, const std::string& out_dir) {
  Generator gen(5);
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<ToFloat64>(), std::make_shared<Flatten>(), std::make_shared<Linear>(64, 6, gen, true, DType::F64),
      std::make_shared<BatchNorm1d>(6, BatchNormOptions{.dtype = DType::F64})});
  model->eval();  // batch norm from its running statistics: the same on every rank
  LargeMarginCosineLoss head(6, 5, gen, {.scale = 8, .margin = 0.2, .dtype = DType::F64});
  SGD sgd(parameters_of({model.get(), &head}), {.lr = 0.5, .momentum = 0.9, .weight_decay = 5e-4});
  MultiStepLr schedule(0.5, {});
  DataLoader loader(images(20, 1), {.batch_size = 10, .shuffle = true, .workers = 0, .seed = 2,
                                    .rank = comm.rank(), .ranks = comm.size()});
  TrainingJob job{.model = *model, .head = head, .sgd = sgd, .schedule = schedule, .loader = loader, .epochs = 1,
                  .out_dir = out_dir, .device = kCPU, .communicator = &comm, .progress = false, .evaluate = {}, .after_step = {}};
  train(job);
  std::vector<double> values;
  for (const Tensor& p : sgd.params()) {
    std::vector<double> v = p.to_vector();
    values.insert(values.end(), v.begin(), v.end());
  }
  return values;
}

// A float64 LMCL or ArcFace head: the whole W (single) or this rank's rows of it (Partial FC).
std::shared_ptr<MarginLoss> head_of(const std::string& loss, int64_t dim, int64_t classes,
                                    std::optional<PartialFcOptions> partial) {
  Generator gen(9);
  return make_loss(loss, dim, classes, gen, {.scale = 10, .dtype = DType::F64, .partial_fc = partial});
}

}  // namespace

TEST_CASE("data parallel: two SGD steps of N ranks equal one rank with the whole batch, to 1e-12") {
  Communicator& comm = world();
  testing::TempDir dir("dist_dp");
  std::unique_ptr<Communicator> alone = detail::make_single_communicator();
  std::vector<double> one_rank = train_two_steps(*alone, dir.file("alone"));
  std::vector<double> all_ranks = train_two_steps(comm, dir.file("ranks"));
  CAPTURE(comm.size());
  CHECK(max_difference(one_rank, all_ranks) < 1e-12);
  // The steps moved the parameters (so the equality is between trained models).
  Generator gen(5);
  Linear fresh(64, 6, gen, true, DType::F64);
  CHECK(max_difference(std::vector<double>(one_rank.begin(), one_rank.begin() + 6 * 64), fresh.weight.to_vector()) > 1e-3);
}

TEST_CASE("Partial FC at r = 1 equals the single-process loss: value, dx and dW to 1e-10") {
  Communicator& comm = world();
  const int64_t batch = 7, dim = 5, classes = 11;
  for (const std::string loss : {"lmcl", "arcface"}) {
    CAPTURE(loss);
    CAPTURE(comm.size());
    Generator gen(3);
    Tensor x_all = testing::leaf({batch, dim}, gen);
    std::vector<int64_t> labels_all = {3, -1, 10, 0, 5, 3, -1};
    // The whole W, the same on every rank.
    auto full = head_of(loss, dim, classes, std::nullopt);
    Tensor x_ref = x_all.detach().clone().requires_grad_();
    Tensor ref = full->forward(x_ref, Tensor::from_indices(labels_all, {batch}, kCPU));
    ref.backward();

    auto partial = head_of(loss, dim, classes, PartialFcOptions{.communicator = &comm, .sample_rate = 1.0});
    const Part classes_here = partial->class_part(), rows_here = even_part(batch, comm.rank(), comm.size());
    CHECK(classes_here.count == even_part(classes, comm.rank(), comm.size()).count);
    testing::assign(partial->weight(), rows_of(full->weight(), classes_here));
    Tensor x = x_all.slice(0, rows_here.start, rows_here.start + rows_here.count).detach().contiguous().requires_grad_();
    std::vector<int64_t> labels(labels_all.begin() + rows_here.start, labels_all.begin() + rows_here.start + rows_here.count);
    Tensor value = partial->forward(x, Tensor::from_indices(labels, {rows_here.count}, kCPU));
    value.backward();

    CHECK(std::abs(value.item() - ref.item()) < 1e-10);
    CHECK(max_difference(x.grad().to_vector(), rows_of(x_ref.grad(), rows_here)) < 1e-10);
    CHECK(max_difference(partial->weight().grad().to_vector(), rows_of(full->weight().grad(), classes_here)) < 1e-10);
  }
}

TEST_CASE("Partial FC sampling keeps every positive and floor(r C_r) classes, reproducibly, labels remapped") {
  Communicator& comm = world();
  const int64_t classes = 40;
  auto head = head_of("lmcl", 4, classes, PartialFcOptions{.communicator = &comm, .sample_rate = 0.25, .seed = 7});
  const Part here = head->class_part();
  const int64_t wanted = static_cast<int64_t>(0.25 * here.count);
  std::vector<int64_t> labels = {0, 39, 13, -1, 20, 13, 27, 5};
  auto sample = head->sample_classes(labels, 4);
  CHECK(static_cast<int64_t>(sample.kept.size()) == std::max<int64_t>(wanted, 1));
  CHECK(std::is_sorted(sample.kept.begin(), sample.kept.end()));
  CHECK(std::adjacent_find(sample.kept.begin(), sample.kept.end()) == sample.kept.end());
  for (size_t b = 0; b < labels.size(); ++b) {
    const bool mine = labels[b] >= here.start && labels[b] < here.start + here.count;
    CHECK((sample.local_labels[b] >= 0) == mine);
    if (mine) CHECK(sample.kept[sample.local_labels[b]] + here.start == labels[b]);
  }
  CHECK(head->sample_classes(labels, 4).kept == sample.kept);  // same seed and step: same classes
  int64_t positives_here = 0;
  for (int64_t c : {0, 5, 13, 20, 27, 39}) positives_here += c >= here.start && c < here.start + here.count;
  bool differs = false;
  for (int64_t step = 5; step < 10; ++step) differs |= head->sample_classes(labels, step).kept != sample.kept;
  CHECK(differs == (positives_here < wanted));  // other steps draw other negatives, when there are any
  // More positives than r·C_r: all of them, and nothing else.
  std::vector<int64_t> many;
  for (int64_t c = 0; c < classes; c += 2) many.push_back(c);
  auto crowded = head->sample_classes(many, 4);
  int64_t positives = 0;
  for (int64_t c : many) positives += c >= here.start && c < here.start + here.count;
  if (positives >= wanted) CHECK(static_cast<int64_t>(crowded.kept.size()) == positives);
}

TEST_CASE("Partial FC at r < 1 equals the single-process loss over the sampled classes") {
  Communicator& comm = world();
  const int64_t batch = 6, dim = 5, classes = 30;
  Generator gen(4);
  Tensor x_all = testing::leaf({batch, dim}, gen);
  std::vector<int64_t> labels_all = {2, 17, -1, 29, 2, 11};
  auto full = head_of("lmcl", dim, classes, std::nullopt);
  auto partial = head_of("lmcl", dim, classes, PartialFcOptions{.communicator = &comm, .sample_rate = 0.3, .seed = 1});
  const Part here = partial->class_part(), rows_here = even_part(batch, comm.rank(), comm.size());
  testing::assign(partial->weight(), rows_of(full->weight(), here));
  partial->set_step(3);
  Tensor x = x_all.slice(0, rows_here.start, rows_here.start + rows_here.count).detach().contiguous();
  std::vector<int64_t> labels(labels_all.begin() + rows_here.start, labels_all.begin() + rows_here.start + rows_here.count);
  const double value = partial->forward(x, Tensor::from_indices(labels, {rows_here.count}, kCPU)).item();

  // Every rank's kept classes, as global class numbers, gathered in rank order.
  auto sample = partial->sample_classes(labels_all, 3);
  std::vector<int64_t> mine;
  for (int64_t j : sample.kept) mine.push_back(j + here.start);
  Tensor kept_counts = Tensor::empty({comm.size()}, DType::I64, kCPU);
  comm.all_gather(Tensor::from_indices({static_cast<int64_t>(mine.size())}, {1}, kCPU).view(), kept_counts.view(),
                  std::vector<int64_t>(comm.size(), 1));
  std::vector<int64_t> counts = kept_counts.to_indices();
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  Tensor all_kept = Tensor::empty({total}, DType::I64, kCPU);
  comm.all_gather(Tensor::from_indices(mine, {static_cast<int64_t>(mine.size())}, kCPU).view(), all_kept.view(), counts);
  std::vector<int64_t> kept = all_kept.to_indices();
  CHECK(total < classes);  // a real sample

  // The single-process loss with W restricted to those classes and the labels renumbered.
  std::vector<double> w_rows;
  for (int64_t c : kept) {
    std::vector<double> row = full->weight().slice(0, c, c + 1).contiguous().to_vector();
    w_rows.insert(w_rows.end(), row.begin(), row.end());
  }
  Generator unused(0);
  LargeMarginCosineLoss restricted(dim, total, unused, {.scale = 10, .dtype = DType::F64});
  testing::assign(restricted.weight(), w_rows);
  std::vector<int64_t> renumbered;
  for (int64_t y : labels_all)
    renumbered.push_back(y < 0 ? -1 : std::find(kept.begin(), kept.end(), y) - kept.begin());
  const double expected = restricted.forward(x_all, Tensor::from_indices(renumbered, {batch}, kCPU)).item();
  CHECK(std::abs(value - expected) < 1e-10);
}

TEST_CASE("ranks that disagree on what they run stop at start-up, every one of them") {
  Communicator& comm = world();
  require_same_on_every_rank(comm, "model", "the same");  // agreement passes
  if (comm.size() == 1) return;
  std::string message = error_of([&] {
    require_same_on_every_rank(comm, "loss (classes)", comm.rank() == comm.size() - 1 ? "11 classes" : "10 classes");
  });
  CHECK(testing::contains(message, "every rank must be started with the same loss (classes)"));
  CHECK(testing::contains(message, "rank(s) " + std::to_string(comm.size() - 1)));
  CHECK(testing::contains(message, "this is rank " + std::to_string(comm.rank())));
}

}  // namespace margin
