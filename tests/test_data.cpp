// tests/test_data.cpp — the IDX reader on the real Fashion-MNIST files and on files written
// here (gzip'd and plain, whole and broken, hostile: dimensions that overflow, a terabyte
// declared in a tiny file, a gzip stream inflating past its header's size, Fashion-MNIST
// files of the wrong image size), the transforms on tiny images worked by hand,
// and the DataLoader's promises: every sample once per epoch, order fixed by (seed, epoch),
// the same batches for any number of workers, errors carried from workers to the caller.
#include <doctest/doctest.h>

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <unistd.h>

#include "backends/communicator.h"
#include "data/fashion_mnist.h"
#include "data/idx.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "gradcheck.h"
#include "skip.h"

namespace margin {
namespace {

using testing::TempDir;
using testing::error_of;

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& values) {
  std::vector<uint8_t> bytes;
  auto put = [&](uint32_t word) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(uint8_t(word >> shift));
  };
  put(magic);
  for (uint32_t d : dims) put(d);
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

void write_plain(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Three 2×3 images with pixels 0..17 and labels 2, 0, 1.
std::vector<uint8_t> tiny_pixels() {
  std::vector<uint8_t> pixels(18);
  std::iota(pixels.begin(), pixels.end(), 0);
  return pixels;
}

TEST_CASE("the real Fashion-MNIST files: counts, shapes, labels, checksums (needs dataset-fashion-mnist)") {
  if (!std::filesystem::exists(kFashionMnistDir))
    return testing::skip(std::string(kFashionMnistDir) + " is absent (Debian package dataset-fashion-mnist)");
  std::string dir = kFashionMnistDir;
  // Sums and first values read from the files once with Python's gzip module.
  std::string prefix = dir + "/train";
  IdxImagesAndLabels train = read_idx_images_and_labels(prefix + "-images-idx3-ubyte.gz",
                                                        prefix + "-labels-idx1-ubyte.gz", 10);
  CHECK(train.images.dims == std::vector<int64_t>{60000, 28, 28});
  CHECK(train.labels.dims == std::vector<int64_t>{60000});
  CHECK(std::accumulate(train.images.values.begin(), train.images.values.end(), uint64_t(0)) == 3431114169ull);
  std::vector<int64_t> per_class(10, 0);
  for (uint8_t label : train.labels.values) per_class[label] += 1;  // in range: checked by the reader
  CHECK(per_class == std::vector<int64_t>(10, 6000));
  CHECK(std::vector<uint8_t>(train.labels.values.begin(), train.labels.values.begin() + 10) ==
        std::vector<uint8_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5});
  GreyImageDataset train_set(std::move(train.images.values), std::move(train.labels.values), 28, 28, 10);
  Sample first = train_set.get(0);
  CHECK(first.shape() == Shape{1, 28, 28});
  CHECK(first.label == 9);
  CHECK(fashion_mnist_class_names()[first.label] == "Ankle boot");
  CHECK(first.at(0, 3, 12) == doctest::Approx(1 / 255.0));
  CHECK(first.at(0, 3, 16) == doctest::Approx(73 / 255.0));
  CHECK(first.at(0, 417 / 28, 417 % 28) == 1.0f);  // the first 255 of image 0
  CHECK(first.at(0, 0, 0) == 0.0f);

  // The test split through load_fashion_mnist, the way training code reads it.
  std::shared_ptr<GreyImageDataset> test = load_fashion_mnist(dir, false);
  REQUIRE(test->size() == 10000);
  int64_t pixel_sum = 0;  // of the bytes the floats came from
  std::vector<int64_t> test_per_class(10, 0);
  for (int64_t i = 0; i < test->size(); ++i) {
    Sample sample = test->get(i);
    for (float value : sample.image) pixel_sum += std::lround(value * 255.0);
    test_per_class[sample.label] += 1;
  }
  CHECK(pixel_sum == 573469082);
  CHECK(test_per_class == std::vector<int64_t>(10, 1000));
  std::vector<int64_t> first_labels;
  for (int64_t i = 0; i < 10; ++i) first_labels.push_back(test->get(i).label);
  CHECK(first_labels == std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  CHECK(test->get(0).at(0, 7, 25) == doctest::Approx(37 / 255.0));
}

TEST_CASE("IDX files written here read back, gzip'd or plain") {
  TempDir dir("idx_ok");
  std::vector<uint8_t> images = idx_bytes(kIdxImagesMagic, {3, 2, 3}, tiny_pixels());
  std::vector<uint8_t> labels = idx_bytes(kIdxLabelsMagic, {3}, {2, 0, 1});
  write_gzip(dir.file("images.gz"), images);
  write_gzip(dir.file("labels.gz"), labels);
  write_plain(dir.file("images"), images);
  write_plain(dir.file("labels"), labels);
  for (const std::string suffix : {".gz", ""}) {
    CAPTURE(suffix);
    IdxImagesAndLabels pair = read_idx_images_and_labels(dir.file("images" + suffix), dir.file("labels" + suffix), 3);
    CHECK(pair.images.dims == std::vector<int64_t>{3, 2, 3});
    CHECK(pair.images.values == tiny_pixels());
    CHECK(pair.labels.values == std::vector<uint8_t>{2, 0, 1});
  }
  GreyImageDataset dataset(tiny_pixels(), {2, 0, 1}, 2, 3, 3);
  Sample second = dataset.get(1);
  CHECK(second.label == 0);
  CHECK(second.shape() == Shape{1, 2, 3});
  CHECK(second.at(0, 1, 2) == doctest::Approx(11 / 255.0));
  CHECK(error_of([&] { dataset.get(3); }).find("index 3 out of range (size 3)") != std::string::npos);
}

TEST_CASE("broken IDX files: each error names the file and the problem") {
  TempDir dir("idx_broken");
  std::vector<uint8_t> images = idx_bytes(kIdxImagesMagic, {3, 2, 3}, tiny_pixels());
  std::vector<uint8_t> labels = idx_bytes(kIdxLabelsMagic, {3}, {2, 0, 1});
  write_gzip(dir.file("images.gz"), images);
  write_gzip(dir.file("labels.gz"), labels);

  std::string missing = dir.file("absent.gz");
  CHECK(error_of([&] { read_idx(missing, kIdxImagesMagic); }) == "idx: " + missing + ": no such file");

  // Truncated gzip: the compressed stream cut in the middle.
  std::vector<uint8_t> compressed = read_raw(dir.file("images.gz"));
  std::string cut = dir.file("cut.gz");
  write_plain(cut, std::vector<uint8_t>(compressed.begin(), compressed.begin() + compressed.size() / 2));
  std::string message = error_of([&] { read_idx(cut, kIdxImagesMagic); });
  CHECK(message.find(cut) != std::string::npos);
  CHECK(message.find("truncated gzip stream") != std::string::npos);

  // Corrupt gzip: a valid gzip header, then garbage where the deflate data should be.
  std::vector<uint8_t> garbled = compressed;
  for (size_t i = 10; i < garbled.size(); ++i) garbled[i] = 0xFF;
  std::string corrupt = dir.file("corrupt.gz");
  write_plain(corrupt, garbled);
  message = error_of([&] { read_idx(corrupt, kIdxImagesMagic); });
  CHECK(message.find(corrupt) != std::string::npos);
  CHECK(message.find("corrupt gzip data") != std::string::npos);

  std::string not_gzip = dir.file("plain_named.gz");
  write_plain(not_gzip, images);
  CHECK(error_of([&] { read_idx(not_gzip, kIdxImagesMagic); }) ==
        "idx: " + not_gzip + ": named .gz but is not gzip'd (no gzip header)");

  // A whole gzip stream of a truncated IDX file: pixels missing.
  std::string short_data = dir.file("short.gz");
  write_gzip(short_data, std::vector<uint8_t>(images.begin(), images.end() - 5));
  CHECK(error_of([&] { read_idx(short_data, kIdxImagesMagic); }) ==
        "idx: " + short_data + ": truncated: 13 bytes of data for dims [3, 2, 3], expected 18");
  std::string short_header = dir.file("short_header");
  write_plain(short_header, std::vector<uint8_t>(images.begin(), images.begin() + 9));
  CHECK(error_of([&] { read_idx(short_header, kIdxImagesMagic); }) ==
        "idx: " + short_header + ": truncated: 9 bytes, the header alone needs 16");
  std::string too_long = dir.file("too_long");
  std::vector<uint8_t> padded = images;
  padded.push_back(0);
  write_plain(too_long, padded);
  CHECK(error_of([&] { read_idx(too_long, kIdxImagesMagic); }) ==
        "idx: " + too_long + ": 1 bytes past the end of the data for dims [3, 2, 3] (expected exactly 18)");

  // Labels where images were expected.
  std::string labels_path = dir.file("labels.gz");
  CHECK(error_of([&] { read_idx(labels_path, kIdxImagesMagic); }) ==
        "idx: " + labels_path + ": magic number 2049, expected 2051 (uint8 with 3 dims)");

  // Four labels for three images.
  std::string four_labels = dir.file("four_labels.gz");
  write_gzip(four_labels, idx_bytes(kIdxLabelsMagic, {4}, {0, 1, 2, 0}));
  std::string images_path = dir.file("images.gz");
  CHECK(error_of([&] { read_idx_images_and_labels(images_path, four_labels, 3); }) ==
        "idx: " + images_path + " holds 3 images but " + four_labels + " holds 4 labels (expected the same count)");

  // A label of 7 among 3 classes.
  std::string bad_label = dir.file("bad_label.gz");
  write_gzip(bad_label, idx_bytes(kIdxLabelsMagic, {3}, {0, 7, 1}));
  CHECK(error_of([&] { read_idx_images_and_labels(images_path, bad_label, 3); }) ==
        "idx: " + bad_label + ": label 7 at index 1 is out of range (expected 0..2)");
}

TEST_CASE("IDX dimensions whose product overflows are refused, naming the file") {
  TempDir dir("idx_overflow");
  std::string plain = dir.file("overflow");
  write_plain(plain, idx_bytes(kIdxImagesMagic, {4294967295u, 4294967295u, 4294967295u}, {1, 2, 3}));
  CHECK(error_of([&] { read_idx(plain, kIdxImagesMagic); }) ==
        "idx: " + plain + ": dims: 4294967295×4294967295×4294967295 overflows a 64-bit count");
  std::string gzipped = dir.file("overflow.gz");
  write_gzip(gzipped, idx_bytes(kIdxImagesMagic, {65536, 65536, 4294967295u}, {}));
  CHECK(error_of([&] { read_idx(gzipped, kIdxImagesMagic); }) ==
        "idx: " + gzipped + ": dims: 65536×65536×4294967295 overflows a 64-bit count");
}

TEST_CASE("an IDX header declaring 2^40 bytes in a tiny file fails at once, naming the file, plain or gzip'd") {
  TempDir dir("idx_declares_more");
  // 2²⁰ images of 1024×1024: a terabyte declared, three bytes there. Nothing of the declared
  // size is allocated (a bare bad_alloc would escape error_of and fail the test).
  std::vector<uint8_t> bytes = idx_bytes(kIdxImagesMagic, {1u << 20, 1024, 1024}, {7, 8, 9});
  write_plain(dir.file("huge"), bytes);
  write_gzip(dir.file("huge.gz"), bytes);
  for (const std::string name : {"huge", "huge.gz"}) {
    CAPTURE(name);
    std::string path = dir.file(name);
    auto start = std::chrono::steady_clock::now();
    CHECK(error_of([&] { read_idx(path, kIdxImagesMagic); }) ==
          "idx: " + path + ": truncated: 3 bytes of data for dims [1048576, 1024, 1024], expected 1099511627776");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  }
}

TEST_CASE("a gzip'd IDX that inflates past its header's size stops there, naming the file") {
  TempDir dir("idx_bomb");
  // The header declares 3 images of 2×3 (18 bytes); the stream goes on with 16 MiB of zeros,
  // and is then cut short. A reader that inflated everything would meet the cut and call the
  // stream truncated; one that stops at the declared size + 1 byte never gets there.
  std::vector<uint8_t> inflated = idx_bytes(kIdxImagesMagic, {3, 2, 3}, tiny_pixels());
  inflated.resize(inflated.size() + (16 << 20), 0);
  write_gzip(dir.file("whole.gz"), inflated);
  std::vector<uint8_t> compressed = read_raw(dir.file("whole.gz"));
  std::string bomb = dir.file("bomb.gz");
  write_plain(bomb, std::vector<uint8_t>(compressed.begin(), compressed.begin() + compressed.size() / 2));
  std::string expected = "idx: " + bomb +
                         ": bytes past the declared 18 bytes of data for dims [3, 2, 3] (the gzip stream inflates to "
                         "more; read no further)";
  CHECK(error_of([&] { read_idx(bomb, kIdxImagesMagic); }) == expected);
  std::string whole = dir.file("whole.gz");
  CHECK(error_of([&] { read_idx(whole, kIdxImagesMagic); }) ==
        "idx: " + whole +
            ": bytes past the declared 18 bytes of data for dims [3, 2, 3] (the gzip stream inflates to more; read no "
            "further)");
  // read_file_bytes stops one byte past its limit in the same way.
  CHECK(error_of([&] { read_file_bytes(bomb, 1000); }) ==
        "idx: " + bomb + ": longer than the limit of 1000 bytes once gunzipped (read no further)");
  CHECK(read_file_bytes(whole).size() == inflated.size());
}

TEST_CASE("Fashion-MNIST-shaped files of 27×28 images, or not as many images as labels, are refused") {
  TempDir dir("fmnist_shapes");
  auto write_split = [&](const std::string& split, std::vector<uint32_t> image_dims, uint32_t labels) {
    std::vector<uint8_t> pixels(image_dims[0] * image_dims[1] * image_dims[2], 128);
    write_gzip(dir.file(split + "-images-idx3-ubyte.gz"), idx_bytes(kIdxImagesMagic, image_dims, pixels));
    write_gzip(dir.file(split + "-labels-idx1-ubyte.gz"), idx_bytes(kIdxLabelsMagic, {labels}, std::vector<uint8_t>(labels, 3)));
  };
  write_split("train", {2, 27, 28}, 2);
  write_split("t10k", {3, 28, 28}, 2);
  CHECK(error_of([&] { load_fashion_mnist(dir.path.string(), true); }) ==
        "fashion-mnist: " + dir.file("train-images-idx3-ubyte.gz") + ": images of 27×28 (expected 28×28)");
  CHECK(error_of([&] { load_fashion_mnist(dir.path.string(), false); }) ==
        "idx: " + dir.file("t10k-images-idx3-ubyte.gz") + " holds 3 images but " + dir.file("t10k-labels-idx1-ubyte.gz") +
            " holds 2 labels (expected the same count)");
  write_split("t10k", {2, 28, 28}, 2);  // the right shape loads
  std::shared_ptr<GreyImageDataset> test = load_fashion_mnist(dir.path.string(), false);
  CHECK(test->size() == 2);
  CHECK(test->get(1).shape() == Shape{1, 28, 28});
  CHECK(test->get(1).label == 3);
}

// 1 channel, 2×3: pixels 1..6, to follow transforms by hand.
Sample tiny_sample() {
  Sample sample;
  sample.channels = 1;
  sample.height = 2;
  sample.width = 3;
  sample.image = {1, 2, 3, 4, 5, 6};
  return sample;
}

TEST_CASE("normalize subtracts the mean and divides by the std, per channel") {
  Generator gen(0);
  Sample sample = tiny_sample();
  normalize({2.0f}, {4.0f})(sample, gen);
  CHECK(sample.image == std::vector<float>{-0.25f, 0.0f, 0.25f, 0.5f, 0.75f, 1.0f});

  Sample two_channels = tiny_sample();
  two_channels.channels = 2;
  two_channels.height = 1;  // channel 0 = {1, 2, 3}, channel 1 = {4, 5, 6}
  normalize({1.0f, 4.0f}, {1.0f, 2.0f})(two_channels, gen);
  CHECK(two_channels.image == std::vector<float>{0, 1, 2, 0, 0.5f, 1});

  Sample three_channels = tiny_sample();
  three_channels.channels = 3;
  three_channels.height = 1;
  three_channels.width = 2;
  CHECK(error_of([&] { normalize({1, 2}, {1, 1})(three_channels, gen); }) ==
        "normalize: 2 means for an image of 3 channels");
  CHECK(error_of([] { normalize({1}, {0}); }) == "normalize: std 0 (expected > 0)");
}

TEST_CASE("random crop: padding 0 is the identity, every shift shows up, zeros filling in") {
  Generator gen(1);
  Sample unchanged = tiny_sample();
  random_crop(0)(unchanged, gen);
  CHECK(unchanged.image == tiny_sample().image);

  // With padding 1 the window moves by -1, 0 or +1 in each direction: 9 possible outputs,
  // each of which we can write down. A shift of (dy, dx) reads pixel (y + dy, x + dx).
  std::set<std::vector<float>> expected;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) {
      Sample shifted = tiny_sample();
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x) {
          bool inside = y + dy >= 0 && y + dy < 2 && x + dx >= 0 && x + dx < 3;
          shifted.at(0, y, x) = inside ? tiny_sample().at(0, y + dy, x + dx) : 0.0f;
        }
      expected.insert(shifted.image);
    }
  CHECK(expected.count({0, 0, 0, 0, 1, 2}) == 1);  // dy = dx = -1, written out once by hand
  std::set<std::vector<float>> seen;
  for (int trial = 0; trial < 200; ++trial) {
    Sample sample = tiny_sample();
    random_crop(1)(sample, gen);
    REQUIRE(expected.count(sample.image) == 1);
    seen.insert(sample.image);
  }
  CHECK(seen == expected);  // 200 draws miss one of 9 outcomes with probability < 1e-9
}

TEST_CASE("horizontal flip mirrors each row, probability 0 and 1 are never and always") {
  Generator gen(2);
  Sample always = tiny_sample();
  horizontal_flip(1.0)(always, gen);
  CHECK(always.image == std::vector<float>{3, 2, 1, 6, 5, 4});
  Sample never = tiny_sample();
  horizontal_flip(0.0)(never, gen);
  CHECK(never.image == tiny_sample().image);

  // The same generator state gives the same choice: reproducible by seed.
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Generator first(seed), second(seed);
    Sample a = tiny_sample(), b = tiny_sample();
    compose({random_crop(1), horizontal_flip(0.5)})(a, first);
    compose({random_crop(1), horizontal_flip(0.5)})(b, second);
    CHECK(a.image == b.image);
  }
}

TEST_CASE("random erasing zeroes one rectangle of 2-33% of the image on every channel, or nothing") {
  // A 2-channel 20x30 image of ones: what is erased is exactly what became 0.
  Sample ones{.image = std::vector<float>(2 * 20 * 30, 1.0f), .channels = 2, .height = 20, .width = 30};
  int erased_images = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Generator gen(seed);
    Sample sample = ones;
    random_erasing(0.5)(sample, gen);
    // The zeros of channel 0 form one rectangle [top, bottom) × [left, right), and channel 1 agrees.
    int64_t top = 20, bottom = -1, left = 30, right = -1, zeros = 0;
    for (int64_t y = 0; y < 20; ++y)
      for (int64_t x = 0; x < 30; ++x) {
        CHECK(sample.at(0, y, x) == sample.at(1, y, x));
        if (sample.at(0, y, x) != 0.0f) continue;
        ++zeros;
        top = std::min(top, y), bottom = std::max(bottom, y + 1);
        left = std::min(left, x), right = std::max(right, x + 1);
      }
    if (zeros == 0) continue;
    ++erased_images;
    CHECK(zeros == (bottom - top) * (right - left));  // a filled rectangle
    CHECK(zeros >= 0.02 * 600 * 0.5);                 // its area, up to rounding of h and w
    CHECK(zeros <= 0.33 * 600 * 1.5);
    CHECK(bottom - top < 20);
    CHECK(right - left < 30);
  }
  CHECK(erased_images > 70);  // about half of 200, at probability 0.5
  CHECK(erased_images < 130);
  Generator gen(1);
  Sample never = ones;
  random_erasing(0.0)(never, gen);
  CHECK(never.image == ones.image);
  CHECK(testing::contains(testing::error_of([] { random_erasing(0.5, 0.4, 0.2); }), "expected 0 < min ≤ max < 1"));
}

// Sample i has every pixel equal to i and label i, so a batch shows which samples it holds.
class CountingDataset : public Dataset {
 public:
  explicit CountingDataset(int64_t size, int64_t fail_at = -1) : size_(size), fail_at_(fail_at) {}
  int64_t size() const override { return size_; }
  int64_t num_classes() const override { return size_; }
  Sample get(int64_t index) const override {
    if (index == fail_at_) fail("CountingDataset: sample ", index, " is unreadable");
    Sample sample;
    sample.channels = 1;
    sample.height = 2;
    sample.width = 2;
    sample.image.assign(4, float(index));
    sample.label = index;
    return sample;
  }

 private:
  int64_t size_, fail_at_;
};

std::vector<Batch> whole_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  while (std::optional<Batch> batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

std::vector<int64_t> labels_of(const std::vector<Batch>& batches) {
  std::vector<int64_t> labels;
  for (const Batch& batch : batches)
    for (int64_t label : batch.labels.to_indices()) labels.push_back(label);
  return labels;
}

TEST_CASE("the loader yields every sample once per epoch, in batches of the asked size") {
  auto dataset = std::make_shared<CountingDataset>(23);
  for (bool drop_last : {false, true})
    for (int64_t workers : {0, 1, 3}) {
      CAPTURE(drop_last);
      CAPTURE(workers);
      DataLoader loader(dataset, {.batch_size = 5, .drop_last = drop_last, .workers = workers,
                                  .prefetch_batches = 2, .seed = 11});
      CHECK(loader.batches_per_epoch() == (drop_last ? 4 : 5));
      for (int64_t epoch = 0; epoch < 2; ++epoch) {
        std::vector<Batch> batches = whole_epoch(loader, epoch);
        REQUIRE(int64_t(batches.size()) == loader.batches_per_epoch());
        for (size_t b = 0; b < batches.size(); ++b) {
          int64_t expected_size = b == 4 ? 3 : 5;  // 23 = 4·5 + 3
          CHECK(batches[b].images.shape() == Shape{expected_size, 1, 2, 2});
          CHECK(batches[b].images.dtype() == DType::F32);
          CHECK(batches[b].labels.shape() == Shape{expected_size});
          CHECK(batches[b].labels.dtype() == DType::I64);
          std::vector<double> pixels = batches[b].images.to_vector();
          std::vector<int64_t> labels = batches[b].labels.to_indices();
          CHECK(labels == batches[b].indices);
          for (int64_t i = 0; i < expected_size; ++i)
            for (int p = 0; p < 4; ++p) REQUIRE(pixels[i * 4 + p] == double(labels[i]));
        }
        std::vector<int64_t> seen = labels_of(batches);
        std::vector<int64_t> order = loader.epoch_order(epoch);
        CHECK(seen == std::vector<int64_t>(order.begin(), order.begin() + seen.size()));
        std::sort(seen.begin(), seen.end());
        CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());  // none twice
        if (!drop_last) {
          std::vector<int64_t> all(23);
          std::iota(all.begin(), all.end(), 0);
          CHECK(seen == all);
        } else {
          CHECK(seen.size() == 20);
        }
      }
    }
}

TEST_CASE("the order depends only on seed and epoch, without shuffle it is the dataset's") {
  auto dataset = std::make_shared<CountingDataset>(50);
  DataLoader loader(dataset, {.batch_size = 8, .workers = 2, .seed = 3});
  DataLoader resumed(dataset, {.batch_size = 8, .workers = 2, .seed = 3});
  DataLoader other_seed(dataset, {.batch_size = 8, .workers = 2, .seed = 4});
  std::vector<int64_t> epoch0 = labels_of(whole_epoch(loader, 0));
  std::vector<int64_t> epoch1 = labels_of(whole_epoch(loader, 1));
  CHECK(epoch0 != epoch1);
  CHECK(labels_of(whole_epoch(resumed, 1)) == epoch1);  // a run resumed at epoch 1
  CHECK(labels_of(whole_epoch(loader, 0)) == epoch0);
  CHECK(labels_of(whole_epoch(other_seed, 0)) != epoch0);

  DataLoader in_order(dataset, {.batch_size = 8, .shuffle = false, .workers = 1});
  std::vector<int64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(labels_of(whole_epoch(in_order, 5)) == identity);
}

TEST_CASE("data parallel: the ranks' parts of each batch, stacked in rank order, are the one-rank batch") {
  auto dataset = std::make_shared<CountingDataset>(51);  // 6 batches of 8 and one of 3
  DataLoader one(dataset, {.batch_size = 8, .workers = 0, .seed = 3});
  std::vector<std::vector<Batch>> parts;
  for (int rank = 0; rank < 3; ++rank) {
    DataLoader part(dataset, {.batch_size = 8, .workers = 1, .seed = 3, .rank = rank, .ranks = 3});
    CHECK(part.batches_per_epoch() == one.batches_per_epoch());
    parts.push_back(whole_epoch(part, 2));
  }
  std::vector<Batch> whole = whole_epoch(one, 2);
  for (size_t b = 0; b < whole.size(); ++b) {
    std::vector<int64_t> stacked;
    for (int rank = 0; rank < 3; ++rank) {
      const Batch& mine = parts[rank][b];
      CHECK(mine.global_rows == whole[b].labels.size(0));
      // 8 rows over 3 ranks: 3, 3, 2; the last batch's 3 rows: 1 each.
      CHECK(mine.labels.size(0) == even_part(whole[b].labels.size(0), rank, 3).count);
      stacked.insert(stacked.end(), mine.indices.begin(), mine.indices.end());
    }
    CHECK(stacked == whole[b].indices);
  }
  DataLoader too_small(dataset, {.batch_size = 8, .workers = 0, .rank = 0, .ranks = 9});
  too_small.start_epoch(0);
  CHECK(testing::contains(testing::error_of([&] { too_small.next(); }), "rows for 9 ranks"));
}

TEST_CASE("augmented batches are the same for 0, 1 and 4 workers") {
  auto dataset = std::make_shared<CountingDataset>(30);
  auto spread = [](Sample& sample, Generator& gen) {  // makes pixels differ, so crops show
    for (size_t p = 0; p < sample.image.size(); ++p) sample.image[p] += 100.0f * p;
    (void)gen;
  };
  Transform augment = compose({spread, random_crop(1), horizontal_flip(0.5)});
  std::vector<std::vector<double>> reference;
  for (int64_t workers : {0, 1, 4}) {
    DataLoader loader(dataset, {.batch_size = 4, .workers = workers, .prefetch_batches = 3, .seed = 9,
                                .transform = augment});
    std::vector<std::vector<double>> images;
    for (const Batch& batch : whole_epoch(loader, 2)) images.push_back(batch.images.to_vector());
    if (reference.empty()) reference = images;
    else CHECK(images == reference);
  }
  bool any_augmented = false;  // and the transform did something
  DataLoader plain(dataset, {.batch_size = 4, .workers = 0, .seed = 9, .transform = spread});
  std::vector<Batch> plain_batches = whole_epoch(plain, 2);
  for (size_t b = 0; b < plain_batches.size(); ++b) any_augmented |= plain_batches[b].images.to_vector() != reference[b];
  CHECK(any_augmented);
}

TEST_CASE("a worker's exception reaches next() with its message, destruction never hangs") {
  auto dataset = std::make_shared<CountingDataset>(20, /*fail_at=*/13);
  for (int64_t workers : {0, 2}) {
    CAPTURE(workers);
    DataLoader loader(dataset, {.batch_size = 4, .shuffle = false, .workers = workers});
    loader.start_epoch(0);
    for (int b = 0; b < 3; ++b) CHECK(loader.next().has_value());
    CHECK(error_of([&] { loader.next(); }) ==
          "DataLoader: epoch 0, batch 3: CountingDataset: sample 13 is unreadable");
    CHECK(loader.next().has_value());  // the epoch goes on after a bad batch
    CHECK_FALSE(loader.next().has_value());
  }
  // Destroyed with the queue full and the epoch half read, or before any epoch: joins cleanly.
  for (int trial = 0; trial < 20; ++trial) {
    DataLoader loader(std::make_shared<CountingDataset>(100), {.batch_size = 2, .workers = 3, .prefetch_batches = 2});
    if (trial % 2) {
      loader.start_epoch(0);
      loader.next();
    }
  }
  DataLoader loader(std::make_shared<CountingDataset>(10), {.workers = 1});
  CHECK(error_of([&] { loader.next(); }) == "DataLoader::next: no epoch started (call start_epoch(epoch) first)");
  CHECK(error_of([&] { DataLoader(dataset, {.batch_size = 0}); }) == "DataLoader: batch_size 0 (expected >= 1)");
}

}  // namespace
}  // namespace margin
