// eval/text_fields.h — what the readers of LFW's protocol files (pairs.cpp, people.cpp) share:
// a line split at whitespace (tabs or spaces) and a whole field read as an integer.
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

}  // namespace margin
