// core/profiler.h — where the time goes: per-op backward time, per-layer forward time and
// the optimizer step, accumulated while profiling is on and printed as one table
// (the `--profile` flag of the training binaries).
//
//   profiler().enable();  ...train...  profiler().print(std::cout);
//
// Scopes cost one branch when profiling is off. Timing is wall-clock per scope: on a GPU,
// kernels run asynchronously, so only synchronized figures mean anything there.
// Left out: nesting (a layer's forward includes its children's), per-thread tables.
#pragma once
#include <chrono>
#include <iosfwd>
#include <map>
#include <mutex>
#include <string>

namespace margin {

class Profiler {
 public:
  void enable(bool on = true) { enabled_ = on; }
  bool enabled() const { return enabled_; }
  void add(const std::string& phase, const std::string& name, double seconds);
  void reset();
  int64_t calls(const std::string& phase, const std::string& name) const;
  void print(std::ostream& out) const;

 private:
  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
  };
  bool enabled_ = false;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;  // (phase, name)
};

Profiler& profiler();

// Times its own lifetime under (phase, name) when profiling is on.
class ProfileScope {
 public:
  ProfileScope(const char* phase, const std::string& name)
      : active_(profiler().enabled()), phase_(phase), name_(active_ ? name : std::string()) {
    if (active_) start_ = std::chrono::steady_clock::now();
  }
  ~ProfileScope() {
    if (active_)
      profiler().add(phase_, name_,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  bool active_;
  const char* phase_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace margin
