// test_eval.cpp — tests of the 2D grid evaluation (anila/eval/grid2d.h).
//
// Notation: N(μ, s²I) an isotropic 2D Gaussian, Φ the standard normal CDF, R cells per
// axis, h = cell width, n sample size. Every expected value is a closed form or a hand
// computation; statistical tolerances come from a Monte Carlo standard error (SE)
// computed in the test, or from a bound stated beside it:
//   - the midpoint rule on a smooth, rapidly decaying integrand is accurate far below
//     1e-9 at the resolutions used (Euler–Maclaurin: all boundary terms vanish);
//   - a histogram TV changes by at most 1/n when one of n points moves, so by
//     Efron–Stein its SD is at most 1/√(2n);
//   - E|Bin(n, p) − np| has de Moivre's closed form, which gives the expected
//     histogram TV of n exact samples.
//
//   run: ./test_eval   (all CPU, fixed seeds, about a second)
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "anila/eval/grid2d.h"

namespace anila::eval {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double normal_cdf(double z) {
  return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

// N(μ, s²I) with its exact log-density; box = μ ± half_width.
class GaussianData : public data::Dataset2D {
 public:
  GaussianData(double mx, double my, double s, double half_width = 8.0)
      : mx_(mx), my_(my), s_(s), half_(half_width) {}
  std::string name() const override { return "gaussian"; }
  at::Tensor sample(int64_t n, at::Generator& gen) const override {
    at::Tensor z = at::randn({n, 2}, gen, at::kDouble).mul_(s_);
    z.select(1, 0).add_(mx_);
    z.select(1, 1).add_(my_);
    return z.to(at::kFloat);
  }
  at::Tensor log_density(const at::Tensor& x) const override {
    at::Tensor d = x.to(at::kDouble);
    at::Tensor dx = d.select(1, 0) - mx_, dy = d.select(1, 1) - my_;
    return -(dx * dx + dy * dy) / (2 * s_ * s_) - std::log(2 * kPi * s_ * s_);
  }
  bool log_density_exact() const override { return true; }
  data::Box box() const override { return {mx_ - half_, mx_ + half_, my_ - half_, my_ + half_}; }
  Json to_json() const override { return {{"type", "gaussian"}}; }

 private:
  double mx_, my_, s_, half_;
};

// f(x) = −|x − μ|²/(2s²) · scale, as a ScalarField.
ScalarField gaussian_field(double mx, double my, double s, double scale = 1.0) {
  return [=](const at::Tensor& x) {
    at::Tensor d = x.to(at::kDouble);
    at::Tensor dx = d.select(1, 0) - mx, dy = d.select(1, 1) - my;
    return -(dx * dx + dy * dy) * (scale / (2 * s * s));
  };
}

Grid2D square_grid(double half, int64_t r) {
  return Grid2D{{-half, half, -half, half}, r};
}

// E|Bin(n, p) − np| (de Moivre): 2ν C(n, ν) p^ν (1 − p)^(n − ν + 1), ν = ⌊np⌋ + 1.
double binomial_mean_abs_dev(int64_t n, double p) {
  if (p <= 0 || p >= 1) return 0;
  const double nu = std::floor(n * p) + 1;
  if (nu > n) return 0;
  const double log_c = std::lgamma(n + 1.0) - std::lgamma(nu + 1) - std::lgamma(n - nu + 1);
  return 2 * nu * std::exp(log_c + nu * std::log(p) + (n - nu + 1) * std::log1p(-p));
}

// Exact masses of N(μx, 1) × N(μy, 1) in the b×b bins of [lo, hi]², row-major [iy, ix].
std::vector<double> gaussian_bin_masses(double mx, double my, double lo, double hi, int64_t b) {
  std::vector<double> mass;
  const double w = (hi - lo) / b;
  for (int64_t iy = 0; iy < b; ++iy)
    for (int64_t ix = 0; ix < b; ++ix) {
      const double px = normal_cdf(lo + (ix + 1) * w - mx) - normal_cdf(lo + ix * w - mx);
      const double py = normal_cdf(lo + (iy + 1) * w - my) - normal_cdf(lo + iy * w - my);
      mass.push_back(px * py);
    }
  return mass;
}

// Expected histogram TV of n exact draws from the bin masses `q` against themselves.
double expected_noise_tv(const std::vector<double>& q, int64_t n) {
  double e = 0;
  for (double p : q) e += binomial_mean_abs_dev(n, p) / n;
  return 0.5 * e;
}

// ---------------------------------------------------------------------------------------
// Grid

TEST(EvalGrid, PointsAreRowMajorCellCentres) {
  const Grid2D grid{{0.0, 4.0, -2.0, 2.0}, 4};  // dx = dy = 1
  const at::Tensor pts = grid.points();
  ASSERT_EQ(pts.scalar_type(), at::kFloat);
  ASSERT_EQ(pts.sizes(), (at::IntArrayRef{16, 2}));
  // index = iy*R + ix: (ix, iy) = (1, 2) is row 9 at (0.5 + 1, −2 + 2.5).
  EXPECT_FLOAT_EQ(pts[9][0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(pts[9][1].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(pts[0][0].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(pts[0][1].item<float>(), -1.5f);
  EXPECT_FLOAT_EQ(pts[15][0].item<float>(), 3.5f);
  EXPECT_FLOAT_EQ(pts[15][1].item<float>(), 1.5f);
  EXPECT_DOUBLE_EQ(grid.cell_area(), 1.0);
  EXPECT_DOUBLE_EQ(Grid2D({{0.0, 1.0, 0.0, 3.0}, 2}).cell_area(), 0.5 * 1.5);
  const Json j = grid.to_json();
  EXPECT_EQ(j.at("xmin").get<double>(), 0.0);
  EXPECT_EQ(j.at("xmax").get<double>(), 4.0);
  EXPECT_EQ(j.at("ymin").get<double>(), -2.0);
  EXPECT_EQ(j.at("ymax").get<double>(), 2.0);
  EXPECT_EQ(j.at("resolution").get<int64_t>(), 4);
}

// ∫ exp(−|x|²/2) dx = 2π; ∫ exp(−|x|²) dx = π (T = 0.5). Tails beyond 8 hold e^−32, and
// the midpoint rule is spectrally accurate here, so 1e-9 is generous.
TEST(EvalGrid, LogZOfGaussianMatchesClosedForm) {
  const Grid2D grid = square_grid(8.0, 512);
  const ScalarField f = gaussian_field(0, 0, 1);
  EXPECT_NEAR(grid_density(f, 1.0, grid).log_z, std::log(2 * kPi), 1e-9);
  EXPECT_NEAR(grid_density(f, 0.5, grid).log_z, std::log(kPi), 1e-9);
  // Chunking does not change the answer.
  EXPECT_NEAR(grid_density(f, 0.5, grid, /*chunk=*/1000).log_z, std::log(kPi), 1e-9);
}

// log p = f/T − log Z at each cell and Σ exp(log p) Δ = 1 (up to rounding) for a
// non-Gaussian field, a ring.
TEST(EvalGrid, NormalisedDensityIntegratesToOne) {
  const Grid2D grid{{-3.0, 3.0, -2.0, 4.0}, 128};
  const ScalarField ring = [](const at::Tensor& x) {
    at::Tensor r = x.to(at::kDouble).norm(2, /*dim=*/1);
    return -(r - 1.5).pow(2) * 8.0;
  };
  const double temperature = 0.7;
  const GridDensity g = grid_density(ring, temperature, grid);
  ASSERT_EQ(g.log_density.sizes(), (at::IntArrayRef{128, 128}));
  ASSERT_EQ(g.log_density.scalar_type(), at::kDouble);
  EXPECT_NEAR(g.log_density.exp().sum().item<double>() * grid.cell_area(), 1.0, 1e-12);
  const at::Tensor expect = (ring(grid.points()) / temperature - g.log_z).reshape({128, 128});
  EXPECT_TRUE(at::allclose(g.log_density, expect, /*rtol=*/0, /*atol=*/1e-10));
  EXPECT_TRUE(at::allclose(grid_log_density(ring, temperature, grid), g.log_density));
  // model_log_prob at the grid points is the same quantity.
  const at::Tensor lp = model_log_prob(ring, temperature, g.log_z, grid.points());
  EXPECT_TRUE(at::allclose(lp.reshape({128, 128}), g.log_density, 0, 1e-10));
}

TEST(EvalGrid, NonFiniteFieldGivesNaNWithoutThrowing) {
  const Grid2D grid = square_grid(2.0, 16);
  const ScalarField nan_at_origin = [](const at::Tensor& x) {
    at::Tensor f = -x.to(at::kDouble).pow(2).sum(1);
    f[0] = kNaN;
    return f;
  };
  const ScalarField inf_somewhere = [](const at::Tensor& x) {
    at::Tensor f = -x.to(at::kDouble).pow(2).sum(1);
    f[5] = kInf;
    return f;
  };
  for (const ScalarField& f : {nan_at_origin, inf_somewhere}) {
    GridDensity g;
    ASSERT_NO_THROW(g = grid_density(f, 1.0, grid));
    EXPECT_TRUE(std::isnan(g.log_z));
    EXPECT_TRUE(at::isnan(g.log_density).all().item<bool>());
  }
  // −inf is a cell of zero density, not an error.
  const ScalarField hole = [](const at::Tensor& x) {
    at::Tensor f = at::zeros({x.size(0)}, at::kDouble);
    f[0] = -kInf;
    return f;
  };
  const GridDensity g = grid_density(hole, 1.0, grid);
  EXPECT_NEAR(g.log_z, std::log(255 * grid.cell_area()), 1e-12);
  EXPECT_EQ(g.log_density.exp().reshape({-1})[0].item<double>(), 0.0);
}

// ---------------------------------------------------------------------------------------
// Grid TV

TEST(EvalTv, IdenticalIsZeroAndSeparatedIsOne) {
  const Grid2D grid{{-16.0, 16.0, -8.0, 8.0}, 256};
  const at::Tensor p = grid_log_density(gaussian_field(-10, 0, 1), 1.0, grid);
  const at::Tensor q = grid_log_density(gaussian_field(10, 0, 1), 1.0, grid);
  EXPECT_EQ(grid_tv(p, p, grid.cell_area()), 0.0);
  // Overlap ≈ 2Φ(−10) ≈ 1.5e-23.
  EXPECT_NEAR(grid_tv(p, q, grid.cell_area()), 1.0, 1e-9);
  EXPECT_NEAR(grid_tv(q, p, grid.cell_area()), 1.0, 1e-9);
}

// N(0, I) vs N((δ, 0), I): TV = 2Φ(δ/2) − 1. δ/2 = 0.5 is a cell edge (h = 1/32), so each
// side is smooth and the midpoint error is h²/24·|jump of d|p−q|/dx| ≈ 4.1e-5·0.70/2
// ≈ 1.4e-5 in the TV; tolerance 1e-4.
TEST(EvalTv, ShiftedGaussiansMatchClosedForm) {
  const Grid2D grid = square_grid(8.0, 512);
  const double delta = 1.0;
  const at::Tensor p = grid_log_density(gaussian_field(0, 0, 1), 1.0, grid);
  const at::Tensor q = grid_log_density(gaussian_field(delta, 0, 1), 1.0, grid);
  EXPECT_NEAR(grid_tv(p, q, grid.cell_area()), 2 * normal_cdf(delta / 2) - 1, 1e-4);
}

TEST(EvalTv, NegativeInfinityIsZeroDensity) {
  // Two hand-made densities on 2 cells of area ½: p = (2, 0), q = (1, 1); TV = ½·(1 + 1)·½.
  const at::Tensor log_p = at::tensor({std::log(2.0), -kInf}, at::kDouble).reshape({1, 2});
  const at::Tensor log_q = at::zeros({1, 2}, at::kDouble);
  EXPECT_DOUBLE_EQ(grid_tv(log_p, log_q, 0.5), 0.5);
}

// ---------------------------------------------------------------------------------------
// Histogram TV

TEST(EvalHistogram, HandCountedUniformCaseAndOutsideMass) {
  // Uniform reference on [0, 1]², R = 4, 2×2 bins: one point per bin gives TV 0.
  const Grid2D grid{{0.0, 1.0, 0.0, 1.0}, 4};
  const at::Tensor uniform = at::zeros({4, 4}, at::kDouble);
  at::Tensor inside =
      at::tensor({0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75}, at::kFloat).reshape({4, 2});
  EXPECT_NEAR(histogram_tv(inside, uniform, grid, 2), 0.0, 1e-15);
  // All four in one bin: ½(3/4 + 3·1/4) = 3/4.
  EXPECT_NEAR(histogram_tv(at::full({4, 2}, 0.1f), uniform, grid, 2), 0.75, 1e-15);
  // Add four rows outside (far away, NaN, inf): emp = ½·ref + ½·outside, so TV = ½.
  at::Tensor outside =
      at::tensor({5.0f, 5.0f, NAN, 0.5f, 0.5f, INFINITY, -0.1f, 0.5f}).reshape({4, 2});
  EXPECT_NEAR(histogram_tv(at::cat({inside, outside}), uniform, grid, 2), 0.5, 1e-15);
  // Only outside mass: TV = 1. The closed box's edges count as inside.
  EXPECT_NEAR(histogram_tv(outside, uniform, grid, 2), 1.0, 1e-15);
  EXPECT_NEAR(histogram_tv(at::tensor({1.0f, 1.0f}).reshape({1, 2}), uniform, grid, 1), 0.0, 1e-15);
}

TEST(EvalHistogram, BinsReduceToTheLargestDivisor) {
  EXPECT_EQ(histogram_bins(256, 64), 64);
  EXPECT_EQ(histogram_bins(6, 4), 3);
  EXPECT_EQ(histogram_bins(7, 4), 1);
  EXPECT_EQ(histogram_bins(8, 100), 8);
  // R = 6 on [0, 3]², asking for 4 bins uses 3 (unit bins): one point per unit cell is
  // TV 0 (with 2 bins of width 1.5 the counts would be 1:2 per axis).
  const Grid2D grid{{0.0, 3.0, 0.0, 3.0}, 6};
  std::vector<float> xy;
  for (int iy = 0; iy < 3; ++iy)
    for (int ix = 0; ix < 3; ++ix) {
      xy.push_back(ix + 0.5f);
      xy.push_back(iy + 0.5f);
    }
  const at::Tensor pts = at::tensor(xy).reshape({9, 2});
  const at::Tensor uniform = at::zeros({6, 6}, at::kDouble);
  EXPECT_NEAR(histogram_tv(pts, uniform, grid, 4), 0.0, 1e-15);
  EXPECT_GT(histogram_tv(pts, uniform, grid, 2), 0.1);
}

// n exact draws: TV has expectation E (de Moivre, from exact bin masses) and SD at most
// 1/√(2n); we allow 5 SD. The reference is the grid density (differs from the exact bin
// masses by O(h²) ≈ 1e-5, negligible here).
TEST(EvalHistogram, ExactSamplesGiveNoiseLevelTvThatShrinksWithN) {
  const double half = 6.0;
  const int64_t bins = 32;
  const Grid2D grid = square_grid(half, 256);
  const at::Tensor ref = grid_log_density(gaussian_field(0, 0, 1), 1.0, grid);
  const std::vector<double> q = gaussian_bin_masses(0, 0, -half, half, bins);
  const GaussianData data(0, 0, 1);
  at::Generator gen = make_generator(7, c10::kCPU);
  double tv_small = 0, tv_large = 0;
  for (int64_t n : {1000, 100000}) {
    const double tv = histogram_tv(data.sample(n, gen), ref, grid, bins);
    EXPECT_NEAR(tv, expected_noise_tv(q, n), 5 / std::sqrt(2.0 * n)) << "n = " << n;
    (n == 1000 ? tv_small : tv_large) = tv;
  }
  EXPECT_LT(tv_large, tv_small / 3);
}

// Samples from N((2, 0), I) against N(0, I): the binned TV of the two exact laws, T_b
// (≤ 2Φ(1) − 1 ≈ 0.683), is computed from Φ; the sampled TV differs from it by at most
// TV(empirical, N((2,0),I) binned), whose mean is the noise TV and SD ≤ 1/√(2n).
TEST(EvalHistogram, ShiftedSamplesGiveTheBinnedClosedForm) {
  const double half = 6.0;
  const int64_t bins = 32, n = 100000;
  const Grid2D grid = square_grid(half, 256);
  const at::Tensor ref = grid_log_density(gaussian_field(0, 0, 1), 1.0, grid);
  const std::vector<double> p = gaussian_bin_masses(0, 0, -half, half, bins);
  const std::vector<double> q = gaussian_bin_masses(2, 0, -half, half, bins);
  double binned = 0;
  for (size_t k = 0; k < p.size(); ++k) binned += 0.5 * std::abs(p[k] - q[k]);
  ASSERT_LT(binned, 2 * normal_cdf(1.0) - 1);
  ASSERT_GT(binned, 0.6);
  at::Generator gen = make_generator(8, c10::kCPU);
  const double tv = histogram_tv(GaussianData(2, 0, 1).sample(n, gen), ref, grid, bins);
  EXPECT_NEAR(tv, binned, expected_noise_tv(q, n) + 5 / std::sqrt(2.0 * n));
}

// ---------------------------------------------------------------------------------------
// MMD

// Points on the x axis: x = {0, 1}, y = {0, 2}. Pairwise distances of the pool
// {0, 1, 0, 2}: 1, 0, 2, 1, 1, 2 → median 1. Kxx = k(1), Kyy = k(2),
// Kxy = (k(0) + k(2) + k(1) + k(1))/4, so MMD² = k(2)/2 − 1/2, averaged over h.
TEST(EvalMmd, HandComputedFourPointCase) {
  const at::Tensor x = at::tensor({0.0, 0.0, 1.0, 0.0}, at::kDouble).reshape({2, 2});
  const at::Tensor y = at::tensor({0.0, 0.0, 2.0, 0.0}, at::kDouble).reshape({2, 2});
  double expect = 0;
  for (double h : {0.1, 0.2, 0.5, 1.0, 2.0}) expect += 0.5 * std::exp(-4 / (2 * h * h)) - 0.5;
  expect /= 5;
  EXPECT_NEAR(mmd2(x, y), expect, 1e-13);
  EXPECT_NEAR(mmd2(y, x), expect, 1e-13);
  // Non-finite rows are dropped.
  const at::Tensor x_bad =
      at::cat({x, at::tensor({kNaN, 0.0, 1.0, kInf}, at::kDouble).reshape({2, 2})});
  EXPECT_NEAR(mmd2(x_bad, y), expect, 1e-13);
  // Too few finite rows: NaN, not an exception.
  EXPECT_TRUE(std::isnan(mmd2(x.narrow(0, 0, 1), y)));
}

// Same law: the mean of 20 independent estimates is within 4 SE of 0 (SE from their own
// spread). A shift of 1 gives a value many null SDs above 0. Symmetric in x, y.
TEST(EvalMmd, NullIsCenteredShiftIsPositiveAndSymmetric) {
  at::Generator gen = make_generator(11, c10::kCPU);
  const int64_t reps = 20, n = 300;
  std::vector<double> null;
  for (int64_t i = 0; i < reps; ++i) {
    null.push_back(mmd2(at::randn({n, 2}, gen, at::kDouble), at::randn({n, 2}, gen, at::kDouble)));
  }
  double mean = 0, var = 0;
  for (double v : null) mean += v / reps;
  for (double v : null) var += (v - mean) * (v - mean) / (reps - 1);
  const double sd = std::sqrt(var);
  EXPECT_LT(std::abs(mean), 4 * sd / std::sqrt(double(reps)));
  EXPECT_LT(*std::min_element(null.begin(), null.end()), 0.0);  // unbiased: can go negative

  const at::Tensor x = at::randn({n, 2}, gen, at::kDouble);
  const at::Tensor y = at::randn({n, 2}, gen, at::kDouble) + 1.0;
  const double shifted = mmd2(x, y);
  EXPECT_GT(shifted, 20 * sd);
  EXPECT_NEAR(mmd2(y, x), shifted, 1e-12 * std::abs(shifted));
  // Also symmetric when the median uses a subset (> 500 rows per side).
  const at::Tensor big_x = at::randn({1200, 2}, gen, at::kDouble);
  const at::Tensor big_y = at::randn({700, 2}, gen, at::kDouble) * 1.5;
  EXPECT_NEAR(mmd2(big_x, big_y), mmd2(big_y, big_x), 1e-12);
}

// ---------------------------------------------------------------------------------------
// evaluate_2d

// KL(N(0,I) ‖ N(μ, s²I)) in 2D = 2 log s + (2 + |μ|²)/(2s²) − 1.
double gaussian_kl(double mx, double my, double s) {
  return 2 * std::log(s) + (2 + mx * mx + my * my) / (2 * s * s) - 1;
}

TEST(EvalReport, SelfModelHasZeroKlAndTv) {
  const GaussianData data(0, 0, 1, /*half_width=*/8);
  const Grid2D grid{data.box(), 256};
  at::Generator gen = make_generator(1, c10::kCPU);
  const at::Tensor samples = data.sample(5000, gen);
  const ScalarField f = [&](const at::Tensor& x) { return data.log_density(x); };
  EvalOptions opt;
  opt.n_data = 2000;
  opt.n_mmd = 500;
  const Report2D rep = evaluate_2d(f, 1.0, data, samples, grid, opt, gen);
  // log p_data − log p_θ = log Z_grid − log 1 is constant: only grid error (< 1e-9).
  EXPECT_LT(std::abs(rep.kl), 1e-3);
  EXPECT_NEAR(rep.log_z, 0.0, 1e-9);
  EXPECT_NEAR(rep.tv, 0.0, 1e-12);
  EXPECT_NEAR(rep.sample_tv, rep.sample_tv_model, 1e-12);
}

// Data N(0, I), model N(μ, s²I) as f = −|x−μ|²/(2s²) with T = 1, and as f/4 with T = 0.25.
// kl matches the closed form within 4 SE (SE = sd of log p_data − log p_θ over an
// independent batch / √n_data); the grid error in log Z (tails beyond 6 model SDs,
// ~1e-9) is far smaller. nll − kl = −mean log p_data has mean H = log 2π + 1 and SD 1/√n
// (Var |x|²/2 = 1).
TEST(EvalReport, GaussianKlMatchesClosedForm) {
  const double mx = 0.5, my = -0.3, s = 1.5;
  const GaussianData data(0, 0, 1, /*half_width=*/10);
  const Grid2D grid{data.box(), 256};
  EvalOptions opt;
  opt.n_data = 10000;
  opt.n_mmd = 1000;

  at::Generator aux = make_generator(99, c10::kCPU);
  const at::Tensor xs = data.sample(opt.n_data, aux);
  const at::Tensor ratio = data.log_density(xs) - model_log_prob(gaussian_field(mx, my, s), 1.0,
                                                                 std::log(2 * kPi * s * s), xs);
  const double se = ratio.std().item<double>() / std::sqrt(double(opt.n_data));

  std::vector<double> kls;
  for (double temperature : {1.0, 0.25}) {
    at::Generator gen = make_generator(5, c10::kCPU);
    const at::Tensor samples = data.sample(4000, gen);
    const ScalarField f = gaussian_field(mx, my, s, /*scale=*/temperature);
    const Report2D rep = evaluate_2d(f, temperature, data, samples, grid, opt, gen);
    EXPECT_NEAR(rep.kl, gaussian_kl(mx, my, s), 4 * se) << "T = " << temperature;
    // exp(f/T) = exp(−|x−μ|²/(2s²)) for both: log Z = log 2πs².
    EXPECT_NEAR(rep.log_z, std::log(2 * kPi * s * s), 1e-6);
    EXPECT_NEAR(rep.nll - rep.kl, std::log(2 * kPi) + 1, 5 / std::sqrt(double(opt.n_data)));
    kls.push_back(rep.kl);
  }
  // Same seed, same data draws, same model: the two temperatures agree to rounding.
  EXPECT_NEAR(kls[0], kls[1], 1e-9);
}

// End to end with exact data samples as the "chain samples": all fields set; sample_tv
// and sample_tv_floor are two independent draws of the same noise TV, so they differ by
// less than 5·√2 · 1/√(2n) = 5/√n; the model's TV to the data has its closed form
// (N(0,I) vs N((1,0), I): 2Φ(½) − 1, grid error ≤ 1e-4 as in EvalTv).
TEST(EvalReport, EndToEndFieldsAndSampleFloor) {
  const GaussianData data(0, 0, 1, /*half_width=*/8);
  const Grid2D grid{data.box(), 256};
  at::Generator gen = make_generator(3, c10::kCPU);
  const int64_t n = 10000;
  const at::Tensor samples = data.sample(n, gen);
  EvalOptions opt;
  const Report2D rep = evaluate_2d(gaussian_field(1, 0, 1), 1.0, data, samples, grid, opt, gen);
  EXPECT_NEAR(rep.kl, gaussian_kl(1, 0, 1), 0.05);  // KL = ½; SE ≈ 0.01
  EXPECT_NEAR(rep.tv, 2 * normal_cdf(0.5) - 1, 1e-4);
  EXPECT_NEAR(rep.sample_tv, rep.sample_tv_floor, 5 / std::sqrt(double(n)));
  EXPECT_GT(rep.sample_tv_model, rep.sample_tv + 0.2);  // samples are from the data, not p_θ
  EXPECT_LT(std::abs(rep.sample_mmd), 0.01);
  EXPECT_TRUE(rep.data_log_density_exact);
  ASSERT_EQ(rep.log_density.sizes(), (at::IntArrayRef{256, 256}));
  ASSERT_EQ(rep.data_log_density.sizes(), (at::IntArrayRef{256, 256}));
  EXPECT_EQ(rep.data_log_density.scalar_type(), at::kDouble);
  const Json j = rep.to_json();
  for (const char* key :
       {"kl", "tv", "nll", "log_z", "sample_tv", "sample_tv_model", "sample_mmd", "sample_tv_floor",
        "data_log_density_exact", "border_mass", "log_z_half_res", "nll_data", "nll_points"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j.at("kl").get<double>(), rep.kl);
  EXPECT_EQ(j.at("nll_data"), "fresh_draws");  // a generator: no held-out points
  EXPECT_EQ(j.at("nll_points").get<int64_t>(), opt.n_data);
  EXPECT_EQ(j.size(), 13u);  // no grid_warning on this grid, no kl_note for exact data
}

// A broken sampler (a quarter of the rows NaN or inf) and a model with NaN somewhere:
// no exception. Non-finite rows are outside mass o = ¼, and TV ≥ o (the outside bin
// alone contributes o/2 and the missing inside mass another o/2).
TEST(EvalReport, NonFiniteSamplesAndModelDoNotThrow) {
  const GaussianData data(0, 0, 1, /*half_width=*/8);
  const Grid2D grid{data.box(), 64};
  at::Generator gen = make_generator(4, c10::kCPU);
  at::Tensor samples = data.sample(2000, gen);
  samples.narrow(0, 0, 250).fill_(NAN);
  samples.narrow(0, 250, 250).select(1, 1).fill_(INFINITY);
  EvalOptions opt;
  opt.n_data = 1000;
  opt.n_mmd = 500;
  opt.hist_bins = 16;
  const ScalarField nan_model = [](const at::Tensor& x) {
    at::Tensor f = -x.to(at::kDouble).pow(2).sum(1) / 2;
    return at::where(x.select(1, 0).to(at::kDouble) > 7.0, at::full_like(f, kNaN), f);
  };
  Report2D rep;
  ASSERT_NO_THROW(rep = evaluate_2d(nan_model, 1.0, data, samples, grid, opt, gen));
  EXPECT_TRUE(std::isnan(rep.kl));
  EXPECT_TRUE(std::isnan(rep.tv));
  EXPECT_TRUE(std::isnan(rep.nll));
  EXPECT_TRUE(std::isnan(rep.log_z));
  EXPECT_TRUE(std::isnan(rep.sample_tv_model));
  EXPECT_GE(rep.sample_tv, 0.25);
  EXPECT_LT(rep.sample_tv_floor, 0.1);
  EXPECT_TRUE(std::isfinite(rep.sample_mmd));
  EXPECT_LT(std::abs(rep.sample_mmd), 0.02);
  EXPECT_EQ(rep.to_json().at("kl").dump(), "null");  // NaN is written as null
}

// Full-size timing (R = 256, 10k data, 10k samples, n_mmd = 2000), one thread; printed,
// not asserted. The field is a cheap closed form so the time is evaluate_2d's own.
TEST(EvalReport, FullSizeTiming) {
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const GaussianData data(0, 0, 1, /*half_width=*/8);
  const Grid2D grid{data.box(), 256};
  at::Generator gen = make_generator(6, c10::kCPU);
  const at::Tensor samples = data.sample(10000, gen);
  const auto t0 = std::chrono::steady_clock::now();
  const Report2D rep =
      evaluate_2d(gaussian_field(0.2, 0, 1.1), 1.0, data, samples, grid, EvalOptions(), gen);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  at::set_num_threads(threads);
  std::printf("evaluate_2d full size: %.3f s (kl %.4f, sample_mmd %.2e)\n", secs, rep.kl,
              rep.sample_mmd);
  EXPECT_TRUE(std::isfinite(rep.kl));
}

}  // namespace
}  // namespace anila::eval
