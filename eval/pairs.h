// eval/pairs.h — the pairs of an open-set verification benchmark, as LFW's pairs.txt lists
// them: read, written, and generated for a dataset of one's own.
//
// A pair is two face images; "same" when both show one identity. LFW View 2 (pairs.txt):
//
//   10	300                        folds, pairs of each kind per fold
//   Abel_Pacheco	1	4            matched: name n1 n2 (name_0001.jpg and name_0004.jpg)
//   ...                          (300 matched lines, then)
//   Abdel_Madi_Shabneh	1	Dean_Barker	1   mismatched: name1 n1 name2 n2
//   ...                          (300 mismatched lines), then the next fold
//
// Image numbers are 1-based within an identity. A header of one number N (View 1's
// pairsDevTrain.txt / pairsDevTest.txt) is read as one fold of N and N.
//
// generate_pairs draws pairs for folds in that layout from (identity, image count) lists.
// Unlike LFW it does not keep the folds' identities disjoint (the threshold chosen on nine
// folds sees people of the tenth); with thousands of identities that leaks next to nothing,
// and with few it would often be impossible.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace margin {

// One line of a pairs file. Matched: name_b == name_a.
struct PairEntry {
  std::string name_a;
  int64_t index_a = 1;
  std::string name_b;
  int64_t index_b = 1;
  bool same() const { return name_a == name_b; }
  bool operator==(const PairEntry&) const = default;
};

// pairs.size() == folds * 2 * per_fold; fold f is pairs[f*2*per_fold, (f+1)*2*per_fold):
// per_fold matched pairs, then per_fold mismatched ones.
struct PairsFile {
  int64_t folds = 10;
  int64_t per_fold = 0;
  std::vector<PairEntry> pairs;
  // The fold of pairs[pair_index]; margin::Error past the end.
  int64_t fold_of(size_t pair_index) const;
  // The fold that 10-fold accuracy (eval/verification.h) gives pairs[pair_index]: fold_of for
  // a file of several folds; a file of one fold (View 1's pairsDevTest.txt) is dealt into 10
  // (fewer when per_fold < 10), its i-th matched and i-th mismatched pair going to fold i mod 10,
  // so every fold holds as many matched as mismatched pairs.
  int64_t accuracy_fold_of(size_t pair_index) const;
  bool operator==(const PairsFile&) const = default;
};

// Errors name the file, the line number and what was expected there: a header of one or two
// positive integers, 3 fields (name n1 n2) on matched lines and 4 fields (name1 n1 name2 n2,
// two different names) on mismatched lines, image numbers >= 1, exactly as many pair lines
// as the header says. Blank lines are skipped; "\r\n" line ends are accepted.
PairsFile read_pairs(const std::string& path);

// Writes "<path>.tmp" and renames it over `path` (a reader never sees half a file), with
// tab-separated fields as LFW has them. Checks the layout first (counts, matched lines
// first in each fold, names without whitespace, image numbers >= 1).
void write_pairs(const std::string& path, const PairsFile& pairs);

// Draws folds × per_fold matched pairs (an identity with >= 2 images, two different image
// numbers) and as many mismatched pairs (two different identities, one image each) and lays
// them out as LFW does. Identities are drawn uniformly (not in proportion to their images),
// then image numbers uniformly. A pair (in either order) is not drawn twice unless every
// possible pair of its kind has been drawn already. Identities with 0 images are skipped.
// A matched pair lists its smaller image number first; a mismatched pair lists first the
// identity that comes first in `identities`.
// Deterministic: the same identities in the same order and the same seed give the same pairs
// on every platform (the random numbers come straight from mt19937_64, whose output the C++
// standard fixes). margin::Error when it is impossible: fewer than 2 identities with images,
// none with 2 images, folds or per_fold < 1, repeated names, names with whitespace.
PairsFile generate_pairs(const std::vector<std::pair<std::string, int64_t>>& identities, int64_t folds,
                         int64_t per_fold, uint64_t seed);

}  // namespace margin
