// eval/pairs.cpp — reading, writing and generating LFW-style pairs files. See pairs.h for
// the format; every error names the file and the line.
#include "eval/pairs.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "eval/text_fields.h"

#include "backends/types.h"

namespace margin {

// A bound on folds × 2 × per_fold, so that a wrong header cannot overflow or reserve the world.
static constexpr int64_t kMaxPairs = 1'000'000'000;

int64_t PairsFile::fold_of(size_t pair_index) const {
  int64_t total = folds * 2 * per_fold;
  if (per_fold < 1 || static_cast<int64_t>(pair_index) >= total)
    fail("PairsFile::fold_of: pair ", pair_index, " of a file with ", folds, " folds × 2 × ", per_fold,
         " pairs (expected an index below ", total, ")");
  return static_cast<int64_t>(pair_index) / (2 * per_fold);
}

int64_t PairsFile::accuracy_fold_of(size_t pair_index) const {
  int64_t fold = fold_of(pair_index);
  if (folds > 1) return fold;
  return (static_cast<int64_t>(pair_index) % per_fold) % std::min<int64_t>(10, per_fold);
}

// ---- reading ----------------------------------------------------------------------------

PairsFile read_pairs(const std::string& path) {
  if (!std::filesystem::exists(path)) fail("read_pairs: ", path, ": no such file");
  std::ifstream in(path);
  if (!in) fail("read_pairs: ", path, ": cannot open (", std::strerror(errno), ")");
  auto fail_at = [&](int64_t at_line, const auto&... what) -> void {
    fail("read_pairs: ", path, ": line ", at_line, ": ", what...);
  };

  PairsFile file;
  int64_t line_number = 0, header_line = 0, total = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields = fields_of(line);
    if (fields.empty()) continue;

    if (header_line == 0) {
      header_line = line_number;
      int64_t first = 0, second = 0;
      bool two = fields.size() == 2 && parse_int(fields[0], first) && parse_int(fields[1], second);
      bool one = fields.size() == 1 && parse_int(fields[0], second);
      if (one) first = 1;
      if (!(one || two) || first < 1 || second < 1)
        fail_at(line_number, "expected the header 'folds per_fold' (two positive integers, e.g. '10\\t300') ",
                "or 'per_fold' (one fold), got '", line, "'");
      if (first > kMaxPairs / 2 / second)
        fail_at(line_number, "the header says ", first, " folds × 2 × ", second, " pairs (expected at most ",
                kMaxPairs, ")");
      file.folds = first;
      file.per_fold = second;
      total = file.folds * 2 * file.per_fold;
      file.pairs.reserve(static_cast<size_t>(std::min<int64_t>(total, 1 << 20)));
      continue;
    }

    int64_t k = static_cast<int64_t>(file.pairs.size());
    if (k == total)
      fail_at(line_number, "more pair lines than the header (line ", header_line, ") says: ", file.folds,
              " folds × 2 × ", file.per_fold, " = ", total);
    int64_t fold = k / (2 * file.per_fold);
    bool matched = k % (2 * file.per_fold) < file.per_fold;
    const char* layout = " (each fold lists per_fold = ";
    if (matched && fields.size() != 3)
      fail_at(line_number, "expected a matched pair 'name n1 n2' (3 fields), got ", fields.size(),
              " fields in pair ", k + 1, ", fold ", fold + 1, layout, file.per_fold,
              " matched pairs, then as many mismatched)");
    if (!matched && fields.size() != 4)
      fail_at(line_number, "expected a mismatched pair 'name1 n1 name2 n2' (4 fields), got ", fields.size(),
              " fields in pair ", k + 1, ", fold ", fold + 1, layout, file.per_fold,
              " matched pairs, then as many mismatched)");
    PairEntry entry;
    entry.name_a = fields[0];
    entry.name_b = matched ? fields[0] : fields[2];
    const std::string& text_a = fields[1];
    const std::string& text_b = matched ? fields[2] : fields[3];
    for (auto [text, index] : {std::pair{&text_a, &entry.index_a}, std::pair{&text_b, &entry.index_b}}) {
      if (!parse_int(*text, *index)) fail_at(line_number, "image number '", *text, "' is not an integer");
      if (*index < 1) fail_at(line_number, "image number ", *index, " (expected >= 1: images are numbered from 1)");
    }
    if (!matched && entry.name_a == entry.name_b)
      fail_at(line_number, "a mismatched pair names '", entry.name_a, "' twice (expected two identities)");
    file.pairs.push_back(std::move(entry));
  }
  if (header_line == 0)
    fail("read_pairs: ", path, ": no header line (the file is empty; expected 'folds per_fold', e.g. '10\\t300')");
  if (static_cast<int64_t>(file.pairs.size()) < total)
    fail_at(line_number, "the file ends after ", file.pairs.size(), " of the ", total,
            " pair lines the header (line ", header_line, ") promises: ", file.folds, " folds × 2 × ", file.per_fold);
  return file;
}

// ---- writing ----------------------------------------------------------------------------

static bool has_whitespace(const std::string& name) {
  return std::any_of(name.begin(), name.end(), [](unsigned char c) { return std::isspace(c); });
}

static void check_name(const char* caller, const std::string& name) {
  if (name.empty() || has_whitespace(name))
    fail(caller, ": identity name '", name, "' (expected a non-empty name without whitespace: ",
         "pairs files separate fields by whitespace)");
}

void write_pairs(const std::string& path, const PairsFile& file) {
  if (file.folds < 1 || file.per_fold < 1 || file.folds > kMaxPairs / 2 / file.per_fold ||
      static_cast<int64_t>(file.pairs.size()) != file.folds * 2 * file.per_fold)
    fail("write_pairs: ", path, ": ", file.pairs.size(), " pairs for ", file.folds, " folds × 2 × ", file.per_fold,
         " (expected folds, per_fold >= 1 and exactly folds × 2 × per_fold pairs)");
  std::ostringstream text;
  text << file.folds << '\t' << file.per_fold << '\n';
  for (size_t k = 0; k < file.pairs.size(); ++k) {
    const PairEntry& pair = file.pairs[k];
    bool matched = static_cast<int64_t>(k) % (2 * file.per_fold) < file.per_fold;
    check_name("write_pairs", pair.name_a);
    check_name("write_pairs", pair.name_b);
    if (pair.same() != matched)
      fail("write_pairs: ", path, ": pair ", k, " (", pair.name_a, ", ", pair.name_b, ") is ",
           pair.same() ? "matched" : "mismatched", " where the layout puts a ", matched ? "matched" : "mismatched",
           " pair (each fold: per_fold matched pairs, then per_fold mismatched)");
    if (pair.index_a < 1 || pair.index_b < 1)
      fail("write_pairs: ", path, ": pair ", k, " has image numbers ", pair.index_a, " and ", pair.index_b,
           " (expected >= 1)");
    if (matched)
      text << pair.name_a << '\t' << pair.index_a << '\t' << pair.index_b << '\n';
    else
      text << pair.name_a << '\t' << pair.index_a << '\t' << pair.name_b << '\t' << pair.index_b << '\n';
  }
  try {
    write_file_atomically(path, text.str());
  } catch (const Error& e) {
    fail("write_pairs: cannot write ", path, ": ", e.what());
  }
}

// ---- generating ---------------------------------------------------------------------------

// An integer in [0, n), unbiased, from the engine's raw output. std::uniform_int_distribution
// is not used: its algorithm differs between standard libraries, and pairs must not.
static int64_t uniform_below(std::mt19937_64& engine, int64_t n) {
  uint64_t range = static_cast<uint64_t>(n);
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;  // [0, limit) holds a whole number of ranges
  uint64_t draw;
  do draw = engine();
  while (draw >= limit);
  return static_cast<int64_t>(draw % range);
}

// A pair as (identity, image, identity, image), 0-based, the smaller (identity, image) first:
// the same key for both orders of a pair.
using PairKey = std::array<int64_t, 4>;

static PairKey key_of(int64_t identity_a, int64_t image_a, int64_t identity_b, int64_t image_b) {
  if (std::pair{identity_b, image_b} < std::pair{identity_a, image_a}) {
    std::swap(identity_a, identity_b);
    std::swap(image_a, image_b);
  }
  return {identity_a, image_a, identity_b, image_b};
}

// `count` keys from draw(), none twice until all `possible` keys have been drawn (then the
// record of drawn keys starts over). Drawing again on a repeat is quick while most keys are
// unused; when it keeps hitting used keys (a small identity's pairs run out long before the
// others'), the unused keys are listed (list_all) and taken in a shuffled order instead.
static std::vector<PairKey> draw_distinct(int64_t count, uint64_t possible, const std::function<PairKey()>& draw,
                                          const std::function<std::vector<PairKey>()>& list_all,
                                          std::mt19937_64& engine) {
  constexpr int kMaxMissesInARow = 64;
  std::vector<PairKey> drawn;
  drawn.reserve(static_cast<size_t>(count));
  std::set<PairKey> used;
  int misses = 0;
  while (static_cast<int64_t>(drawn.size()) < count) {
    if (used.size() == possible) used.clear();
    PairKey key = draw();
    if (used.insert(key).second) {
      drawn.push_back(key);
      misses = 0;
      continue;
    }
    if (++misses < kMaxMissesInARow) continue;
    std::vector<PairKey> unused;
    for (const PairKey& candidate : list_all())
      if (!used.contains(candidate)) unused.push_back(candidate);
    for (size_t i = unused.size(); i > 1; --i)  // Fisher–Yates
      std::swap(unused[i - 1], unused[static_cast<size_t>(uniform_below(engine, static_cast<int64_t>(i)))]);
    for (const PairKey& candidate : unused) {
      if (static_cast<int64_t>(drawn.size()) == count) break;
      drawn.push_back(candidate);
      used.insert(candidate);
    }
    misses = 0;
  }
  return drawn;
}

PairsFile generate_pairs(const std::vector<std::pair<std::string, int64_t>>& identities, int64_t folds,
                         int64_t per_fold, uint64_t seed) {
  if (folds < 1 || per_fold < 1 || folds > kMaxPairs / 2 / per_fold)
    fail("generate_pairs: ", folds, " folds × ", per_fold, " pairs per fold (expected both >= 1 and at most ",
         kMaxPairs, " pairs in all)");
  std::set<std::string> names;
  std::vector<int64_t> with_images, with_two;  // indices into identities
  for (size_t i = 0; i < identities.size(); ++i) {
    const auto& [name, images] = identities[i];
    check_name("generate_pairs", name);
    if (!names.insert(name).second) fail("generate_pairs: identity '", name, "' is listed twice");
    if (images < 0) fail("generate_pairs: identity '", name, "' has ", images, " images (expected >= 0)");
    if (images >= 1) with_images.push_back(static_cast<int64_t>(i));
    if (images >= 2) with_two.push_back(static_cast<int64_t>(i));
  }
  if (with_images.size() < 2)
    fail("generate_pairs: ", with_images.size(), " of ", identities.size(),
         " identities have images (expected >= 2 for mismatched pairs)");
  if (with_two.empty())
    fail("generate_pairs: no identity of ", identities.size(), " has 2 images (expected >= 1 for matched pairs)");

  auto images_of = [&](int64_t identity) { return identities[static_cast<size_t>(identity)].second; };
  uint64_t possible_matched = 0, image_total = 0, sum_of_squares = 0;
  for (int64_t identity : with_two) possible_matched += uint64_t(images_of(identity)) * (images_of(identity) - 1) / 2;
  for (int64_t identity : with_images) {
    image_total += images_of(identity);
    sum_of_squares += uint64_t(images_of(identity)) * images_of(identity);
  }
  uint64_t possible_mismatched = (image_total * image_total - sum_of_squares) / 2;

  std::mt19937_64 engine(seed);
  auto pick = [&](const std::vector<int64_t>& from) { return from[uniform_below(engine, int64_t(from.size()))]; };
  auto draw_matched = [&] {
    int64_t identity = pick(with_two), images = images_of(identity);
    int64_t first = uniform_below(engine, images), second = uniform_below(engine, images - 1);
    if (second >= first) ++second;
    return key_of(identity, first, identity, second);
  };
  auto list_matched = [&] {
    std::vector<PairKey> all;
    for (int64_t identity : with_two)
      for (int64_t first = 0; first < images_of(identity); ++first)
        for (int64_t second = first + 1; second < images_of(identity); ++second)
          all.push_back({identity, first, identity, second});
    return all;
  };
  auto draw_mismatched = [&] {
    int64_t a = uniform_below(engine, int64_t(with_images.size()));
    int64_t b = uniform_below(engine, int64_t(with_images.size()) - 1);
    if (b >= a) ++b;
    int64_t identity_a = with_images[a], identity_b = with_images[b];
    int64_t image_a = uniform_below(engine, images_of(identity_a));
    int64_t image_b = uniform_below(engine, images_of(identity_b));
    return key_of(identity_a, image_a, identity_b, image_b);
  };
  auto list_mismatched = [&] {
    std::vector<PairKey> all;
    for (size_t a = 0; a < with_images.size(); ++a)
      for (size_t b = a + 1; b < with_images.size(); ++b)
        for (int64_t image_a = 0; image_a < images_of(with_images[a]); ++image_a)
          for (int64_t image_b = 0; image_b < images_of(with_images[b]); ++image_b)
            all.push_back({with_images[a], image_a, with_images[b], image_b});
    return all;
  };
  int64_t count = folds * per_fold;
  std::vector<PairKey> matched = draw_distinct(count, possible_matched, draw_matched, list_matched, engine);
  std::vector<PairKey> mismatched = draw_distinct(count, possible_mismatched, draw_mismatched, list_mismatched, engine);

  auto entry_of = [&](const PairKey& key) {
    return PairEntry{identities[size_t(key[0])].first, key[1] + 1, identities[size_t(key[2])].first, key[3] + 1};
  };
  PairsFile file;
  file.folds = folds;
  file.per_fold = per_fold;
  file.pairs.reserve(static_cast<size_t>(2 * count));
  for (int64_t fold = 0; fold < folds; ++fold) {
    for (int64_t i = 0; i < per_fold; ++i) file.pairs.push_back(entry_of(matched[size_t(fold * per_fold + i)]));
    for (int64_t i = 0; i < per_fold; ++i) file.pairs.push_back(entry_of(mismatched[size_t(fold * per_fold + i)]));
  }
  return file;
}

}  // namespace margin
