// test_targets.cpp — tests of the analytic sampler targets (anila/targets/analytic.h,
// definitions in docs/targets.md).
//
// Notation: z: [B, D] points, f: [B] log density, g: [B, D] its gradient; n exact
// draws; SE a Monte Carlo standard error derived in the test (closed form where
// the distribution is Gaussian or its moments are known, else estimated from the
// sample's own fourth moments); Δ a grid cell's area. Expected values come from
// hand computations, closed forms or brute-force formulas written here from the
// documented definitions, never from the code's output recorded once. Statistical
// checks use fixed seeds and a 4·SE tolerance.
//
// Grid integrals: the midpoint rule on a smooth density whose mass lies well
// inside the box is accurate far below 1e-6 once the cell width is under σ/2
// (Poisson summation: error ~ exp(−2π²σ²/δ²)), σ the smallest local scale.
//
//   run: ./anila_tests --gtest_filter='Targets*'   (CPU, a few seconds)
#include <gtest/gtest.h>

#include "test_util.h"

#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/targets/analytic.h"

namespace anila::targets {
namespace {

constexpr double kPi = 3.14159265358979323846;
const double kLog2Pi = std::log(2 * kPi);

at::Generator cpu_gen(uint64_t seed) {
  return make_generator(seed, c10::Device(c10::kCPU));
}

using anila::test::user_error_message;

// Cell centres of an nx×ny grid over [x0, x1]×[y0, y1]: [nx·ny, 2] float64.
at::Tensor grid_points(double x0, double x1, double y0, double y1, int64_t nx, int64_t ny) {
  const at::Tensor xs = x0 + (at::arange(nx, at::kDouble) + 0.5) * ((x1 - x0) / double(nx));
  const at::Tensor ys = y0 + (at::arange(ny, at::kDouble) + 0.5) * ((y1 - y0) / double(ny));
  return at::stack({xs.repeat({ny}), ys.repeat_interleave(nx)}, 1);
}

// Scalar log N(x; 0, var).
double log_normal(double x, double var) {
  return -0.5 * x * x / var - 0.5 * std::log(2 * kPi * var);
}

// ---- gradients ------------------------------------------------------------------

struct GradCase {
  Json config;
  double spread;  // points are spread · ξ
};

// ∇f against central differences (f(z + h e_j) − f(z − h e_j)) / 2h, h = 1e-5, in
// float64: truncation h²|f'''|/6 < 1e-8 and rounding ε|f|/h < 1e-8 at these points,
// so 1e-6·(1 + |g|) is a safe bound. Also checks value() against operator().f.
TEST(TargetsGradient, MatchesCentralDifferences) {
  const std::vector<GradCase> cases = {
      {{{"type", "gaussian"}, {"dim", 3}, {"scale", 1.7}}, 2.0},
      {{{"type", "gaussian"}, {"dim", 1}}, 1.0},
      {{{"type", "gaussian-ill"}, {"dim", 5}, {"condition", 1000}}, 1.0},
      {{{"type", "gaussian-corr"}, {"dim", 5}, {"rho", 0.8}}, 1.0},
      {{{"type", "gaussian-corr"}, {"dim", 4}, {"rho", -0.6}}, 1.0},
      {{{"type", "gaussian-corr"}, {"dim", 1}, {"rho", 0.5}}, 1.0},
      {{{"type", "mixture"}, {"dim", 3}, {"components", 3}, {"separation", 2.0}}, 1.5},
      {{{"type", "mixture"}, {"dim", 4}, {"components", 2}}, 2.0},
      {{{"type", "mixture"}, {"dim", 1}}, 2.0},
      {{{"type", "funnel"}, {"dim", 4}}, 1.5},
      {{{"type", "banana"}, {"dim", 4}}, 3.0},
      {{{"type", "banana"}, {"dim", 2}, {"a", 2.0}, {"b", -0.7}}, 2.0},
  };
  auto gen = cpu_gen(11);
  const double h = 1e-5;
  for (const GradCase& c : cases) {
    SCOPED_TRACE(c.config.dump());
    auto t = make_target(c.config);
    const int64_t d = t->dim();
    const at::Tensor z = at::randn({4, d}, gen, at::kDouble) * c.spread;
    const auto [f, g] = (*t)(z);
    ASSERT_EQ(f.sizes(), at::IntArrayRef({4}));
    ASSERT_EQ(g.sizes(), z.sizes());
    EXPECT_TRUE(at::allclose(t->value(z), f, 0, 0));
    for (int64_t j = 0; j < d; ++j) {
      at::Tensor step = at::zeros({1, d}, at::kDouble);
      step[0][j] = h;
      const at::Tensor fd = (t->value(z + step) - t->value(z - step)) / (2 * h);
      const at::Tensor gj = g.select(1, j);
      const double err = ((fd - gj).abs() / (1 + gj.abs())).max().item<double>();
      EXPECT_LT(err, 1e-6) << "coordinate " << j;
    }
  }
}

// ---- normalisation ---------------------------------------------------------------

struct IntegralCase {
  Json config;
  std::array<double, 4> box;  // integration box, ≥ 8 local sds past the mass
  int64_t nx, ny;             // cells (ny = 0: a 1D target on [box[0], box[1]])
};

// ∫ exp f = 1 by the midpoint rule. Boxes leave < 1e-12 of the mass outside (≥ 8
// local sds; for the funnel |z_1| > 30 needs v ≳ 6σ and |ξ| > 6.7 together) and
// cells are < σ/2 for the smallest local scale σ (see the file header), so the
// rule's error is far below the tolerance 1e-9 (observed: ≤ 2e-15).
TEST(TargetsNormalisation, GridIntegralIsOne) {
  const std::vector<IntegralCase> cases = {
      // sd 1.5: [−15, 15] is 10 sd; cell 0.01.
      {{{"type", "gaussian"}, {"dim", 1}, {"scale", 1.5}}, {-15, 15, 0, 0}, 3000, 0},
      {{{"type", "gaussian"}, {"dim", 2}, {"scale", 0.7}}, {-7, 7, -7, 7}, 500, 500},
      // sds 1 and 0.1: cells 0.04 × 0.004.
      {{{"type", "gaussian-ill"}, {"dim", 2}, {"condition", 100}}, {-10, 10, -1, 1}, 500, 500},
      // conditional sd √(1 − ρ²) = 0.44 along the ridge.
      {{{"type", "gaussian-corr"}, {"dim", 2}, {"rho", 0.9}}, {-10, 10, -10, 10}, 600, 600},
      {{{"type", "gaussian-corr"}, {"dim", 2}, {"rho", -0.5}}, {-10, 10, -10, 10}, 400, 400},
      {{{"type", "gaussian-corr"}, {"dim", 1}, {"rho", 0.3}}, {-10, 10, 0, 0}, 2000, 0},
      // centres ±2, sd 0.5.
      {{{"type", "mixture"}, {"dim", 1}}, {-8, 8, 0, 0}, 2000, 0},
      {{{"type", "mixture"}, {"dim", 2}}, {-7, 7, -5, 5}, 400, 300},
      // K = 5, R = 3/(2 sin 36°) = 2.55, sd 0.4.
      {{{"type", "mixture"}, {"dim", 2}, {"components", 5}, {"separation", 3.0}, {"sd", 0.4}},
       {-7, 7, -7, 7},
       500,
       500},
      // σ = 0.5: v ∈ ±8σ; z_1 sd e^(v/2) ∈ [0.135, 7.4], |z_1| ≤ 30 misses < 1e-8; cell 0.02.
      {{{"type", "funnel"}, {"dim", 2}, {"scale", 0.5}}, {-4, 4, -30, 30}, 400, 3000},
      // a = 1, b = 1: z_0 ∈ ±8, ridge z_0² − 1 ∈ [−1, 63] ± 8.
      {{{"type", "banana"}, {"dim", 2}, {"a", 1.0}, {"b", 1.0}}, {-8, 8, -9, 71}, 640, 1600},
  };
  for (const IntegralCase& c : cases) {
    SCOPED_TRACE(c.config.dump());
    auto t = make_target(c.config);
    const auto& b = c.box;
    double integral;
    if (c.ny == 0) {
      const double dx = (b[1] - b[0]) / double(c.nx);
      const at::Tensor x = b[0] + (at::arange(c.nx, at::kDouble) + 0.5) * dx;
      integral = t->value(x.unsqueeze(1)).exp().sum().item<double>() * dx;
    } else {
      const double area = (b[1] - b[0]) * (b[3] - b[2]) / double(c.nx * c.ny);
      const at::Tensor xy = grid_points(b[0], b[1], b[2], b[3], c.nx, c.ny);
      integral = t->value(xy).exp().sum().item<double>() * area;
    }
    EXPECT_TRUE(t->normalised());
    EXPECT_NEAR(integral, 1.0, 1e-9);
  }
}

// The funnel and the banana at hand-picked points, from the definitions.
TEST(TargetsNormalisation, FunnelAndBananaHandValues) {
  // Funnel, D = 3, σ = 3: f = log N(v; 0, 9) + Σ_{i=1,2} log N(z_i; 0, e^v).
  auto funnel = make_target({{"type", "funnel"}, {"dim", 3}});
  // z = 0: f = −½ log(18π) − log(2π) (two unit-variance normals at 0, v = 0).
  // z = (2, 1, −1): log N(2; 0, 9) = −4/18 − ½ log(18π);
  //   log N(±1; 0, e²) = −1/(2e²) − ½(log 2π + 2), twice.
  // z = (−1, 0.5, 0): log N(−1; 0, 9) = −1/18 − ½ log(18π);
  //   log N(0.5; 0, e^-1) = −0.125e − ½(log 2π − 1);  log N(0; 0, e^-1) = −½(log 2π − 1).
  const double e = std::exp(1.0);
  const at::Tensor zf =
      at::tensor({0., 0., 0., 2., 1., -1., -1., 0.5, 0.}, at::kDouble).reshape({3, 3});
  const std::vector<double> ff = {
      -0.5 * std::log(18 * kPi) - kLog2Pi,
      -4.0 / 18 - 0.5 * std::log(18 * kPi) + 2 * (-1 / (2 * e * e) - 0.5 * (kLog2Pi + 2)),
      -1.0 / 18 - 0.5 * std::log(18 * kPi) + (-0.125 * e - 0.5 * (kLog2Pi - 1)) -
          0.5 * (kLog2Pi - 1)};
  const at::Tensor f1 = funnel->value(zf);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(f1[i].item<double>(), ff[i], 1e-12) << "funnel " << i;

  // Banana, D = 2, a = 10, b = 0.1: f = log N(z_0; 0, 100) + log N(z_1 − 0.1(z_0² − 100); 0, 1).
  // (0, −10): y = −10 + 10 = 0, f = −log(10) − log 2π (the mode).
  // (20, 30): y = 30 − 0.1·300 = 0, f = −400/200 − log 10 − log 2π.
  // (10, 2):  y = 2 − 0 = 2, f = −100/200 − 2 − log 10 − log 2π.
  auto banana = make_target({{"type", "banana"}});
  const at::Tensor zb = at::tensor({0., -10., 20., 30., 10., 2.}, at::kDouble).reshape({3, 2});
  const double c = -std::log(10.0) - kLog2Pi;
  const std::vector<double> fb = {c, -2 + c, -0.5 - 2 + c};
  const at::Tensor f2 = banana->value(zb);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(f2[i].item<double>(), fb[i], 1e-12) << "banana " << i;
  // With D = 3 a third coordinate adds log N(z_2; 0, 1): at (0, −10, 1), c − ½ − ½ log 2π.
  auto banana3 = make_target({{"type", "banana"}, {"dim", 3}});
  EXPECT_NEAR(
      banana3->value(at::tensor({0., -10., 1.}, at::kDouble).reshape({1, 3})).item<double>(),
      c - 0.5 - 0.5 * kLog2Pi, 1e-12);
}

// ---- exact draws against exact moments -------------------------------------------

// Sample mean x̄ and covariance Ĉ (divisor n − 1) of x: [n, D]; checks
// |x̄ − μ| ≤ 4·se_mean and |Ĉ − Σ| ≤ 4·se_cov elementwise.
void expect_moments(const at::Tensor& x, const at::Tensor& mu, const at::Tensor& sigma,
                    const at::Tensor& se_mean, const at::Tensor& se_cov) {
  const int64_t n = x.size(0);
  const at::Tensor xbar = x.mean(0);
  const at::Tensor xc = x - xbar;
  const at::Tensor cov = xc.t().mm(xc) / double(n - 1);
  const at::Tensor mean_z = ((xbar - mu).abs() / se_mean).max();
  const at::Tensor cov_z = ((cov - sigma).abs() / se_cov).max();
  EXPECT_LT(mean_z.item<double>(), 4.0) << "mean " << xbar << " expected " << mu;
  EXPECT_LT(cov_z.item<double>(), 4.0) << "cov " << cov << " expected " << sigma;
}

// Gaussian SEs (Isserlis): SE(x̄_i) = √(Σ_ii/n), SE(Ĉ_ij) = √((Σ_ii Σ_jj + Σ_ij²)/n)
// (for i = j this is Σ_ii √(2/n)).
void expect_gaussian_moments(const at::Tensor& x, const at::Tensor& mu, const at::Tensor& sigma) {
  const double n = double(x.size(0));
  const at::Tensor v = sigma.diagonal();
  expect_moments(x, mu, sigma, (v / n).sqrt(), ((at::outer(v, v) + sigma * sigma) / n).sqrt());
}

// Non-Gaussian but with finite eighth moments: SE(x̄_i) = sd(x_i)/√n and
// SE(Ĉ_ij) = sd((x_i − x̄_i)(x_j − x̄_j))/√n, both estimated from the sample.
void expect_sample_se_moments(const at::Tensor& x, const at::Tensor& mu, const at::Tensor& sigma) {
  const double n = double(x.size(0));
  const at::Tensor xc = x - x.mean(0);
  const at::Tensor prods = xc.unsqueeze(2) * xc.unsqueeze(1);  // [n, D, D]
  expect_moments(x, mu, sigma, x.std(0) / std::sqrt(n), prods.std(0) / std::sqrt(n));
}

constexpr int64_t kDraws = 100000;

TEST(TargetsSampling, GaussianTypesMatchExactMoments) {
  const std::vector<Json> configs = {
      {{"type", "gaussian"}, {"dim", 3}, {"scale", 2.0}},
      {{"type", "gaussian-ill"}, {"dim", 4}, {"condition", 1e4}},
      {{"type", "gaussian-corr"}, {"dim", 5}, {"rho", 0.9}},
      {{"type", "gaussian-corr"}, {"dim", 3}, {"rho", -0.7}},
  };
  auto gen = cpu_gen(21);
  for (const Json& c : configs) {
    SCOPED_TRACE(c.dump());
    auto t = make_target(c);
    const at::Tensor x = t->sample(kDraws, gen);
    ASSERT_EQ(x.sizes(), at::IntArrayRef({kDraws, t->dim()}));
    ASSERT_EQ(x.scalar_type(), at::kDouble);
    expect_gaussian_moments(x, t->mean(), t->covariance());
  }
  // The moments themselves, from the definitions.
  const double rho = -0.7;
  const at::Tensor corr = make_target(configs[3])->covariance();
  const at::Tensor want =
      at::tensor({1., rho, rho * rho, rho, 1., rho, rho * rho, rho, 1.}, at::kDouble)
          .reshape({3, 3});
  EXPECT_TRUE(at::allclose(corr, want, 0, 1e-15));
  EXPECT_TRUE(at::allclose(make_target(configs[0])->covariance(), 4 * at::eye(3, at::kDouble)));
  // gaussian-ill, D = 4, κ = 1e4: variances κ^(−i/3) = 1, 10^(−4/3), 10^(−8/3), 1e-4.
  const at::Tensor ill = make_target(configs[1])->covariance().diagonal();
  const at::Tensor want_ill =
      at::tensor({1., std::pow(10., -4. / 3), std::pow(10., -8. / 3), 1e-4}, at::kDouble);
  EXPECT_TRUE(at::allclose(ill, want_ill, 1e-14, 0));
}

TEST(TargetsSampling, MixtureMatchesMixtureMoments) {
  auto gen = cpu_gen(22);
  // K = 4, separation 4: R = 4/(2 sin 45°) = 2√2, centres (±R, 0), (0, ±R):
  // μ = 0, Σ = sd² I + diag(R²/2, R²/2, 0) = diag(0.25 + 4, 0.25 + 4, 0.25).
  auto t4 = make_target({{"type", "mixture"}, {"dim", 3}, {"components", 4}});
  EXPECT_TRUE(at::allclose(t4->mean(), at::zeros({3}, at::kDouble), 0, 1e-14));
  EXPECT_TRUE(at::allclose(t4->covariance(), at::diag(at::tensor({4.25, 4.25, 0.25}, at::kDouble)),
                           0, 1e-14));
  // K = 2, separation 3, sd 0.3: centres ±1.5 e_0, Σ = diag(0.09 + 2.25, 0.09).
  auto t2 = make_target(
      {{"type", "mixture"}, {"dim", 2}, {"components", 2}, {"separation", 3.0}, {"sd", 0.3}});
  EXPECT_TRUE(
      at::allclose(t2->covariance(), at::diag(at::tensor({2.34, 0.09}, at::kDouble)), 0, 1e-14));
  // K = 3, separation 2√3: R = 2√3/(2 sin 60°) = 2, (1/K)Σ c cᵀ = (R²/2) I₂ = 2 I₂.
  auto t3 = make_target(
      {{"type", "mixture"}, {"dim", 2}, {"components", 3}, {"separation", 2 * std::sqrt(3.0)}});
  EXPECT_TRUE(at::allclose(t3->covariance(), 2.25 * at::eye(2, at::kDouble), 0, 1e-14));
  for (const auto* t : {t4.get(), t2.get(), t3.get()}) {
    SCOPED_TRACE(t->to_json().dump());
    expect_sample_se_moments(t->sample(kDraws, gen), t->mean(), t->covariance());
  }
}

// Funnel, σ = 3 (heavy tails: z_i = e^(v/2) ξ_i), SEs from the exact moments:
//   Var v = σ², so SE(v̄) = σ/√n, SE(Var v) = σ²√(2/n);
//   E z_i² = E e^v = e^(σ²/2), so SE(z̄_i) = √(e^(σ²/2)/n);
//   Var(z_i²) = E z_i⁴ − (E z_i²)² = 3E e^(2v) − e^(σ²) = 3e^(2σ²) − e^(σ²);
//   Var(v z_i) = E[v² e^v] = σ²(1 + σ²) e^(σ²/2)  (d²/dt² of E e^(tv) = e^(σ²t²/2) at t = 1);
//   Var(z_i z_j) = E e^(2v) = e^(2σ²).
// At σ = 3 SE(Var z_i) ≈ 45 against Var z_i = e^4.5 ≈ 90, so σ = 1.5 is checked too.
TEST(TargetsSampling, FunnelMatchesExactMoments) {
  auto gen = cpu_gen(23);
  for (double s : {3.0, 1.5}) {
    SCOPED_TRACE(s);
    auto t = make_target({{"type", "funnel"}, {"dim", 4}, {"scale", s}});
    const double s2 = s * s, ev = std::exp(s2 / 2), n = double(kDraws);
    at::Tensor want = at::eye(4, at::kDouble) * ev;
    want[0][0] = s2;
    EXPECT_TRUE(at::allclose(t->covariance(), want, 1e-15, 0));
    EXPECT_TRUE(at::equal(t->mean(), at::zeros({4}, at::kDouble)));
    at::Tensor se_mean = at::full({4}, std::sqrt(ev / n), at::kDouble);
    se_mean[0] = s / std::sqrt(n);
    at::Tensor se_cov = at::full({4, 4}, std::sqrt(std::exp(2 * s2) / n), at::kDouble);
    for (int i = 1; i < 4; ++i) {
      se_cov[i][i] = std::sqrt((3 * std::exp(2 * s2) - std::exp(s2)) / n);
      se_cov[0][i] = se_cov[i][0] = std::sqrt(s2 * (1 + s2) * ev / n);
    }
    se_cov[0][0] = s2 * std::sqrt(2 / n);
    const at::Tensor x = t->sample(kDraws, gen);
    expect_moments(x, t->mean(), t->covariance(), se_mean, se_cov);
    // z_i e^(−v/2) = ξ_i is exactly standard normal: mean 0 ± 4/√n, variance 1 ± 4√(2/n).
    const at::Tensor xi = x.narrow(1, 1, 3) * (x.select(1, 0) * -0.5).exp().unsqueeze(1);
    EXPECT_LT(xi.mean(0).abs().max().item<double>(), 4 / std::sqrt(n));
    EXPECT_LT((xi.var(0) - 1).abs().max().item<double>(), 4 * std::sqrt(2 / n));
  }
}

// Banana, a = 10, b = 0.1: Σ = diag(a², 1 + 2b²a⁴) = diag(100, 201) for D = 2 (plus 1s).
// z_1 = ξ_1 + c(u² − 1) with c = ba² = 10, u ~ N(0, 1); its fourth central moment is
// E(ξ + c(u²−1))⁴ = 3 + 12c² + 60c⁴ (E(u²−1)² = 2, E(u²−1)⁴ = 60), so
// SE(Var z_1) = √((3 + 12c² + 60c⁴ − (1 + 2c²)²)/n) = √((2 + 8c² + 56c⁴)/n) ≈ 2.37.
// The sample-based SE used below estimates the same quantity; checked against it.
TEST(TargetsSampling, BananaMatchesExactMoments) {
  auto gen = cpu_gen(24);
  auto t = make_target({{"type", "banana"}, {"dim", 3}});
  EXPECT_TRUE(
      at::allclose(t->covariance(), at::diag(at::tensor({100., 201., 1.}, at::kDouble)), 0, 1e-12));
  const at::Tensor x = t->sample(kDraws, gen);
  expect_sample_se_moments(x, t->mean(), t->covariance());
  const double c = 10, n = double(kDraws);
  const double se_exact = std::sqrt((2 + 8 * c * c + 56 * std::pow(c, 4)) / n);
  const at::Tensor x1c = x.select(1, 1) - x.select(1, 1).mean();
  const double se_sample = (x1c * x1c).std().item<double>() / std::sqrt(n);
  EXPECT_NEAR(se_sample / se_exact, 1.0, 0.2);
  EXPECT_NEAR(x1c.var().item<double>(), 201.0, 4 * se_exact);
}

// Same seed, same draws; draws use only the generator.
TEST(TargetsSampling, SameSeedSameDraws) {
  for (const std::string& type : target_types()) {
    SCOPED_TRACE(type);
    auto t = make_target({{"type", type}});
    auto g1 = cpu_gen(5), g2 = cpu_gen(5), g3 = cpu_gen(6);
    const at::Tensor a = t->sample(50, g1), b = t->sample(50, g2), c = t->sample(50, g3);
    EXPECT_TRUE(at::equal(a, b));
    EXPECT_FALSE(at::equal(a, c));
    EXPECT_EQ(t->sample(0, g1).sizes(), at::IntArrayRef({0, t->dim()}));
  }
}

// ---- type-specific checks ---------------------------------------------------------

// cond(Σ) = max/min eigenvalue = κ, for D = 5 and D = 1000; f at a random z from
// the per-coordinate normal formula with the documented variances κ^(−i/(D−1)).
TEST(TargetsIllConditioned, ConditionNumberIsExact) {
  auto gen = cpu_gen(31);
  for (const auto& [d, kappa] :
       std::vector<std::pair<int64_t, double>>{{5, 100.0}, {1000, 1e4}, {1000, 1e6}, {2, 1.0}}) {
    SCOPED_TRACE(std::to_string(d) + " " + std::to_string(kappa));
    auto t = make_target({{"type", "gaussian-ill"}, {"dim", d}, {"condition", kappa}});
    const at::Tensor eig = at::linalg_eigvalsh(t->covariance());
    const double cond = (eig.max() / eig.min()).item<double>();
    EXPECT_NEAR(cond / kappa, 1.0, 1e-12);
    const at::Tensor var = at::pow(kappa, -at::arange(d, at::kDouble) / double(d - 1));
    const at::Tensor z = at::randn({3, d}, gen, at::kDouble);
    const at::Tensor want = (-0.5 * z * z / var - 0.5 * (2 * kPi * var).log()).sum(1);
    const auto [f, g] = (*t)(z);
    EXPECT_TRUE(at::allclose(f, want, 1e-12, 1e-9));
    EXPECT_TRUE(at::allclose(g, -z / var, 1e-12, 1e-12));
  }
}

// Q from the gradient (rows of −∇f at z = e_j are Q e_j), Σ_ij = ρ^|i−j| built
// here: QΣ = I; and f(0) = −(D/2) log 2π − ½ log det Σ with det from LAPACK.
TEST(TargetsCorrelated, PrecisionTimesCovarianceIsIdentity) {
  const int64_t d = 6;
  for (double rho : {0.7, -0.4, 0.99}) {
    SCOPED_TRACE(rho);
    auto t = make_target({{"type", "gaussian-corr"}, {"dim", d}, {"rho", rho}});
    const at::Tensor q = -(*t)(at::eye(d, at::kDouble)).grad;
    at::Tensor sigma = at::empty({d, d}, at::kDouble);
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t j = 0; j < d; ++j) sigma[i][j] = std::pow(rho, double(std::abs(i - j)));
    }
    EXPECT_TRUE(at::allclose(q.mm(sigma), at::eye(d, at::kDouble), 0, 1e-11));
    EXPECT_TRUE(at::allclose(q, q.t(), 0, 1e-13));
    EXPECT_TRUE(at::allclose(t->covariance(), sigma, 0, 1e-15));
    const double f0 = t->value(at::zeros({1, d}, at::kDouble)).item<double>();
    EXPECT_NEAR(f0, -0.5 * double(d) * kLog2Pi - 0.5 * at::logdet(sigma).item<double>(), 1e-10);
  }
}

// f against a direct sum (1/K) Σ_k N(z; c_k, σ²I) with the centres written out;
// and E_p f over exact draws = −H from a 2D grid, within 4·SE, SE = sd(f)/√n.
TEST(TargetsMixture, DensityMatchesDirectSumAndSamples) {
  // K = 3, separation 3, sd 0.6, D = 3: R = 3/(2 sin 60°) = √3,
  // centres √3 (1, 0, 0), √3 (−½, √3/2, 0), √3 (−½, −√3/2, 0).
  auto t = make_target(
      {{"type", "mixture"}, {"dim", 3}, {"components", 3}, {"separation", 3.0}, {"sd", 0.6}});
  const double r = std::sqrt(3.0), sd = 0.6;
  const std::vector<std::array<double, 3>> centres = {
      {r, 0, 0}, {-r / 2, 1.5, 0}, {-r / 2, -1.5, 0}};
  auto gen = cpu_gen(41);
  const at::Tensor z = at::randn({6, 3}, gen, at::kDouble) * 2;
  const at::Tensor f = t->value(z);
  for (int64_t b = 0; b < 6; ++b) {
    double p = 0;
    for (const auto& c : centres) {
      double q = 0;
      for (int i = 0; i < 3; ++i) q += std::pow(z[b][i].item<double>() - c[i], 2);
      p += std::exp(-q / (2 * sd * sd)) / std::pow(2 * kPi * sd * sd, 1.5) / 3;
    }
    EXPECT_NEAR(f[b].item<double>(), std::log(p), 1e-10);
  }

  // 2D version, K = 3 as above: grid over [−6, 6]² (centres at radius √3, ≥ 7 sd
  // margin), cell 0.03.
  auto t2 = make_target(
      {{"type", "mixture"}, {"dim", 2}, {"components", 3}, {"separation", 3.0}, {"sd", 0.6}});
  const int64_t m = 400;
  const double area = 144.0 / double(m * m);
  const at::Tensor lp = t2->value(grid_points(-6, 6, -6, 6, m, m));
  const at::Tensor p = lp.exp();
  const double neg_entropy = (p * lp).sum().item<double>() * area;
  const double second = (p * lp * lp).sum().item<double>() * area;
  const double sd_f = std::sqrt(second - neg_entropy * neg_entropy);
  const at::Tensor fs = t2->value(t2->sample(kDraws, gen));
  EXPECT_NEAR(fs.mean().item<double>(), neg_entropy, 4 * sd_f / std::sqrt(double(kDraws)));
}

// The 2D marginals: gaussian-ill's (z_0, z_1) ~ N(0, diag(1, κ^(−1/(D−1)))) at
// points; the funnel's and banana's marginals are their D = 2 versions
// (integrating out z_i ~ N(0, ·) independent given (z_0, z_1)); every box holds
// most of the draws.
TEST(TargetsMarginal, MarginalsAndBoxes) {
  auto gen = cpu_gen(51);
  const at::Tensor xy = at::randn({5, 2}, gen, at::kDouble);
  auto ill = make_target({{"type", "gaussian-ill"}, {"dim", 11}, {"condition", 1e5}});
  const double v1 = std::pow(1e5, -0.1);  // κ^(−1/(D−1))
  const at::Tensor m = ill->marginal2d_log_density(xy);
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_NEAR(m[i].item<double>(),
                log_normal(xy[i][0].item<double>(), 1) + log_normal(xy[i][1].item<double>(), v1),
                1e-12);
  }
  for (const char* type : {"funnel", "banana", "gaussian-corr"}) {
    auto big = make_target({{"type", type}, {"dim", 5}});
    auto two_d = make_target({{"type", type}, {"dim", 2}});
    EXPECT_TRUE(at::allclose(big->marginal2d_log_density(xy), two_d->value(xy), 0, 1e-12));
  }
  EXPECT_FALSE(make_target({{"type", "gaussian"}, {"dim", 1}})
                   ->marginal2d_log_density(at::zeros({1, 2}, at::kDouble))
                   .defined());

  // Box: fraction of draws inside ≥ 98% (every box is designed for ≳ 99%).
  for (const std::string& type : target_types()) {
    SCOPED_TRACE(type);
    auto t = make_target({{"type", type}});
    const auto b = t->box2d();
    const at::Tensor x = t->sample(20000, gen);
    const at::Tensor a = x.select(1, 0), y = x.select(1, 1);
    const double inside =
        ((a > b[0]) & (a < b[1]) & (y > b[2]) & (y < b[3])).to(at::kDouble).mean().item<double>();
    EXPECT_GT(inside, 0.98);
  }
}

// ---- dtype and device -----------------------------------------------------------

// float32 in, float32 out, close to the float64 values; on CUDA (when present)
// the same numbers as on the CPU.
TEST(TargetsDevice, KeepsDtypeAndDevice) {
  auto gen = cpu_gen(61);
  for (const std::string& type : target_types()) {
    SCOPED_TRACE(type);
    auto t = make_target({{"type", type}, {"dim", 6}});
    const at::Tensor z = t->sample(64, gen);
    const auto [f64, g64] = (*t)(z);
    const auto [f32, g32] = (*t)(z.to(at::kFloat));
    EXPECT_EQ(f32.scalar_type(), at::kFloat);
    EXPECT_EQ(g32.scalar_type(), at::kFloat);
    EXPECT_TRUE(at::allclose(f32.to(at::kDouble), f64, 1e-4, 1e-3));
    EXPECT_TRUE(at::allclose(g32.to(at::kDouble), g64, 1e-4, 1e-3));
    if (at::hasCUDA()) {
      const auto [fc, gc] = (*t)(z.to(at::kCUDA));
      EXPECT_TRUE(fc.is_cuda() && gc.is_cuda());
      EXPECT_TRUE(at::allclose(fc.cpu(), f64, 1e-10, 1e-10));
      EXPECT_TRUE(at::allclose(gc.cpu(), g64, 1e-10, 1e-10));
    }
  }
  // No autograd graph even for an input that requires grad.
  auto t = make_target({{"type", "funnel"}});
  const at::Tensor z = at::randn({3, 10}, gen, at::kDouble).requires_grad_(true);
  const auto [f, g] = (*t)(z);
  EXPECT_FALSE(f.requires_grad());
  EXPECT_FALSE(g.requires_grad());
}

// ---- factory ------------------------------------------------------------------------

TEST(TargetsFactory, DefaultsAndJsonRoundTrip) {
  EXPECT_EQ(target_types(), std::vector<std::string>({"gaussian", "gaussian-ill", "gaussian-corr",
                                                      "mixture", "funnel", "banana"}));
  EXPECT_EQ(make_target({{"type", "gaussian"}})->to_json(),
            Json({{"type", "gaussian"}, {"dim", 2}, {"scale", 1.0}}));
  EXPECT_EQ(make_target({{"type", "gaussian-ill"}})->to_json(),
            Json({{"type", "gaussian-ill"}, {"dim", 100}, {"condition", 100.0}}));
  EXPECT_EQ(make_target({{"type", "gaussian-corr"}})->to_json(),
            Json({{"type", "gaussian-corr"}, {"dim", 2}, {"rho", 0.9}}));
  EXPECT_EQ(
      make_target({{"type", "mixture"}})->to_json(),
      Json({{"type", "mixture"}, {"dim", 2}, {"components", 2}, {"separation", 4.0}, {"sd", 0.5}}));
  EXPECT_EQ(make_target({{"type", "funnel"}})->to_json(),
            Json({{"type", "funnel"}, {"dim", 10}, {"scale", 3.0}}));
  EXPECT_EQ(make_target({{"type", "banana"}})->to_json(),
            Json({{"type", "banana"}, {"dim", 2}, {"a", 10.0}, {"b", 0.1}}));
  for (const std::string& type : target_types()) {
    auto t = make_target({{"type", type}, {"dim", 3}});
    EXPECT_EQ(t->name(), type);
    EXPECT_EQ(t->dim(), 3);
    EXPECT_EQ(make_target(t->to_json())->to_json(), t->to_json());
  }
}

TEST(TargetsFactory, RejectsBadConfigs) {
  std::string msg = user_error_message([] { make_target({{"type", "funnell"}}); });
  EXPECT_NE(msg.find("target.type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean funnel?"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gaussian-corr"), std::string::npos) << msg;  // lists the valid types

  msg = user_error_message([] { make_target({{"type", "gaussian-corr"}, {"roh", 0.5}}); });
  EXPECT_NE(msg.find("target.roh"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean target.rho?"), std::string::npos) << msg;
  // A key of another type is unknown here too.
  msg = user_error_message([] { make_target({{"type", "gaussian"}, {"condition", 10}}); });
  EXPECT_NE(msg.find("target.condition"), std::string::npos) << msg;

  msg = user_error_message([] { make_target({{"type", "gaussian-corr"}, {"rho", 1.0}}); });
  EXPECT_NE(msg.find("target.rho: must be in (-1, 1), got 1"), std::string::npos) << msg;
  msg = user_error_message([] {
    make_target({{"type", "gaussian-ill"}, {"condition", 0.5}}, "sampling.target");
  });
  EXPECT_NE(msg.find("sampling.target.condition: must be >= 1"), std::string::npos) << msg;
  msg = user_error_message([] { make_target({{"type", "gaussian"}, {"dim", 0}}); });
  EXPECT_NE(msg.find("target.dim: must be >= 1, got 0"), std::string::npos) << msg;
  msg = user_error_message([] { make_target({{"type", "funnel"}, {"dim", 1}}); });
  EXPECT_NE(msg.find("target.dim: must be >= 2"), std::string::npos) << msg;
  msg = user_error_message([] { make_target({{"type", "funnel"}, {"scale", -1}}); });
  EXPECT_NE(msg.find("target.scale: must be > 0"), std::string::npos) << msg;
  msg = user_error_message([] { make_target({{"type", "mixture"}, {"sd", "big"}}); });
  EXPECT_NE(msg.find("target.sd: expected a number"), std::string::npos) << msg;
  msg = user_error_message([] {
    make_target({{"type", "mixture"}, {"components", 3}, {"dim", 1}});
  });
  EXPECT_NE(msg.find("target.dim: must be >= 2"), std::string::npos) << msg;
  msg = user_error_message([] { make_target({{"type", "mixture"}, {"components", 1}}); });
  EXPECT_NE(msg.find("target.components: must be >= 2"), std::string::npos) << msg;
}

}  // namespace
}  // namespace anila::targets
