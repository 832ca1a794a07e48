// train/progress.h — a one-line progress bar for long work (an epoch, an evaluation):
//   epoch 3/10 [#########-----------]  45%  1320/2930  loss 0.4123  acc 86.1%  2210 img/s  eta 0:12
// Redrawn in place on a terminal (at most ~10 times a second); on a pipe or file (CI, logs)
// it prints a plain line every 10% instead, so logs stay readable.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace margin {

// "4m07s"
inline std::string format_duration(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  return text;
}

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total)
      : label_(std::move(label)), total_(total > 0 ? total : 1),
        interactive_(isatty(fileno(stderr))), start_(std::chrono::steady_clock::now()) {}

  // `done` units of `total` finished; `items` (e.g. images) processed so far for the rate;
  // `stats` is free text shown after the counts ("loss 0.41  acc 86.1%").
  void update(int64_t done, int64_t items, const std::string& stats) {
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start_).count();
    int percent = static_cast<int>(100 * done / total_);
    bool finished = done >= total_;
    if (interactive_) {
      if (!finished && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    } else if (!finished && percent / 10 <= last_decile_) {
      return;
    }
    last_draw_ = now;
    last_decile_ = percent / 10;
    double rate = elapsed > 0 ? items / elapsed : 0;
    double eta = done > 0 ? elapsed * (total_ - done) / done : 0;
    const int width = 20;
    int filled = static_cast<int>(width * done / total_);
    std::string bar(filled, '#');
    bar += std::string(width - filled, '-');
    std::fprintf(stderr, "%s%s [%s] %3d%%  %lld/%lld  %s  %.0f img/s  %s %d:%02d%s",
                 interactive_ ? "\r" : "", label_.c_str(), bar.c_str(), percent,
                 static_cast<long long>(done), static_cast<long long>(total_), stats.c_str(), rate,
                 finished ? "took" : "eta", static_cast<int>(finished ? elapsed : eta) / 60,
                 static_cast<int>(finished ? elapsed : eta) % 60,
                 interactive_ ? (finished ? "\n" : "\033[K") : "\n");
    std::fflush(stderr);
  }

 private:
  std::string label_;
  int64_t total_;
  bool interactive_;
  std::chrono::steady_clock::time_point start_, last_draw_{};
  int last_decile_ = -1;
};

}  // namespace margin
