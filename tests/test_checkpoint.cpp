// tests/test_checkpoint.cpp — checkpoints round-trip a model, its buffers, the optimizer's
// velocities and the training position bit for bit (bfloat16 and float16 tensors too); every
// kind of bad file is refused with a message naming the file and the problem (a hostile shape
// names the tensor), and a failed load or save changes nothing.
#include <zlib.h>

#include <algorithm>
#include <cstring>
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

// `bytes` with the CRC-32 at its end recomputed, as a writer of a hostile file would.
Bytes with_checksum(Bytes bytes) {
  uint32_t crc = static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size() - 4)));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  return bytes;
}

// Where the rank (u32) of the stored tensor `name` is: after its name and dtype byte.
size_t rank_offset(const Bytes& bytes, const std::string& name) {
  std::string key(4, '\0');
  uint32_t length = static_cast<uint32_t>(name.size());
  std::memcpy(key.data(), &length, 4);
  key += name;
  auto found = std::search(bytes.begin(), bytes.end(), key.begin(), key.end());
  REQUIRE(found != bytes.end());
  return static_cast<size_t>(found - bytes.begin()) + key.size() + 1;
}

TEST_CASE("A stored shape that overflows, is negative, has too many dimensions or outruns the body is refused, naming the tensor") {
  TempDir dir("ckpt_shapes");
  auto model = make_model(1);
  std::string good = dir.file("good.ckpt");
  save_checkpoint(good, *model, nullptr, TrainingState{1, 10, {}});
  const Bytes bytes = read_bytes(good);
  const size_t rank_at = rank_offset(bytes, "0.weight");
  uint32_t rank = 0;
  std::memcpy(&rank, bytes.data() + rank_at, 4);
  REQUIRE(rank == 2);
  int64_t stored[2];
  std::memcpy(stored, bytes.data() + rank_at + 4, 16);
  REQUIRE(stored[0] == 6);
  REQUIRE(stored[1] == 4);

  auto target = make_model(2);
  std::vector<double> before = target->parameters()[0].to_vector();
  // The file with 0.weight's shape replaced (the data stays where it was), checksum redone.
  auto load_with_shape = [&](int64_t rows, int64_t columns, const std::string& name) {
    Bytes patched = bytes;
    std::memcpy(patched.data() + rank_at + 4, &rows, 8);
    std::memcpy(patched.data() + rank_at + 12, &columns, 8);
    std::string path = dir.file(name);
    write_bytes(path, with_checksum(patched));
    return error_of([&] { load_checkpoint(path, *target, nullptr); });
  };
  std::string prefix = "load_checkpoint: '" + dir.file("elements.ckpt") + "': ";
  CHECK(load_with_shape(int64_t(1) << 62, 4, "elements.ckpt") ==
        prefix + "tensor '0.weight' of shape [4611686018427387904, 4]: 4611686018427387904×4 overflows a 64-bit count");
  prefix = "load_checkpoint: '" + dir.file("bytes.ckpt") + "': ";
  CHECK(load_with_shape(int64_t(1) << 61, 1, "bytes.ckpt") ==
        prefix + "tensor '0.weight' of float32 values: 2305843009213693952×4 overflows a 64-bit count");
  prefix = "load_checkpoint: '" + dir.file("negative.ckpt") + "': ";
  CHECK(load_with_shape(-6, 4, "negative.ckpt") ==
        prefix + "tensor '0.weight' has size -6 in dimension 0 of [-6, 4] (expected sizes ≥ 0)");
  // Both negative: the product would be positive, the check is per size.
  prefix = "load_checkpoint: '" + dir.file("negatives.ckpt") + "': ";
  CHECK(load_with_shape(-6, -4, "negatives.ckpt") ==
        prefix + "tensor '0.weight' has size -6 in dimension 0 of [-6, -4] (expected sizes ≥ 0)");
  // 2⁴⁰ × 4 × 4 bytes: no overflow, but far more than the file holds.
  std::string message = load_with_shape(int64_t(1) << 40, 4, "outruns.ckpt");
  CHECK(contains(message, "load_checkpoint: '" + dir.file("outruns.ckpt") +
                              "': tensor '0.weight' float32 [1099511627776, 4] needs 17592186044416 bytes but only "));
  CHECK(contains(message, " are left in the body"));

  Bytes ranked = bytes;
  uint32_t nine = 9;
  std::memcpy(ranked.data() + rank_at, &nine, 4);
  std::string path = dir.file("rank.ckpt");
  write_bytes(path, with_checksum(ranked));
  CHECK(error_of([&] { load_checkpoint(path, *target, nullptr); }) ==
        "load_checkpoint: '" + path + "': tensor '0.weight' has 9 dimensions (expected at most 8)");

  // A body length of 2⁶⁴ − 1: header + body + checksum would wrap around to 23 bytes.
  Bytes wrapped = bytes;
  uint64_t body_length = ~uint64_t(0);
  std::memcpy(wrapped.data() + 12, &body_length, 8);
  path = dir.file("wrapped.ckpt");
  write_bytes(path, with_checksum(wrapped));
  CHECK(error_of([&] { load_checkpoint(path, *target, nullptr); }) ==
        "load_checkpoint: '" + path + "': truncated: " + std::to_string(bytes.size()) +
            " bytes, the header announces a body of " + std::to_string(body_length));

  CHECK(target->parameters()[0].to_vector() == before);  // nothing was loaded
}

// Two 16-bit buffers, as a module that stores activations or weights in bfloat16 and
// float16 would hold them.
struct HalfStore : Module {
  HalfStore(const Tensor& bf16, const Tensor& fp16) {
    register_buffer("bf16", bf16);
    register_buffer("fp16", fp16);
  }
  std::string type_name() const override { return "HalfStore"; }
};

TEST_CASE("bfloat16 and float16 tensors round-trip bit for bit, an unknown dtype code is refused naming the tensor") {
  TempDir dir("ckpt_half");
  std::string path = dir.file("half.ckpt");
  const std::vector<double> values{1 + 1.0 / 128, -65504, 0x1p-24, 3.5};
  HalfStore saved(Tensor::from_vector(values, {2, 2}, DType::BF16), Tensor::from_vector(values, {4}, DType::F16));
  save_checkpoint(path, saved, nullptr, TrainingState{});
  HalfStore loaded(Tensor::zeros({2, 2}, DType::BF16), Tensor::zeros({4}, DType::F16));
  load_checkpoint(path, loaded, nullptr);
  auto bits_of = [](const Tensor& t) {
    std::vector<uint16_t> bits(static_cast<size_t>(t.numel()));
    backend_for(t.device()).copy_to_host(t.view(), bits.data());
    return bits;
  };
  for (size_t i = 0; i < 2; ++i) {
    Tensor stored = saved.named_buffers()[i].value, read = loaded.named_buffers()[i].value;
    CHECK(read.dtype() == stored.dtype());
    CHECK(bits_of(read) == bits_of(stored));
  }
  CHECK(loaded.named_buffers()[1].value.to_vector() == values);  // each exact in float16

  // A float32 model does not take them: the dtypes are named.
  HalfStore wide(Tensor::zeros({2, 2}, DType::F32), Tensor::zeros({4}, DType::F16));
  CHECK(contains(error_of([&] { load_checkpoint(path, wide, nullptr); }),
                 "dtype mismatch for 'bf16': the file has bfloat16, the model has float32[2, 2]"));

  // A dtype code past the last one.
  Bytes bytes = read_bytes(path);
  bytes[rank_offset(bytes, "bf16") - 1] = 9;
  std::string bad = dir.file("dtype.ckpt");
  write_bytes(bad, with_checksum(bytes));
  std::string expected = "load_checkpoint: '";
  expected += bad;
  expected += "': tensor 'bf16' has unknown dtype code 9 (expected 0 float32, 1 float64, 2 int64, 3 bfloat16 or 4 float16)";
  CHECK(error_of([&] { load_checkpoint(bad, loaded, nullptr); }) == expected);
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
