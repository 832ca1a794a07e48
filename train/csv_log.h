// train/csv_log.h — a CSV file written one row at a time, as training logs are: the header
// (the row's names) goes first whenever the file is empty (a new run, or a resumed run
// writing into a new folder), every row is flushed as it is written, and a failed write is an
// error naming the file, never lost data reported as success.
#pragma once
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace margin {

class CsvLog {
 public:
  // append: keep the rows already there (a resumed run); else start the file afresh.
  CsvLog(std::string path, bool append);
  // One row, name → value, in column order; every row of a file has the same names.
  void write(const std::vector<std::pair<std::string, double>>& row);

 private:
  std::string path_;
  std::ofstream out_;
  bool needs_header_;
};

}  // namespace margin
