// tests/test_images.cpp — images as training data: bilinear resize and crops on tiny images
// worked by hand, colour jitter against its closed forms, the ImageFolder layout (sorted
// labels, LFW's 1-based numbering, subsets re-indexed, the cache, threads), the identity
// split, and the real Yale-B folder when it is there. Decoding is tests/test_image_decoding.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>
#include <thread>

#include "data/image.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "gradcheck.h"
#include "skip.h"

namespace margin {
namespace {

using testing::TempDir;
using testing::as_text;
using testing::contains;
using testing::error_of;
using testing::pgm;
using testing::write_bytes;

}  // namespace

TEST_CASE("bilinear resize: halving averages pairs, doubling interpolates between centres") {
  // One row 0, 4, 8, 12 → 2 wide: input positions 0.5 and 2.5, the means of neighbours.
  std::vector<float> row = {0, 4, 8, 12}, half(2);
  resize_plane(row.data(), 1, 4, half.data(), 1, 2);
  CHECK(half == std::vector<float>{2, 10});
  // 0, 10 → 4 wide: positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  std::vector<float> two = {0, 10}, four(4);
  resize_plane(two.data(), 1, 2, four.data(), 1, 4);
  CHECK(four == std::vector<float>{0, 2.5f, 7.5f, 10});
  // 4×4 → 2×2: each output is the mean of a 2×2 block.
  std::vector<float> square(16), quarter(4);
  std::iota(square.begin(), square.end(), 0.0f);
  resize_plane(square.data(), 4, 4, quarter.data(), 2, 2);
  CHECK(quarter == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});

  Image8 bytes{1, 2, 2, {0, 100, 200, 255}};
  CHECK(resize_bilinear(bytes, 2, 2).pixels == bytes.pixels);  // same size: unchanged
  CHECK(resize_bilinear(bytes, 1, 1).pixels == std::vector<uint8_t>{139});  // 138.75 rounds up
  CHECK(contains(error_of([&] { resize_bilinear(bytes, 0, 3); }), "to 0×3 (expected a positive height and width)"));

  // The Sample transform does the same per channel.
  Generator gen(0);
  Sample sample;
  sample.channels = 2;
  sample.height = 1;
  sample.width = 4;
  sample.image = {0, 4, 8, 12, 1, 1, 3, 3};
  resize(1, 2)(sample, gen);
  CHECK(sample.shape() == Shape{2, 1, 2});
  CHECK(sample.image == std::vector<float>{2, 10, 1, 3});
}

TEST_CASE("center crop takes the middle window, random_crop_to takes every window, nothing else") {
  Generator gen(3);
  auto grid = [] {  // 1×4×5, pixel (y, x) = 10y + x
    Sample sample;
    sample.channels = 1;
    sample.height = 4;
    sample.width = 5;
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) sample.image.push_back(float(10 * y + x));
    return sample;
  };
  Sample middle = grid();
  center_crop(2, 3)(middle, gen);  // offsets ⌊(4−2)/2⌋ = 1, ⌊(5−3)/2⌋ = 1
  CHECK(middle.shape() == Shape{1, 2, 3});
  CHECK(middle.image == std::vector<float>{11, 12, 13, 21, 22, 23});
  Sample odd = grid();
  center_crop(1, 2)(odd, gen);  // offsets 1 and 1
  CHECK(odd.image == std::vector<float>{11, 12});

  std::set<std::pair<int, int>> corners;
  for (int trial = 0; trial < 300; ++trial) {
    Sample window = grid();
    random_crop_to(3, 3)(window, gen);
    REQUIRE(window.shape() == Shape{1, 3, 3});
    int top = int(window.image[0]) / 10, left = int(window.image[0]) % 10;
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x) REQUIRE(window.at(0, y, x) == float(10 * (top + y) + left + x));
    corners.insert({top, left});
  }
  CHECK(corners.size() == 2 * 3);  // tops 0..1, lefts 0..2: all six seen in 300 draws

  Sample small = grid();
  CHECK(error_of([&] { random_crop_to(5, 5)(small, gen); }) ==
        "random_crop_to: a 5×5 window does not fit in an image of shape [1, 4, 5] (expected the window no larger than the image)");
  CHECK(contains(error_of([&] { center_crop(2, 6)(small, gen); }), "does not fit"));
}

TEST_CASE("colour jitter: brightness scales, contrast keeps the mean grey, saturation keeps each pixel's grey") {
  // A 3×4×5 RGB sample with values in [0.2, 0.6]: no factor in [0.5, 1.5] pushes it out of [0, 1].
  Sample rgb;
  rgb.channels = 3;
  rgb.height = 4;
  rgb.width = 5;
  for (int i = 0; i < 60; ++i) rgb.image.push_back(0.2f + 0.4f * float((i * 37) % 60) / 60.0f);
  const int64_t plane = 20;
  auto grey = [&](const Sample& sample, int64_t i) {
    return (77 * sample.image[i] + 150 * sample.image[plane + i] + 29 * sample.image[2 * plane + i]) / 256.0;
  };
  auto mean_grey = [&](const Sample& sample) {
    double sum = 0;
    for (int64_t i = 0; i < plane; ++i) sum += grey(sample, i);
    return sum / plane;
  };
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Generator gen(seed), replay(seed);
    Sample bright = rgb;
    color_jitter(0.5, 0, 0)(bright, gen);
    const double b = replay.uniform(0.5, 1.5);
    replay.uniform(1, 1);
    replay.uniform(1, 1);
    CHECK(gen.uniform() == replay.uniform());  // three draws, whatever the amounts
    for (size_t i = 0; i < rgb.image.size(); ++i) CHECK(bright.image[i] == doctest::Approx(b * rgb.image[i]).epsilon(1e-6));

    Sample contrasted = rgb;
    color_jitter(0, 0.5, 0)(contrasted, gen);
    CHECK(mean_grey(contrasted) == doctest::Approx(mean_grey(rgb)).epsilon(1e-6));
    const double c = (contrasted.image[0] - mean_grey(rgb)) / (rgb.image[0] - mean_grey(rgb));
    CHECK(c >= 0.5);
    CHECK(c <= 1.5);
    for (size_t i = 0; i < rgb.image.size(); ++i)
      CHECK(contrasted.image[i] - mean_grey(rgb) == doctest::Approx(c * (rgb.image[i] - mean_grey(rgb))).epsilon(1e-4));

    Sample saturated = rgb;
    color_jitter(0, 0, 0.5)(saturated, gen);
    const double s = (saturated.image[0] - grey(rgb, 0)) / (rgb.image[0] - grey(rgb, 0));
    CHECK(s >= 0.5);
    CHECK(s <= 1.5);
    for (int64_t i = 0; i < plane; ++i) {
      CHECK(grey(saturated, i) == doctest::Approx(grey(rgb, i)).epsilon(1e-5));
      for (int64_t k = 0; k < 3; ++k)
        CHECK(saturated.image[k * plane + i] - grey(rgb, i) ==
              doctest::Approx(s * (rgb.image[k * plane + i] - grey(rgb, i))).epsilon(1e-4));
    }
  }
  Generator gen(1);
  Sample same = rgb;
  color_jitter(0, 0, 0)(same, gen);
  CHECK(same.image == rgb.image);
  // A grey image: saturation leaves it alone, contrast keeps its mean; bright values clamp at 1.
  Sample grey_image;
  grey_image.channels = 1;
  grey_image.height = 1;
  grey_image.width = 3;
  grey_image.image = {0.2f, 0.5f, 0.95f};
  Sample unsaturated = grey_image;
  color_jitter(0, 0, 0.9)(unsaturated, gen);
  CHECK(unsaturated.image == grey_image.image);
  Sample brightest = grey_image;
  for (int trial = 0; trial < 20; ++trial) {
    brightest = grey_image;
    color_jitter(0.9, 0, 0)(brightest, gen);
    for (float x : brightest.image) REQUIRE(x <= 1.0f);
  }
  CHECK(error_of([] { color_jitter(1.0, 0, 0); }) == "color_jitter: 1, 0, 0 (expected each in [0, 1))");
  CHECK(contains(error_of([] { color_jitter(0, -0.1, 0); }), "expected each in [0, 1)"));
}

TEST_CASE("the face crop: crop_center cuts the window center_crop cuts, before the resize that follows it") {
  // A synthetic 2×9×8 image, pixel (c, y, x) = 100c + 10y + x: the window's values say where it came from.
  Image8 image{2, 9, 8, {}};
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 9; ++y)
      for (int x = 0; x < 8; ++x) image.pixels.push_back(static_cast<uint8_t>(100 * c + 10 * y + x));
  Image8 face = crop_center(image, 4, 5);  // offsets ⌊(9 − 4)/2⌋ = 2, ⌊(8 − 5)/2⌋ = 1
  REQUIRE(face.channels == 2);
  REQUIRE(face.height == 4);
  REQUIRE(face.width == 5);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) CHECK(face.at(c, y, x) == 100 * c + 10 * (y + 2) + x + 1);
  // The same window as the Sample transform's.
  Generator gen(0);
  Sample sample = image_to_sample(image, 0);
  center_crop(4, 5)(sample, gen);
  CHECK(sample.image == image_to_sample(face, 0).image);
  CHECK(crop_center(image, 9, 8).pixels == image.pixels);
  CHECK(error_of([&] { crop_center(image, 10, 8); }) ==
        "crop_center: a 10×8 window of a 9×8 image (expected a positive window no larger than the image)");
  CHECK(contains(error_of([&] { crop_center(image, 0, 8); }), "expected a positive window"));

  // On load: decode, crop, then resize: the folder's image is the cropped window, resized.
  TempDir dir("face_crop");
  std::filesystem::create_directories(dir.path / "ann");
  write_bytes(dir.file("ann/ann_0001.pgm"), pgm(8, 9, image.pixels));  // the first plane as a grey image
  Image8 grey{1, 9, 8, std::vector<uint8_t>(image.pixels.begin(), image.pixels.begin() + 72)};
  ImageFolder cropped(dir.path.string(), {.crop_height = 4, .crop_width = 4, .height = 2, .width = 2});
  CHECK(cropped.image(0).pixels == resize_bilinear(crop_center(grey, 4, 4), 2, 2).pixels);
  CHECK(cropped.image(0).pixels == std::vector<uint8_t>{(22 + 23 + 32 + 33 + 2) / 4, (24 + 25 + 34 + 35 + 2) / 4,
                                                       (42 + 43 + 52 + 53 + 2) / 4, (44 + 45 + 54 + 55 + 2) / 4});
  ImageList list({dir.file("ann/ann_0001.pgm")}, 1, 2, 2, 4, 4);
  CHECK(list.get(0).image == cropped.get(0).image);
  ImageFolder too_large(dir.path.string(), {.crop_height = 10, .crop_width = 4});
  CHECK(error_of([&] { too_large.image(0); }) == dir.file("ann/ann_0001.pgm") +
                                                     ": 9×8 pixels, smaller than the 10×4 face crop (expected images at "
                                                     "least that large)");
  CHECK(contains(error_of([&] { ImageFolder bad(dir.path.string(), {.crop_height = 4}); }), "crop 4×0"));
}

namespace {

// root/<identity>/<file>.pgm, each image 4×3 with every pixel = 10·(identity's label) + n,
// where n is its 1-based number in sorted order, so a sample shows where it came from.
// Identities are created out of order, files too.
struct TinyFaces {
  TempDir dir{"images_folder"};
  std::vector<std::string> names = {"carol", "alice", "bob"};  // labels: alice 0, bob 1, carol 2
  std::vector<int> counts = {3, 2, 4};
  TinyFaces() {
    for (size_t i = 0; i < names.size(); ++i) {
      std::filesystem::create_directories(dir.path / names[i]);
      int label = names[i] == "alice" ? 0 : names[i] == "bob" ? 1 : 2;
      for (int n = counts[i]; n >= 1; --n) {
        std::string file = names[i] + "_000" + std::to_string(n) + ".pgm";
        write_bytes((dir.path / names[i] / file).string(), pgm(3, 4, std::vector<uint8_t>(12, uint8_t(10 * label + n))));
      }
    }
    write_bytes((dir.path / "bob" / "README.txt").string(), "not an image");
    write_bytes((dir.path / "bob" / ".hidden.pgm").string(), "not an image either");
  }
  std::string root() const { return dir.path.string(); }
};

}  // namespace

TEST_CASE("ImageFolder: sorted identities are labels, sorted files are LFW's 1-based numbers") {
  TinyFaces faces;
  ImageFolder all(faces.root());
  CHECK(all.identity_names() == std::vector<std::string>{"alice", "bob", "carol"});
  CHECK(all.num_classes() == 3);
  CHECK(all.size() == 2 + 4 + 3);
  CHECK(all.files(1) == std::vector<std::string>{"bob_0001.pgm", "bob_0002.pgm", "bob_0003.pgm", "bob_0004.pgm"});
  CHECK(all.label_of("carol") == 2);
  CHECK(all.path("bob", 3) == faces.root() + "/bob/bob_0003.pgm");
  CHECK(all.index_of("carol", 1) == 6);
  for (int64_t index = 0; index < all.size(); ++index) {
    Sample sample = all.get(index);
    int64_t n = index - all.index_of(all.identity_names()[sample.label], 1) + 1;
    CHECK(sample.label == all.label_at(index));
    CHECK(sample.shape() == Shape{1, 4, 3});
    CHECK(sample.at(0, 3, 2) == doctest::Approx((10 * sample.label + n) / 255.0));
  }
  CHECK(error_of([&] { all.index_of("bob", 5); }) ==
        "ImageFolder " + faces.root() + ": identity bob has 4 images, no image number 5 (numbers are 1-based)");
  CHECK(contains(error_of([&] { all.index_of("dave", 1); }), "no identity dave"));

  // A subset is re-indexed 0..K−1 in sorted order, whatever order it was asked in.
  ImageFolder subset(faces.root(), {.identities = {"carol", "alice"}});
  CHECK(subset.identity_names() == std::vector<std::string>{"alice", "carol"});
  CHECK(subset.size() == 2 + 3);
  CHECK(subset.get(subset.index_of("carol", 2)).label == 1);
  CHECK(subset.get(subset.index_of("carol", 2)).at(0, 0, 0) == doctest::Approx(22 / 255.0));

  // Resized and as 3 channels on load.
  ImageFolder resized(faces.root(), {.channels = 3, .height = 2, .width = 6});
  Sample wide = resized.get(resized.index_of("bob", 4));
  CHECK(wide.shape() == Shape{3, 2, 6});
  for (float value : wide.image) CHECK(value == doctest::Approx(14 / 255.0));
}

TEST_CASE("ImageFolder: the cache and worker threads give the samples a plain read gives") {
  TinyFaces faces;
  // Different pixels everywhere, so a mixed-up cache slot would show.
  ImageFolder plain(faces.root(), {.height = 8, .width = 6});
  auto cached = std::make_shared<ImageFolder>(faces.root(), ImageFolderOptions{.height = 8, .width = 6, .cache = true});
  for (int round = 0; round < 2; ++round)  // the first fills the cache, the second reads it
    for (int64_t i = 0; i < plain.size(); ++i) CHECK(cached->get(i).image == plain.get(i).image);

  auto fresh = std::make_shared<ImageFolder>(faces.root(), ImageFolderOptions{.height = 8, .width = 6, .cache = true});
  std::vector<std::vector<float>> seen(fresh->size());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int64_t i = 0; i < fresh->size(); ++i) {
        Sample sample = fresh->get((i + t) % fresh->size());
        if (t == 0) seen[(i + t) % fresh->size()] = sample.image;
      }
    });
  for (std::thread& thread : threads) thread.join();
  for (int64_t i = 0; i < plain.size(); ++i) CHECK(seen[i] == plain.get(i).image);

  DataLoader loader(cached, {.batch_size = 4, .workers = 2, .seed = 1, .transform = horizontal_flip()});
  loader.start_epoch(0);
  int64_t images = 0;
  while (std::optional<Batch> batch = loader.next()) images += batch->images.size(0);
  CHECK(images == plain.size());
}

TEST_CASE("ImageFolder errors name the folder or file: missing, empty, unknown identity, bad image") {
  TinyFaces faces;
  std::string missing = faces.root() + "/nowhere";
  CHECK(error_of([&] { ImageFolder folder(missing); }) ==
        "ImageFolder " + missing + ": no such folder (expected one sub-folder of images per identity)");

  std::filesystem::create_directories(faces.dir.path / "dave");
  write_bytes((faces.dir.path / "dave" / "notes.txt").string(), "no images here");
  CHECK(error_of([&] { ImageFolder folder(faces.root()); }) ==
        "ImageFolder: " + faces.root() + "/dave: no images (expected files ending in .pgm .ppm .pnm .png .jpg or .jpeg)");
  // Leaving the empty identity out works.
  CHECK(ImageFolder(faces.root(), {.identities = {"alice", "bob"}}).size() == 6);
  CHECK(error_of([&] { ImageFolder folder(faces.root(), {.identities = {"erin"}}); }) ==
        "ImageFolder " + faces.root() + ": no folder for identity erin (" + faces.root() + "/erin is missing)");

  std::string broken = (faces.dir.path / "alice" / "alice_0002.pgm").string();
  write_bytes(broken, "P5 3 4 255\n" + as_text({1, 2, 3}));
  ImageFolder folder(faces.root(), {.identities = {"alice"}});
  CHECK(contains(error_of([&] { folder.get(1); }), "image " + broken + ": truncated"));
  CHECK(contains(error_of([&] { ImageFolder bad(faces.root(), {.channels = 2}); }), "channels 2 (expected 1 or 3)"));
  CHECK(contains(error_of([&] { ImageFolder bad(faces.root(), {.height = 4}); }), "size 4×0"));
}

TEST_CASE("split_identities: disjoint, covering, deterministic per seed, whatever the input order") {
  std::vector<std::string> names;
  for (int i = 0; i < 38; ++i) names.push_back("person" + std::to_string(100 + i));
  std::set<std::vector<std::string>> held_out_sets;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    IdentitySplit split = split_identities(names, 10, seed);
    CHECK(split.held_out.size() == 10);
    CHECK(split.train.size() == 28);
    CHECK(std::is_sorted(split.train.begin(), split.train.end()));
    CHECK(std::is_sorted(split.held_out.begin(), split.held_out.end()));
    std::vector<std::string> together = split.train;
    together.insert(together.end(), split.held_out.begin(), split.held_out.end());
    std::sort(together.begin(), together.end());
    CHECK(together == names);  // covers all, and (same count) without overlap
    std::vector<std::string> reversed(names.rbegin(), names.rend());
    IdentitySplit again = split_identities(reversed, 10, seed);
    CHECK(again.held_out == split.held_out);
    CHECK(again.train == split.train);
    held_out_sets.insert(split.held_out);
  }
  CHECK(held_out_sets.size() == 10);  // each seed its own split
  CHECK(split_identities(names, 0, 1).train == names);
  CHECK(split_identities(names, 38, 1).held_out == names);
  CHECK(error_of([&] { split_identities(names, 39, 1); }) == "split_identities: 39 held out of 38 identities (expected 0..38)");
  CHECK(contains(error_of([] { split_identities({"a", "b", "a"}, 1, 1); }), "identity a is listed twice"));
}

TEST_CASE("Yale-B cropped: 38 identities, 2452 grey images, 192×168 but for 28 ambient frames (needs the shared data folder)") {
  const char* shared = std::getenv("MARGIN_SHARED_DATA");
  std::string root = std::string(shared ? shared : MARGIN_SOURCE_DIR "/../shared/data") + "/yaleb-cropped";
  if (!std::filesystem::is_directory(root)) return testing::skip(root + " is absent (the shared data folder)");
  ImageFolder yale(root);
  CHECK(yale.num_classes() == 38);
  CHECK(yale.size() == 2452);
  CHECK(yale.identity_names().front() == "yaleB01");
  CHECK(yale.identity_names().back() == "yaleB39");
  // The cropped set's README says every image is 168x192; in fact the "_P00_Ambient" images of
  // yaleB11..yaleB39 (28 of them) are the uncropped 640x480 camera frames. Resizing on load
  // still gives every sample one shape.
  int64_t cropped = 0, full_frames = 0, channels_wrong = 0;
  for (int64_t i = 0; i < yale.size(); ++i) {
    Image8 image = yale.image(i);
    channels_wrong += image.channels != 1;
    if (image.height == 192 && image.width == 168) {
      ++cropped;
    } else {
      CHECK_MESSAGE(yale.path_of(i).ends_with("_P00_Ambient.pgm"), yale.path_of(i));
      CHECK_MESSAGE((image.height == 480 && image.width == 640), yale.path_of(i));
      ++full_frames;
    }
  }
  CHECK(cropped == 2424);
  CHECK(full_frames == 28);
  CHECK(channels_wrong == 0);

  IdentitySplit split = split_identities(yale.identity_names(), 10, 0);
  ImageFolder train(root, {.height = 96, .width = 84, .identities = split.train});
  CHECK(train.num_classes() == 28);
  CHECK(train.get(train.size() - 1).label == 27);
  CHECK(train.get(0).shape() == Shape{1, 96, 84});
}

}  // namespace margin
