// progress.cpp — training progress lines.
//
// On a terminal one line is redrawn with '\r' (at most every 0.1 s):
//   rings/anila [############..................]  42% 4200/10000  35.1 it/s  ETA 2m45s  loss 0.012
// Elsewhere (pipes, CI logs) a plain line is printed every plain_interval_s_ seconds:
//   rings/anila it 4200/10000 (42%) 35.1 it/s ETA 2m45s loss 0.012
// and always once at finish(), where the ETA is replaced by the elapsed time.
// Rates count only the iterations run by this process (from `start`).
#include "anila/io/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>

namespace anila::io {

namespace {

constexpr int kBarWidth = 30;
constexpr double kBarRedrawS = 0.1;

void appendf(std::string* out, const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  *out += buf;
}

std::string rate_text(double rate) {
  if (!std::isfinite(rate) || rate <= 0) return "- it/s";
  std::string s;
  appendf(&s, rate >= 100 ? "%.0f" : rate >= 10 ? "%.1f" : "%.2f", rate);
  return s + " it/s";
}

}  // namespace

Progress::Progress(int64_t total, std::string label, int64_t start, FILE* stream, int interactive,
                   bool quiet)
    : total_(total),
      start_(start),
      last_it_(start),
      label_(std::move(label)),
      stream_(stream),
      bar_(interactive == 1 || (interactive == -1 && stream && ::isatty(::fileno(stream)))),
      quiet_(quiet || !stream) {
  t0_ = std::chrono::steady_clock::now();
  // The bar appears at the first update; plain lines only after the first interval.
  last_draw_ = bar_ ? t0_ - std::chrono::seconds(1) : t0_;
}

void Progress::update(int64_t it, const std::vector<std::pair<std::string, double>>& fields) {
  last_it_ = it;
  if (quiet_) return;
  fields_ = fields;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (bar_ ? kBarRedrawS : plain_interval_s_)) {
    last_draw_ = now;
    draw(it, /*final=*/false);
  }
}

void Progress::finish() {
  if (quiet_) return;
  draw(last_it_, /*final=*/true);
}

void Progress::draw(int64_t it, bool final) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const double done = static_cast<double>(it - start_);
  const double rate = elapsed > 0 && done > 0 ? done / elapsed : NAN;
  const double frac =
      total_ > 0 ? std::clamp(static_cast<double>(it) / static_cast<double>(total_), 0.0, 1.0)
                 : 1.0;
  const int pct = static_cast<int>(std::floor(frac * 100.0));
  const std::string counts = std::to_string(it) + "/" + std::to_string(total_);
  const std::string time = final
                               ? "in " + format_duration(elapsed)
                               : "ETA " + format_duration(static_cast<double>(total_ - it) / rate);
  const char* sep = bar_ ? "  " : " ";

  std::string line = label_;
  if (bar_) {
    const int filled = static_cast<int>(frac * kBarWidth);
    line += " [" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
    appendf(&line, "%3.0f%% ", pct);
    line += counts;
  } else {
    line += " it " + counts + " (" + std::to_string(pct) + "%)";
  }
  line += sep + rate_text(rate) + sep + time;
  for (const auto& [name, value] : fields_) {
    line += sep + name + " ";
    if (std::isnan(value)) {
      line += "-";
    } else {
      appendf(&line, "%.4g", value);
    }
  }
  if (bar_) {
    // Return to the line start, draw, and clear whatever a longer previous line left.
    std::fprintf(stream_, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stream_, "%s\n", line.c_str());
  }
  std::fflush(stream_);
}

std::string Progress::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  char buf[32];
  if (seconds < 59.95) {
    std::snprintf(buf, sizeof(buf), "%.1fs", seconds);
    return buf;
  }
  const int64_t s = std::llround(seconds);
  if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s % 60));
    return buf;
  }
  const int64_t m = (s + 30) / 60;
  std::snprintf(buf, sizeof(buf), "%" PRId64 "h%02dm", m / 60, static_cast<int>(m % 60));
  return buf;
}

}  // namespace anila::io
