// train/csv_log.cpp — see csv_log.h.
#include "train/csv_log.h"

#include <filesystem>

#include "backends/types.h"

namespace margin {

CsvLog::CsvLog(std::string path, bool append) : path_(std::move(path)) {
  out_.open(path_, append ? std::ios::app : std::ios::trunc);
  if (!out_) fail("cannot write ", path_);
  std::error_code error;
  needs_header_ = !append || std::filesystem::file_size(path_, error) == 0 || error;
}

void CsvLog::write(const std::vector<std::pair<std::string, double>>& row) {
  if (needs_header_) {
    for (size_t i = 0; i < row.size(); ++i) out_ << (i ? "," : "") << row[i].first;
    out_ << '\n';
    needs_header_ = false;
  }
  for (size_t i = 0; i < row.size(); ++i) out_ << (i ? "," : "") << row[i].second;
  out_ << '\n';
  out_.flush();
  if (!out_) fail("writing ", path_, " failed (disk full?)");
}

}  // namespace margin
