// test_plot.cpp — tests of anila/io/plot: tick values and labels, where lines,
// gaps, legends, contours and dots land in the pixels, robustness to awkward
// data, and a PNG round trip.
//
// Pixel checks map data to pixels through the plot area the library reports
// (PlotArea: data range edge to edge over an inclusive pixel rectangle) and
// compare with positions worked out from that rule by hand. PNGs go to a
// mkdtemp folder, removed afterwards.
#include <gtest/gtest.h>

#include "test_util.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "anila/io/image.h"
#include "anila/io/plot.h"

namespace fs = std::filesystem;
using namespace anila::io;

namespace {

bool same(Rgb a, Rgb b) {
  return a.r == b.r && a.g == b.g && a.b == b.b;
}

// Pixels of colour `c` inside the inclusive rectangle (clipped to the image).
int count_color(const Image& img, Rgb c, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = std::max(0, y0); y <= std::min(img.height() - 1, y1); ++y) {
    for (int x = std::max(0, x0); x <= std::min(img.width() - 1, x1); ++x)
      n += same(img.at(x, y), c);
  }
  return n;
}
int count_color(const Image& img, Rgb c, const PixelRect& r) {
  return count_color(img, c, r.x0, r.y0, r.x1, r.y1);
}

int px(double v) {
  return static_cast<int>(std::lround(v));
}

using anila::test::TempDir;

PlotOptions unit_box() {
  PlotOptions o;
  o.xmin = 0, o.xmax = 1, o.ymin = 0, o.ymax = 1;
  return o;
}

}  // namespace

// ---- ticks -------------------------------------------------------------------

TEST(PlotTicks, UnitIntervalStepsByFifths) {
  // raw step (1 − 0) / 5 = 0.2 is itself a 1-2-5 step.
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
}

TEST(PlotTicks, ZeroTo97StepsBy20) {
  // raw 19.4: 20 is nearer (ratio 1.03) than 10 or 50; multiples of 20 in [0, 97].
  EXPECT_EQ(nice_ticks(0, 97), (std::vector<double>{0, 20, 40, 60, 80}));
}

TEST(PlotTicks, SymmetricRangeStepsBy1) {
  // raw 1.2: 1 (ratio 1.2) beats 2 (ratio 1.67).
  EXPECT_EQ(nice_ticks(-3, 3), (std::vector<double>{-3, -2, -1, 0, 1, 2, 3}));
  EXPECT_FALSE(std::signbit(nice_ticks(-3, 3)[3]));  // +0, so the label is "0"
}

TEST(PlotTicks, DecimalsAreExactDoubles) {
  // raw 0.004: 0.005 (ratio 1.25) beats 0.002 (ratio 2).
  EXPECT_EQ(nice_ticks(0.5, 0.52), (std::vector<double>{0.5, 0.505, 0.51, 0.515, 0.52}));
  // target 2 on [0, 10]: raw 5 → 0, 5, 10.
  EXPECT_EQ(nice_ticks(0, 10, 2), (std::vector<double>{0, 5, 10}));
  // Reversed bounds are swapped; a single point gives itself; NaN gives nothing.
  EXPECT_EQ(nice_ticks(1, 0), nice_ticks(0, 1));
  EXPECT_EQ(nice_ticks(2.5, 2.5), (std::vector<double>{2.5}));
  EXPECT_TRUE(nice_ticks(NAN, 1).empty());
}

TEST(PlotTicks, LogAxisPowersOfTen) {
  EXPECT_EQ(log_ticks(1e-4, 1), (std::vector<double>{1e-4, 1e-3, 1e-2, 0.1, 1}));
  EXPECT_EQ(log_ticks(3, 2000), (std::vector<double>{10, 100, 1000}));
  // 21 decades, target 5: raw 4 decades → every 5th.
  EXPECT_EQ(log_ticks(1e-20, 1), (std::vector<double>{1e-20, 1e-15, 1e-10, 1e-5, 1}));
  // Under 3 decades: 1-2-5 times powers of ten.
  EXPECT_EQ(log_ticks(95, 2100), (std::vector<double>{100, 200, 500, 1000, 2000}));
  EXPECT_EQ(log_ticks(0.045, 3.9), (std::vector<double>{0.05, 0.1, 0.2, 0.5, 1, 2}));
  EXPECT_EQ(log_ticks(2, 8), (std::vector<double>{2, 5}));
  EXPECT_TRUE(log_ticks(2.5, 4.5).empty());
  EXPECT_TRUE(log_ticks(-1, 8).empty());
}

TEST(PlotTicks, FormatTick) {
  EXPECT_EQ(format_tick(0.5, 0.1), "0.5");
  EXPECT_EQ(format_tick(1, 0.2), "1.0");
  EXPECT_EQ(format_tick(0.25, 0.25), "0.25");
  EXPECT_EQ(format_tick(0.505, 0.005), "0.505");
  EXPECT_EQ(format_tick(2000, 500), "2000");
  EXPECT_EQ(format_tick(-2, 1), "-2");
  EXPECT_EQ(format_tick(0, 0.2), "0");
  EXPECT_EQ(format_tick(1e-3, 1e-3), "1e-3");
  EXPECT_EQ(format_tick(0.0015, 0.0005), "1.5e-3");
  EXPECT_EQ(format_tick(100000, 20000), "100000");
  EXPECT_EQ(format_tick(2500000, 500000), "2.5e6");
  EXPECT_EQ(format_tick(1e6, 1e6), "1e6");
  EXPECT_EQ(format_tick(-3e-6, 1e-6), "-3e-6");
}

TEST(PlotPalette, TableauColoursRepeat) {
  EXPECT_TRUE(same(palette(0), Rgb{31, 119, 180}));  // #1f77b4
  EXPECT_TRUE(same(palette(1), Rgb{255, 127, 14}));  // #ff7f0e
  EXPECT_TRUE(same(palette(10), palette(0)));
  EXPECT_TRUE(same(palette(-1), palette(9)));
}

// ---- line plots --------------------------------------------------------------

TEST(PlotLine, HorizontalLineAtComputedRow) {
  const PlotOptions o = unit_box();
  const std::vector<Series> s = {{"", {0, 1}, {0.5, 0.5}}};
  const PlotArea a = line_plot_area(s, o);
  EXPECT_EQ(a.xmin, 0);
  EXPECT_EQ(a.ymax, 1);
  // y = 0.5 is half-way from the bottom row y1 up to the top row y0.
  const int row = px(a.rect.y1 - 0.5 * (a.rect.y1 - a.rect.y0));
  EXPECT_EQ(row, px(a.row(0.5)));
  const Image img = line_plot(s, o);
  for (int x : {a.rect.x0, (a.rect.x0 + a.rect.x1) / 2, a.rect.x1 - 1}) {
    EXPECT_TRUE(same(img.at(x, row), palette(0))) << "column " << x;
    // Nowhere else in this column, except the 2 px brush's second row.
    for (int y = a.rect.y0; y <= a.rect.y1; ++y) {
      if (std::abs(y - row) > 1) {
        EXPECT_FALSE(same(img.at(x, y), palette(0))) << x << "," << y;
      }
    }
  }
  // The frame is black just outside the plot area.
  EXPECT_TRUE(same(img.at(a.rect.x0 - 1, row), Rgb{0, 0, 0}));
  EXPECT_TRUE(same(img.at(a.rect.x1 + 1, row), Rgb{0, 0, 0}));
}

TEST(PlotLine, NanLeavesGap) {
  PlotOptions o = unit_box();
  o.xmax = 10;
  Series s{"", {}, {}};
  for (int i = 0; i <= 10; ++i) s.x.push_back(i), s.y.push_back(i / 10.0);
  s.y[5] = NAN;
  const PlotArea a = line_plot_area({s}, o);
  const Image img = line_plot({s}, o);
  const int c4 = px(a.column(4)), c6 = px(a.column(6));
  // Segment 3–4 ends at column c4 (brush: c4 + 1); segment 6–7 starts at c6.
  EXPECT_EQ(count_color(img, palette(0), c4 + 2, 0, c6 - 1, img.height() - 1), 0);
  EXPECT_GT(count_color(img, palette(0), px(a.column(3)), 0, c4, img.height() - 1), 0);
  EXPECT_GT(count_color(img, palette(0), c6, 0, px(a.column(7)), img.height() - 1), 0);
}

TEST(PlotLine, LegendShowsBothColours) {
  PlotOptions o = unit_box();
  // Both lines low in the plot, so the legend goes to the empty top-right corner.
  const std::vector<Series> s = {{"first", {0, 1}, {0.1, 0.1}}, {"second", {0, 1}, {0.2, 0.2}}};
  const PlotArea a = line_plot_area(s, o);
  ASSERT_FALSE(a.legend.empty());
  EXPECT_EQ(a.legend.x1, a.rect.x1 - 6);  // kLegendInset from the top-right corner
  EXPECT_EQ(a.legend.y0, a.rect.y0 + 6);
  const Image img = line_plot(s, o);
  EXPECT_GT(count_color(img, palette(0), a.legend), 0);
  EXPECT_GT(count_color(img, palette(1), a.legend), 0);

  o.legend = false;
  EXPECT_TRUE(line_plot_area(s, o).legend.empty());
  const Image bare = line_plot(s, o);
  EXPECT_EQ(count_color(bare, palette(0), a.legend), 0);
  EXPECT_EQ(count_color(bare, palette(1), a.legend), 0);
}

TEST(PlotLine, LegendAvoidsData) {
  // A line along the top: the legend goes to the bottom-right corner.
  const std::vector<Series> s = {{"top", {0, 1}, {0.95, 0.95}}};
  const PlotArea a = line_plot_area(s, unit_box());
  EXPECT_EQ(a.legend.y1, a.rect.y1 - 6);
  EXPECT_EQ(a.legend.x1, a.rect.x1 - 6);
}

TEST(PlotLine, MarkersAndExplicitColour) {
  Series s{"", {0.5}, {0.5}};
  s.points = true, s.line = false, s.color = 3;
  const PlotArea a = line_plot_area({s}, unit_box());
  const Image img = line_plot({s}, unit_box());
  const int x = px(a.column(0.5)), y = px(a.row(0.5));
  // Disc of radius 2: 21 pixels.
  EXPECT_EQ(count_color(img, palette(3), x - 3, y - 3, x + 3, y + 3), 21);
}

TEST(PlotLine, AutomaticRangePadsByFivePercent) {
  const std::vector<Series> s = {{"", {0, 10}, {-1, 1}}};
  PlotOptions o;
  o.hlines = {3};  // reference lines count towards the y range
  const PlotArea a = line_plot_area(s, o);
  EXPECT_DOUBLE_EQ(a.xmin, -0.5);
  EXPECT_DOUBLE_EQ(a.xmax, 10.5);
  EXPECT_DOUBLE_EQ(a.ymin, -1.2);
  EXPECT_DOUBLE_EQ(a.ymax, 3.2);
}

// ---- robustness --------------------------------------------------------------

TEST(PlotRobust, EmptySeriesDrawsAxes) {
  const PlotOptions o;
  const PlotArea a = line_plot_area({}, o);
  EXPECT_EQ(a.xmin, 0);
  EXPECT_EQ(a.xmax, 1);
  const Image img = line_plot({}, o);
  EXPECT_EQ(img.width(), 640);
  EXPECT_EQ(img.height(), 400);
  EXPECT_TRUE(same(img.at(a.rect.x0 - 1, a.rect.y0), Rgb{0, 0, 0}));
  EXPECT_TRUE(
      same(img.at((a.rect.x0 + a.rect.x1) / 2, (a.rect.y0 + a.rect.y1) / 2), Rgb{255, 255, 255}));
  // A series with no points is fine too.
  EXPECT_NO_THROW(line_plot({Series{"none", {}, {}}}, o));
}

TEST(PlotRobust, SinglePointIsCentred) {
  // Range widened to 2 ± 0.2 (and 0.5 ± 0.05), so the point sits mid-area.
  const std::vector<Series> s = {{"", {0.5}, {2}}};
  const PlotArea a = line_plot_area(s, PlotOptions{});
  EXPECT_DOUBLE_EQ(a.ymin, 2 - 0.2 - 0.02);
  EXPECT_DOUBLE_EQ(a.ymax, 2 + 0.2 + 0.02);
  const Image img = line_plot(s, PlotOptions{});
  const int x = (a.rect.x0 + a.rect.x1) / 2, y = (a.rect.y0 + a.rect.y1) / 2;
  EXPECT_GT(count_color(img, palette(0), x - 1, y - 1, x + 1, y + 1), 0);
}

TEST(PlotRobust, ConstantAndZeroValues) {
  Series s{"", {}, {}};
  for (int i = 0; i < 10; ++i) s.x.push_back(i), s.y.push_back(0);
  const PlotArea a = line_plot_area({s}, PlotOptions{});
  EXPECT_DOUBLE_EQ(a.ymin, -1.1);  // 0 ± 1, then 5% of 2 each side
  EXPECT_DOUBLE_EQ(a.ymax, 1.1);
  const Image img = line_plot({s}, PlotOptions{});
  EXPECT_TRUE(same(img.at((a.rect.x0 + a.rect.x1) / 2, px(a.row(0))), palette(0)));
}

TEST(PlotRobust, InfinitiesAreSkipped) {
  const std::vector<Series> s = {{"", {0, 1, 2, INFINITY}, {1, -INFINITY, 3, 4}}};
  const PlotArea a = line_plot_area(s, PlotOptions{});
  EXPECT_DOUBLE_EQ(a.xmin, -0.1);  // finite points (0, 1) and (2, 3) only
  EXPECT_DOUBLE_EQ(a.ymax, 3.1);
  EXPECT_NO_THROW(line_plot(s, PlotOptions{}));
}

TEST(PlotRobust, LogAxisSkipsNonPositive) {
  const std::vector<Series> s = {{"", {1, 2, 3, 4}, {-1, 0, 10, 100}}};
  PlotOptions o;
  o.log_y = true;
  o.hlines = {0, 1};  // y = 0 cannot be drawn; y = 1 can
  const PlotArea a = line_plot_area(s, o);
  // log10 of the drawable y: 0 (hline), 1, 2 → [0, 2] padded by 0.1 decade.
  EXPECT_NEAR(a.ymin, std::pow(10.0, -0.1), 1e-12);
  EXPECT_NEAR(a.ymax, std::pow(10.0, 2.1), 1e-9);
  EXPECT_DOUBLE_EQ(a.xmin, 2.95);  // only x = 3, 4 have drawable y
  const Image img = line_plot(s, o);
  const int y = px(a.row(std::sqrt(10.0 * 100.0)));  // half-way, in log units
  EXPECT_GT(
      count_color(img, palette(0), px(a.column(3.5)) - 2, y - 2, px(a.column(3.5)) + 2, y + 2), 0);
}

TEST(PlotRobust, HundredThousandPoints) {
  Series s{"long", {}, {}};
  const int n = 100000;
  for (int i = 0; i < n; ++i) s.x.push_back(i), s.y.push_back(std::sin(i * 1e-3));
  const PlotArea a = line_plot_area({s}, PlotOptions{});
  const Image img = line_plot({s}, PlotOptions{});
  // The curve reaches y = 1 near i = 1571 (peak) and y = −1 near i = 4712.
  const int top = px(a.row(1.0)), bottom = px(a.row(-1.0));
  EXPECT_GT(count_color(img, palette(0), a.rect.x0, top - 1, a.rect.x1, top + 1), 0);
  EXPECT_GT(count_color(img, palette(0), a.rect.x0, bottom - 1, a.rect.x1, bottom + 1), 0);
}

TEST(PlotRobust, BadInputsFailLoudly) {
  EXPECT_THROW(line_plot({Series{"", {1, 2}, {1}}}, PlotOptions{}), c10::Error);
  PlotOptions tiny;
  tiny.width = 10;
  EXPECT_THROW(line_plot({}, tiny), c10::Error);
  PlotOptions reversed = unit_box();
  reversed.xmin = 2;
  EXPECT_THROW(line_plot({}, reversed), c10::Error);
}

// ---- contour scatter ---------------------------------------------------------

TEST(PlotContour, CircleAtRadiusHalf) {
  // field = x² + y² on 101×101 cell centres over [−1, 1]²; level 0.25 is r = 0.5.
  const int n = 101;
  const at::Tensor c = (at::arange(n, at::kDouble) + 0.5) * (2.0 / n) - 1.0;
  const at::Tensor field = c.view({1, n}).pow(2) + c.view({n, 1}).pow(2);  // [iy, ix]
  PlotOptions o;
  o.width = 400, o.height = 400, o.title = "circle";
  const std::array<double, 4> box = {-1, 1, -1, 1};
  const PlotArea a = contour_scatter_area(box, o);
  // Equal aspect: as many pixels per unit in x as in y.
  EXPECT_EQ(a.rect.x1 - a.rect.x0, a.rect.y1 - a.rect.y0);
  // One point at (0.8, −0.8), two at (−0.8, 0.8) (blended twice).
  const at::Tensor pts = at::tensor({0.8, -0.8, -0.8, 0.8, -0.8, 0.8}, at::kFloat).view({3, 2});
  const Image img = contour_scatter(pts, field, box, {0.25}, o);
  const Rgb line = colormap(0.0);
  for (auto [x, y] :
       std::vector<std::pair<double, double>>{{0.5, 0}, {0, 0.5}, {-0.5, 0}, {0, -0.5}}) {
    const int cx = px(a.column(x)), cy = px(a.row(y));
    EXPECT_GT(count_color(img, line, cx - 2, cy - 2, cx + 2, cy + 2), 0) << x << "," << y;
  }
  // Not at the centre, nor at radius 0.25 or 0.75.
  for (double r : {0.0, 0.25, 0.75}) {
    const int cx = px(a.column(r)), cy = px(a.row(0));
    EXPECT_EQ(count_color(img, line, cx - 2, cy - 2, cx + 2, cy + 2), 0) << r;
  }
  // Dots: white blended with palette(0) = (31, 119, 180) at alpha 0.4:
  // once 0.6·255 + 0.4·(31, 119, 180) = (165.4, 200.6, 225) → (165, 201, 225);
  // twice 0.6·(165, 201, 225) + 0.4·(31, 119, 180) = (111.4, 168.2, 207) → (111, 168, 207).
  EXPECT_TRUE(same(img.at(px(a.column(0.8)), px(a.row(-0.8))), Rgb{165, 201, 225}));
  EXPECT_TRUE(same(img.at(px(a.column(0.8)) + 1, px(a.row(-0.8)) - 1), Rgb{165, 201, 225}));
  EXPECT_TRUE(same(img.at(px(a.column(-0.8)), px(a.row(0.8))), Rgb{111, 168, 207}));
  // And nothing at (0.8, 0.8).
  EXPECT_TRUE(same(img.at(px(a.column(0.8)), px(a.row(0.8))), Rgb{255, 255, 255}));
}

TEST(PlotContour, LevelsColouredByRankAndNanSkipped) {
  // A field rising along x: f = x on 4×4 cells over [0, 4]²; centres at 0.5 … 3.5.
  const at::Tensor field = (at::arange(4, at::kDouble) + 0.5).view({1, 4}).expand({4, 4});
  PlotOptions o;
  o.width = o.height = 300;
  const std::array<double, 4> box = {0, 4, 0, 4};
  const PlotArea a = contour_scatter_area(box, o);
  const at::Tensor none = at::zeros({0, 2});
  const Image img = contour_scatter(none, field, box, {2.0, 1.0}, o);
  // Levels sorted: 1.0 is rank 0 → colormap(0); 2.0 is rank 1 of 2 → colormap(0.8).
  const int y = px(a.row(2.0));
  EXPECT_TRUE(same(img.at(px(a.column(1.0)), y), colormap(0.0)));
  EXPECT_TRUE(same(img.at(px(a.column(2.0)), y), colormap(0.8)));
  // A NaN cell removes the contour from the squares that touch it.
  at::Tensor holed = field.clone();
  holed.index_put_({1, 1}, NAN);  // centre (1.5, 1.5); squares span y in [0.5, 2.5]
  const Image img2 = contour_scatter(none, holed, box, {2.0}, o);
  EXPECT_EQ(count_color(img2, colormap(0.0), px(a.column(2.0)) - 1, px(a.row(2.0)),
                        px(a.column(2.0)) + 1, px(a.row(1.0))),
            0);
  EXPECT_GT(count_color(img2, colormap(0.0), px(a.column(2.0)) - 1, px(a.row(3.5)),
                        px(a.column(2.0)) + 1, px(a.row(3.0))),
            0);
}

// ---- PNG ---------------------------------------------------------------------

TEST(PlotPng, RoundTripKeepsPixels) {
  TempDir dir;
  PlotOptions o;
  o.title = "trace", o.xlabel = "iteration", o.ylabel = "x", o.hlines = {0};
  const std::vector<Series> s = {{"a", {0, 1, 2, 3}, {0, 1, -1, 0.5}},
                                 {"b", {0, 1, 2, 3}, {1, 0, 0.5, -1}}};
  const Image img = line_plot(s, o);
  write_png(img, dir / "plot.png");
  const Image back = read_png(dir / "plot.png");
  ASSERT_EQ(back.width(), img.width());
  ASSERT_EQ(back.height(), img.height());
  int diff = 0;
  for (int y = 0; y < img.height(); ++y) {
    for (int x = 0; x < img.width(); ++x) diff += !same(img.at(x, y), back.at(x, y));
  }
  EXPECT_EQ(diff, 0);
}
