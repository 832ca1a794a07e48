// core/profiler.cpp — accumulating and printing the profile table.
#include "core/profiler.h"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <vector>

namespace margin {

Profiler& profiler() {
  static Profiler instance;
  return instance;
}

void Profiler::add(const std::string& phase, const std::string& name, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  Entry& entry = entries_[{phase, name}];
  entry.calls += 1;
  entry.seconds += seconds;
}

void Profiler::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
}

int64_t Profiler::calls(const std::string& phase, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = entries_.find({phase, name});
  return found == entries_.end() ? 0 : found->second.calls;
}

void Profiler::print(std::ostream& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::pair<std::pair<std::string, std::string>, Entry>> rows(entries_.begin(), entries_.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0;
  for (const auto& row : rows) total += row.second.seconds;
  out << std::left << std::setw(10) << "phase" << std::setw(28) << "name" << std::right
      << std::setw(10) << "calls" << std::setw(12) << "total ms" << std::setw(12) << "ms/call"
      << std::setw(8) << "%" << "\n";
  for (const auto& [key, entry] : rows)
    out << std::left << std::setw(10) << key.first << std::setw(28) << key.second << std::right
        << std::setw(10) << entry.calls << std::setw(12) << std::fixed << std::setprecision(2)
        << entry.seconds * 1e3 << std::setw(12) << std::setprecision(3)
        << entry.seconds * 1e3 / static_cast<double>(entry.calls) << std::setw(8)
        << std::setprecision(1) << (total > 0 ? 100.0 * entry.seconds / total : 0.0) << "\n";
  out.unsetf(std::ios::fixed);
}

}  // namespace margin
