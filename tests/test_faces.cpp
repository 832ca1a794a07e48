// tests/test_faces.cpp — the face pipeline that train_faces and the tools share
// (train/faces.cpp, face_model.cpp, face_eval.cpp), on a synthetic identity-per-folder set in a temp folder: a
// short training run leaves a model folder that loads back to the same network; flip
// embeddings are e(x) + e(mirror x); pair scores are the cosines of the embeddings; the
// embeddings file reads back, and a hostile one fails before allocating; a failed write of it
// leaves no partial file; model.txt errors name the file (and the key, the value and what was
// expected for a size that is not a positive integer); a run stopped and resumed
// ends where the uninterrupted one does.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/transforms.h"
#include "train/checkpoint.h"
#include "train/face_eval.h"
#include "train/faces.h"
#include "gradcheck.h"

namespace margin {
namespace {

using testing::TempDir;
using testing::error_of;
using testing::write_bytes;

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing ", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// 6 identities of 8 grey 12×10 PGMs: identity k is a bright bar in rows 2k..2k+1 over noise,
// not symmetric left-right (the bar covers the left 7 columns), so mirroring matters.
// `lfw_names`: the files are named as LFW's (person0/person0_0001.jpg), PGM bytes inside
// (images are decoded by content).
void write_faces(const std::filesystem::path& root, bool lfw_names = false) {
  Generator gen(5);
  for (int identity = 0; identity < 6; ++identity) {
    std::string name = "person" + std::to_string(identity);
    std::filesystem::create_directories(root / name);
    for (int n = 1; n <= 8; ++n) {
      std::string pixels;
      for (int y = 0; y < 12; ++y)
        for (int x = 0; x < 10; ++x) {
          bool bar = y / 2 == identity && x < 7;
          pixels += static_cast<char>(gen.below(90) + (bar ? 150 : 0));
        }
      std::string file = lfw_names ? name + "_000" + std::to_string(n) + ".jpg" : name + "_" + std::to_string(n) + ".pgm";
      write_bytes((root / name / file).string(), "P5 10 12 255\n" + pixels);
    }
  }
}

FacesConfig tiny_config(const TempDir& dir, const std::string& out) {
  FacesConfig config;
  config.data = dir.file("faces");
  config.held_out = 2;
  config.input = "12x10";
  config.widths = {4, 8};
  config.emb_dim = 8;
  config.epochs = 2;
  config.batch = 8;
  config.lr = 0.05;
  config.seed = 3;
  config.pairs_per_fold = 2;
  config.out_dir = dir.file(out);
  config.workers = 0;
  config.progress = false;
  return config;
}

// A small-CNN model for write_faces' 12×10 grey images.
FaceModelConfig tiny_model_config(int64_t emb_dim, int64_t classes) {
  FaceModelConfig config;
  config.height = 12;
  config.width = 10;
  config.widths = {4, 8};
  config.emb_dim = emb_dim;
  config.classes = classes;
  return config;
}

// The images of `base`, mirrored left-right.
class Mirrored : public Dataset {
 public:
  explicit Mirrored(std::shared_ptr<const Dataset> base) : base_(std::move(base)) {}
  int64_t size() const override { return base_->size(); }
  int64_t num_classes() const override { return base_->num_classes(); }
  Sample get(int64_t index) const override {
    Sample sample = base_->get(index);
    Generator unused(0);
    horizontal_flip(1.0)(sample, unused);
    return sample;
  }

 private:
  std::shared_ptr<const Dataset> base_;
};

double max_difference(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

}  // namespace

TEST_CASE("a short run leaves a model folder that the tools load back to the same network") {
  TempDir dir("faces_run");
  write_faces(dir.path / "faces");
  FacesConfig config = tiny_config(dir, "run");
  FacesRun run = run_faces(config);
  REQUIRE(run.outcome.finished);
  REQUIRE(run.verified);
  CHECK(run.split.train.size() == 4);
  CHECK(run.split.held_out.size() == 2);
  for (const char* file : {"model.txt", "model.bin", "checkpoint.bin", "pairs.txt", "log.csv", "verification.md", "roc.png"})
    CHECK_MESSAGE(std::filesystem::exists(dir.path / "run" / file), file);
  CHECK(read_pairs(dir.file("run/pairs.txt")) == run.pairs);
  CHECK(run.pairs.pairs.size() == 10 * 2 * 2);
  for (const PairEntry& pair : run.pairs.pairs) {  // only held-out people in the pairs
    CHECK(std::find(run.split.held_out.begin(), run.split.held_out.end(), pair.name_a) != run.split.held_out.end());
    CHECK(std::find(run.split.held_out.begin(), run.split.held_out.end(), pair.name_b) != run.split.held_out.end());
  }
  std::string log = file_text(dir.file("run/log.csv"));
  CHECK(log.starts_with("epoch,train_loss,train_accuracy,verify_acc,verify_acc_std,verify_auc,verify_eer,verify_tar_far1e-2,"
                        "verify_flip_acc,"));
  CHECK(std::count(log.begin(), log.end(), '\n') == 3);

  // model.txt holds what rebuilds the model, and the thresholds of the last verification.
  FaceModelConfig saved = load_model_config(dir.file("run/model.txt"));
  CHECK(saved.arch == "small");
  CHECK(saved.height == 12);
  CHECK(saved.width == 10);
  CHECK(saved.widths == std::vector<int64_t>{4, 8});
  CHECK(saved.emb_dim == 8);
  CHECK(saved.classes == 4);
  CHECK(saved.loss == "lmcl");
  CHECK(saved.scale == 30);
  CHECK(saved.margin == 0.35);  // the default asked for (m < 0), written as the value in force
  CHECK(saved.held_out == run.split.held_out);
  CHECK(saved.threshold == run.verification.best_plain.threshold);
  CHECK(saved.threshold_flip == run.verification.best_flip.threshold);

  FaceModel loaded = load_face_model(dir.file("run"));
  CHECK(!loaded.backbone->training());
  auto held = face_folder(config.data, loaded.config, loaded.config.held_out);
  Embeddings from_disk = embed_images(*loaded.backbone, held, default_device());
  Embeddings in_memory = embed_images(*run.model.backbone, held, default_device());
  CHECK(from_disk.plain.shape() == Shape{held->size(), 8});
  CHECK(max_difference(from_disk.plain, in_memory.plain) == 0.0);
  CHECK(max_difference(from_disk.flip, in_memory.flip) == 0.0);
  CHECK(run.model.backbone->training());  // embed_images put it back in the mode it was in

  // A fresh model differs (the weights really came from model.bin).
  FaceModel fresh = build_face_model(loaded.config, 99);
  CHECK(max_difference(embed_images(*fresh.backbone, held, default_device()).plain, from_disk.plain) > 1e-3);

  // The checkpoint of the last epoch loads too, to the same weights.
  FaceModel from_checkpoint = load_face_model(dir.file("run"), dir.file("run/checkpoint.bin"));
  CHECK(max_difference(embed_images(*from_checkpoint.backbone, held, default_device()).plain, from_disk.plain) == 0.0);
}

// LFW's protocol files for the 6 people of write_faces: View 2's people.txt and pairs.txt
// in 3 folds of 2 people, each fold with 1 matched and 1 mismatched pair of its own people.
struct TinyLfw {
  TempDir dir{"faces_lfw"};
  std::string people, pairs;
  TinyLfw() {
    write_faces(dir.path / "faces", true);
    people = dir.write("people.txt", "3\n2\nperson0\t8\nperson1\t8\n2\nperson2\t8\nperson3\t8\n2\nperson4\t8\nperson5\t8\n");
    pairs = dir.write("pairs.txt", "3\t1\nperson0\t1\t2\nperson0\t3\tperson1\t1\nperson2\t1\t5\nperson2\t2\tperson3\t4\n"
                                   "person4\t6\t8\nperson5\t1\tperson4\t2\n");
  }
};

TEST_CASE("LFW's protocol: the model of fold k trains on no person of fold k and reports fold k's accuracy") {
  TinyLfw lfw;
  FacesConfig config = tiny_config(lfw.dir, "fold2");
  config.people = lfw.people;
  config.pairs = lfw.pairs;
  config.fold = 2;
  config.epochs = 1;
  FaceData data = choose_face_data(config);
  CHECK(data.split.train == std::vector<std::string>{"person0", "person1", "person4", "person5"});
  CHECK(data.split.held_out == std::vector<std::string>{"person2", "person3"});
  CHECK(data.evaluated == std::vector<std::string>{"person0", "person1", "person2", "person3", "person4", "person5"});
  CHECK(data.pairs == read_pairs(lfw.pairs));

  FacesRun run = run_faces(config);
  REQUIRE(run.verified);
  CHECK(run.split.train == data.split.train);
  CHECK(run.model.config.classes == 4);
  CHECK(load_model_config(lfw.dir.file("fold2/model.txt")).held_out == data.split.held_out);
  // Fold 2's accuracy, its threshold chosen on folds 1 and 3 by this model.
  CHECK(run.fold_accuracy == run.verification.plain.accuracy.accuracies[1]);
  CHECK(run.fold_accuracy_flip == run.verification.flip.accuracy.accuracies[1]);
  CHECK(file_text(lfw.dir.file("fold2/verification.md")).find("fold 2 accuracy") != std::string::npos);
  CHECK(!std::filesystem::exists(lfw.dir.file("fold2/pairs.txt")));  // the pairs are LFW's own
  // No verification during training (View 2 reports; it is not looked at epoch by epoch).
  CHECK(file_text(lfw.dir.file("fold2/log.csv")).find("verify") == std::string::npos);

  // View 1: one people list, all of it trained on; --min-images keeps those with enough images.
  config.fold.reset();
  config.people = lfw.dir.write("dev.txt", "3\nperson0\t8\nperson2\t8\nperson4\t3\n");
  CHECK(choose_face_data(config).split.train == std::vector<std::string>{"person0", "person2", "person4"});
  config.min_images = 9;
  CHECK(error_of([&] { choose_face_data(config); }) ==
        "--min-images 9: 0 of 3 training identities have that many images (expected at least 2)");
  config.min_images = 1;

  config.fold = 4;
  config.people = lfw.people;
  CHECK(error_of([&] { choose_face_data(config); }) == "--fold 4: " + lfw.people + " has 3 folds (expected 1..3)");
  config.fold = 1;
  config.pairs.reset();
  CHECK(error_of([&] { choose_face_data(config); }) ==
        "--people and --pairs go together (LFW's protocol: train on a people file, verify on a pairs file)");
  config.pairs = lfw.dir.write("bad_pairs.txt", "1\t1\nperson0\t1\t9\nperson0\t1\tperson1\t1\n");
  CHECK(error_of([&] { choose_face_data(config); }).find("image 9 of 'person0': no file") != std::string::npos);
}

TEST_CASE("an embedding that is not finite is an error naming the image, never a score") {
  TempDir dir("faces_nan_embedding");
  write_faces(dir.path / "faces");
  FaceModelConfig config = tiny_model_config(6, 6);
  FaceModel model = build_face_model(config, 7);
  model.backbone->eval();
  Parameter first = model.backbone->named_parameters().at(0);
  first.value.copy_(Tensor::full(first.value.shape(), NAN, first.value.dtype(), kCPU));
  auto folder = face_folder(dir.file("faces"), config, {"person1", "person4"});
  PairsFile pairs = generate_pairs(identity_counts(*folder), 10, 3, 11);
  const std::string message = error_of([&] { score_pairs(*model.backbone, folder, pairs, default_device()); });
  CHECK_MESSAGE(message.starts_with("embed_images: the embedding of " + dir.file("faces") + "/person"), message);
  CHECK_MESSAGE(message.ends_with(" holds nan (expected finite values: is the model diverged?)"), message);
  CHECK(error_of([&] { embed_images(*model.backbone, folder, default_device()); }) ==
        "embed_images: the embedding of image 0 holds nan (expected finite values: is the model diverged?)");
}

TEST_CASE("flip embeddings are e(x) + e(mirror x), pair scores are the cosines of the rows") {
  TempDir dir("faces_flip");
  write_faces(dir.path / "faces");
  FaceModelConfig config = tiny_model_config(6, 6);
  FaceModel model = build_face_model(config, 7);
  model.backbone->eval();
  auto folder = face_folder(dir.file("faces"), config, {"person1", "person4"});
  Embeddings both = embed_images(*model.backbone, folder, default_device(), 5);  // batches of 5: a ragged last one
  Embeddings mirrored = embed_images(*model.backbone, std::make_shared<Mirrored>(folder), default_device(), 5);
  CHECK(max_difference(both.flip, both.plain + mirrored.plain) < 1e-5);
  CHECK(max_difference(both.plain, mirrored.plain) > 1e-3);  // the images are not symmetric

  PairsFile pairs = generate_pairs(identity_counts(*folder), 10, 3, 11);
  PairScores scores = score_pairs(*model.backbone, folder, pairs, default_device());
  REQUIRE(scores.plain.size() == pairs.pairs.size());
  const int64_t d = config.emb_dim;
  std::vector<float> plain(both.plain.numel()), flip(both.flip.numel());
  for (size_t i = 0; i < plain.size(); ++i) {
    plain[i] = static_cast<float>(both.plain.to_vector()[i]);
    flip[i] = static_cast<float>(both.flip.to_vector()[i]);
  }
  for (size_t k = 0; k < pairs.pairs.size(); ++k) {
    const PairEntry& pair = pairs.pairs[k];
    int64_t a = folder->index_of(pair.name_a, pair.index_a), b = folder->index_of(pair.name_b, pair.index_b);
    CHECK(scores.plain[k] == doctest::Approx(cosine_similarity(&plain[a * d], &plain[b * d], d)).epsilon(1e-5));
    CHECK(scores.flip[k] == doctest::Approx(cosine_similarity(&flip[a * d], &flip[b * d], d)).epsilon(1e-5));
    CHECK(scores.same[k] == (pair.name_a == pair.name_b));
    CHECK(scores.folds[k] == static_cast<int64_t>(k) / 6);
  }
  FaceVerification verification = verify_scores(scores);
  CHECK(verification.plain.auc == verification_report(scores.plain, scores.same, scores.folds).auc);
  CHECK(verification.best_flip.threshold == best_threshold(scores.flip, scores.same).threshold);
  std::string table = comparison_table({{"untrained", verification}});
  CHECK(table.find("| untrained | ") != std::string::npos);
  CHECK(std::count(table.begin(), table.end(), '\n') == 3);

  // Runs of one setting: the mean ± std (population) over them, column by column.
  PairScores shifted = scores;
  for (double& score : shifted.flip) score = -score;  // reverses the order: accuracy and AUC change
  FaceVerification reversed = verify_scores(shifted);
  std::string means = mean_table({{"two runs", {verification, reversed}}});
  char expected[128];
  const double a = verification.flip.accuracy.mean, b = reversed.flip.accuracy.mean;
  std::snprintf(expected, sizeof expected, "| %.2f%% ± %.2f |", 100 * (a + b) / 2, 100 * std::abs(a - b) / 2);
  CHECK_MESSAGE(means.find(std::string("| two runs | 2 |")) != std::string::npos, means);
  CHECK_MESSAGE(means.find(expected) != std::string::npos, means, " lacks ", expected);
  CHECK(std::count(means.begin(), means.end(), '\n') == 3);

  // One model per fold with every model the same: the one model's report.
  FaceVerification per_fold = verify_scores_per_fold(std::vector<PairScores>(10, scores));
  CHECK(per_fold.plain.accuracy.accuracies == verification.plain.accuracy.accuracies);
  CHECK(per_fold.flip.auc == verification.flip.auc);
  CHECK(error_of([&] { verify_scores_per_fold({scores, shifted, scores}); }) ==
        "per_fold_model_accuracy: fold id 3 (expected 0..2: one model per fold)");
  PairScores other_pairs = scores;
  other_pairs.same[0] = !other_pairs.same[0];
  CHECK(error_of([&] { verify_scores_per_fold({scores, other_pairs}); }) ==
        "verify_scores_per_fold: the models scored different pairs (expected the same pairs file for every fold)");

  // A pair naming an image the folder lacks is an error naming it.
  PairsFile wrong = pairs;
  wrong.pairs[0].index_a = 9;
  CHECK(error_of([&] { score_pairs(*model.backbone, folder, wrong, default_device()); }).find("has 8 images, no image number 9") !=
        std::string::npos);
}

TEST_CASE("the embeddings file: .bin reads back exactly, .csv has a row per path, bad files are named") {
  TempDir dir("faces_embeddings");
  Generator gen(1);
  Tensor rows = Tensor::randn({3, 4}, gen, DType::F32, kCPU);
  save_embeddings(dir.file("e"), {"a.pgm", "b,\"odd\".png", "c.jpg"}, rows);
  CHECK(max_difference(load_embeddings(dir.file("e.bin")), rows) == 0.0);
  std::string csv = file_text(dir.file("e.csv"));
  CHECK(csv.starts_with("path,e0,e1,e2,e3\n\"a.pgm\","));
  CHECK(csv.find("\n\"b,\"\"odd\"\".png\",") != std::string::npos);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 4);

  std::string bin = file_text(dir.file("e.bin"));
  CHECK(bin.size() == 28 + 3 * 4 * 4);
  write_bytes(dir.file("short.bin"), bin.substr(0, bin.size() - 4));
  CHECK(error_of([&] { load_embeddings(dir.file("short.bin")); }) ==
        "load_embeddings: " + dir.file("short.bin") + ": truncated: expected 3×4 float32 values after the header");
  write_bytes(dir.file("other.bin"), "PNG, not embeddings, but long enough for a header");
  CHECK(error_of([&] { load_embeddings(dir.file("other.bin")); }).find("not an embeddings file") != std::string::npos);
  CHECK(error_of([&] { save_embeddings(dir.file("x"), {"one"}, rows); }).find("for 1 paths") != std::string::npos);
  // A NaN in row 2 (its second value, bytes 28 + (2·4 + 1)·4 on).
  std::string with_nan = bin;
  const float nan = NAN;
  std::memcpy(with_nan.data() + 28 + (2 * 4 + 1) * 4, &nan, 4);
  write_bytes(dir.file("nan.bin"), with_nan);
  CHECK(error_of([&] { load_embeddings(dir.file("nan.bin")); }) ==
        "load_embeddings: " + dir.file("nan.bin") + ": row 2 holds nan (expected finite values)");
}

TEST_CASE("the embeddings file: a header declaring more values than the file holds fails before allocating") {
  TempDir dir("faces_embeddings_sizes");
  // A 28-byte header alone: magic, version 1, N, d.
  auto header = [](int64_t count, int64_t dim) {
    std::string bytes = "MARGINEM";
    uint32_t version = 1;
    bytes.append(reinterpret_cast<const char*>(&version), 4);
    bytes.append(reinterpret_cast<const char*>(&count), 8);
    bytes.append(reinterpret_cast<const char*>(&dim), 8);
    return bytes;
  };
  // 2²⁰ × 2²⁰ = 2⁴⁰ values, 4 TiB declared: compared with the file's size, never allocated (a
  // bare bad_alloc would escape error_of and fail the test).
  std::string huge = dir.file("huge.bin");
  write_bytes(huge, header(int64_t(1) << 20, int64_t(1) << 20));
  CHECK(error_of([&] { load_embeddings(huge); }) ==
        "load_embeddings: " + huge + ": truncated: expected 1048576×1048576 float32 values after the header");
  std::string overflow = dir.file("overflow.bin");
  write_bytes(overflow, header(int64_t(1) << 62, 4));
  CHECK(error_of([&] { load_embeddings(overflow); }) ==
        "load_embeddings: " + overflow +
            ": 4611686018427387904×4 float32: 4611686018427387904×4×4 overflows a 64-bit count");
  std::string negative = dir.file("negative.bin");
  write_bytes(negative, header(-2, 4));
  CHECK(error_of([&] { load_embeddings(negative); }) ==
        "load_embeddings: " + negative + ": -2×4 float32: negative size -2 in -2×4×4");
  std::string no_dim = dir.file("no_dim.bin");
  write_bytes(no_dim, header(3, 0));
  CHECK(error_of([&] { load_embeddings(no_dim); }) ==
        "load_embeddings: " + no_dim + ": embedding size 0 (expected at least 1)");
  std::string longer = dir.file("longer.bin");
  write_bytes(longer, header(1, 2) + std::string(12, '\0'));
  CHECK(error_of([&] { load_embeddings(longer); }) == "load_embeddings: " + longer + ": 4 bytes past the 1×2 values");
  std::string empty = dir.file("empty.bin");
  write_bytes(empty, header(0, 5));
  CHECK(load_embeddings(empty).shape() == Shape{0, 5});
}

TEST_CASE("save_embeddings: a failed write is an error naming the file and leaves no partial file") {
  TempDir dir("faces_embeddings_write");
  Generator gen(1);
  Tensor rows = Tensor::randn({3, 4}, gen, DType::F32, kCPU);
  const std::vector<std::string> paths = {"a.pgm", "b.pgm", "c.pgm"};

  std::string nowhere = dir.file("no/such/dir/e");
  CHECK(error_of([&] { save_embeddings(nowhere, paths, rows); }) ==
        "save_embeddings: cannot write " + nowhere + ".bin: creating " + nowhere +
            ".bin.tmp failed: No such file or directory");
  CHECK(!std::filesystem::exists(nowhere + ".bin"));

  // A full disk: the temporary is a link to /dev/full, so every write to it fails.
  if (std::filesystem::exists("/dev/full")) {
    std::string out = dir.file("full");
    std::filesystem::create_symlink("/dev/full", out + ".bin.tmp");
    CHECK(error_of([&] { save_embeddings(out, paths, rows); }) ==
          "save_embeddings: cannot write " + out + ".bin: writing " + out + ".bin.tmp failed: No space left on device");
    CHECK(!std::filesystem::exists(out + ".bin"));
    CHECK(!std::filesystem::is_symlink(out + ".bin.tmp"));
    CHECK(!std::filesystem::exists(out + ".csv"));
  }

  // A failed write leaves the previous file whole: the .csv cannot be written (a directory is
  // in the way of its temporary; root ignores permissions), the old .csv stays as it was.
  std::string out = dir.file("e");
  save_embeddings(out, paths, rows);
  std::string csv_before = file_text(out + ".csv");
  std::filesystem::create_directory(out + ".csv.tmp");
  Tensor other = Tensor::randn({3, 4}, gen, DType::F32, kCPU);
  CHECK(error_of([&] { save_embeddings(out, paths, other); }).starts_with("save_embeddings: cannot write " + out + ".csv: creating " +
                                                                          out + ".csv.tmp failed: "));
  CHECK(file_text(out + ".csv") == csv_before);
  CHECK(max_difference(load_embeddings(out + ".bin"), other) == 0.0);  // the .bin was written whole
}

TEST_CASE("model.txt: a size that is not a positive integer names the file, the key, the value and what was expected") {
  TempDir dir("faces_config_integers");
  FaceModelConfig config = tiny_model_config(8, 3);
  config.margin = 0.35;
  config.crop_height = 20;
  config.crop_width = 18;
  save_model_config(dir.file("model.txt"), config);
  const std::string text = file_text(dir.file("model.txt"));
  // model.txt with the line "key = <old>" replaced by "key = <value>"; returns the error.
  auto error_with = [&](const std::string& key, const std::string& value) {
    std::string line = "\n" + key + " = ";
    size_t at = text.find(line);
    REQUIRE(at != std::string::npos);
    at += line.size();
    std::string changed = text.substr(0, at) + value + text.substr(text.find('\n', at));
    std::string path = dir.file("bad.txt");
    write_bytes(path, changed);
    return error_of([&] { load_model_config(path); });
  };
  const std::string prefix = "load_model_config: " + dir.file("bad.txt") + ": ";
  CHECK(error_with("emb_dim", "8") == "");  // the unchanged value reads back
  CHECK(error_with("emb_dim", "16.9") == prefix + "emb_dim = '16.9' is not an integer (expected a positive integer)");
  CHECK(error_with("emb_dim", "1e30") == prefix + "emb_dim = '1e30' is not an integer (expected a positive integer)");
  CHECK(error_with("emb_dim", "-3") == prefix + "emb_dim = '-3' is not positive (expected a positive integer)");
  CHECK(error_with("emb_dim", "0") == prefix + "emb_dim = '0' is not positive (expected a positive integer)");
  CHECK(error_with("emb_dim", "12abc") == prefix + "emb_dim = '12abc' is not an integer (expected a positive integer)");
  CHECK(error_with("emb_dim", "+12") == prefix + "emb_dim = '+12' is not an integer (expected a positive integer)");
  CHECK(error_with("emb_dim", "99999999999999999999") ==
        prefix + "emb_dim = '99999999999999999999' is out of range of a 64-bit integer (expected a positive integer)");
  CHECK(error_with("channels", "1.5") == prefix + "channels = '1.5' is not an integer (expected a positive integer)");
  CHECK(error_with("classes", "-3") == prefix + "classes = '-3' is not positive (expected a positive integer)");
  CHECK(error_with("classes", "1e3") == prefix + "classes = '1e3' is not an integer (expected a positive integer)");
  CHECK(error_with("widths", "4,8.5") ==
        prefix + "widths = '4,8.5': '8.5' is not an integer (expected positive integers, comma-separated)");
  CHECK(error_with("widths", "4,,8") == prefix + "widths = '4,,8': '' is not an integer (expected positive integers, comma-separated)");
  CHECK(error_with("widths", "4,8,") == prefix + "widths = '4,8,': '' is not an integer (expected positive integers, comma-separated)");
  CHECK(error_with("widths", "4,-8") == prefix + "widths = '4,-8': '-8' is not positive (expected positive integers, comma-separated)");
  CHECK(error_with("input", "12x10.5") ==
        prefix + "input: '12x10.5' is not a size: the width '10.5' is not an integer (expected HxW, two positive integers, e.g. 96x84)");
  CHECK(error_with("input", "1e30x10") ==
        prefix + "input: '1e30x10' is not a size: the height '1e30' is not an integer (expected HxW, two positive integers, e.g. 96x84)");
  CHECK(error_with("input", "-12x10") ==
        prefix + "input: '-12x10' is not a size: the height '-12' is not positive (expected HxW, two positive integers, e.g. 96x84)");
  CHECK(error_with("crop", "20x99999999999999999999") ==
        prefix + "crop: '20x99999999999999999999' is not a size: the width '99999999999999999999' is out of range of a 64-bit "
                 "integer (expected HxW, two positive integers, e.g. 96x84)");
  CHECK(error_with("crop", "0x18") ==
        prefix + "crop: '0x18' is not a size: the height '0' is not positive (expected HxW, two positive integers, e.g. 96x84)");
}

TEST_CASE("model.txt: sizes no memory can hold (emb_dim 2^40 or 2^62) are an error naming model.txt, never a bare bad_alloc") {
  TempDir dir("faces_config_huge");
  FaceModelConfig config = tiny_model_config(8, 3);
  config.margin = 0.35;
  for (const char* huge : {"1099511627776", "4611686018427387904"}) {
    CAPTURE(huge);
    save_model_config(dir.file("model.txt"), config);
    std::string text = file_text(dir.file("model.txt"));
    const std::string line = "\nemb_dim = 8\n";
    REQUIRE(text.find(line) != std::string::npos);
    text.replace(text.find(line), line.size(), "\nemb_dim = " + std::string(huge) + "\n");
    write_bytes(dir.file("model.txt"), text);
    const std::string message = error_of([&] { load_face_model(dir.path.string()); });
    CHECK_MESSAGE(message.starts_with("load_face_model: " + dir.path.string() + "/model.txt: "), message);
  }
}

TEST_CASE("model.txt: saved and read back, a missing key or a bad line names the file") {
  TempDir dir("faces_config");
  FaceModelConfig config;
  config.arch = "iresnet18";
  config.height = 112;
  config.width = 96;
  config.channels = 3;
  config.loss = "arcface";
  config.scale = 64;
  config.margin = 0.5;
  config.classes = 10572;
  config.held_out = {"a", "b"};
  config.threshold = 0.123456789012345;
  config.crop_height = 128;
  config.crop_width = 112;
  save_model_config(dir.file("model.txt"), config);
  FaceModelConfig back = load_model_config(dir.file("model.txt"));
  CHECK(back.arch == "iresnet18");
  CHECK(back.crop_height == 128);
  CHECK(back.crop_width == 112);
  CHECK(back.height == 112);
  CHECK(back.width == 96);
  CHECK(back.channels == 3);
  CHECK(back.loss == "arcface");
  CHECK(back.scale == 64);
  CHECK(back.margin == 0.5);
  CHECK(back.classes == 10572);
  CHECK(back.held_out == config.held_out);
  CHECK(back.threshold == config.threshold);  // 17 digits: exact

  std::string text = file_text(dir.file("model.txt"));
  CHECK(text.find("\ncrop = 128x112\n") != std::string::npos);
  std::string uncropped = text;  // a model.txt without a crop line: no crop
  uncropped.erase(uncropped.find("crop = 128x112\n"), 15);
  write_bytes(dir.file("uncropped.txt"), uncropped);
  CHECK(load_model_config(dir.file("uncropped.txt")).crop_height == 0);
  CHECK(load_model_config(dir.file("uncropped.txt")).crop_width == 0);
  std::string bad_crop = text;
  bad_crop.replace(bad_crop.find("128x112"), 7, "128");
  write_bytes(dir.file("bad_crop.txt"), bad_crop);
  CHECK(error_of([&] { load_model_config(dir.file("bad_crop.txt")); }).find("crop: '128' is not a size") != std::string::npos);
  write_bytes(dir.file("no_loss.txt"), text.substr(0, text.find("\nloss =") + 1) + text.substr(text.find("\ns =") + 1));
  CHECK(error_of([&] { load_model_config(dir.file("no_loss.txt")); }) ==
        "load_model_config: " + dir.file("no_loss.txt") + ": no 'loss' line");
  write_bytes(dir.file("garbled.txt"), text + "what is this\n");
  CHECK(error_of([&] { load_model_config(dir.file("garbled.txt")); }).find(": line 15: expected key = value") !=
        std::string::npos);
  std::string bad_size = text;
  bad_size.replace(bad_size.find("112x96"), 6, "112by96");
  write_bytes(dir.file("bad_size.txt"), bad_size);
  CHECK(error_of([&] { load_model_config(dir.file("bad_size.txt")); }).find("input: '112by96' is not a size (expected HxW") !=
        std::string::npos);
  CHECK(error_of([&] { load_face_model(dir.file("nowhere")); }).find("nowhere/model.txt: no such file") !=
        std::string::npos);
  config.arch = "vgg";
  CHECK(error_of([&] { build_face_model(config, 0); }).find("unknown arch 'vgg'") != std::string::npos);
}

TEST_CASE("every arch that --arch names builds a backbone whose embedding has emb_dim values, and mbf128 is 128-d only") {
  for (const char* arch : {"small", "iresnet18", "iresnet50", "sphere20", "mbf", "mbf128"}) {
    CAPTURE(arch);
    FaceModelConfig config = tiny_model_config(128, 3);
    config.arch = arch;
    config.height = 32;  // four stride-2 stages leave 2x2
    config.width = 32;
    FaceModel model = build_face_model(config, 0);
    Tensor embedding = model.backbone->forward(Tensor::zeros({2, 1, 32, 32}));
    CHECK(embedding.shape() == Shape{2, 128});
  }
  FaceModelConfig config = tiny_model_config(64, 3);
  config.arch = "mbf128";
  CHECK(error_of([&] { build_face_model(config, 0); }) ==
        "face model: arch mbf128 is the paper's 128-d MobileFaceNet: emb_dim 64 (expected 128)");
}

TEST_CASE("a model of NaN weights and a non-finite threshold are refused, naming the file and the tensor") {
  TempDir dir("faces_nan");
  FaceModel model = build_face_model(tiny_model_config(8, 3), 0);
  save_model_config(dir.file("model.txt"), model.config);
  Parameter first = model.backbone->named_parameters().at(0);
  first.value.copy_(Tensor::full(first.value.shape(), NAN, first.value.dtype(), kCPU));
  save_checkpoint(dir.file("model.bin"), {{"model", model.backbone.get()}, {"loss", model.head.get()}}, nullptr,
                  TrainingState{.epoch = 1, .step = 1, .values = {}});
  std::string message = error_of([&] { load_face_model(dir.path.string()); });
  CHECK_MESSAGE(message.find(dir.file("model.bin") + ": model." + first.name + " holds nan (expected finite weights") !=
                    std::string::npos, message);
  model.config.threshold = INFINITY;
  CHECK(error_of([&] { save_model_config(dir.file("model.txt"), model.config); }) ==
        "save_model_config: " + dir.file("model.txt") + ": thresholds inf and 0 (expected finite numbers: cosine similarities)");
}

TEST_CASE("a run stopped after epoch 1 and resumed ends where the uninterrupted run ends") {
  TempDir dir("faces_resume");
  write_faces(dir.path / "faces");
  FacesConfig whole = tiny_config(dir, "whole");
  run_faces(whole);
  FacesConfig part = tiny_config(dir, "part");
  part.stop_after = 1;
  CHECK(!run_faces(part).outcome.finished);
  part.stop_after.reset();
  part.resume = dir.file("part/checkpoint.bin");
  FacesRun resumed = run_faces(part);
  CHECK(resumed.outcome.first_epoch == 1);
  CHECK(file_text(dir.file("part/model.bin")) == file_text(dir.file("whole/model.bin")));
  CHECK(file_text(dir.file("part/model.txt")) == file_text(dir.file("whole/model.txt")));
  CHECK(file_text(dir.file("part/pairs.txt")) == file_text(dir.file("whole/pairs.txt")));

  // Another setting is refused before anything in the folder is rewritten.
  const std::string model_txt = file_text(dir.file("part/model.txt"));
  const std::string advice = " (resume with the checkpoint's settings, or start a new run in another --out)";
  FacesConfig other = part;
  other.loss = "softmax";
  CHECK(error_of([&] { run_faces(other); }) == "--resume " + *part.resume +
                                                   ": the checkpoint was trained with --loss lmcl, these flags ask for --loss softmax" + advice);
  other = part;
  other.split_seed = 9;
  CHECK(error_of([&] { run_faces(other); }) == "--resume " + *part.resume +
                                                   ": the checkpoint was trained with --split-seed 0, these flags ask for --split-seed 9" + advice);
  other = part;
  other.color_jitter = 0.2;
  CHECK(error_of([&] { run_faces(other); }) == "--resume " + *part.resume +
                                                   ": the checkpoint was trained with --color-jitter 0, these flags ask for --color-jitter 0.2" + advice);
  CHECK(file_text(dir.file("part/model.txt")) == model_txt);
}

TEST_CASE("an identity folder whose name model.txt or pairs.txt cannot hold (whitespace, '#') is refused, named") {
  TempDir dir("faces_names");
  write_faces(dir.path / "faces");
  // Three of the six renamed: with 4 identities held out, at least one of them is evaluated.
  std::filesystem::rename(dir.path / "faces" / "person0", dir.path / "faces" / "person#0");
  std::filesystem::rename(dir.path / "faces" / "person1", dir.path / "faces" / "person 1");
  std::filesystem::rename(dir.path / "faces" / "person2", dir.path / "faces" / "person\t2");
  FacesConfig config = tiny_config(dir, "run");
  config.held_out = 4;
  const std::string message = error_of([&] { choose_face_data(config); });
  CHECK_MESSAGE(message.starts_with("identity folder 'person"), message);
  CHECK_MESSAGE(message.ends_with("' in " + config.data +
                                  ": model.txt and pairs.txt cannot hold a name with whitespace or '#' (rename the folder)"),
                message);
  CHECK_FALSE(std::filesystem::exists(dir.file("run")));
}

}  // namespace margin
