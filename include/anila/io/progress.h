// progress.h — training progress: a one-line bar on a terminal, plain periodic
// lines otherwise (CI logs, pipes).
//
//   Progress p(total, "rings/anila");
//   p.update(it, {{"loss", 0.12}, {"kl", 3.4}});   // cheap; redraws at most ~10×/s
//   p.finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace anila::io {

class Progress {
 public:
  // total: iterations to run; label: shown at the start of each line.
  // start: first iteration (resumed runs); stream: where to write (stderr).
  // interactive: -1 = detect with isatty, 0 = plain lines, 1 = bar.
  // quiet: print nothing at all.
  Progress(int64_t total, std::string label, int64_t start = 0, FILE* stream = stderr,
           int interactive = -1, bool quiet = false);
  // it: iterations completed so far; fields: name/value pairs (latest values;
  // a NaN value is shown as "-").
  void update(int64_t it, const std::vector<std::pair<std::string, double>>& fields);
  void finish();
  // Format a duration in seconds as "1h02m", "3m05s", "12.3s".
  static std::string format_duration(double seconds);

 private:
  void draw(int64_t it, bool final);
  int64_t total_, start_, last_it_ = 0;
  std::string label_;
  FILE* stream_;
  bool bar_, quiet_;
  std::chrono::steady_clock::time_point t0_, last_draw_;
  double plain_interval_s_ = 10.0;
  std::vector<std::pair<std::string, double>> fields_;
};

}  // namespace anila::io
