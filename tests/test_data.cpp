// test_data.cpp — tests of the 2D datasets (anila/data/dataset2d.h,
// definitions in docs/datasets.md).
//
// Notation: n sample size, σ a component's sd, R grid cells per axis over a
// dataset's box, Δ the cell area, SE a Monte Carlo standard error computed in
// the test. Expected values are closed forms, hand computations, or an
// independent brute-force evaluation written here from the documented
// definition (never the code's own output recorded once). Statistical checks
// use fixed seeds and a 4·SE tolerance (plus any stated deterministic bias).
//
// Grid integrals: the midpoint rule on a smooth density whose mass lies well
// inside the box is accurate to far below 1e-6 once the cell width is under
// σ/2 (Poisson summation: error ~ exp(−2π²σ²/δ²)); the checkerboard's 256×256
// grid over its box [−2.56, 2.56]² has the square edges on cell edges, so its sum is exact.
//
//   run: ./anila_tests --gtest_filter='Data*'   (CPU, about 5 s)
#include <gtest/gtest.h>

#include "test_util.h"

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/data/dataset2d.h"
#include "anila/eval/grid2d.h"
#include "data/kde.h"

namespace anila::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInf = std::numeric_limits<double>::infinity();

at::Generator cpu_gen(uint64_t seed) {
  return make_generator(seed, c10::Device(c10::kCPU));
}

std::unique_ptr<Dataset2D> make(const std::string& type) {
  return make_dataset2d({{"type", type}});
}

// Cell centres of an R×R grid over `box`, row-major [iy, ix]: [R*R, 2] float64.
at::Tensor grid_points(const Box& box, int64_t r) {
  const double dx = (box.xmax - box.xmin) / double(r), dy = (box.ymax - box.ymin) / double(r);
  at::Tensor xs = box.xmin + (at::arange(r, at::kDouble) + 0.5) * dx;
  at::Tensor ys = box.ymin + (at::arange(r, at::kDouble) + 0.5) * dy;
  return at::stack({xs.repeat({r}), ys.repeat_interleave(r)}, 1);
}

double cell_area(const Box& box, int64_t r) {
  return (box.xmax - box.xmin) * (box.ymax - box.ymin) / double(r * r);
}

using anila::test::user_error_message;

// A fresh directory for the CSV files of one test.
class DataCsv : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "anila_data_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::unique_ptr<Dataset2D> load(const std::string& path, double bandwidth = 0) {
    return make_dataset2d({{"type", "csv"}, {"path", path}, {"kde_bandwidth", bandwidth}});
  }
  std::string dir_;
};

// ---- every type ---------------------------------------------------------------

TEST(DataFactory, BuildsEveryListedType) {
  const std::vector<std::string> expected = {"rings",        "gmm",   "8gaussians", "25gaussians",
                                             "checkerboard", "moons", "swissroll",  "2spirals",
                                             "pinwheel",     "csv"};
  EXPECT_EQ(dataset2d_types(), expected);
  auto gen = cpu_gen(1);
  for (const std::string& type : expected) {
    if (type == "csv") continue;  // needs a file: DataCsv below
    SCOPED_TRACE(type);
    auto ds = make(type);
    EXPECT_EQ(ds->name(), type);
    EXPECT_EQ(ds->to_json(), Json({{"type", type}}));
    EXPECT_EQ(ds->log_density_exact(), type != "pinwheel");
    at::Tensor x = ds->sample(7, gen);
    EXPECT_EQ(x.sizes(), at::IntArrayRef({7, 2}));
    EXPECT_EQ(x.scalar_type(), at::kFloat);
    at::Tensor lp = ds->log_density(x);
    EXPECT_EQ(lp.sizes(), at::IntArrayRef({7}));
    EXPECT_EQ(lp.scalar_type(), at::kDouble);
    EXPECT_TRUE(lp.isfinite().all().item<bool>());
    EXPECT_EQ(ds->sample(0, gen).sizes(), at::IntArrayRef({0, 2}));
    EXPECT_TRUE(ds->log_density(at::full({1, 2}, NAN)).isnan().all().item<bool>());
  }
}

TEST(DataFactory, SameSeedSameSamples) {
  for (const std::string& type : dataset2d_types()) {
    if (type == "csv") continue;
    SCOPED_TRACE(type);
    auto ds = make(type);
    auto g1 = cpu_gen(42), g2 = cpu_gen(42), g3 = cpu_gen(43);
    at::Tensor a = ds->sample(300, g1), b = make(type)->sample(300, g2), c = ds->sample(300, g3);
    EXPECT_TRUE(at::equal(a, b));
    EXPECT_FALSE(at::equal(a, c));
  }
}

TEST(DataFactory, BoxHoldsTheSamples) {
  auto gen = cpu_gen(2);
  for (const std::string& type : dataset2d_types()) {
    if (type == "csv") continue;
    SCOPED_TRACE(type);
    auto ds = make(type);
    const Box b = ds->box();
    at::Tensor x = ds->sample(20000, gen).to(at::kDouble);
    at::Tensor a = x.select(1, 0), y = x.select(1, 1);
    at::Tensor inside = (a > b.xmin) & (a < b.xmax) & (y > b.ymin) & (y < b.ymax);
    EXPECT_EQ(inside.sum().item<int64_t>(), 20000);  // every box leaves ≥ 4σ (P < 1e-4 per side)
  }
}

// ---- normalisation and agreement with the samples -----------------------------

struct GridCase {
  const char* type;
  int64_t resolution;  // cells per axis over the dataset's box
  double tolerance;    // on ∫ p
};
// Names the case in test listings instead of dumping its bytes.
void PrintTo(const GridCase& c, std::ostream* os) {
  *os << c.type;
}

class DataDensity : public ::testing::TestWithParam<GridCase> {};

// ∫ p = 1 on the box; and for exact densities E_p[log p] from fresh samples equals
// −H = Σ p log p Δ from the grid, within 4·SE with SE = sd(log p)/√n (sd from the grid).
TEST_P(DataDensity, IntegratesToOneAndMatchesSamples) {
  const GridCase c = GetParam();
  auto ds = make(c.type);
  const Box box = ds->box();
  const at::Tensor lp = ds->log_density(grid_points(box, c.resolution));
  const double area = cell_area(box, c.resolution);
  const at::Tensor p = lp.exp();
  EXPECT_NEAR(p.sum().item<double>() * area, 1.0, c.tolerance);
  if (!ds->log_density_exact()) return;  // a KDE reference: E_data log p_kde ≠ −H(p_kde)

  const at::Tensor plogp = at::where(p > 0, p * lp, at::zeros_like(p));
  const at::Tensor plog2p = at::where(p > 0, p * lp * lp, at::zeros_like(p));
  const double neg_entropy = plogp.sum().item<double>() * area;
  const double second = plog2p.sum().item<double>() * area;
  const double sd = std::sqrt(std::max(0.0, second - neg_entropy * neg_entropy));
  const int64_t n = 8000;
  auto gen = cpu_gen(3);
  const double mean = ds->log_density(ds->sample(n, gen)).mean().item<double>();
  EXPECT_NEAR(mean, neg_entropy, 4 * sd / std::sqrt(double(n)) + 1e-6)
      << "entropy " << -neg_entropy << ", sd(log p) " << sd;
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, DataDensity,
    ::testing::Values(GridCase{"rings", 1000, 1e-5}, GridCase{"gmm", 400, 1e-6},
                      GridCase{"8gaussians", 600, 1e-6}, GridCase{"25gaussians", 600, 1e-6},
                      GridCase{"checkerboard", 256, 1e-12}, GridCase{"moons", 200, 1e-5},
                      GridCase{"swissroll", 260, 1e-5}, GridCase{"2spirals", 240, 1e-5},
                      GridCase{"pinwheel", 400, 1e-3}),
    [](const auto& info) {
      std::string s = info.param.type;
      return s[0] >= '0' && s[0] <= '9' ? "n" + s : s;
    });

// ---- hand values of the closed forms --------------------------------------------

TEST(DataRings, LogDensityHandValue) {
  // At (0, 3): p = 1/(2π·3) · ¼ · N(3; 3, σ²) · (1 + O(e^-22)) with N(3; 3, σ²) = 1/(σ√(2π)).
  const double sd = 0.15;
  const double hand = -std::log(2 * kPi * 3) + std::log(0.25) - std::log(sd * std::sqrt(2 * kPi));
  const double lp =
      make("rings")->log_density(at::tensor({0.0, 3.0}).reshape({1, 2}))[0].item<double>();
  EXPECT_NEAR(lp, hand, 1e-8);
}

TEST(DataGmm, LogDensityAtCentre) {
  // At centre (1, 0): log(1/8 · 1/(2πσ²)) plus the other components, whose nearest two
  // lie 2·sin(π/8) away and add at most 8·exp(−(2 sin(π/8))²/(2σ²)) ≈ 1.8e-5 (relative).
  const double sd = 0.15;
  const double hand = std::log(1.0 / 8.0 / (2 * kPi * sd * sd));
  const double near = 2 * std::sin(kPi / 8);
  const double bound = 8 * std::exp(-near * near / (2 * sd * sd));
  const double lp =
      make("gmm")->log_density(at::tensor({1.0, 0.0}).reshape({1, 2}))[0].item<double>();
  EXPECT_GE(lp, hand);
  EXPECT_LE(lp, hand + bound);
}

TEST(DataGmm, OtherMixturesAtACentre) {
  // 8gaussians at (0, 2) and 25gaussians at (1, −1): the other components are ≥ 10σ away.
  const double sd = 0.1;
  const double lp8 =
      make("8gaussians")->log_density(at::tensor({0.0, 2.0}).reshape({1, 2}))[0].item<double>();
  EXPECT_NEAR(lp8, std::log(1.0 / 8.0 / (2 * kPi * sd * sd)), 1e-12);
  const double lp25 =
      make("25gaussians")->log_density(at::tensor({1.0, -1.0}).reshape({1, 2}))[0].item<double>();
  EXPECT_NEAR(lp25, std::log(1.0 / 25.0 / (2 * kPi * sd * sd)), 1e-12);
}

TEST(DataCheckerboard, LogDensityHandValues) {
  // floor(x) + floor(y): 0 (black), −1 (white), 2, −4 (black), off the board, −3 (white).
  const at::Tensor x =
      at::tensor({0.5, 0.5, -0.5, 0.5, 1.5, 1.5, -2.0, -2.0, 2.0, 0.5, -1.5, -0.5}).reshape({6, 2});
  const at::Tensor lp = make("checkerboard")->log_density(x);
  const double in = std::log(1.0 / 8.0);
  const std::vector<double> expected = {in, -kInf, in, in, -kInf, -kInf};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(lp[i].item<double>(), expected[i]) << "row " << i;
}

// ---- quadrature against an independent brute-force sum -----------------------------

// log E_u N(x; c(u), σ²I) by the midpoint rule over u ∈ [0, 1] with m nodes, for the
// noiseless curves c(u) [m, 2] given at the midpoints; equal-weight mixture over curves.
double brute_force_log_density(const std::vector<at::Tensor>& curves, double sd, double x,
                               double y) {
  std::vector<at::Tensor> terms;
  for (const at::Tensor& c : curves) {
    const at::Tensor dx = c.select(1, 0) - x, dy = c.select(1, 1) - y;
    terms.push_back(-(dx * dx + dy * dy) / (2 * sd * sd));
  }
  const at::Tensor all = at::cat(terms);
  return at::logsumexp(all, 0).item<double>() - std::log(double(all.size(0))) -
         std::log(2 * kPi * sd * sd);
}

TEST(DataCurves, QuadratureMatchesBruteForce) {
  const int64_t m = 200000;
  const at::Tensor u = (at::arange(m, at::kDouble) + 0.5) / double(m);
  struct Check {
    std::string type;
    std::vector<at::Tensor> curves;
    double sd;
    std::vector<std::pair<double, double>> points;
  };
  std::vector<Check> checks;
  {  // moons: upper arc centre (−1, −0.5), lower (1, 0.5), radius 2, σ = 0.2
    const at::Tensor a = kPi * u, b = kPi * (1 + u);
    checks.push_back({"moons",
                      {at::stack({-1 + 2 * a.cos(), -0.5 + 2 * a.sin()}, 1),
                       at::stack({1 + 2 * b.cos(), 0.5 + 2 * b.sin()}, 1)},
                      0.2,
                      {{-1, 1.5}, {-3, -0.5}, {3.2, 0.5}, {0.3, 0.2}, {3.5, 3.5}}});
  }
  {  // swissroll: t = 1.5π(1 + 2u), c = (t cos t, t sin t)/5, σ = 0.1
    const at::Tensor t = 1.5 * kPi * (1 + 2 * u);
    checks.push_back({"swissroll",
                      {at::stack({t * t.cos() / 5, t * t.sin() / 5}, 1)},
                      0.1,
                      {{0, 0}, {2.52, 0.2}, {0, 2.83}, {-1.9, 0}, {0.95, -0.05}}});
  }
  {  // 2spirals: t = 3π√u, c = ±(−t cos t, t sin t)/3, σ = 0.1
    const at::Tensor t = 3 * kPi * u.sqrt();
    const at::Tensor c = at::stack({-t * t.cos() / 3, t * t.sin() / 3}, 1);
    checks.push_back(
        {"2spirals", {c, -c}, 0.1, {{0, 0}, {kPi, 0}, {1, 1}, {-2, 0.5}, {3.9, -3.9}}});
  }
  for (const Check& c : checks) {
    auto ds = make(c.type);
    std::vector<double> flat;
    for (auto [x, y] : c.points) flat.insert(flat.end(), {x, y});
    const at::Tensor lp = ds->log_density(at::tensor(flat).reshape({-1, 2}));
    for (size_t i = 0; i < c.points.size(); ++i) {
      const auto [x, y] = c.points[i];
      EXPECT_NEAR(lp[i].item<double>(), brute_force_log_density(c.curves, c.sd, x, y), 1e-6)
          << c.type << " at (" << x << ", " << y << ")";
    }
  }
}

// ---- sample statistics --------------------------------------------------------------

TEST(DataRings, SampleStatistics) {
  const int64_t n = 40000;
  const double sd = 0.15;
  auto gen = cpu_gen(4);
  const at::Tensor x = make("rings")->sample(n, gen).to(at::kDouble);
  const at::Tensor r = x.norm(2, 1);
  const at::Tensor ring = r.round().clamp(1, 4);
  // Assigning by rounding truncates each ring's radial law at ±0.5 = ±a·σ: its sd is
  // σ·sqrt(1 − 2aφ(a)/(2Φ(a) − 1)) (the mass beyond, 9e-4, moves symmetrically).
  const double a = 0.5 / sd, phi = std::exp(-a * a / 2) / std::sqrt(2 * kPi);
  const double truncated_sd = sd * std::sqrt(1 - 2 * a * phi / std::erf(a / std::sqrt(2.0)));
  for (int k = 1; k <= 4; ++k) {
    const at::Tensor rk = r.masked_select(ring == k);
    const double frac = double(rk.size(0)) / double(n);
    EXPECT_NEAR(frac, 0.25, 4 * std::sqrt(0.25 * 0.75 / double(n))) << "ring " << k;
    const double se_mean = sd / std::sqrt(double(rk.size(0)));
    EXPECT_NEAR(rk.mean().item<double>(), k, 4 * se_mean) << "ring " << k;
    const double se_sd = sd / std::sqrt(2.0 * double(rk.size(0)));
    EXPECT_NEAR(rk.std().item<double>(), truncated_sd, 4 * se_sd) << "ring " << k;
  }
  // Uniform angle: E cos θ = E sin θ = 0, each with sd 1/√2.
  const at::Tensor theta = at::atan2(x.select(1, 1), x.select(1, 0));
  EXPECT_NEAR(theta.cos().mean().item<double>(), 0, 4 / std::sqrt(2.0 * double(n)));
  EXPECT_NEAR(theta.sin().mean().item<double>(), 0, 4 / std::sqrt(2.0 * double(n)));
}

// Fractions per angular sector (sector k centred on angle 2πk/K) and E|x|² = R² + 2σ².
// Sectors are unbiased even where components overlap: neighbours trade mass symmetrically.
void check_circle_mixture(const std::string& type, double radius, double sd, uint64_t seed) {
  const int64_t n = 40000, k = 8;
  auto gen = cpu_gen(seed);
  const at::Tensor x = make(type)->sample(n, gen).to(at::kDouble);
  const at::Tensor angle = at::atan2(x.select(1, 1), x.select(1, 0));
  const at::Tensor sector = at::remainder((angle / (2 * kPi / k)).round(), double(k));
  for (int s = 0; s < k; ++s) {
    const double frac = (sector == s).sum().item<double>() / double(n);
    EXPECT_NEAR(frac, 1.0 / k, 4 * std::sqrt((1.0 / k) * (1 - 1.0 / k) / double(n)))
        << type << " sector " << s;
  }
  const at::Tensor r2 = (x * x).sum(1);
  const double se = r2.std().item<double>() / std::sqrt(double(n));
  EXPECT_NEAR(r2.mean().item<double>(), radius * radius + 2 * sd * sd, 4 * se) << type;
  EXPECT_NEAR(x.mean(0)[0].item<double>(), 0,
              4 * std::sqrt(radius * radius / 2 + sd * sd) / std::sqrt(double(n)));
}

TEST(DataGmm, SampleStatistics) {
  check_circle_mixture("gmm", 1.0, 0.15, 5);
  check_circle_mixture("8gaussians", 2.0, 0.1, 6);
}

TEST(DataGmm, GridMixtureSampleStatistics) {
  // 25gaussians: nearest grid node by rounding (boundaries are 5σ away); each node
  // gets 1/25 of the draws, and the residuals have sd σ = 0.1 per axis.
  const int64_t n = 50000;
  auto gen = cpu_gen(7);
  const at::Tensor x = make("25gaussians")->sample(n, gen).to(at::kDouble);
  const at::Tensor node = x.round();
  const at::Tensor id = (node.select(1, 0) + 2) * 5 + (node.select(1, 1) + 2);
  for (int i = 0; i < 25; ++i) {
    EXPECT_NEAR((id == i).sum().item<double>() / double(n), 0.04,
                4 * std::sqrt(0.04 * 0.96 / double(n)))
        << "node " << i;
  }
  const at::Tensor resid = x - node;
  for (int d = 0; d < 2; ++d) {
    EXPECT_NEAR(resid.select(1, d).std().item<double>(), 0.1, 4 * 0.1 / std::sqrt(2.0 * double(n)));
  }
}

TEST(DataCheckerboard, SamplesFillTheBlackSquares) {
  const int64_t n = 40000;
  auto gen = cpu_gen(8);
  auto ds = make("checkerboard");
  const at::Tensor x = ds->sample(n, gen).to(at::kDouble);
  EXPECT_TRUE(ds->log_density(x).isfinite().all().item<bool>());  // all on black squares
  const at::Tensor cell = x.floor();
  int squares = 0;
  for (int i = -2; i < 2; ++i) {
    for (int j = -2; j < 2; ++j) {
      const double count =
          ((cell.select(1, 0) == i) & (cell.select(1, 1) == j)).sum().item<double>();
      if ((i + j) % 2 != 0) {
        EXPECT_EQ(count, 0) << "white square " << i << "," << j;
        continue;
      }
      ++squares;
      EXPECT_NEAR(count / double(n), 0.125, 4 * std::sqrt(0.125 * 0.875 / double(n)));
    }
  }
  EXPECT_EQ(squares, 8);
  // Uniform within a square: the fractional parts have mean ½ and variance 1/12.
  const at::Tensor frac = x - cell;
  const double se = std::sqrt(1.0 / 12.0 / double(2 * n));
  EXPECT_NEAR(frac.mean().item<double>(), 0.5, 4 * se);
  EXPECT_NEAR(frac.var().item<double>(), 1.0 / 12.0, 4 * std::sqrt(1.0 / 180.0 / double(2 * n)));
}

TEST(DataPinwheel, SampleStatistics) {
  // |x|² = 1.5²(f₀² + f₁²) with f₀ ~ N(1, 0.3²), f₁ ~ N(0, 0.1²): E|x|² = 2.25 · 1.1.
  const int64_t n = 40000;
  auto gen = cpu_gen(9);
  const at::Tensor x = make("pinwheel")->sample(n, gen).to(at::kDouble);
  const at::Tensor r2 = (x * x).sum(1);
  EXPECT_NEAR(r2.mean().item<double>(), 2.25 * 1.1,
              4 * r2.std().item<double>() / std::sqrt(double(n)));
}

TEST(DataCurves, MoonsAreCentred) {
  // By the point symmetry of the two arcs about the origin, E x = 0.
  const int64_t n = 20000;
  auto gen = cpu_gen(10);
  const at::Tensor x = make("moons")->sample(n, gen).to(at::kDouble);
  for (int d = 0; d < 2; ++d) {
    const at::Tensor v = x.select(1, d);
    EXPECT_NEAR(v.mean().item<double>(), 0, 4 * v.std().item<double>() / std::sqrt(double(n)));
  }
}

// ---- the KDE engine --------------------------------------------------------------

TEST(DataKde, GridMatchesTheDirectSum) {
  // 5000 points from three Gaussians; the gridded KDE against the exact sum, in the
  // bulk (queries near data points) and in an off-grid corner (exact by fallback).
  auto gen = cpu_gen(11);
  const at::Tensor centres = at::tensor({-1.0, 0.0, 1.0, 0.5, 0.0, -1.0}).reshape({3, 2});
  const int64_t n = 5000;
  const at::Tensor pts =
      centres.index_select(0, at::randint(3, {n}, gen)) + 0.3 * at::randn({n, 2}, gen, at::kDouble);
  const double h = 0.15;
  internal::GaussianKde kde(pts, h, h, Box{-3, 3, -3, 3});
  ASSERT_TRUE(kde.uses_grid());
  const at::Tensor q = at::cat({pts.slice(0, 0, 500) + 0.1 * at::randn({500, 2}, gen, at::kDouble),
                                at::tensor({10.0, 10.0}).reshape({1, 2})});
  const at::Tensor direct =
      internal::log_gauss_mixture(q, pts, at::full({n}, -std::log(double(n)), at::kDouble), h, h);
  const at::Tensor gridded = kde.log_density(q);
  EXPECT_LT((gridded - direct).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(gridded[500].item<double>(), direct[500].item<double>());
}

// ---- csv -------------------------------------------------------------------------

TEST_F(DataCsv, ReadsHeaderWhitespaceAndComments) {
  const std::string path =
      write("points.csv", "# made by hand\n\nx,y\n 1.5 , -2\n\t3,4e-1\r\n# more\n\n-5,6\n");
  auto ds = load(path, 0.5);
  EXPECT_EQ(ds->name(), "csv");
  EXPECT_FALSE(ds->log_density_exact());
  auto gen = cpu_gen(12);
  const at::Tensor x = ds->sample(3000, gen);
  const at::Tensor rows = at::tensor({1.5, -2.0, 3.0, 0.4, -5.0, 6.0}, at::kFloat).reshape({3, 2});
  // Every draw is one of the three rows, and each row is drawn.
  const at::Tensor match = (x.unsqueeze(1) == rows.unsqueeze(0)).all(2);  // [n, 3]
  EXPECT_TRUE(match.any(1).all().item<bool>());
  EXPECT_TRUE(match.any(0).all().item<bool>());
}

TEST_F(DataCsv, NoHeader) {
  auto ds = load(write("p.csv", "1,2\n3,4"), 0.5);
  auto gen = cpu_gen(13);
  const at::Tensor x = ds->sample(200, gen);
  EXPECT_TRUE(((x.select(1, 0) == 1) | (x.select(1, 0) == 3)).all().item<bool>());
}

TEST_F(DataCsv, SampleDrawsRowsUniformly) {
  auto ds = load(write("p.csv", "0,0\n1,0\n0,1\n1,1\n"));
  const int64_t n = 40000;
  auto gen = cpu_gen(14);
  const at::Tensor x = ds->sample(n, gen);
  const at::Tensor id = x.select(1, 0) * 2 + x.select(1, 1);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR((id == i).sum().item<double>() / double(n), 0.25,
                4 * std::sqrt(0.25 * 0.75 / double(n)));
  }
}

TEST_F(DataCsv, KdeHandValueAndBox) {
  // Three points, bandwidth 0.5: p(x) = ⅓ Σ_i N(x; X_i, 0.25 I).
  auto ds = load(write("p.csv", "0,0\n1,0\n0,2\n"), 0.5);
  const double h = 0.5, x = 0.3, y = 0.4;
  const double pts[3][2] = {{0, 0}, {1, 0}, {0, 2}};
  double p = 0;
  for (auto& q : pts) {
    const double d2 = (x - q[0]) * (x - q[0]) + (y - q[1]) * (y - q[1]);
    p += std::exp(-d2 / (2 * h * h)) / (2 * kPi * h * h) / 3;
  }
  EXPECT_NEAR(ds->log_density(at::tensor({x, y}).reshape({1, 2}))[0].item<double>(), std::log(p),
              1e-12);
  // Box: bounding box [0, 1] × [0, 2] padded by 10% of the span + 3h per side.
  const Box b = ds->box();
  EXPECT_NEAR(b.xmin, -0.1 - 1.5, 1e-12);
  EXPECT_NEAR(b.xmax, 1.1 + 1.5, 1e-12);
  EXPECT_NEAR(b.ymin, -0.2 - 1.5, 1e-12);
  EXPECT_NEAR(b.ymax, 2.2 + 1.5, 1e-12);
  EXPECT_EQ(ds->to_json(),
            Json({{"type", "csv"}, {"path", dir_ + "/p.csv"}, {"kde_bandwidth", 0.5}}));
}

TEST_F(DataCsv, ScottBandwidthPerAxis) {
  // x ∈ {0, 1, 0, 1}: sd² = 1/3; y ∈ {0, 0, 2, 2}: sd² = 4/3 (n − 1 = 3); h = 4^(−1/6) sd.
  auto ds = load(write("p.csv", "0,0\n1,0\n0,2\n1,2\n"));
  const double f = std::pow(4.0, -1.0 / 6.0);
  const double hx = f * std::sqrt(1.0 / 3.0), hy = f * std::sqrt(4.0 / 3.0);
  const Box b = ds->box();
  EXPECT_NEAR(b.xmin, -0.1 - 3 * hx, 1e-12);
  EXPECT_NEAR(b.ymax, 2.2 + 3 * hy, 1e-12);
  // At the point (0, 0) the four kernels give, by hand:
  double p = 0;
  for (double qx : {0.0, 1.0}) {
    for (double qy : {0.0, 2.0}) {
      p += std::exp(-qx * qx / (2 * hx * hx) - qy * qy / (2 * hy * hy)) / (2 * kPi * hx * hy) / 4;
    }
  }
  EXPECT_NEAR(ds->log_density(at::zeros({1, 2}))[0].item<double>(), std::log(p), 1e-12);
}

// eval.holdout: ⌈fraction·N⌉ rows held out, never drawn by sample(), the split fixed
// by the seed; evaluate_2d computes nll (and the KDE kl) on exactly those rows.
TEST_F(DataCsv, HoldoutIsDisjointFromTrainingAndScoresNll) {
  std::string text;
  for (int i = 0; i < 50; ++i) {
    text += std::to_string(i) + "," + std::to_string(std::sin(0.7 * i)) + "\n";
  }
  const std::string path = write("p.csv", text);
  const Json section = {{"type", "csv"}, {"path", path}};
  auto ds = make_dataset2d(section, "data", {/*holdout=*/0.2, /*seed=*/7});
  const at::Tensor held = ds->held_out();
  ASSERT_TRUE(held.defined());
  ASSERT_EQ(held.sizes(), (at::IntArrayRef{10, 2}));
  // Row i has x = i: the held-out indices, and those sample() hands out.
  std::vector<bool> is_held(50, false);
  for (int64_t k = 0; k < 10; ++k) is_held[size_t(held[k][0].item<float>())] = true;
  auto gen = cpu_gen(3);
  const at::Tensor drawn = ds->sample(4000, gen);
  std::vector<bool> seen(50, false);
  for (int64_t k = 0; k < drawn.size(0); ++k) seen[size_t(drawn[k][0].item<float>())] = true;
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_NE(is_held[i], seen[i]) << "row " << i;  // each row either held out or trained on
  }
  // Deterministic given the seed; another seed gives another split.
  EXPECT_TRUE(at::equal(make_dataset2d(section, "data", {0.2, 7})->held_out(), held));
  EXPECT_FALSE(at::equal(make_dataset2d(section, "data", {0.2, 8})->held_out(), held));
  EXPECT_FALSE(make_dataset2d(section, "data", {0.0, 7})->held_out().defined());
  EXPECT_FALSE(make_dataset2d({{"type", "pinwheel"}}, "data", {0.2, 7})->held_out().defined());

  // nll = −mean log p_θ over the held-out rows, p_θ ∝ exp(−|x − (25, 0)|²/200).
  const eval::ScalarField f = [](const at::Tensor& x) {
    return -(x - at::tensor({25.0f, 0.0f})).pow(2).sum(1) / 200;
  };
  const eval::Grid2D grid{ds->box(), 64};
  eval::EvalOptions opt;
  opt.n_mmd = 50;
  const eval::Report2D rep = eval::evaluate_2d(f, 1.0, *ds, drawn, grid, opt, gen);
  const double nll = -eval::model_log_prob(f, 1.0, rep.log_z, held).mean().item<double>();
  EXPECT_NEAR(rep.nll, nll, 1e-9 * std::abs(nll));
  EXPECT_EQ(rep.nll_data, "held_out");
  EXPECT_EQ(rep.nll_points, 10);
  const double kl = (ds->log_density(held) + rep.nll).mean().item<double>();
  EXPECT_NEAR(rep.kl, kl, 1e-9 * (1 + std::abs(kl)));
  EXPECT_NE(rep.to_json()["kl_note"].get<std::string>().find("held-out"), std::string::npos);
}

TEST_F(DataCsv, HoldoutLeavingFewerThanTwoTrainingPointsIsAUserError) {
  const std::string path = write("p.csv", "0,0\n1,0\n0,2\n");
  const std::string msg = user_error_message([&] {
    make_dataset2d({{"type", "csv"}, {"path", path}}, "data", {0.5, 1});
  });
  EXPECT_NE(msg.find("eval.holdout"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 of the 3 points"), std::string::npos) << msg;
}

TEST_F(DataCsv, ManyPointsIntegrateToOne) {
  // 3000 points (the gridded KDE): ∫ p over the data box.
  auto gen = cpu_gen(15);
  const at::Tensor pts = at::randn({3000, 2}, gen, at::kDouble) * at::tensor({1.0, 0.5});
  std::string text = "x,y\n";
  for (int64_t i = 0; i < pts.size(0); ++i) {
    text += std::to_string(pts[i][0].item<double>()) + "," +
            std::to_string(pts[i][1].item<double>()) + "\n";
  }
  auto ds = load(write("many.csv", text));
  const int64_t r = 300;
  const double mass = ds->log_density(grid_points(ds->box(), r)).exp().sum().item<double>() *
                      cell_area(ds->box(), r);
  EXPECT_NEAR(mass, 1.0, 1e-3);
}

TEST_F(DataCsv, MissingFile) {
  const std::string path = dir_ + "/nope.csv";
  EXPECT_EQ(user_error_message([&] { load(path); }),
            "cannot read data file " + path + ": no such file or not readable");
}

TEST_F(DataCsv, GarbledLineNamesItsLine) {
  const std::string path = write("points.csv", "x,y\n1,2\n\n# c\n3,4\n5,6\n1.0;abc\n7,8\n");
  EXPECT_EQ(user_error_message([&] { load(path); }),
            path + ":7: expected two numbers \"x,y\", got \"1.0;abc\"");
}

TEST_F(DataCsv, GarbledFirstLineIsNotAHeader) {
  const std::string path = write("points.csv", "1.0;abc\n1,2\n3,4\n");
  EXPECT_EQ(user_error_message([&] { load(path); }),
            path + ":1: expected two numbers \"x,y\", got \"1.0;abc\"");
  const std::string three = write("three.csv", "1,2\n3,4,5\n");
  EXPECT_EQ(user_error_message([&] { load(three); }),
            three + ":2: expected two numbers \"x,y\", got \"3,4,5\"");
}

TEST_F(DataCsv, NonFiniteValue) {
  const std::string path = write("points.csv", "1,2\n3,4\nnan, 1\n");
  EXPECT_EQ(user_error_message([&] { load(path); }),
            path + ":3: expected two finite numbers \"x,y\", got \"nan, 1\"");
  const std::string big = write("big.csv", "1,2\n3,1e999\n");
  EXPECT_EQ(user_error_message([&] { load(big); }),
            big + ":2: expected two finite numbers \"x,y\", got \"3,1e999\"");
}

TEST_F(DataCsv, TooFewPoints) {
  for (const std::string text : {"", "x,y\n# nothing here\n\n"}) {
    const std::string path = write("empty.csv", text);
    EXPECT_EQ(user_error_message([&] { load(path); }), path + ": no data points (need at least 2)");
  }
  const std::string one = write("one.csv", "1,2\n");
  EXPECT_EQ(user_error_message([&] { load(one); }), one + ": only 1 data point (need at least 2)");
  const std::string same = write("same.csv", "1,2\n1,2\n");
  EXPECT_NE(user_error_message([&] { load(same); }).find("data.kde_bandwidth > 0"),
            std::string::npos);
  EXPECT_NO_THROW(load(same, 0.1));
}

TEST_F(DataCsv, ConfigErrors) {
  EXPECT_EQ(user_error_message([] {
              make_dataset2d({{"type", "csv"}});
            }),
            "data.path: required for type csv");
  const std::string path = write("p.csv", "1,2\n3,4\n");
  const std::string bad = user_error_message([&] { load(path, -1); });
  EXPECT_NE(bad.find("data.kde_bandwidth: must be >= 0"), std::string::npos) << bad;
}

// ---- factory errors ----------------------------------------------------------------

TEST(DataFactory, UnknownTypeListsTheValidOnes) {
  const std::string msg = user_error_message([] { make_dataset2d({{"type", "ringz"}}); });
  EXPECT_NE(
      msg.find("data.type: unknown value \"ringz\" (did you mean rings?); allowed: rings, gmm, "
               "8gaussians"),
      std::string::npos)
      << msg;
  EXPECT_NE(msg.find("csv"), std::string::npos) << msg;
  const std::string nested = user_error_message([] {
    make_dataset2d({{"type", "moon"}}, "eval.data");
  });
  EXPECT_EQ(nested.rfind("eval.data.type: unknown value \"moon\" (did you mean moons?)", 0), 0u)
      << nested;
}

TEST(DataFactory, UnknownKeySuggestsTheClosest) {
  const std::string msg = user_error_message([] {
    make_dataset2d({{"type", "gmm"}, {"nosie", 0.1}});
  });
  EXPECT_NE(msg.find("data.nosie"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean data.noise?"), std::string::npos) << msg;
}

TEST(DataFactory, NoiseIsAcceptedAndTypeDefaultsToRings) {
  auto ds = make_dataset2d({{"type", "moons"}, {"noise", 0.05}});
  EXPECT_EQ(ds->to_json(), Json({{"type", "moons"}}));
  EXPECT_EQ(make_dataset2d(Json::object())->name(), "rings");
  EXPECT_EQ(make_dataset2d(Json())->name(), "rings");
}

}  // namespace
}  // namespace anila::data
