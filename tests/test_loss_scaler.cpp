// tests/test_loss_scaler.cpp — the loss scaler of core/loss_scaler.h, rule by rule with exact
// values (every scale a power of two, so scaling and unscaling are exact), what it is for
// (a gradient that float16 rounds to 0 survives when scaled), and its place in the epoch loop
// (train/trainer.h) under precision fp16.
//
// fp16 products run on CUDA only, so the loop's tests train a model without matrix products
// (PixelWeights below), which the CPU runs under fp16 too: they exercise the scaler's part of
// the loop (scaled backward, unscale, skipped steps, the scale in checkpoints), not float16
// arithmetic. Their bit-for-bit comparisons are between runs on one device.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

#include "backends/half.h"
#include "core/loss_scaler.h"
#include "core/ops.h"
#include "core/precision.h"
#include "data/fashion_mnist.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "gradcheck.h"

namespace margin {
namespace {

using testing::contains;
using testing::error_of;
using testing::TempDir;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// A float32 leaf on the default device.
Tensor parameter(const std::vector<double>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, DType::F32, kCPU)
      .to(default_device())
      .requires_grad_();
}

// The bits of every value (float32 values widen to double exactly): equal bits, not merely
// equal values (−0 and 0 differ here).
std::vector<uint64_t> bits_of(const Tensor& tensor) {
  std::vector<uint64_t> bits;
  for (double value : tensor.to_vector()) bits.push_back(std::bit_cast<uint64_t>(value));
  return bits;
}

// A gradient set by hand, on the parameter's device.
void set_gradient(Tensor& param, const std::vector<double>& values) {
  param.set_grad(Tensor::from_vector(values, param.shape(), DType::F32, kCPU).to(param.device()));
}

}  // namespace

TEST_CASE("scale multiplies the loss and its gradient by S") {
  Tensor weight = parameter({0.5, -2.0});
  LossScaler scaler({.init_scale = 1024});
  Tensor loss = sum(weight * 3.0);  // −4.5; d loss / d weight = 3
  Tensor scaled = scaler.scale(loss);
  CHECK(scaled.item() == -4.5 * 1024);
  scaled.backward();
  CHECK(weight.grad().to_vector() == std::vector<double>{3.0 * 1024, 3.0 * 1024});
}

TEST_CASE("unscale divides every gradient by S exactly, skips parameters without one and reports them finite") {
  Tensor a = parameter({1.0, 2.0}), b = parameter({3.0}), unused = parameter({4.0});
  LossScaler scaler({.init_scale = 65536});
  scaler.scale(sum(a * Tensor::from_vector({0.375, -1e-3}, {2}, DType::F32, kCPU).to(default_device())) +
               sum(b * 1e-7))
      .backward();
  const double small = static_cast<float>(1e-3), tiny = static_cast<float>(1e-7);  // as float32 holds them
  CHECK(a.grad().to_vector() == std::vector<double>{0.375 * 65536, -small * 65536});
  CHECK(scaler.unscale_and_check({a, b, unused}));
  CHECK(a.grad().to_vector() == std::vector<double>{0.375, -small});
  CHECK(b.grad().to_vector() == std::vector<double>{tiny});
  CHECK_FALSE(unused.grad().defined());
  CHECK(scaler.scale_value() == 65536);  // unscaling leaves S alone; update changes it
  CHECK(scaler.clean_steps() == 0);
}

TEST_CASE("an inf or NaN gradient skips the step, leaves parameters and momentum bit for bit, halves S and resets the count") {
  for (double bad : {kInf, -kInf, kNaN}) {
    CAPTURE(bad);
    Tensor a = parameter({1.0, -1.0}), b = parameter({0.25});
    SGD sgd({a, b}, {.lr = 0.5, .momentum = 0.9});
    LossScaler scaler({.init_scale = 8, .growth_interval = 3});
    // A clean step first, so that the momentum buffers and the count are not zero.
    set_gradient(a, {8.0, 16.0});
    set_gradient(b, {-8.0});
    REQUIRE(scaler.step(sgd, {a, b}));
    CHECK(a.to_vector() == std::vector<double>{0.5, -2.0});  // p − 0.5 · grad/8
    CHECK(scaler.clean_steps() == 1);
    const std::vector<uint64_t> a_before = bits_of(a), b_before = bits_of(b);
    const std::vector<uint64_t> momentum_a = bits_of(sgd.velocities()[0]), momentum_b = bits_of(sgd.velocities()[1]);

    set_gradient(a, {8.0, bad});  // one bad value in one parameter skips every parameter's step
    set_gradient(b, {8.0});
    CHECK_FALSE(scaler.step(sgd, {a, b}));
    CHECK(bits_of(a) == a_before);
    CHECK(bits_of(b) == b_before);
    CHECK(bits_of(sgd.velocities()[0]) == momentum_a);
    CHECK(bits_of(sgd.velocities()[1]) == momentum_b);
    CHECK(scaler.scale_value() == 4);
    CHECK(scaler.clean_steps() == 0);
  }
}

TEST_CASE("unscale reports an inf or NaN gradient as not finite") {
  Tensor a = parameter({1.0, 2.0});
  LossScaler scaler({.init_scale = 2});
  set_gradient(a, {kNaN, 4.0});
  CHECK_FALSE(scaler.unscale_and_check({a}));
  set_gradient(a, {4.0, kInf});
  CHECK_FALSE(scaler.unscale_and_check({a}));
  // The largest float32 values are finite, and so is their sum of zeros: no false alarm.
  const double largest = std::numeric_limits<float>::max();
  set_gradient(a, {largest, largest});
  CHECK(scaler.unscale_and_check({a}));
}

TEST_CASE("S grows by growth_factor after exactly growth_interval clean steps and the count starts again") {
  LossScaler scaler({.init_scale = 1024, .growth_factor = 2, .growth_interval = 3});
  scaler.update(false);
  scaler.update(false);
  CHECK(scaler.scale_value() == 1024);
  CHECK(scaler.clean_steps() == 2);
  scaler.update(false);
  CHECK(scaler.scale_value() == 2048);
  CHECK(scaler.clean_steps() == 0);
  for (int i = 0; i < 3; ++i) scaler.update(false);
  CHECK(scaler.scale_value() == 4096);
  CHECK(scaler.clean_steps() == 0);
}

TEST_CASE("an inf in the middle of the clean steps restarts their count") {
  LossScaler scaler({.init_scale = 1024, .growth_interval = 3});
  scaler.update(false);
  scaler.update(false);
  scaler.update(true);
  CHECK(scaler.scale_value() == 512);
  CHECK(scaler.clean_steps() == 0);
  scaler.update(false);
  scaler.update(false);
  CHECK(scaler.scale_value() == 512);  // two clean steps since the inf, not four
  scaler.update(false);
  CHECK(scaler.scale_value() == 1024);
}

TEST_CASE("the defaults are PyTorch's GradScaler's") {
  LossScaler scaler;
  CHECK(scaler.scale_value() == 65536);
  CHECK(scaler.options().growth_factor == 2);
  CHECK(scaler.options().backoff_factor == 0.5);
  CHECK(scaler.options().growth_interval == 2000);
}

TEST_CASE("options out of range are errors naming the field and its value") {
  auto refusal = [](LossScalerOptions options) { return error_of([&] { [[maybe_unused]] LossScaler scaler(options); }); };
  CHECK(contains(refusal({.init_scale = 0}), "init_scale 0"));
  CHECK(contains(refusal({.init_scale = -1}), "init_scale -1"));
  CHECK(contains(refusal({.init_scale = kInf}), "init_scale inf"));
  CHECK(contains(refusal({.growth_factor = 1}), "growth_factor 1"));
  CHECK(contains(refusal({.growth_factor = 0.5}), "growth_factor 0.5"));
  CHECK(contains(refusal({.backoff_factor = 1}), "backoff_factor 1"));
  CHECK(contains(refusal({.backoff_factor = 0}), "backoff_factor 0"));
  CHECK(contains(refusal({.backoff_factor = kNaN}), "backoff_factor nan"));
  CHECK(contains(refusal({.growth_interval = 0}), "growth_interval 0"));
  LossScaler scaler({.growth_interval = 4});
  CHECK(contains(error_of([&] { scaler.restore(0, 0); }), "scale 0"));
  CHECK(contains(error_of([&] { scaler.restore(8, 4); }), "clean_steps 4"));
  scaler.restore(8, 3);
  CHECK(scaler.scale_value() == 8);
  CHECK(scaler.clean_steps() == 3);
}

TEST_CASE("float16 rounds a gradient of 1e-8 to 0 and keeps it within 2^-11 when the loss is scaled") {
  // fp16 products run on CUDA only: the CPU refuses them. The loss here is float32 and the
  // rounding to float16 is done by hand, where an fp16 product would round its operand.
  CHECK(contains(error_of([] { check_precision(Precision::FP16, kCPU); }), "fp16"));
  Tensor weight = parameter({0.5});
  Tensor input = Tensor::full({1}, 1e-8, DType::F32, default_device());
  const double gradient = static_cast<float>(1e-8);  // d loss / d weight, below 2^-24 ≈ 6e-8

  sum(weight * input).backward();
  REQUIRE(weight.grad().item() == gradient);
  CHECK(fp16_float(fp16_bits(static_cast<float>(gradient))) == 0);  // lost

  weight.zero_grad();
  LossScaler scaler;  // S = 2^16: S · gradient ≈ 6.6e-4 is a normal float16
  scaler.scale(sum(weight * input)).backward();
  const float scaled = static_cast<float>(weight.grad().item());
  CHECK(scaled == gradient * 65536);
  const float in_fp16 = fp16_float(fp16_bits(scaled));
  weight.grad().copy_(Tensor::full({1}, in_fp16, DType::F32, kCPU));
  REQUIRE(scaler.unscale_and_check({weight}));
  const double recovered = weight.grad().item();
  CAPTURE(recovered);
  CHECK(recovered != 0);
  CHECK(std::abs(recovered - gradient) <= std::ldexp(1.0, -11) * gradient);
}

namespace {

// y = x · w, one weight per pixel: a model without matrix products, which the CPU runs under
// precision fp16 (its products are the ones the CPU refuses).
class PixelWeights final : public Layer {
 public:
  PixelWeights(int64_t pixels, Generator& gen)
      : weight_(register_parameter("weight", Tensor::uniform({1, pixels}, 0.5, 1.5, gen, DType::F32, kCPU)
                                                 .to(default_device()))) {}
  Tensor forward(const Tensor& x) override { return x.reshape({x.size(0), weight_.size(1)}) * weight_; }
  std::string type_name() const override { return "PixelWeights"; }

 private:
  Tensor weight_;
};

// 64 grey 4x4 images of 4 classes; class c brightens row c.
std::shared_ptr<const Dataset> four_rows(uint64_t seed) {
  Generator gen(seed);
  const int64_t count = 64;
  std::vector<uint8_t> pixels(count * 16), labels(count);
  for (int64_t i = 0; i < count; ++i) {
    labels[i] = static_cast<uint8_t>(gen.below(4));
    for (int64_t p = 0; p < 16; ++p)
      pixels[i * 16 + p] = static_cast<uint8_t>(gen.below(128) + (p / 4 == labels[i] ? 127 : 0));
  }
  return std::make_shared<GreyImageDataset>(std::move(pixels), std::move(labels), 4, 4, 4);
}

struct TinyJob {
  Precision precision = Precision::FP32;
  LossScalerOptions scaler = {};
  std::string out_dir;
  std::optional<int64_t> stop_after = std::nullopt;
  std::optional<std::string> resume = std::nullopt;
  // After each optimizer step: the global step and the optimizer.
  std::function<void(int64_t step, const SGD& sgd)> after_step = nullptr;
};

struct TinyRun {
  TrainingOutcome outcome;
  std::vector<uint64_t> parameter_bits;  // of every parameter after the run, model's then head's
};

constexpr int64_t kTinyEpochs = 3, kTinyStepsPerEpoch = 64 / 16;

// Three epochs of PixelWeights and NSL with SGD (momentum, weight decay) under a cosine
// schedule, on the default device: the same initial weights and batches on every call.
TinyRun train_tiny(const TinyJob& tiny) {
  Generator gen(7);
  PixelWeights model(16, gen);
  std::shared_ptr<MarginLoss> head = make_loss("nsl", 16, 4, gen);
  SGD sgd(parameters_of({&model, head.get()}), {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4});
  DataLoader loader(four_rows(1), {.batch_size = 16, .shuffle = true, .drop_last = true, .workers = 0, .seed = 3});
  CosineLr schedule(0.1, kTinyEpochs * kTinyStepsPerEpoch);
  TrainingJob job{.model = model, .head = *head, .sgd = sgd, .schedule = schedule, .loader = loader,
                  .epochs = kTinyEpochs, .out_dir = tiny.out_dir, .resume = tiny.resume,
                  .stop_after = tiny.stop_after, .precision = tiny.precision, .loss_scaler = tiny.scaler,
                  .progress = false, .evaluate = nullptr, .after_step = nullptr};
  if (tiny.after_step) job.after_step = [&](int64_t step) { tiny.after_step(step, sgd); };
  TinyRun run{.outcome = train(job), .parameter_bits = {}};
  for (const Tensor& param : sgd.params())
    for (uint64_t bits : bits_of(param)) run.parameter_bits.push_back(bits);
  return run;
}

}  // namespace

TEST_CASE("an fp16 job with a power-of-two scale and no overflow trains bit for bit like the fp32 job") {
  TempDir dir("scaler_exact");
  TinyRun fp32 = train_tiny({.out_dir = dir.file("fp32")});
  TinyRun fp16 = train_tiny({.precision = Precision::FP16, .scaler = {.init_scale = 1024}, .out_dir = dir.file("fp16")});
  REQUIRE(fp16.outcome.finished);
  CHECK(fp16.parameter_bits == fp32.parameter_bits);
  for (const EpochRecord& record : fp16.outcome.epochs) {
    CHECK(record.skipped_steps == 0);
    CHECK(record.loss_scale == 1024);
    CHECK(record.train_loss == fp32.outcome.epochs[record.epoch - 1].train_loss);
  }
  for (const EpochRecord& record : fp32.outcome.epochs) CHECK(record.loss_scale == 0);  // no scaler
}

TEST_CASE("an fp16 job whose scaled gradients overflow skips those steps, halves the scale and counts them") {
  TempDir dir("scaler_skips");
  std::vector<uint64_t> initial;
  int64_t steps_seen = 0;
  // S = 2^130 is past float32's range: the first steps' scaled losses are inf, and S halves
  // until S · gradients fit.
  const double init_scale = std::ldexp(1.0, 130);
  TinyRun run = train_tiny({.precision = Precision::FP16, .scaler = {.init_scale = init_scale},
                            .out_dir = dir.file("run"), .after_step = [&](int64_t step, const SGD& sgd) {
                              ++steps_seen;
                              std::vector<uint64_t> now;
                              for (const Tensor& param : sgd.params())
                                for (uint64_t bits : bits_of(param)) now.push_back(bits);
                              if (step == 0) initial = now;  // after a skipped step: as at the start
                              if (step == 1) CHECK(now == initial);
                              if (step <= 1)
                                for (const Tensor& velocity : sgd.velocities())
                                  for (double value : velocity.to_vector()) CHECK(value == 0);
                            }});
  REQUIRE(run.outcome.finished);
  CHECK(steps_seen == kTinyEpochs * kTinyStepsPerEpoch);  // a skipped step is still a step of the schedule
  int64_t skipped = 0;
  for (const EpochRecord& record : run.outcome.epochs) {
    skipped += record.skipped_steps;
    CHECK(record.loss_scale == std::ldexp(init_scale, static_cast<int>(-skipped)));  // no growth in 12 steps
    CHECK(std::isfinite(record.train_loss));
  }
  CAPTURE(skipped);
  CHECK(skipped >= 3);  // 2^130, 2^129 and 2^128 are not float32 values
  CHECK(skipped < kTinyEpochs * kTinyStepsPerEpoch);
  CHECK(run.parameter_bits != initial);  // the steps after the skipped ones were taken
}

TEST_CASE("a resumed fp16 job continues with the checkpoint's loss scale and clean-step count") {
  TempDir dir("scaler_resume");
  // Overflowing at first, then growing every 3 clean steps: at the end of epoch 1 the scale
  // has moved and the count of clean steps is under way, and both matter to epoch 2.
  const LossScalerOptions options{.init_scale = std::ldexp(1.0, 124), .growth_interval = 3};
  TinyRun whole = train_tiny({.precision = Precision::FP16, .scaler = options, .out_dir = dir.file("whole")});
  REQUIRE(whole.outcome.finished);

  const std::string stopped = dir.file("stopped");
  REQUIRE_FALSE(train_tiny({.precision = Precision::FP16, .scaler = options, .out_dir = stopped, .stop_after = 1})
                    .outcome.finished);
  TrainingState state = read_checkpoint_state(stopped + "/checkpoint.bin");
  CHECK(state.values.at("loss_scale") == setting_text(whole.outcome.epochs[0].loss_scale));
  REQUIRE(state.values.count("loss_scale_clean_steps") == 1);
  CHECK(state.values.at("loss_scale_clean_steps") != "0");
  CHECK(whole.outcome.epochs[0].skipped_steps > 0);
  CHECK(whole.outcome.epochs[0].loss_scale != options.init_scale);

  TinyRun resumed = train_tiny({.precision = Precision::FP16, .scaler = options, .out_dir = stopped,
                                .resume = stopped + "/checkpoint.bin"});
  REQUIRE(resumed.outcome.first_epoch == 1);
  REQUIRE(resumed.outcome.finished);
  CHECK(resumed.parameter_bits == whole.parameter_bits);
  for (const EpochRecord& record : resumed.outcome.epochs) {
    CAPTURE(record.epoch);
    CHECK(record.loss_scale == whole.outcome.epochs[record.epoch - 1].loss_scale);
    CHECK(record.skipped_steps == whole.outcome.epochs[record.epoch - 1].skipped_steps);
  }
}

}  // namespace margin
