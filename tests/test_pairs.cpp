// tests/test_pairs.cpp — LFW pairs files (eval/pairs.h): an LFW snippet read, the error for
// every way a file can be wrong (naming the file and the line), generated pairs (layout,
// valid indices, no repeats until every pair is used, fixed by the seed) and the round trip
// generate → write → read.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "backends/types.h"
#include "eval/pairs.h"
#include "gradcheck.h"

namespace margin {
namespace {

constexpr bool S = true, D = false;  // a same pair, a different pair

using testing::TempDir;
using testing::contains;
using testing::error_of;

TEST_CASE("read_pairs: an LFW View 2 snippet") {
  TempDir dir("pairs_snippet");
  std::string path = dir.write("pairs.txt",
                               "2\t2\n"
                               "Abel_Pacheco\t1\t4\n"
                               "Akhmed_Zakayev\t1\t3\r\n"  // Windows line end
                               "Abdel_Madi_Shabneh\t1\tDean_Barker\t1\n"
                               "Abdel_Madi_Shabneh 1 Giancarlo_Fisichella 1\n"  // spaces, not tabs
                               "Alice\t2\t3\n"
                               "Bob\t10\t1\n"
                               "Carol\t1\tDave\t2\n"
                               "Eve\t3\tFrank\t1\n"
                               "\n");
  PairsFile file = read_pairs(path);
  CHECK(file.folds == 2);
  CHECK(file.per_fold == 2);
  REQUIRE(file.pairs.size() == 8);
  CHECK(file.pairs[0] == PairEntry{"Abel_Pacheco", 1, "Abel_Pacheco", 4});
  CHECK(file.pairs[1] == PairEntry{"Akhmed_Zakayev", 1, "Akhmed_Zakayev", 3});
  CHECK(file.pairs[3] == PairEntry{"Abdel_Madi_Shabneh", 1, "Giancarlo_Fisichella", 1});
  CHECK(file.pairs[5] == PairEntry{"Bob", 10, "Bob", 1});
  CHECK(file.pairs[6] == PairEntry{"Carol", 1, "Dave", 2});
  std::vector<bool> same;
  for (const PairEntry& pair : file.pairs) same.push_back(pair.same());
  CHECK(same == std::vector<bool>{S, S, D, D, S, S, D, D});
  CHECK(file.fold_of(3) == 0);
  CHECK(file.fold_of(4) == 1);
  CHECK(file.fold_of(7) == 1);
  CHECK(contains(error_of([&] { file.fold_of(8); }), "expected an index below 8"));

  // View 1's header is one number: one fold.
  PairsFile dev = read_pairs(dir.write("dev.txt", "1\nA\t1\t2\nB\t1\tC\t1\n"));
  CHECK(dev.folds == 1);
  CHECK(dev.per_fold == 1);
  CHECK(dev.pairs[1] == PairEntry{"B", 1, "C", 1});
  // One fold is dealt into as many as 10 for the accuracy, matched and mismatched alike.
  CHECK(dev.accuracy_fold_of(0) == 0);
  CHECK(dev.accuracy_fold_of(1) == 0);
  PairsFile view1{1, 25, std::vector<PairEntry>(50, PairEntry{"A", 1, "A", 2})};
  std::vector<int64_t> matched_per_fold(10, 0), all_per_fold(10, 0);
  for (size_t i = 0; i < 50; ++i) {
    int64_t fold = view1.accuracy_fold_of(i);
    REQUIRE(fold >= 0);
    REQUIRE(fold < 10);
    CHECK(fold == int64_t(i % 25) % 10);
    ++all_per_fold[fold];
    if (i < 25) ++matched_per_fold[fold];
  }
  CHECK(matched_per_fold == std::vector<int64_t>{3, 3, 3, 3, 3, 2, 2, 2, 2, 2});
  CHECK(all_per_fold == std::vector<int64_t>{6, 6, 6, 6, 6, 4, 4, 4, 4, 4});
  CHECK(file.accuracy_fold_of(5) == file.fold_of(5));  // several folds: the file's own
}

// The message read_pairs gives for a file holding `text`.
std::string read_error(const TempDir& dir, const std::string& text) {
  std::string path = dir.write("bad.txt", text);
  return error_of([&] { read_pairs(path); });
}

TEST_CASE("read_pairs: each malformed file names the file, the line and what was expected") {
  TempDir dir("pairs_malformed");
  std::string at = "read_pairs: " + dir.file("bad.txt") + ": ";
  std::string header_expected =
      "expected the header 'folds per_fold' (two positive integers, e.g. '10\\t300') or 'per_fold' (one fold), got ";
  CHECK(read_error(dir, "10\t300\t5\n") == at + "line 1: " + header_expected + "'10\t300\t5'");
  CHECK(read_error(dir, "ten\t300\n") == at + "line 1: " + header_expected + "'ten\t300'");
  CHECK(read_error(dir, "10\t0\n") == at + "line 1: " + header_expected + "'10\t0'");
  CHECK(read_error(dir, "") == at + "no header line (the file is empty; expected 'folds per_fold', e.g. '10\\t300')");

  CHECK(read_error(dir, "1\t1\nA\t1\tB\t2\n") ==
        at + "line 2: expected a matched pair 'name n1 n2' (3 fields), got 4 fields in pair 1, fold 1 "
             "(each fold lists per_fold = 1 matched pairs, then as many mismatched)");
  CHECK(read_error(dir, "1\t1\nA\t1\t2\nB\t1\t3\n") ==
        at + "line 3: expected a mismatched pair 'name1 n1 name2 n2' (4 fields), got 3 fields in pair 2, fold 1 "
             "(each fold lists per_fold = 1 matched pairs, then as many mismatched)");
  CHECK(read_error(dir, "1\t1\nA\t1\n") ==
        at + "line 2: expected a matched pair 'name n1 n2' (3 fields), got 2 fields in pair 1, fold 1 "
             "(each fold lists per_fold = 1 matched pairs, then as many mismatched)");

  CHECK(read_error(dir, "1\t1\nA\t1\tx\n") == at + "line 2: image number 'x' is not an integer");
  CHECK(read_error(dir, "1\t1\nA\t1\t2\nB\t1.5\tC\t1\n") == at + "line 3: image number '1.5' is not an integer");
  CHECK(read_error(dir, "1\t1\nA\t2x\t2\n") == at + "line 2: image number '2x' is not an integer");
  CHECK(read_error(dir, "1\t1\nA\t0\t2\n") == at + "line 2: image number 0 (expected >= 1: images are numbered from 1)");
  CHECK(read_error(dir, "1\t1\nA\t1\t2\nB\t1\tC\t-3\n") ==
        at + "line 3: image number -3 (expected >= 1: images are numbered from 1)");
  CHECK(read_error(dir, "1\t1\nA\t1\t2\nB\t1\tB\t2\n") ==
        at + "line 3: a mismatched pair names 'B' twice (expected two identities)");

  // Blank lines are skipped but still counted: the bad line is the file's 4th.
  CHECK(contains(read_error(dir, "1\t1\n\n\nA\tone\t2\n"), ": line 4: image number 'one'"));

  CHECK(read_error(dir, "2\t1\nA\t1\t2\nB\t1\tC\t1\n") ==
        at + "line 3: the file ends after 2 of the 4 pair lines the header (line 1) promises: 2 folds × 2 × 1");
  CHECK(read_error(dir, "1\t1\nA\t1\t2\nB\t1\tC\t1\nD\t1\t2\n") ==
        at + "line 4: more pair lines than the header (line 1) says: 1 folds × 2 × 1 = 2");

  std::string missing = dir.file("missing.txt");
  CHECK(error_of([&] { read_pairs(missing); }) == "read_pairs: " + missing + ": no such file");
}

// 20 identities: two without images, four with one, the rest with 2..9.
std::vector<std::pair<std::string, int64_t>> some_identities() {
  std::vector<std::pair<std::string, int64_t>> identities;
  for (int i = 0; i < 20; ++i) identities.push_back({"Person_" + std::to_string(i), i < 2 ? 0 : i < 6 ? 1 : 2 + i % 8});
  return identities;
}

TEST_CASE("generate_pairs: LFW's layout, valid pairs, none repeated, fixed by the seed") {
  auto identities = some_identities();
  std::map<std::string, int64_t> images(identities.begin(), identities.end());
  PairsFile file = generate_pairs(identities, 10, 15, 42);
  CHECK(file.folds == 10);
  CHECK(file.per_fold == 15);
  REQUIRE(file.pairs.size() == 300);
  std::set<std::tuple<std::string, int64_t, std::string, int64_t>> matched, mismatched;
  for (size_t k = 0; k < file.pairs.size(); ++k) {
    const PairEntry& pair = file.pairs[k];
    CAPTURE(k);
    CHECK(file.fold_of(k) == int64_t(k / 30));
    CHECK(pair.same() == (k % 30 < 15));  // 15 matched, then 15 mismatched, in every fold
    CHECK(pair.index_a >= 1);
    CHECK(pair.index_a <= images.at(pair.name_a));
    CHECK(pair.index_b >= 1);
    CHECK(pair.index_b <= images.at(pair.name_b));
    if (pair.same()) {
      CHECK(pair.index_a != pair.index_b);
      matched.insert({pair.name_a, std::min(pair.index_a, pair.index_b), "", std::max(pair.index_a, pair.index_b)});
    } else {
      auto a = std::pair{pair.name_a, pair.index_a}, b = std::pair{pair.name_b, pair.index_b};
      if (b < a) std::swap(a, b);
      mismatched.insert({a.first, a.second, b.first, b.second});
    }
  }
  CHECK(matched.size() == 150);  // possible: far more than 150 of each kind
  CHECK(mismatched.size() == 150);

  CHECK(generate_pairs(identities, 10, 15, 42) == file);
  CHECK(!(generate_pairs(identities, 10, 15, 43) == file));
}

TEST_CASE("generate_pairs: every possible pair once before any repeats") {
  // A: 3 images, B: 2, C: 1. Matched pairs possible: A(1,2) A(1,3) A(2,3) B(1,2) — 4.
  // Mismatched: A×B 6 + A×C 3 + B×C 2 = 11. Asking 11 of each: the mismatched are all 11,
  // the matched run through all 4 twice and then 3 more.
  PairsFile file = generate_pairs({{"A", 3}, {"B", 2}, {"C", 1}}, 1, 11, 5);
  REQUIRE(file.pairs.size() == 22);
  auto matched_key = [&](size_t k) {
    const PairEntry& pair = file.pairs[k];
    return std::tuple{pair.name_a, std::min(pair.index_a, pair.index_b), std::max(pair.index_a, pair.index_b)};
  };
  std::set<std::tuple<std::string, int64_t, int64_t>> all_matched = {{"A", 1, 2}, {"A", 1, 3}, {"A", 2, 3}, {"B", 1, 2}};
  for (size_t round : {0, 4}) {
    std::set<std::tuple<std::string, int64_t, int64_t>> seen;
    for (size_t k = round; k < round + 4; ++k) seen.insert(matched_key(k));
    CHECK(seen == all_matched);
  }
  std::set<std::tuple<std::string, int64_t, int64_t>> last_three = {matched_key(8), matched_key(9), matched_key(10)};
  CHECK(last_three.size() == 3);
  std::set<std::tuple<std::string, int64_t, std::string, int64_t>> mismatched;
  for (size_t k = 11; k < 22; ++k)
    mismatched.insert({file.pairs[k].name_a, file.pairs[k].index_a, file.pairs[k].name_b, file.pairs[k].index_b});
  CHECK(mismatched.size() == 11);
}

// Redrawing until a new pair comes up would take minutes here; generate_pairs lists the
// unused pairs instead (no timing in tests: a regression shows up as a slow test run).
TEST_CASE("generate_pairs: skewed identities, every mismatched pair asked for") {
  // 100 people with one image and two with 100. Identities are drawn uniformly, so a given
  // pair of the two big ones' images comes up once in 5151 · 100 · 100 draws; asking for all
  // 4950 + 2 · 100 · 100 + 100 · 100 = 34950 mismatched pairs needs every one of those.
  std::vector<std::pair<std::string, int64_t>> identities = {{"Big_1", 100}, {"Big_2", 100}};
  for (int i = 0; i < 100; ++i) identities.push_back({"Once_" + std::to_string(i), 1});
  PairsFile file = generate_pairs(identities, 1, 34950, 3);
  std::set<std::tuple<std::string, int64_t, std::string, int64_t>> mismatched;
  for (size_t k = 34950; k < 69900; ++k)
    mismatched.insert({file.pairs[k].name_a, file.pairs[k].index_a, file.pairs[k].name_b, file.pairs[k].index_b});
  CHECK(mismatched.size() == 34950);
}

TEST_CASE("generate_pairs: impossible requests are errors") {
  CHECK(error_of([] { generate_pairs({{"A", 5}}, 10, 30, 0); }) ==
        "generate_pairs: 1 of 1 identities have images (expected >= 2 for mismatched pairs)");
  CHECK(error_of([] { generate_pairs({{"A", 5}, {"B", 0}}, 10, 30, 0); }) ==
        "generate_pairs: 1 of 2 identities have images (expected >= 2 for mismatched pairs)");
  CHECK(error_of([] { generate_pairs({{"A", 1}, {"B", 1}}, 10, 30, 0); }) ==
        "generate_pairs: no identity of 2 has 2 images (expected >= 1 for matched pairs)");
  CHECK(error_of([] { generate_pairs({{"A", 2}, {"A", 3}}, 10, 30, 0); }) == "generate_pairs: identity 'A' is listed twice");
  CHECK(contains(error_of([] { generate_pairs({{"Jo Doe", 2}, {"B", 3}}, 10, 30, 0); }), "identity name 'Jo Doe'"));
  CHECK(contains(error_of([] { generate_pairs({{"A", 2}, {"B", -1}}, 10, 30, 0); }), "has -1 images"));
  CHECK(contains(error_of([] { generate_pairs({{"A", 2}, {"B", 3}}, 0, 30, 0); }), "0 folds × 30 pairs per fold"));
}

TEST_CASE("pairs files round trip: generate, write, read back equal") {
  TempDir dir("pairs_round_trip");
  PairsFile file = generate_pairs(some_identities(), 3, 4, 9);
  std::string path = dir.file("pairs.txt");
  dir.write("pairs.txt", "an older file, replaced whole\n");
  write_pairs(path, file);
  CHECK(read_pairs(path) == file);
  CHECK(!std::filesystem::exists(path + ".tmp"));
  // Tab-separated like LFW: the header, then "name n1 n2" for a matched pair.
  std::ifstream in(path);
  std::string header, first;
  std::getline(in, header);
  std::getline(in, first);
  CHECK(header == "3\t4");
  CHECK(first == file.pairs[0].name_a + "\t" + std::to_string(file.pairs[0].index_a) + "\t" +
                     std::to_string(file.pairs[0].index_b));
}

TEST_CASE("write_pairs: a file that breaks the layout is refused, unwritable paths are errors") {
  TempDir dir("pairs_refused");
  PairsFile file = generate_pairs(some_identities(), 2, 3, 1);
  PairsFile short_file = file;
  short_file.pairs.pop_back();
  CHECK(contains(error_of([&] { write_pairs(dir.file("p.txt"), short_file); }), "11 pairs for 2 folds × 2 × 3"));
  PairsFile swapped = file;
  std::swap(swapped.pairs[0], swapped.pairs[3]);  // a mismatched pair where a matched one belongs
  CHECK(contains(error_of([&] { write_pairs(dir.file("p.txt"), swapped); }), "pair 0 (Person_"));
  CHECK(contains(error_of([&] { write_pairs("/nonexistent-dir/pairs.txt", file); }),
                 "write_pairs: cannot write /nonexistent-dir/pairs.txt: creating /nonexistent-dir/pairs.txt.tmp failed"));
  CHECK(!std::filesystem::exists(dir.file("p.txt")));
}

}  // namespace
}  // namespace margin
