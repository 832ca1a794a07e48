// eval/people.cpp — reading LFW's people files, and checking them and pairs files against the
// images folder. See people.h for the format; every read error names the file and the line.
#include "eval/people.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "backends/types.h"
#include "eval/text_fields.h"

namespace margin {

// ---- reading ----------------------------------------------------------------------------

namespace {

// A non-blank line of the file: its number (1-based), its text and its whitespace-split fields.
struct Line {
  int64_t number = 0;
  std::string text;
  std::vector<std::string> fields;
};

// The file's lines, consumed front to back by read().
class PeopleReader {
 public:
  explicit PeopleReader(const std::string& path);
  PeopleFile read();

 private:
  template <class... Parts>
  [[noreturn]] void fail_at(int64_t line_number, const Parts&... parts) const {
    fail("read_people: ", path_, ": line ", line_number, ": ", parts...);
  }
  int64_t read_count(const std::string& what);
  // `count` people, announced by `who` ("the header", "fold 3") on line `count_line`.
  std::vector<std::pair<std::string, int64_t>> read_fold(int64_t count, const std::string& who, int64_t count_line);

  std::string path_;
  std::vector<Line> lines_;
  size_t next_ = 0;           // index into lines_ of the line to read next
  int64_t last_line_ = 0;     // the file's last line number, blank or not
  std::map<std::string, int64_t> line_of_person_;
};

PeopleReader::PeopleReader(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path)) fail("read_people: ", path, ": no such file");
  std::ifstream in(path);
  if (!in) fail("read_people: ", path, ": cannot open (", std::strerror(errno), ")");
  for (std::string text; std::getline(in, text);) {
    ++last_line_;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    Line line{last_line_, text, fields_of(text)};
    if (!line.fields.empty()) lines_.push_back(std::move(line));
  }
}

int64_t PeopleReader::read_count(const std::string& what) {
  const Line& line = lines_[next_++];
  int64_t count = 0;
  if (line.fields.size() != 1 || !parse_int(line.fields[0], count) || count < 1)
    fail_at(line.number, "expected ", what, " (one positive integer), got '", line.text, "'");
  return count;
}

std::vector<std::pair<std::string, int64_t>> PeopleReader::read_fold(int64_t count, const std::string& who,
                                                                     int64_t count_line) {
  std::vector<std::pair<std::string, int64_t>> people;
  for (int64_t k = 0; k < count; ++k) {
    if (next_ == lines_.size())
      fail_at(last_line_, "the file ends after ", k, " of the ", count, " people that ", who, " announces on line ",
              count_line);
    const Line& line = lines_[next_++];
    int64_t images = 0;
    if (line.fields.size() != 2 || !parse_int(line.fields[1], images) || images < 1)
      fail_at(line.number, "expected person ", k + 1, " of the ", count, " that ", who, " announces on line ",
              count_line, " as 'name count' (2 fields, count >= 1), got '", line.text, "'");
    const std::string& name = line.fields[0];
    auto [first, fresh] = line_of_person_.emplace(name, line.number);
    if (!fresh) fail_at(line.number, "person '", name, "' is listed twice (first on line ", first->second, ")");
    people.emplace_back(name, images);
  }
  return people;
}

PeopleFile PeopleReader::read() {
  if (lines_.empty())
    fail("read_people: ", path_, ": no header line (the file is empty; expected a count of people, e.g. '4038', ",
         "or of folds, e.g. '10')");
  int64_t header_line = lines_[0].number;
  int64_t header = read_count("a count as the header: of people (one fold, e.g. '4038') or of folds (e.g. '10')");
  // The line after the header tells the layout: a lone integer is a fold's count.
  int64_t unused = 0;
  bool has_folds = lines_.size() > 1 && lines_[1].fields.size() == 1 && parse_int(lines_[1].fields[0], unused);
  PeopleFile file;
  if (!has_folds) file.folds.push_back(read_fold(header, "the header", header_line));
  for (int64_t fold = 0; has_folds && fold < header; ++fold) {
    if (next_ == lines_.size())
      fail_at(last_line_, "the file ends after ", fold, " of the ", header, " folds that the header announces on line ",
              header_line);
    std::string who = "fold " + std::to_string(fold + 1);
    int64_t count_line = lines_[next_].number;
    int64_t count = read_count("the count of people in " + who);
    file.folds.push_back(read_fold(count, who, count_line));
  }
  if (next_ < lines_.size())
    fail_at(lines_[next_].number, "more lines than announced: the header (line ", header_line, ") says ", header,
            has_folds ? " folds" : " people");
  return file;
}

}  // namespace

PeopleFile read_people(const std::string& path) { return PeopleReader(path).read(); }

// ---- folds ------------------------------------------------------------------------------

std::vector<std::string> all_people(const PeopleFile& people) {
  std::vector<std::string> names;
  for (const auto& fold : people.folds)
    for (const auto& person : fold) names.push_back(person.first);
  return names;
}

std::vector<std::string> people_except_fold(const PeopleFile& people, int64_t fold) {
  int64_t folds = static_cast<int64_t>(people.folds.size());
  if (fold < 0 || fold >= folds)
    fail("people_except_fold: fold ", fold, " of a people file with ", folds, " folds (expected 0..", folds - 1,
         ", 0-based)");
  std::vector<std::string> names;
  for (int64_t other = 0; other < folds; ++other)
    if (other != fold)
      for (const auto& person : people.folds[static_cast<size_t>(other)]) names.push_back(person.first);
  return names;
}

// ---- checking against the images folder -------------------------------------------------

std::string lfw_image_path(const std::string& images_root, const std::string& name, int64_t index) {
  char number[32];
  std::snprintf(number, sizeof number, "_%04lld.jpg", static_cast<long long>(index));
  return (std::filesystem::path(images_root) / name / (name + number)).string();
}

// What the folder lacks for image `index` of `name`: "no folder …", "no file …", or "".
static std::string lacking(const std::string& images_root, const std::string& name, int64_t index) {
  std::error_code error;  // unreadable counts as absent
  std::filesystem::path folder = std::filesystem::path(images_root) / name;
  if (!std::filesystem::is_directory(folder, error)) return "no folder " + folder.string();
  std::string image = lfw_image_path(images_root, name, index);
  if (!std::filesystem::is_regular_file(image, error)) return "no file " + image;
  return "";
}

static void check_root(const char* who, const std::string& images_root) {
  std::error_code error;
  if (!std::filesystem::is_directory(images_root, error))
    fail(who, ": ", images_root, " is not a folder (expected LFW's images/: one folder per person)");
}

void check_people_in_folder(const PeopleFile& people, const std::string& images_root) {
  check_root("check_people_in_folder", images_root);
  for (size_t fold = 0; fold < people.folds.size(); ++fold)
    for (const auto& [name, images] : people.folds[fold])
      for (int64_t index = 1; index <= images; ++index)
        if (std::string what = lacking(images_root, name, index); !what.empty())
          fail("check_people_in_folder: ", images_root, ": person '", name, "' (fold ", fold + 1, ", ", images,
               " images listed): ", what);
}

// A pair as its line in the file shows it, with spaces for tabs.
static std::string pair_line(const PairEntry& pair) {
  std::string a = pair.name_a + " " + std::to_string(pair.index_a) + " ";
  return a + (pair.same() ? "" : pair.name_b + " ") + std::to_string(pair.index_b);
}

void check_pairs_in_folder(const PairsFile& pairs, const std::string& images_root, const std::string& pairs_path) {
  check_root("check_pairs_in_folder", images_root);
  int64_t per_fold_lines = std::max<int64_t>(2 * pairs.per_fold, 1);
  for (size_t k = 0; k < pairs.pairs.size(); ++k) {
    const PairEntry& pair = pairs.pairs[k];
    for (auto [name, index] : {std::pair{&pair.name_a, pair.index_a}, std::pair{&pair.name_b, pair.index_b}})
      if (std::string what = lacking(images_root, *name, index); !what.empty())
        fail("check_pairs_in_folder: ", pairs_path, ": pair ", k + 1, " of ", pairs.pairs.size(), " ('",
             pair_line(pair), "', fold ", static_cast<int64_t>(k) / per_fold_lines + 1, "): image ", index, " of '",
             *name, "': ", what);
  }
}

}  // namespace margin
