// tests/test_checkpoint.cpp — checkpoints round-trip a model, its buffers, the optimizer's
// velocities and the training position bit for bit; every kind of bad file is refused with a
// message naming the file and the problem, and a failed load or save changes nothing.
#include <filesystem>
#include <fstream>
#include <iterator>

#include "gradcheck.h"
#include "layers/activation.h"
#include "train/checkpoint.h"
#include "layers/linear.h"
#include "layers/norm.h"

namespace margin {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::contains;
using testing::error_of;

// Linear + BatchNorm1d + PReLU + Linear: parameters and buffers both matter.
std::shared_ptr<Sequential> make_model(uint64_t seed, int64_t hidden = 6) {
  Generator gen(seed);
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Linear>(4, hidden, gen))
      .add(std::make_shared<BatchNorm1d>(hidden))
      .add(std::make_shared<PReLU>(hidden))
      .add(std::make_shared<Linear>(hidden, 3, gen));
  return net;
}

std::vector<Tensor> all_parameters(Module& a, Module& b) {
  std::vector<Tensor> params = a.parameters();
  for (const Tensor& p : b.parameters()) params.push_back(p);
  return params;
}

Tensor batch(uint64_t seed) {
  Generator gen(seed);
  return Tensor::randn({8, 4}, gen, DType::F32);
}

// One SGD step on the model and its head; moves weights, running stats and velocities.
void train_step(Sequential& model, Linear& head, SGD& optimizer, uint64_t seed) {
  model.train();
  optimizer.zero_grad();
  Tensor out = head(model(batch(seed)));
  mean(out * out).backward();
  optimizer.step();
}

using Bytes = std::vector<char>;
Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
}

// Saves a trained model + head + SGD to `path`; returns the state it saved.
TrainingState save_trained(const std::string& path, Sequential& model, Linear& head,
                           SGD& optimizer, Generator& data_rng) {
  for (uint64_t step = 0; step < 3; ++step) train_step(model, head, optimizer, 100 + step);
  TrainingState state{2, 3, {{"data_rng", data_rng.state()}, {"note", "after warm-up"}}};
  save_checkpoint(path, {{"model", &model}, {"head", &head}}, &optimizer, state);
  return state;
}

TEST_CASE("A loaded model, head and optimizer continue exactly where the saved ones were") {
  TempDir dir("ckpt_roundtrip");
  std::string path = dir.file("model.ckpt");
  auto model = make_model(1);
  Generator head_gen(2), data_rng(3);
  Linear head(3, 2, head_gen);
  SGD optimizer(all_parameters(*model, head), {0.05, 0.9, 1e-4, false});
  data_rng.normal();  // leaves a cached normal draw: the state must carry it too
  TrainingState saved = save_trained(path, *model, head, optimizer, data_rng);

  auto restored = make_model(99);  // other seed: every value differs before the load
  Generator other_head_gen(98);
  Linear restored_head(3, 2, other_head_gen);
  SGD restored_optimizer(all_parameters(*restored, restored_head), {0.05, 0.9, 1e-4, false});
  TrainingState loaded = load_checkpoint(
      path, {{"model", restored.get()}, {"head", &restored_head}}, &restored_optimizer);

  CHECK(loaded.epoch == saved.epoch);
  CHECK(loaded.step == saved.step);
  CHECK(loaded.values == saved.values);
  Generator restored_rng(0);
  restored_rng.set_state(loaded.values.at("data_rng"));
  CHECK(restored_rng.normal() == data_rng.normal());
  CHECK(restored_rng.uniform() == data_rng.uniform());

  auto original_buffers = model->named_buffers(), restored_buffers = restored->named_buffers();
  REQUIRE(original_buffers.size() == 2);  // BN running mean and var
  for (size_t i = 0; i < original_buffers.size(); ++i)
    CHECK(original_buffers[i].value.to_vector() == restored_buffers[i].value.to_vector());
  for (size_t i = 0; i < optimizer.velocities().size(); ++i)
    CHECK(optimizer.velocities()[i].to_vector() == restored_optimizer.velocities()[i].to_vector());

  // Bit for bit: eval (running stats) and training (batch stats) outputs, then one more step.
  model->eval();
  restored->eval();
  CHECK(head(model->forward(batch(7))).to_vector() ==
        restored_head(restored->forward(batch(7))).to_vector());
  train_step(*model, head, optimizer, 200);
  train_step(*restored, restored_head, restored_optimizer, 200);
  auto a = all_parameters(*model, head), b = all_parameters(*restored, restored_head);
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].to_vector() == b[i].to_vector());
}

TEST_CASE("Without an optimizer a checkpoint loads the model alone") {
  TempDir dir("ckpt_model_only");
  std::string path = dir.file("model.ckpt");
  auto model = make_model(1);
  Generator head_gen(2), data_rng(3);
  Linear head(3, 2, head_gen);
  SGD optimizer(all_parameters(*model, head), {0.05, 0.9, 0.0, false});
  save_trained(path, *model, head, optimizer, data_rng);
  auto restored = make_model(5);
  Linear restored_head(3, 2, data_rng);
  load_checkpoint(path, {{"model", restored.get()}, {"head", &restored_head}}, nullptr);
  model->eval();
  restored->eval();
  CHECK(model->forward(batch(4)).to_vector() == restored->forward(batch(4)).to_vector());
}

TEST_CASE("Bad files are refused with the file and the problem named, nothing is loaded") {
  TempDir dir("ckpt_bad");
  std::string good = dir.file("good.ckpt");
  auto model = make_model(1);
  save_checkpoint(good, *model, nullptr, TrainingState{1, 10, {}});
  Bytes bytes = read_bytes(good);
  auto target = make_model(2);
  std::vector<double> before = target->parameters()[0].to_vector();
  auto load_error = [&](const Bytes& content, const std::string& name) {
    std::string path = dir.file(name);
    write_bytes(path, content);
    std::string message = error_of([&] { load_checkpoint(path, *target, nullptr); });
    CHECK(contains(message, path));
    return message;
  };

  Bytes flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  CHECK(contains(load_error(flipped, "flipped.ckpt"), "checksum mismatch"));

  Bytes truncated(bytes.begin(), bytes.begin() + bytes.size() - 7);
  CHECK(contains(load_error(truncated, "truncated.ckpt"), "truncated"));
  CHECK(contains(load_error(Bytes(bytes.begin(), bytes.begin() + 10), "stub.ckpt"), "truncated"));

  Bytes magic = bytes;
  magic[0] = 'X';
  CHECK(contains(load_error(magic, "magic.ckpt"), "bad magic"));

  Bytes version = bytes;
  version[8] = 2;
  CHECK(contains(load_error(version, "version.ckpt"), "unsupported format version 2"));

  std::string missing_file = dir.file("absent.ckpt");
  CHECK(contains(error_of([&] { load_checkpoint(missing_file, *target, nullptr); }),
                 "cannot open '" + missing_file + "'"));

  // None of the failures above wrote into the model.
  CHECK(target->parameters()[0].to_vector() == before);
}

TEST_CASE("Mismatched shapes, dtypes and tensor sets are named") {
  TempDir dir("ckpt_mismatch");
  std::string path = dir.file("model.ckpt");
  auto model = make_model(1);
  save_checkpoint(path, *model, nullptr, TrainingState{});

  auto wider = make_model(1, 7);
  std::string message = error_of([&] { load_checkpoint(path, *wider, nullptr); });
  CHECK(contains(message, path));
  CHECK(contains(message, "shape mismatch for '0.weight'"));
  CHECK(contains(message, "[6, 4]"));
  CHECK(contains(message, "[7, 4]"));

  Generator gen(1);
  Sequential doubles;
  doubles.add(std::make_shared<Linear>(4, 6, gen, true, DType::F64));
  Sequential floats;
  floats.add(std::make_shared<Linear>(4, 6, gen, true, DType::F32));
  save_checkpoint(path, floats, nullptr, TrainingState{});
  CHECK(contains(error_of([&] { load_checkpoint(path, doubles, nullptr); }),
                 "dtype mismatch for '0.weight'"));

  // floats lacks the BN, PReLU and second Linear that the model expects…
  std::vector<double> before = model->parameters()[0].to_vector();
  message = error_of([&] { load_checkpoint(path, *model, nullptr); });
  CHECK(contains(message, "missing tensor(s)"));
  CHECK(contains(message, "'1.running_mean'"));
  CHECK(contains(message, "'2.weight'"));
  CHECK(model->parameters()[0].to_vector() == before);  // its Linear was not half-loaded
  // …and the model's file has tensors that floats lacks.
  save_checkpoint(path, *model, nullptr, TrainingState{});
  message = error_of([&] { load_checkpoint(path, floats, nullptr); });
  CHECK(contains(message, "unexpected tensor(s)"));
  CHECK(contains(message, "'1.running_var'"));

  // An optimizer that expects velocities the file lacks.
  SGD optimizer(model->parameters(), {0.1, 0.9, 0.0, false});
  message = error_of([&] { load_checkpoint(path, *model, &optimizer); });
  CHECK(contains(message, "'optimizer.velocity.0.weight'"));
}

TEST_CASE("A failed save reports the error and leaves the previous checkpoint untouched") {
  TempDir dir("ckpt_failed_write");
  std::string path = dir.file("model.ckpt");
  auto model = make_model(1);
  save_checkpoint(path, *model, nullptr, TrainingState{1, 1, {}});
  Bytes before = read_bytes(path);

  // The temporary cannot be created (a directory is in its way; root ignores permissions).
  fs::create_directory(path + ".tmp");
  auto changed = make_model(2);
  std::string message =
      error_of([&] { save_checkpoint(path, *changed, nullptr, TrainingState{9, 9, {}}); });
  CHECK(contains(message, "save_checkpoint: cannot write '" + path + "'"));
  CHECK(contains(message, "untouched"));
  CHECK(read_bytes(path) == before);
  load_checkpoint(path, *changed, nullptr);  // still a valid checkpoint, the old one
  CHECK(changed->parameters()[0].to_vector() == model->parameters()[0].to_vector());

  std::string nowhere = dir.file("no/such/dir/model.ckpt");
  message = error_of([&] { save_checkpoint(nowhere, *model, nullptr, TrainingState{}); });
  CHECK(contains(message, nowhere));
  CHECK(!fs::exists(nowhere));
}

}  // namespace
}  // namespace margin
