// eval/text_fields.h — what the readers of text files (LFW's protocol files in pairs.cpp and
// people.cpp, model.txt in train/face_model.cpp) share: a line split at whitespace (tabs or
// spaces) and a whole field read as an integer.
#pragma once
#include <charconv>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace margin {

inline std::vector<std::string> fields_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> fields;
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

// True when all of `text` is one integer (no sign but '-', no spaces, nothing after it).
inline bool parse_int(const std::string& text, int64_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// Why `text` is not one integer of at least `min`, or "" when it is one (then `value` holds
// it): "is not an integer" for anything but decimal digits after an optional '-' ("16.9",
// "1e30", "12abc", "+3", " 3", ""), "is out of range of a 64-bit integer", "is not positive"
// (min 1) or "is below <min>". Callers add what they expected and where.
inline std::string integer_problem(const std::string& text, int64_t min, int64_t& value) {
  int64_t parsed = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (error == std::errc::invalid_argument || end != text.data() + text.size()) return "is not an integer";
  if (error == std::errc::result_out_of_range) return "is out of range of a 64-bit integer";
  if (parsed < min) return min == 1 ? "is not positive" : "is below " + std::to_string(min);
  value = parsed;
  return "";
}

}  // namespace margin
