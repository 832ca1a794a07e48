// eval/people.h — LFW's people files, which say whose images a model may train on: read
// exactly, split by fold, and checked against the images folder (as is a pairs file).
//
// View 1 (peopleDevTrain.txt, peopleDevTest.txt) is one list; View 2 (people.txt) is 10 folds,
// the people of fold k being those whose pairs fold k of pairs.txt holds:
//
//   peopleDevTrain.txt              people.txt
//   4038          people            10                  folds
//   AJ_Cook	1    name, images      601                 people in fold 1
//   Aaron_Eckhart	1                Abdel_Madi_Shabneh	1
//   ...                             ...                 (601 lines), then 555 for fold 2, ...
//
// The line after the header tells the layout: a lone integer opens a fold, so the header
// counts folds; anything else is read as the first person ('name count') of the one fold that
// the header counts. Fields are separated by whitespace (LFW: a tab).
//
// The LFW unrestricted protocol: the model scored on fold k of pairs.txt trains only on the
// people of the other nine folds (people_except_fold). Folds are 0-based here and 1-based in
// messages, as in eval/pairs.h.
// Left out: lfw-names.txt (every person, no header; the images folder says the same), writing.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "eval/pairs.h"

namespace margin {

// folds[f] lists the people of fold f as (name, image count), in the file's order; a View 1
// file is one fold.
struct PeopleFile {
  std::vector<std::vector<std::pair<std::string, int64_t>>> folds;
  bool operator==(const PeopleFile&) const = default;
};

// Errors name the file, the line number and what was expected there: a count (one positive
// integer) as the header and at the head of each fold, 'name count' (2 fields, count >= 1)
// on each person's line, as many folds and people as the counts announce (no fewer, no
// more), no person twice in the file. Blank lines are skipped; "\r\n" line ends are accepted.
PeopleFile read_people(const std::string& path);

// Every person's name, fold after fold, in the file's order.
std::vector<std::string> all_people(const PeopleFile& people);

// The names of every fold but `fold` (0-based): whom the model scored on that fold may train
// on. margin::Error when there is no such fold.
std::vector<std::string> people_except_fold(const PeopleFile& people, int64_t fold);

// LFW's file of image `index` (1-based) of `name`: images_root/name/name_NNNN.jpg (4 digits).
// ImageFolder's n-th image (data/image_folder.h) is the same file while, as in LFW, an
// identity's files are numbered 1..count without gaps.
std::string lfw_image_path(const std::string& images_root, const std::string& name, int64_t index);

// margin::Error naming the first person (in the file's order) whose folder under images_root
// is missing or lacks one of the images 1..count that the file lists. More images than listed
// are not an error.
void check_people_in_folder(const PeopleFile& people, const std::string& images_root);

// margin::Error naming the first pair (its number and fields as in pairs_path, which is only
// for the message) whose person's folder or image the folder lacks.
void check_pairs_in_folder(const PairsFile& pairs, const std::string& images_root, const std::string& pairs_path);

}  // namespace margin
