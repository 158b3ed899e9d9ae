// plot.h — small PNG charts on the Image canvas: line plots (trace plots,
// autocorrelations, metric curves with one line per sampler) and scatter plots
// of 2D samples over contour lines of a density; nice axis ticks and labels.
//
// Geometry: an image is W×H pixels, row 0 at the top. Data is drawn inside the
// plot area, an inclusive pixel rectangle; the axis range maps onto it edge to
// edge (xmin → its first column, xmax → its last; ymax → its top row, ymin → its
// bottom row), linearly in the data or, on a log axis, in log10 of the data.
// The black frame lies one pixel outside the plot area, tick marks outside it.
// Fields for contours are [ny, nx] indexed [iy, ix] with iy = 0 the lowest y,
// as for heatmap(); points are [n, 2] (x, y).
//
// Usage:
//   Series s{"hmc", iters, values};
//   write_png(line_plot({s}, PlotOptions{"trace", "iteration", "x"}), "trace.png");
#pragma once

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "anila/io/image.h"

namespace anila::io {

// ---- options -----------------------------------------------------------------

// One curve of a line plot: points (x[i], y[i]) joined in order. A point that
// cannot be drawn (non-finite, or non-positive on a log axis) breaks the line.
struct Series {
  std::string label;         // legend entry ("" = not in the legend)
  std::vector<double> x, y;  // same length
  int color = -1;            // index into palette() (-1: the series' index)
  bool points = false;       // draw a marker (5 px disc) at every point
  bool line = true;          // join consecutive points (2 px wide); points-only when false
};

struct PlotOptions {
  std::string title, xlabel, ylabel;  // ylabel is drawn horizontally above the y axis
  int width = 640, height = 400;      // image size, at least kPlotMinWidth × kPlotMinHeight
  bool log_x = false, log_y = false;  // log10 axes (non-positive values are skipped)
  // Fixed ranges; NaN = automatic: the finite data (and hlines) with 5% padding
  // each side (in log10 units on a log axis). A fixed limit that is not positive
  // on a log axis counts as automatic. All-equal data is widened to v ± 10%|v|
  // (± 1 when v = 0) before padding; no data at all shows [0, 1] (log: [1, 10]).
  double xmin = NAN, xmax = NAN, ymin = NAN, ymax = NAN;
  bool legend = true;          // legend box for the labelled series, in the emptiest corner
  std::vector<double> hlines;  // horizontal reference lines (dashed grey), e.g. y = 0
};

constexpr int kPlotMinWidth = 120;
constexpr int kPlotMinHeight = 80;

// ---- geometry ----------------------------------------------------------------

// An inclusive pixel rectangle: columns [x0, x1], rows [y0, y1]; empty when x1 < x0.
struct PixelRect {
  int x0 = 0, y0 = 0, x1 = -1, y1 = -1;
  bool empty() const { return x1 < x0 || y1 < y0; }
  bool contains(int x, int y) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

// Where a plot puts its data; the same numbers the drawing code uses.
struct PlotArea {
  PixelRect rect;             // the plot area
  double xmin = 0, xmax = 1;  // axis ranges in data units (positive on a log axis)
  double ymin = 0, ymax = 1;
  bool log_x = false, log_y = false;
  PixelRect legend;  // the legend box (frame included); empty when none
  // Fractional pixel column / row of a data value (NaN when not drawable);
  // the pixel is the nearest integer.
  double column(double x) const;
  double row(double y) const;
};

// The plot area line_plot(series, options) draws into (it renders the plot
// to find the emptiest corner for the legend).
PlotArea line_plot_area(const std::vector<Series>& series, const PlotOptions& options);
// The plot area contour_scatter(..., box, ..., options) draws into: ranges = box,
// shrunk and centred so one data unit is as many pixels in x as in y.
PlotArea contour_scatter_area(const std::array<double, 4>& box, const PlotOptions& options);

// ---- ticks and colours -------------------------------------------------------

// The Tableau 10 colours (blue, orange, green, red, purple, brown, pink, grey,
// olive, cyan), repeating: palette(10) == palette(0); negative i counts back.
Rgb palette(int i);

// Linear ticks: every multiple of a step s = {1, 2, 5} × 10^k lying in [lo, hi],
// where s is the candidate nearest to (hi − lo) / target in ratio, then moved up
// or down the 1-2-5 ladder until there are 3 to 8 ticks. Values are computed as
// integer / 10^j, so 0.6 is exactly the double 0.6. lo == hi gives {lo};
// non-finite bounds give {}; a span too small for doubles gives {lo, hi}.
// Examples: [0, 1] → 0, 0.2, …, 1; [0, 97] → 0, 20, …, 80; [−3, 3] → −3, −2, …, 3.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// Log ticks: the powers of ten in [lo, hi] (lo, hi > 0), every decade when they
// are at most 8, else every d-th decade (exponents multiple of d), d the 1-2-5
// step nearest to the number of decades / target. Under 3 powers of ten in
// range: 1, 2 and 5 times the powers of ten instead. May hold fewer than 2
// values on a narrow range (plots then fall back to nice_ticks).
// [1e-4, 1] → 1e-4, …, 1; [95, 2100] → 100, 200, 500, 1000, 2000.
std::vector<double> log_ticks(double lo, double hi, int target = 5);

// The label of tick `value` on an axis with tick spacing `step` (on a log axis,
// step = value). Digits: as many as the step needs, so neighbours differ.
// Zero is "0". Fixed notation for 1e-2 <= |value| < 1e6 ("0.5", "1.0" for step 0.2,
// "2000"); otherwise mantissa-e-exponent with trailing zeros dropped ("1e-3",
// "1.5e-3", "2.5e6").
std::string format_tick(double value, double step);

// ---- plots -------------------------------------------------------------------

// Lines (and markers) of every series over dashed hlines, with frame, ticks,
// labels, title and legend. Long series are reduced to at most 4 points per
// pixel column (first, min, max, last of each run within a column), which
// leaves the drawn pixels the same; 1e5 points take milliseconds.
Image line_plot(const std::vector<Series>& series, const PlotOptions& options);

// Points [n, 2] (any float dtype) as 3×3 px dots in palette(0) alpha-blended
// (kScatterAlpha) onto the image, under contour lines of `field` [ny, nx]
// (values at the cell centres of `box` = {xmin, xmax, ymin, ymax}, iy = 0 the
// lowest y) at `levels`, found by marching squares (cells with a non-finite
// corner are skipped; saddles resolved by the cell-centre mean). Level k of n
// (sorted ascending) is drawn 1 px wide in colormap(0.8·k/(n−1)); a single level
// in colormap(0). Points outside the box are not drawn. Uses title, xlabel,
// ylabel, width and height of options; the ranges come from the box.
constexpr double kScatterAlpha = 0.4;
Image contour_scatter(const at::Tensor& points, const at::Tensor& field,
                      std::array<double, 4> box /* xmin, xmax, ymin, ymax */,
                      const std::vector<double>& levels, const PlotOptions& options);

}  // namespace anila::io
