// plot.cpp — line plots and contour/scatter plots on the Image canvas: axis
// ranges and nice ticks, layout of the margins around the plot area, clipped
// Bresenham lines, min/max decimation of long series, marching squares.
//
// Notation: (x, y) data values; t = x or log10(x) on a log axis ("axis units");
// (c, r) = fractional pixel column and row, row 0 at the top. A run is a
// stretch of consecutive drawable points of one series; runs are joined by
// lines, a gap (NaN, non-positive on a log axis) ends a run.
#include "anila/io/plot.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

namespace anila::io {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Layout, in pixels.
constexpr int kPad = 6;          // gap around text blocks and the image border
constexpr int kTickLength = 4;   // tick marks, outside the frame
constexpr int kTickGap = 3;      // between a tick mark and its label
constexpr int kTitleScale = 2;   // title text scale (1 when it would not fit)
constexpr int kLegendInset = 6;  // legend box distance from the plot area's edges
constexpr int kLegendSwatch = 18;
constexpr int kLegendLine = 12;  // row spacing of legend entries (Image::text's line advance)
constexpr int kDashOn = 5, kDashPeriod = 8;

constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kRefLine{150, 150, 150};
constexpr Rgb kLegendBorder{170, 170, 170};

// Text height of one line at scale 1.
int line_height() {
  return text_height("0");
}

// 10^e, exact for |e| <= 22 (the powers of ten a double holds exactly), so that
// n / pow10(j) is the correctly rounded decimal n·10^-j.
double pow10(int e) {
  static const double kExact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  if (e >= 0 && e <= 22) return kExact[e];
  if (e < 0 && e >= -22) return 1.0 / kExact[-e];
  return std::pow(10.0, e);
}

// n · 10^e with one rounding (n an integer-valued double).
double scaled(double n, int e) {
  return e >= 0 ? n * pow10(e) : n / pow10(-e);
}

// The 1-2-5 ladder: rung s is {1, 2, 5}[s mod 3] · 10^floor(s / 3).
struct Rung {
  int mantissa, exponent;
};
Rung rung(int s) {
  static constexpr int kMantissa[3] = {1, 2, 5};
  const int e = s >= 0 ? s / 3 : -((-s + 2) / 3);
  return {kMantissa[s - 3 * e], e};
}
double rung_value(int s) {
  const Rung r = rung(s);
  return scaled(r.mantissa, r.exponent);
}

// Multiples of the step `s` (a rung) inside [lo, hi], as integer indices.
std::pair<double, double> multiples(double lo, double hi, double step) {
  constexpr double kSlack = 1e-9;  // so 0.6 / 0.2 = 2.9999999999999996 still counts
  return {std::ceil(lo / step - kSlack), std::floor(hi / step + kSlack)};
}

// The rung for nice_ticks(lo, hi, target) (lo < hi, finite), or INT_MIN when
// the span is too small for doubles to tell the ticks apart.
int nice_rung(double lo, double hi, int target) {
  const double raw = (hi - lo) / std::max(1, target);
  const int s0 = 3 * static_cast<int>(std::floor(std::log10(raw)));
  int best = s0;
  double best_err = kInf;
  for (int s = s0 - 2; s <= s0 + 4; ++s) {
    const double err = std::abs(std::log(rung_value(s) / raw));
    if (err < best_err) best = s, best_err = err;
  }
  auto count = [&](int s) {
    const auto [a, b] = multiples(lo, hi, rung_value(s));
    return b - a + 1;
  };
  for (int guard = 0; guard < 64 && count(best) > 8; ++guard) ++best;
  for (int guard = 0; guard < 64 && count(best) < 3; ++guard) --best;
  const auto [a, b] = multiples(lo, hi, rung_value(best));
  if (std::max(std::abs(a), std::abs(b)) > 1e15) return std::numeric_limits<int>::min();
  return best;
}

// Axis units of a data value: the value, or log10 of it (NaN when not positive).
double to_axis(double v, bool log) {
  if (!std::isfinite(v)) return NAN;
  if (!log) return v;
  return v > 0 ? std::log10(v) : NAN;
}
double from_axis(double t, bool log) {
  return log ? std::pow(10.0, t) : t;
}

// ---- ranges ------------------------------------------------------------------

// Running min/max of axis-unit values.
struct Extent {
  double lo = kInf, hi = -kInf;
  void add(double t) {
    if (std::isfinite(t)) lo = std::min(lo, t), hi = std::max(hi, t);
  }
  bool empty() const { return lo > hi; }
};

// The axis range in data units (see PlotOptions for the rule).
std::pair<double, double> axis_range(Extent e, double fixed_lo, double fixed_hi, bool log,
                                     const char* axis) {
  const double flo = to_axis(fixed_lo, log), fhi = to_axis(fixed_hi, log);
  double lo, hi;
  if (e.empty()) {
    lo = 0.0, hi = 1.0;
  } else {
    if (e.lo == e.hi) {
      const double half = e.lo != 0.0 ? 0.1 * std::abs(e.lo) : 1.0;
      e.lo -= half, e.hi += half;
    }
    const double pad = 0.05 * (e.hi - e.lo);
    lo = e.lo - pad, hi = e.hi + pad;
  }
  const bool has_lo = std::isfinite(flo), has_hi = std::isfinite(fhi);
  TORCH_CHECK(!(has_lo && has_hi) || flo < fhi, "plot: ", axis, "min ", fixed_lo, " must be below ",
              axis, "max ", fixed_hi);
  if (has_lo) lo = flo;
  if (has_hi) hi = fhi;
  if (!(hi > lo)) {
    if (has_hi) {
      lo = hi - 1.0;
    } else {
      hi = lo + 1.0;
    }
  }
  return {from_axis(lo, log), from_axis(hi, log)};
}

// ---- axes --------------------------------------------------------------------

struct Axis {
  std::vector<double> ticks;
  std::vector<std::string> labels;
  int max_label_width = 0;
};

Axis make_axis(double lo, double hi, bool log) {
  Axis a;
  if (log) a.ticks = log_ticks(lo, hi);
  if (a.ticks.size() >= 2) {
    for (double v : a.ticks) a.labels.push_back(format_tick(v, v));
  } else {
    a.ticks = nice_ticks(lo, hi);
    const double step = a.ticks.size() >= 2 ? a.ticks[1] - a.ticks[0]
                        : a.ticks.empty()   ? 1.0
                                            : std::abs(a.ticks[0]);
    for (double v : a.ticks) a.labels.push_back(format_tick(v, step));
  }
  for (const auto& l : a.labels) a.max_label_width = std::max(a.max_label_width, text_width(l));
  return a;
}

struct Layout {
  PlotArea area;
  Axis xaxis, yaxis;
  int title_scale = 1;
};

// Margins around the plot area from the labels; ranges in data units.
Layout make_layout(double xmin, double xmax, double ymin, double ymax, const PlotOptions& o,
                   bool equal_aspect) {
  TORCH_CHECK(o.width >= kPlotMinWidth && o.height >= kPlotMinHeight, "plot: image size ", o.width,
              "x", o.height, " is below the minimum ", kPlotMinWidth, "x", kPlotMinHeight);
  Layout L;
  PlotArea& a = L.area;
  a.xmin = xmin, a.xmax = xmax, a.ymin = ymin, a.ymax = ymax;
  a.log_x = o.log_x, a.log_y = o.log_y;
  L.xaxis = make_axis(xmin, xmax, o.log_x);
  L.yaxis = make_axis(ymin, ymax, o.log_y);
  const int th = line_height();
  L.title_scale = text_width(o.title, kTitleScale) <= o.width - 2 * kPad ? kTitleScale : 1;

  int top = kPad;
  if (!o.title.empty()) top += text_height(o.title, L.title_scale) + kPad;
  if (!o.ylabel.empty()) top += th + kPad;
  const int left = kPad + L.yaxis.max_label_width + kTickGap + kTickLength;
  int bottom = kPad + th + kTickGap + kTickLength;
  if (!o.xlabel.empty()) bottom += th + kPad;
  const int right = kPad + L.xaxis.max_label_width / 2;
  // The frame takes one more pixel on each side.
  a.rect = {left + 1, top + 1, o.width - 2 - right, o.height - 2 - bottom};
  TORCH_CHECK(a.rect.x1 - a.rect.x0 >= 8 && a.rect.y1 - a.rect.y0 >= 8, "plot: image ", o.width,
              "x", o.height, " leaves no room for the plot area");

  if (equal_aspect) {
    const double w = a.rect.x1 - a.rect.x0, h = a.rect.y1 - a.rect.y0;
    const double sx = w / (xmax - xmin), sy = h / (ymax - ymin);
    if (sx > sy) {
      const int w2 = static_cast<int>(std::lround(sy * (xmax - xmin)));
      a.rect.x0 += (static_cast<int>(w) - w2) / 2;
      a.rect.x1 = a.rect.x0 + w2;
    } else {
      const int h2 = static_cast<int>(std::lround(sx * (ymax - ymin)));
      a.rect.y0 += (static_cast<int>(h) - h2) / 2;
      a.rect.y1 = a.rect.y0 + h2;
    }
  }
  return L;
}

// ---- drawing primitives ------------------------------------------------------

void put(Image& img, const PixelRect& clip, int x, int y, Rgb c) {
  if (clip.contains(x, y)) img.at(x, y) = c;
}

// A 2×2 brush: the pixel and its right, lower and lower-right neighbours.
void put2(Image& img, const PixelRect& clip, int x, int y, Rgb c) {
  put(img, clip, x, y, c);
  put(img, clip, x + 1, y, c);
  put(img, clip, x, y + 1, c);
  put(img, clip, x + 1, y + 1, c);
}

// Bresenham between integer pixels, stamping a 1 px or 2×2 brush.
void bresenham(Image& img, const PixelRect& clip, int x0, int y0, int x1, int y1, Rgb c,
               int width) {
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    if (width >= 2) {
      put2(img, clip, x0, y0, c);
    } else {
      put(img, clip, x0, y0, c);
    }
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

// The segment (c0, r0)–(c1, r1) in fractional pixels, clipped to `clip`
// (Liang–Barsky) before rounding, so far-away endpoints cost nothing.
void segment(Image& img, const PixelRect& clip, double c0, double r0, double c1, double r1, Rgb c,
             int width) {
  double t0 = 0.0, t1 = 1.0;
  const double dc = c1 - c0, dr = r1 - r0;
  const double p[4] = {-dc, dc, -dr, dr};
  const double q[4] = {c0 - clip.x0, clip.x1 - c0, r0 - clip.y0, clip.y1 - r0};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0.0) {
      if (q[i] < 0.0) return;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0.0) {
      if (t > t1) return;
      t0 = std::max(t0, t);
    } else {
      if (t < t0) return;
      t1 = std::min(t1, t);
    }
  }
  auto px = [](double v) { return static_cast<int>(std::lround(v)); };
  bresenham(img, clip, px(c0 + t0 * dc), px(r0 + t0 * dr), px(c0 + t1 * dc), px(r0 + t1 * dr), c,
            width);
}

// A filled disc of radius 2 (5×5 without its corners).
void marker(Image& img, const PixelRect& clip, int x, int y, Rgb c) {
  for (int dy = -2; dy <= 2; ++dy) {
    for (int dx = -2; dx <= 2; ++dx) {
      if (dx * dx + dy * dy <= 5) put(img, clip, x + dx, y + dy, c);
    }
  }
}

void blend(Image& img, const PixelRect& clip, int x, int y, Rgb c, double alpha) {
  if (!clip.contains(x, y)) return;
  Rgb& p = img.at(x, y);
  auto mix = [&](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround((1.0 - alpha) * a + alpha * b));
  };
  p = {mix(p.r, c.r), mix(p.g, c.g), mix(p.b, c.b)};
}

// The 1 px frame just outside `r`.
void frame(Image& img, const PixelRect& r, Rgb c) {
  img.fill_rect(r.x0 - 1, r.y0 - 1, r.x1 - r.x0 + 3, 1, c);
  img.fill_rect(r.x0 - 1, r.y1 + 1, r.x1 - r.x0 + 3, 1, c);
  img.fill_rect(r.x0 - 1, r.y0 - 1, 1, r.y1 - r.y0 + 3, c);
  img.fill_rect(r.x1 + 1, r.y0 - 1, 1, r.y1 - r.y0 + 3, c);
}

// Frame, ticks, tick labels, axis labels and title around the plot area.
void draw_axes(Image& img, const Layout& L, const PlotOptions& o) {
  const PlotArea& a = L.area;
  const PixelRect& r = a.rect;
  const int th = line_height();
  frame(img, r, kBlack);
  for (size_t i = 0; i < L.xaxis.ticks.size(); ++i) {
    const double c = a.column(L.xaxis.ticks[i]);
    if (!std::isfinite(c)) continue;
    const int x = static_cast<int>(std::lround(c));
    img.fill_rect(x, r.y1 + 2, 1, kTickLength, kBlack);
    const std::string& label = L.xaxis.labels[i];
    img.text(x - text_width(label) / 2, r.y1 + 2 + kTickLength + kTickGap, label);
  }
  for (size_t i = 0; i < L.yaxis.ticks.size(); ++i) {
    const double rr = a.row(L.yaxis.ticks[i]);
    if (!std::isfinite(rr)) continue;
    const int y = static_cast<int>(std::lround(rr));
    img.fill_rect(r.x0 - 1 - kTickLength, y, kTickLength, 1, kBlack);
    const std::string& label = L.yaxis.labels[i];
    img.text(r.x0 - 1 - kTickLength - kTickGap - text_width(label), y - th / 2, label);
  }
  if (!o.xlabel.empty()) {
    img.text((r.x0 + r.x1) / 2 - text_width(o.xlabel) / 2,
             r.y1 + 2 + kTickLength + kTickGap + th + kPad, o.xlabel);
  }
  if (!o.ylabel.empty()) {
    const int w = text_width(o.ylabel);
    const int x = std::max(kPad, std::min(r.x0 - 1 - w / 2, img.width() - kPad - w));
    img.text(x, r.y0 - 1 - kPad - th, o.ylabel);
  }
  if (!o.title.empty()) {
    const int w = text_width(o.title, L.title_scale);
    const int x = std::max(kPad, std::min((r.x0 + r.x1) / 2 - w / 2, img.width() - kPad - w));
    img.text(x, kPad, o.title, kBlack, L.title_scale);
  }
}

// ---- series ------------------------------------------------------------------

struct Pt {
  double c, r;
};

Rgb series_color(const Series& s, size_t index) {
  return palette(s.color >= 0 ? s.color : static_cast<int>(index));
}

void check_series(const Series& s) {
  TORCH_CHECK(s.x.size() == s.y.size(), "line_plot: series '", s.label, "' has ", s.x.size(),
              " x values but ", s.y.size(), " y values");
}

// The runs of a series in pixels, reduced per pixel column to the first, the
// lowest, the highest and the last point (in their original order): the
// polyline through them covers the same pixels of that column.
std::vector<std::vector<Pt>> series_runs(const Series& s, const PlotArea& a) {
  std::vector<std::vector<Pt>> runs;
  std::vector<Pt> run, group;  // group: consecutive points of the run in one column
  int group_key = 0;
  auto flush_group = [&] {
    if (group.empty()) return;
    size_t lo = 0, hi = 0;
    for (size_t i = 1; i < group.size(); ++i) {
      if (group[i].r < group[lo].r) lo = i;
      if (group[i].r > group[hi].r) hi = i;
    }
    size_t keep[4] = {0, lo, hi, group.size() - 1};
    std::sort(keep, keep + 4);
    for (int k = 0; k < 4; ++k) {
      if (k == 0 || keep[k] != keep[k - 1]) run.push_back(group[keep[k]]);
    }
    group.clear();
  };
  auto end_run = [&] {
    flush_group();
    if (!run.empty()) runs.push_back(std::move(run));
    run.clear();
  };
  for (size_t i = 0; i < s.x.size(); ++i) {
    const Pt p{a.column(s.x[i]), a.row(s.y[i])};
    if (!std::isfinite(p.c) || !std::isfinite(p.r)) {
      end_run();
      continue;
    }
    // Columns outside the plot area share one key per side (clamped before rounding).
    const double cc = std::min(std::max(p.c, a.rect.x0 - 1.0), a.rect.x1 + 1.0);
    const int key = static_cast<int>(std::lround(cc));
    if (!group.empty() && key != group_key) flush_group();
    group_key = key;
    group.push_back(p);
  }
  end_run();
  return runs;
}

// Marker positions: every drawable point, skipping repeats of the same pixel.
std::vector<std::pair<int, int>> series_markers(const Series& s, const PlotArea& a) {
  std::vector<std::pair<int, int>> out;
  const PixelRect& r = a.rect;
  for (size_t i = 0; i < s.x.size(); ++i) {
    const double c = a.column(s.x[i]), rr = a.row(s.y[i]);
    // Keep markers whose disc (radius 2) can touch the plot area.
    if (!(c >= r.x0 - 3 && c <= r.x1 + 3 && rr >= r.y0 - 3 && rr <= r.y1 + 3)) continue;
    const std::pair<int, int> p{static_cast<int>(std::lround(c)),
                                static_cast<int>(std::lround(rr))};
    if (out.empty() || out.back() != p) out.push_back(p);
  }
  return out;
}

struct LegendEntry {
  std::string label;
  Rgb color;
  bool line, points;
};

// The legend box for `entries` in the corner of the plot area where `drawn`
// has the fewest non-white pixels (ties: top-right, top-left, bottom-right, bottom-left).
PixelRect place_legend(const std::vector<LegendEntry>& entries, const PixelRect& area,
                       const Image& drawn) {
  int label_w = 0;
  for (const auto& e : entries) label_w = std::max(label_w, text_width(e.label));
  const int w = 2 + 5 + kLegendSwatch + 5 + label_w + 3;
  const int h = 2 + 8 + (static_cast<int>(entries.size()) - 1) * kLegendLine + line_height();
  const int left = area.x0 + kLegendInset, right = area.x1 - kLegendInset - w + 1;
  const int top = area.y0 + kLegendInset, bottom = area.y1 - kLegendInset - h + 1;
  const std::pair<int, int> corners[4] = {
      {right, top}, {left, top}, {right, bottom}, {left, bottom}};
  PixelRect best;
  size_t best_count = std::numeric_limits<size_t>::max();
  for (const auto& [x, y] : corners) {
    const PixelRect box{x, y, x + w - 1, y + h - 1};
    size_t count = 0;
    for (int py = std::max(box.y0, 0); py <= std::min(box.y1, drawn.height() - 1); ++py) {
      for (int px = std::max(box.x0, 0); px <= std::min(box.x1, drawn.width() - 1); ++px) {
        const Rgb& p = drawn.at(px, py);
        count += p.r != 255 || p.g != 255 || p.b != 255;
      }
    }
    if (count < best_count) best = box, best_count = count;
  }
  return best;
}

void draw_legend(Image& img, const PixelRect& box, const std::vector<LegendEntry>& entries) {
  img.fill_rect(box.x0, box.y0, box.x1 - box.x0 + 1, box.y1 - box.y0 + 1, kLegendBorder);
  img.fill_rect(box.x0 + 1, box.y0 + 1, box.x1 - box.x0 - 1, box.y1 - box.y0 - 1, kWhite);
  const PixelRect inside{box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1};
  const int th = line_height();
  for (size_t i = 0; i < entries.size(); ++i) {
    const LegendEntry& e = entries[i];
    const int y = box.y0 + 1 + 4 + static_cast<int>(i) * kLegendLine;
    const int x = box.x0 + 1 + 5;
    const int mid = y + th / 2;
    if (e.line) bresenham(img, inside, x, mid - 1, x + kLegendSwatch - 1, mid - 1, e.color, 2);
    if (e.points || !e.line) marker(img, inside, x + kLegendSwatch / 2, mid, e.color);
    img.text(x + kLegendSwatch + 5, y, e.label, kBlack);
  }
}

}  // namespace

// ---- geometry ----------------------------------------------------------------

double PlotArea::column(double x) const {
  const double t = to_axis(x, log_x), lo = to_axis(xmin, log_x), hi = to_axis(xmax, log_x);
  return rect.x0 + (t - lo) / (hi - lo) * (rect.x1 - rect.x0);
}

double PlotArea::row(double y) const {
  const double t = to_axis(y, log_y), lo = to_axis(ymin, log_y), hi = to_axis(ymax, log_y);
  return rect.y1 - (t - lo) / (hi - lo) * (rect.y1 - rect.y0);
}

namespace {

std::vector<LegendEntry> legend_entries(const std::vector<Series>& series, const PlotOptions& o) {
  std::vector<LegendEntry> entries;
  if (!o.legend) return entries;
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    if (!s.label.empty()) entries.push_back({s.label, series_color(s, i), s.line, s.points});
  }
  return entries;
}

// Ranges from the data (and hlines) and the margins; no legend yet.
Layout line_plot_layout(const std::vector<Series>& series, const PlotOptions& o) {
  Extent ex, ey;
  for (const Series& s : series) {
    check_series(s);
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double tx = to_axis(s.x[i], o.log_x), ty = to_axis(s.y[i], o.log_y);
      if (std::isfinite(tx) && std::isfinite(ty)) ex.add(tx), ey.add(ty);
    }
  }
  for (double h : o.hlines) ey.add(to_axis(h, o.log_y));
  const auto [xmin, xmax] = axis_range(ex, o.xmin, o.xmax, o.log_x, "x");
  const auto [ymin, ymax] = axis_range(ey, o.ymin, o.ymax, o.log_y, "y");
  return make_layout(xmin, xmax, ymin, ymax, o, /*equal_aspect=*/false);
}

// The whole line plot, and its layout with the legend placed where the drawn
// data leaves the most room.
std::pair<Layout, Image> render_line_plot(const std::vector<Series>& series,
                                          const PlotOptions& options) {
  Layout L = line_plot_layout(series, options);
  PlotArea& a = L.area;
  const PixelRect& r = a.rect;
  Image img(options.width, options.height);

  for (double h : options.hlines) {
    const double rr = a.row(h);
    if (!std::isfinite(rr)) continue;
    const int y = static_cast<int>(std::lround(rr));
    for (int x = r.x0; x <= r.x1; ++x) {
      if ((x - r.x0) % kDashPeriod < kDashOn) put(img, r, x, y, kRefLine);
    }
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const Rgb c = series_color(s, i);
    if (s.line) {
      for (const auto& run : series_runs(s, a)) {
        if (run.size() == 1) {  // an isolated point: one stamp of the brush
          segment(img, r, run[0].c, run[0].r, run[0].c, run[0].r, c, 2);
        }
        for (size_t k = 1; k < run.size(); ++k) {
          segment(img, r, run[k - 1].c, run[k - 1].r, run[k].c, run[k].r, c, 2);
        }
      }
    }
    if (s.points || !s.line) {
      for (const auto& [x, y] : series_markers(s, a)) marker(img, r, x, y, c);
    }
  }
  const auto entries = legend_entries(series, options);
  if (!entries.empty()) a.legend = place_legend(entries, r, img);
  draw_axes(img, L, options);
  if (!entries.empty()) draw_legend(img, a.legend, entries);
  return {std::move(L), std::move(img)};
}

Layout contour_scatter_layout(const std::array<double, 4>& box, const PlotOptions& options) {
  TORCH_CHECK(std::isfinite(box[0]) && std::isfinite(box[1]) && std::isfinite(box[2]) &&
                  std::isfinite(box[3]) && box[1] > box[0] && box[3] > box[2],
              "contour_scatter: box must be finite {xmin, xmax, ymin, ymax} with min < max, got {",
              box[0], ", ", box[1], ", ", box[2], ", ", box[3], "}");
  PlotOptions o = options;
  o.log_x = o.log_y = false;
  return make_layout(box[0], box[1], box[2], box[3], o, /*equal_aspect=*/true);
}

}  // namespace

PlotArea line_plot_area(const std::vector<Series>& series, const PlotOptions& options) {
  return render_line_plot(series, options).first.area;
}

PlotArea contour_scatter_area(const std::array<double, 4>& box, const PlotOptions& options) {
  return contour_scatter_layout(box, options).area;
}

// ---- ticks and colours -------------------------------------------------------

Rgb palette(int i) {
  static constexpr Rgb kTableau10[10] = {
      {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kTableau10[((i % 10) + 10) % 10];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) return {lo};
  const int s = nice_rung(lo, hi, target);
  if (s == std::numeric_limits<int>::min()) return {lo, hi};
  const Rung r = rung(s);
  const auto [a, b] = multiples(lo, hi, rung_value(s));
  std::vector<double> ticks;
  for (double k = a; k <= b; k += 1.0) ticks.push_back(scaled(k * r.mantissa, r.exponent) + 0.0);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi, int target) {
  if (!(lo > 0) || !(hi > 0) || !std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (lo > hi) std::swap(lo, hi);
  constexpr double kSlack = 1e-9;
  const int e0 = static_cast<int>(std::ceil(std::log10(lo) - kSlack));
  const int e1 = static_cast<int>(std::floor(std::log10(hi) + kSlack));
  int step = 1;
  if (e1 - e0 + 1 > 8) {
    // The 1-2-5 rung nearest to decades / target, at least 1.
    const double raw = static_cast<double>(e1 - e0) / std::max(1, target);
    double best_err = kInf;
    for (int s = 0; s < 12; ++s) {
      const double err = std::abs(std::log(rung_value(s) / raw));
      if (err < best_err) step = static_cast<int>(rung_value(s)), best_err = err;
    }
  }
  std::vector<double> ticks;
  if (e1 - e0 + 1 < 3) {
    // Under 3 decades: 1, 2 and 5 times each power of ten.
    for (int e = e0 - 1; e <= e1; ++e) {
      for (int m : {1, 2, 5}) {
        const double v = scaled(m, e);
        if (v >= lo * (1 - kSlack) && v <= hi * (1 + kSlack)) ticks.push_back(v);
      }
    }
    return ticks;
  }
  for (int e = e0; e <= e1; ++e) {
    if (e % step == 0) ticks.push_back(pow10(e));
  }
  return ticks;
}

std::string format_tick(double value, double step) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  step = std::abs(step);
  if (!(step > 0) || !std::isfinite(step)) step = value != 0.0 ? std::abs(value) : 1.0;
  if (std::abs(value) < 1e-9 * step) return "0";
  // k: the exponent of the step's last significant digit (0.2 → −1, 0.25 → −2, 2500 → 2).
  int k = static_cast<int>(std::floor(std::log10(step) + 1e-9));
  for (int j = k; j >= k - 17; --j) {
    const double q = scaled(1.0, -j) * step;
    if (std::abs(q - std::round(q)) <= 1e-6 * q) {
      k = j;
      break;
    }
  }
  char buf[64];
  const double a = std::abs(value);
  if (a >= 1e-2 && a < 1e6) {
    std::snprintf(buf, sizeof buf, "%.*f", std::clamp(-k, 0, 17), value);
    return buf;
  }
  // Mantissa-exponent: as many mantissa digits as the step needs.
  const int e = static_cast<int>(std::floor(std::log10(a)));
  std::snprintf(buf, sizeof buf, "%.*e", std::clamp(e - k, 0, 16), value);
  std::string s = buf;
  const size_t epos = s.find('e');
  std::string mantissa = s.substr(0, epos);
  if (mantissa.find('.') != std::string::npos) {
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  return mantissa + "e" + std::to_string(std::atoi(s.c_str() + epos + 1));
}

// ---- plots -------------------------------------------------------------------

Image line_plot(const std::vector<Series>& series, const PlotOptions& options) {
  return render_line_plot(series, options).second;
}

Image contour_scatter(const at::Tensor& points, const at::Tensor& field, std::array<double, 4> box,
                      const std::vector<double>& levels, const PlotOptions& options) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 2,
              "contour_scatter: points must be [n, 2], got ", points.sizes());
  TORCH_CHECK(field.dim() == 2, "contour_scatter: field must be [ny, nx], got ", field.sizes());
  const Layout L = contour_scatter_layout(box, options);
  const PlotArea& a = L.area;
  const PixelRect& r = a.rect;
  Image img(options.width, options.height);

  // Points: 3×3 dots blended onto the canvas, so dense regions darken.
  const at::Tensor pts = points.detach().to(at::kCPU, at::kDouble).contiguous();
  const double* p = pts.data_ptr<double>();
  const Rgb dot = palette(0);
  for (int64_t i = 0; i < pts.size(0); ++i) {
    const double x = p[2 * i], y = p[2 * i + 1];
    if (!(x >= box[0] && x <= box[1] && y >= box[2] && y <= box[3])) continue;
    const int cx = static_cast<int>(std::lround(a.column(x)));
    const int cy = static_cast<int>(std::lround(a.row(y)));
    for (int dy = -1; dy <= 1; ++dy) {
      for (int dx = -1; dx <= 1; ++dx) blend(img, r, cx + dx, cy + dy, dot, kScatterAlpha);
    }
  }

  // Contours by marching squares over the cell centres.
  const at::Tensor f = field.detach().to(at::kCPU, at::kDouble).contiguous();
  const int64_t ny = f.size(0), nx = f.size(1);
  const double* v = f.data_ptr<double>();
  std::vector<double> col(nx), row(ny);
  for (int64_t ix = 0; ix < nx; ++ix) {
    col[ix] = a.column(box[0] + (ix + 0.5) * (box[1] - box[0]) / nx);
  }
  for (int64_t iy = 0; iy < ny; ++iy) row[iy] = a.row(box[2] + (iy + 0.5) * (box[3] - box[2]) / ny);
  std::vector<double> sorted = levels;
  std::sort(sorted.begin(), sorted.end());
  const int n_levels = static_cast<int>(sorted.size());
  for (int k = 0; k < n_levels; ++k) {
    const double level = sorted[k];
    if (!std::isfinite(level)) continue;
    const Rgb c = colormap(n_levels > 1 ? 0.8 * k / (n_levels - 1) : 0.0);
    for (int64_t iy = 0; iy + 1 < ny; ++iy) {
      for (int64_t ix = 0; ix + 1 < nx; ++ix) {
        // Corners 00 (ix, iy), 10 (ix+1, iy), 01 (ix, iy+1), 11 (ix+1, iy+1).
        const double v00 = v[iy * nx + ix], v10 = v[iy * nx + ix + 1];
        const double v01 = v[(iy + 1) * nx + ix], v11 = v[(iy + 1) * nx + ix + 1];
        if (!std::isfinite(v00) || !std::isfinite(v10) || !std::isfinite(v01) ||
            !std::isfinite(v11)) {
          continue;
        }
        const bool b00 = v00 > level, b10 = v10 > level, b01 = v01 > level, b11 = v11 > level;
        // Edge crossings: 0 bottom (00–10), 1 right (10–11), 2 top (01–11), 3 left (00–01).
        auto cross = [&](double va, double vb, double ca, double ra, double cb, double rb) {
          const double t = (level - va) / (vb - va);
          return Pt{ca + t * (cb - ca), ra + t * (rb - ra)};
        };
        const double c0 = col[ix], c1 = col[ix + 1], r0 = row[iy], r1 = row[iy + 1];
        Pt e[4];
        bool has[4] = {b00 != b10, b10 != b11, b01 != b11, b00 != b01};
        if (has[0]) e[0] = cross(v00, v10, c0, r0, c1, r0);
        if (has[1]) e[1] = cross(v10, v11, c1, r0, c1, r1);
        if (has[2]) e[2] = cross(v01, v11, c0, r1, c1, r1);
        if (has[3]) e[3] = cross(v00, v01, c0, r0, c0, r1);
        const int n = has[0] + has[1] + has[2] + has[3];
        auto draw = [&](int i, int j) { segment(img, r, e[i].c, e[i].r, e[j].c, e[j].r, c, 1); };
        if (n == 2) {
          int i = 0;
          while (!has[i]) ++i;
          int j = i + 1;
          while (!has[j]) ++j;
          draw(i, j);
        } else if (n == 4) {  // saddle: which diagonal the centre joins
          const bool centre = (v00 + v10 + v01 + v11) / 4.0 > level;
          if (centre == b00) {
            draw(0, 1), draw(2, 3);  // cut off corners 10 and 01
          } else {
            draw(0, 3), draw(1, 2);  // cut off corners 00 and 11
          }
        }
      }
    }
  }
  draw_axes(img, L, options);
  return img;
}

}  // namespace anila::io
