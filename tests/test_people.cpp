// tests/test_people.cpp — LFW's people files (eval/people.h): both layouts read, the error for
// every way a file can be wrong (naming the file and the line), the folds a View 2 model may
// train on, people and pairs files checked against an images folder, the real LFW files'
// totals, and the centre crop that cuts LFW's face window out of its 250×250 images.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <set>

#include "backends/types.h"
#include "core/random.h"
#include "data/transforms.h"
#include "eval/pairs.h"
#include "eval/people.h"
#include "gradcheck.h"
#include "skip.h"

namespace margin {
namespace {

using testing::TempDir;
using testing::contains;
using testing::error_of;

using Fold = std::vector<std::pair<std::string, int64_t>>;

int64_t images_in(const Fold& fold) {
  return std::accumulate(fold.begin(), fold.end(), int64_t{0}, [](int64_t sum, const auto& person) {
    return sum + person.second;
  });
}

TEST_CASE("read_people: a View 1 file is one fold, a View 2 file is its folds") {
  TempDir dir("people_layouts");
  PeopleFile dev = read_people(dir.write("peopleDevTrain.txt",
                                         "3\n"
                                         "AJ_Cook\t1\n"
                                         "Aaron_Eckhart\t1\r\n"  // Windows line end
                                         "\n"
                                         "Abdullah_Gul 19\n"));  // spaces, not a tab
  REQUIRE(dev.folds.size() == 1);
  CHECK(dev.folds[0] == Fold{{"AJ_Cook", 1}, {"Aaron_Eckhart", 1}, {"Abdullah_Gul", 19}});

  PeopleFile view2 = read_people(dir.write("people.txt",
                                           "3\n"
                                           "2\n"
                                           "Abdel_Madi_Shabneh\t1\n"
                                           "Abdul_Rahman\t1\n"
                                           "1\n"
                                           "George_W_Bush\t530\n"
                                           "\n"
                                           "3\n"
                                           "Alice\t2\n"
                                           "Bob\t1\n"
                                           "Carol\t4\n"));
  REQUIRE(view2.folds.size() == 3);
  CHECK(view2.folds[0] == Fold{{"Abdel_Madi_Shabneh", 1}, {"Abdul_Rahman", 1}});
  CHECK(view2.folds[1] == Fold{{"George_W_Bush", 530}});
  CHECK(view2.folds[2] == Fold{{"Alice", 2}, {"Bob", 1}, {"Carol", 4}});
  CHECK(images_in(view2.folds[2]) == 7);

  // A one-person file is one fold: its second line has 2 fields.
  CHECK(read_people(dir.write("one.txt", "1\nAlice\t2\n")).folds == std::vector<Fold>{{{"Alice", 2}}});
  // One fold in the folds layout: its second line has 1 field.
  CHECK(read_people(dir.write("fold.txt", "1\n1\nAlice\t2\n")).folds == std::vector<Fold>{{{"Alice", 2}}});
}

// The message read_people gives for a file holding `text`.
std::string read_error(const TempDir& dir, const std::string& text) {
  std::string path = dir.write("bad.txt", text);
  return error_of([&] { read_people(path); });
}

TEST_CASE("read_people: each malformed file names the file, the line and what was expected") {
  TempDir dir("people_malformed");
  std::string at = "read_people: " + dir.file("bad.txt") + ": ";

  // A count missing or malformed: the header, a fold's.
  CHECK(read_error(dir, "") == at + "no header line (the file is empty; expected a count of people, e.g. '4038', "
                                    "or of folds, e.g. '10')");
  std::string header_expected =
      "expected a count as the header: of people (one fold, e.g. '4038') or of folds (e.g. '10') "
      "(one positive integer), got ";
  CHECK(read_error(dir, "AJ_Cook\t1\n") == at + "line 1: " + header_expected + "'AJ_Cook\t1'");
  CHECK(read_error(dir, "\n0\n") == at + "line 2: " + header_expected + "'0'");
  CHECK(read_error(dir, "2\n1\nAlice\t1\n2x\nBob\t1\n") ==
        at + "line 4: expected the count of people in fold 2 (one positive integer), got '2x'");
  CHECK(read_error(dir, "2\n1\nAlice\t1\n0\n") ==
        at + "line 4: expected the count of people in fold 2 (one positive integer), got '0'");

  // A person's line: 'name count', count >= 1.
  std::string as_person = " as 'name count' (2 fields, count >= 1), got ";
  CHECK(read_error(dir, "2\nAlice\t1\nBob\n") ==
        at + "line 3: expected person 2 of the 2 that the header announces on line 1" + as_person + "'Bob'");
  CHECK(read_error(dir, "2\nAlice\nBob\t1\n") ==  // not a fold's count: not an integer
        at + "line 2: expected person 1 of the 2 that the header announces on line 1" + as_person + "'Alice'");
  CHECK(read_error(dir, "1\nAlice\t1\t2\n") ==
        at + "line 2: expected person 1 of the 1 that the header announces on line 1" + as_person + "'Alice\t1\t2'");
  CHECK(read_error(dir, "1\nAlice\tx\n") ==
        at + "line 2: expected person 1 of the 1 that the header announces on line 1" + as_person + "'Alice\tx'");
  CHECK(read_error(dir, "1\n\n\nAlice\t0\n") ==  // blank lines are skipped but counted
        at + "line 4: expected person 1 of the 1 that the header announces on line 1" + as_person + "'Alice\t0'");

  // Fewer lines than announced: at the end of the file, or where the next fold begins.
  CHECK(read_error(dir, "3\nAlice\t1\nBob\t1\n") ==
        at + "line 3: the file ends after 2 of the 3 people that the header announces on line 1");
  CHECK(read_error(dir, "2\n1\nAlice\t1\n\n") ==
        at + "line 4: the file ends after 1 of the 2 folds that the header announces on line 1");
  CHECK(read_error(dir, "2\n1\nAlice\t1\n2\nBob\t1\n") ==
        at + "line 5: the file ends after 1 of the 2 people that fold 2 announces on line 4");
  CHECK(read_error(dir, "2\n2\nAlice\t1\n1\nBob\t1\n") ==
        at + "line 4: expected person 2 of the 2 that fold 1 announces on line 2" + as_person + "'1'");
  // More lines than announced.
  CHECK(read_error(dir, "1\nAlice\t1\nBob\t1\n") ==
        at + "line 3: more lines than announced: the header (line 1) says 1 people");
  CHECK(read_error(dir, "1\n1\nAlice\t1\n1\nBob\t1\n") ==
        at + "line 4: more lines than announced: the header (line 1) says 1 folds");

  // A person twice, in one fold or in two.
  CHECK(read_error(dir, "2\nAlice\t1\nAlice\t2\n") == at + "line 3: person 'Alice' is listed twice (first on line 2)");
  CHECK(read_error(dir, "2\n1\nAlice\t1\n1\nAlice\t2\n") ==
        at + "line 5: person 'Alice' is listed twice (first on line 3)");

  std::string missing = dir.file("missing.txt");
  CHECK(error_of([&] { read_people(missing); }) == "read_people: " + missing + ": no such file");
}

TEST_CASE("people_except_fold: every person of the other folds and none of fold k") {
  PeopleFile people{{{{"A", 1}, {"B", 2}}, {{"C", 1}}, {{"D", 3}, {"E", 1}, {"F", 1}}}};
  CHECK(all_people(people) == std::vector<std::string>{"A", "B", "C", "D", "E", "F"});
  CHECK(people_except_fold(people, 0) == std::vector<std::string>{"C", "D", "E", "F"});
  CHECK(people_except_fold(people, 1) == std::vector<std::string>{"A", "B", "D", "E", "F"});
  CHECK(people_except_fold(people, 2) == std::vector<std::string>{"A", "B", "C"});
  for (int64_t k = 0; k < 3; ++k) {
    CAPTURE(k);
    std::vector<std::string> others = people_except_fold(people, k);
    std::set<std::string> fold_k;
    for (const auto& person : people.folds[size_t(k)]) fold_k.insert(person.first);
    for (const std::string& name : others) CHECK(!fold_k.contains(name));
    CHECK(others.size() + fold_k.size() == 6);  // with fold k: everyone, once
  }
  CHECK(error_of([&] { people_except_fold(people, 3); }) ==
        "people_except_fold: fold 3 of a people file with 3 folds (expected 0..2, 0-based)");
  CHECK(contains(error_of([&] { people_except_fold(people, -1); }), "fold -1 of"));
}

// An LFW-like images folder: Alice_0001.jpg, Alice_0002.jpg; Bob_0001.jpg (empty files).
struct LfwTree {
  TempDir dir{"people_tree"};
  std::string root = dir.file("images");
  LfwTree() {
    for (auto [name, images] : Fold{{"Alice", 2}, {"Bob", 1}}) {
      std::filesystem::create_directories(root + "/" + name);
      for (int64_t n = 1; n <= images; ++n)
        dir.write("images/" + name + "/" + name + "_000" + std::to_string(n) + ".jpg", "");
    }
  }
};

TEST_CASE("check_people_in_folder and check_pairs_in_folder name the missing person or image") {
  LfwTree tree;
  const std::string& root = tree.root;
  CHECK(lfw_image_path(root, "Alice", 2) == root + "/Alice/Alice_0002.jpg");
  CHECK(lfw_image_path(root, "Bob", 123) == root + "/Bob/Bob_0123.jpg");

  check_people_in_folder(PeopleFile{{{{"Alice", 2}}, {{"Bob", 1}}}}, root);
  check_people_in_folder(PeopleFile{{{{"Alice", 1}}}}, root);  // more images than listed: fine
  CHECK(error_of([&] { check_people_in_folder(PeopleFile{{{{"Alice", 2}}, {{"Bob", 2}}}}, root); }) ==
        "check_people_in_folder: " + root + ": person 'Bob' (fold 2, 2 images listed): no file " + root +
            "/Bob/Bob_0002.jpg");
  CHECK(error_of([&] { check_people_in_folder(PeopleFile{{{{"Alice", 2}, {"Carol", 1}, {"Dave", 1}}}}, root); }) ==
        "check_people_in_folder: " + root + ": person 'Carol' (fold 1, 1 images listed): no folder " + root + "/Carol");

  PairsFile pairs{1, 1, {{"Alice", 1, "Alice", 2}, {"Alice", 2, "Bob", 1}}};
  check_pairs_in_folder(pairs, root, "pairs.txt");
  pairs.pairs[0].index_b = 3;
  CHECK(error_of([&] { check_pairs_in_folder(pairs, root, "pairs.txt"); }) ==
        "check_pairs_in_folder: pairs.txt: pair 1 of 2 ('Alice 1 3', fold 1): image 3 of 'Alice': no file " + root +
            "/Alice/Alice_0003.jpg");
  pairs.pairs[0].index_b = 2;
  pairs.pairs[1].name_b = "Carol";
  CHECK(error_of([&] { check_pairs_in_folder(pairs, root, "pairs.txt"); }) ==
        "check_pairs_in_folder: pairs.txt: pair 2 of 2 ('Alice 2 Carol 1', fold 1): image 1 of 'Carol': no folder " +
            root + "/Carol");

  std::string absent = tree.dir.file("absent");
  CHECK(error_of([&] { check_people_in_folder(PeopleFile{}, absent); }) ==
        "check_people_in_folder: " + absent + " is not a folder (expected LFW's images/: one folder per person)");
  CHECK(contains(error_of([&] { check_pairs_in_folder(pairs, absent, "pairs.txt"); }), absent + " is not a folder"));
}

TEST_CASE("LFW's people files: 10 folds of 5749 people, View 1's 4038 + 1711, all in images/ (needs the shared data folder)") {
  const char* shared = std::getenv("MARGIN_SHARED_DATA");
  std::string lfw = std::string(shared ? shared : MARGIN_SOURCE_DIR "/../shared/data") + "/lfw";
  if (!std::filesystem::is_directory(lfw)) return testing::skip(lfw + " is absent (the shared data folder)");

  PeopleFile train = read_people(lfw + "/peopleDevTrain.txt");
  REQUIRE(train.folds.size() == 1);
  CHECK(train.folds[0].size() == 4038);
  CHECK(images_in(train.folds[0]) == 9525);
  CHECK(train.folds[0].front() == std::pair<std::string, int64_t>{"AJ_Cook", 1});
  check_people_in_folder(train, lfw + "/images");

  PeopleFile test = read_people(lfw + "/peopleDevTest.txt");
  REQUIRE(test.folds.size() == 1);
  CHECK(test.folds[0].size() == 1711);
  CHECK(images_in(test.folds[0]) == 3708);
  std::vector<std::string> train_names = all_people(train), test_names = all_people(test);
  std::set<std::string> view1(train_names.begin(), train_names.end());
  view1.insert(test_names.begin(), test_names.end());
  CHECK(view1.size() == 4038 + 1711);  // disjoint: 5749, every LFW person

  PeopleFile view2 = read_people(lfw + "/people.txt");
  REQUIRE(view2.folds.size() == 10);
  std::vector<size_t> fold_sizes;
  int64_t images = 0;
  for (const Fold& fold : view2.folds) {
    fold_sizes.push_back(fold.size());
    images += images_in(fold);
  }
  CHECK(fold_sizes == std::vector<size_t>{601, 555, 552, 560, 567, 527, 597, 601, 580, 609});
  CHECK(all_people(view2).size() == 5749);
  CHECK(images == 13233);
  CHECK(people_except_fold(view2, 9).size() == 5749 - 609);

  // pairs.txt's fold k uses only the people of people.txt's fold k.
  PairsFile pairs = read_pairs(lfw + "/pairs.txt");
  check_pairs_in_folder(pairs, lfw + "/images", lfw + "/pairs.txt");
  for (int64_t k = 0; k < 10; ++k) {
    std::vector<std::string> others = people_except_fold(view2, k);
    std::set<std::string> trainable(others.begin(), others.end());
    int64_t leaks = 0;
    for (size_t p = size_t(k) * 600; p < size_t(k + 1) * 600; ++p)
      leaks += trainable.contains(pairs.pairs[p].name_a) + trainable.contains(pairs.pairs[p].name_b);
    CHECK_MESSAGE(leaks == 0, "fold ", k + 1);
  }
}

TEST_CASE("center_crop: LFW's central 120×120 face window of a 250×250 image, and a window too large") {
  Generator gen(0);
  Sample sample;  // 3×250×250, pixel (c, y, x) = 100000c + 1000y + x
  sample.channels = 3;
  sample.height = sample.width = 250;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 250; ++y)
      for (int x = 0; x < 250; ++x) sample.image.push_back(float(100000 * c + 1000 * y + x));
  sample.label = 7;
  Sample face = sample;
  center_crop(120, 120)(face, gen);  // offsets ⌊(250 − 120) / 2⌋ = 65
  REQUIRE(face.shape() == Shape{3, 120, 120});
  CHECK(face.label == 7);
  int64_t wrong = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 120; ++y)
      for (int x = 0; x < 120; ++x) wrong += face.at(c, y, x) != float(100000 * c + 1000 * (y + 65) + x + 65);
  CHECK(wrong == 0);
  CHECK(face.at(2, 119, 119) == 200000 + 184000 + 184);

  Sample tall = sample;
  center_crop(249, 112)(tall, gen);  // offsets ⌊1/2⌋ = 0 and ⌊138/2⌋ = 69
  CHECK(tall.shape() == Shape{3, 249, 112});
  CHECK(tall.at(0, 0, 0) == 69);
  CHECK(tall.at(1, 248, 111) == 100000 + 248000 + 180);

  CHECK(error_of([&] { center_crop(120, 251)(sample, gen); }) ==
        "center_crop: a 120×251 window does not fit in an image of shape [3, 250, 250] (expected the window no "
        "larger than the image)");
  CHECK(error_of([] { center_crop(0, 120); }) == "center_crop: size 0×120 (expected a positive height and width)");
}

}  // namespace
}  // namespace margin
