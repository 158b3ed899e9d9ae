// test_mcmc_diagnostics.cpp — tests of the MCMC diagnostics (anila/eval/mcmc.h).
//
// Notation: S draws per chain, C chains, N = ⌊S/2⌋ draws per split chain, M = 2C split
// chains, Φ the standard normal CDF, φ an AR(1) coefficient, τ an integrated
// autocorrelation time (ESS = S·C/τ). Every expected value comes from outside the code
// under test:
//   - tiny arrays worked by hand (exact fractions), with normal scores Φ⁻¹(p) written as
//     literals from Python's standard library (statistics.NormalDist().inv_cdf);
//   - closed forms: τ = (1+φ)/(1−φ) for AR(1); the tail-indicator τ of a regime-switching
//     chain; E|X − Y| for Gaussians; the ESS cap S·C·log10(S·C);
//   - population values of the rank-normalised R̂ by 1-D quadrature, with a bisection
//     inverse of Φ built on std::erfc (not ATen's ndtri).
// Statistical tolerances are about 4 standard deviations of the estimator; the SDs come
// from Bartlett's / Sokal's variance formulas, stated beside each test, and agree with the
// spread over 20 seeds measured while writing these tests (numbers quoted there).
//
//   run: ./anila_tests --gtest_filter='McmcDiagnostics*'   (CPU, fixed seeds, a few seconds)
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/eval/mcmc.h"

namespace anila::eval {
namespace {

constexpr double kPi = 3.14159265358979323846;

// [S, C] float64 from chain-major values: chains[c][s].
at::Tensor draws_from(const std::vector<std::vector<double>>& chains) {
  const int64_t C = static_cast<int64_t>(chains.size());
  const int64_t S = static_cast<int64_t>(chains[0].size());
  at::Tensor t = at::empty({S, C}, at::kDouble);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t s = 0; s < S; ++s) t[s][c] = chains[c][s];
  return t;
}

// C stationary AR(1) chains of length S: x_0 ~ N(0, 1), x_t = φ x_{t−1} + √(1−φ²) ε_t.
at::Tensor ar1_chains(int64_t S, int64_t C, double phi, uint64_t seed) {
  at::Generator gen = make_generator(seed, at::kCPU);
  at::Tensor eps = at::randn({S, C}, gen, at::kDouble);
  at::Tensor x = at::empty({S, C}, at::kDouble);
  const double* pe = eps.data_ptr<double>();
  double* px = x.data_ptr<double>();
  const double a = std::sqrt(1 - phi * phi);
  for (int64_t c = 0; c < C; ++c) px[c] = pe[c];
  for (int64_t t = 1; t < S; ++t)
    for (int64_t c = 0; c < C; ++c) px[t * C + c] = phi * px[(t - 1) * C + c] + a * pe[t * C + c];
  return x;
}

double normal_cdf(double z) {
  return 0.5 * std::erfc(-z / std::sqrt(2.0));
}
double normal_sf(double z) {
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

// z with Φ(z) = p, given p and q = 1 − p separately (the smaller carries the precision):
// bisection of the tail function on [0, 40]. Independent of ATen's ndtri.
double normal_quantile(double p, double q) {
  const bool lower = p < q;
  const double t = lower ? p : q;  // <= 1/2
  double lo = 0, hi = 40;
  for (int i = 0; i < 60; ++i) {
    const double mid = 0.5 * (lo + hi);
    (normal_sf(mid) > t ? lo : hi) = mid;
  }
  const double z = 0.5 * (lo + hi);
  return lower ? -z : z;
}

// The population value of the rank-normalised split R̂ when chain 0 of C chains draws iid
// from N(mu1, s1²) and the others iid from N(0, 1) (S → ∞, so the empirical CDF of the
// pooled split draws is the mixture CDF F = w1·Φ((x−mu1)/s1) + (1−w1)·Φ(x), w1 = 1/C):
//   bulk score g(x) = Φ⁻¹(F(x)); folded score h(x) = Φ⁻¹(G(|x − m|)), m the median of F
//   and G(y) = F(m+y) − F(m−y) the CDF of the folded draws;
//   per component k: mean μ_k and variance v_k of the score (midpoint-rule quadrature);
//   split chains: 2 of component 1, 2C−2 of component 0; W = average of their v_k,
//   B/N = the (M−1)-variance of their μ_k, and R̂² ≈ 1 + (B/N)/W (the (N−1)/N of the
//   formula and the 1/N that chain-mean noise adds to E var(x̄_m) cancel).
// Returns max(bulk, folded), the rhat() of VGSCB21.
double population_rank_rhat(int64_t C, double mu1, double s1) {
  const double w1 = 1.0 / static_cast<double>(C), w0 = 1 - w1;
  auto F = [&](double x) { return w1 * normal_cdf((x - mu1) / s1) + w0 * normal_cdf(x); };
  auto Fbar = [&](double x) { return w1 * normal_sf((x - mu1) / s1) + w0 * normal_sf(x); };
  double lo = -30, hi = 30;  // the median of F
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (F(mid) < 0.5 ? lo : hi) = mid;
  }
  const double median = 0.5 * (lo + hi);
  auto bulk = [&](double x) { return normal_quantile(F(x), Fbar(x)); };
  auto folded = [&](double x) {
    const double y = std::abs(x - median);
    return normal_quantile(F(median + y) - F(median - y), Fbar(median + y) + F(median - y));
  };
  auto rhat_of = [&](auto score) {
    double mean[2], var[2];
    const double mus[2] = {0.0, mu1}, sds[2] = {1.0, s1};
    for (int k = 0; k < 2; ++k) {
      const int kPoints = 20000;
      const double a = mus[k] - 12 * sds[k], h = 24 * sds[k] / kPoints;
      double m1 = 0, m2 = 0;
      for (int i = 0; i < kPoints; ++i) {
        const double x = a + (i + 0.5) * h, u = (x - mus[k]) / sds[k];
        const double w = std::exp(-0.5 * u * u) / std::sqrt(2 * kPi) / sds[k] * h;
        const double s = score(x);
        m1 += w * s;
        m2 += w * s * s;
      }
      mean[k] = m1;
      var[k] = m2 - m1 * m1;
    }
    const double n1 = 2, n0 = 2.0 * static_cast<double>(C) - 2, M = n0 + n1;
    const double W = (n1 * var[1] + n0 * var[0]) / M;
    const double grand = (n1 * mean[1] + n0 * mean[0]) / M;
    const double between =
        (n1 * std::pow(mean[1] - grand, 2) + n0 * std::pow(mean[0] - grand, 2)) / (M - 1);
    return std::sqrt(1 + between / W);
  };
  return std::max(rhat_of(bulk), rhat_of(folded));
}

// ---- building blocks, by hand ---------------------------------------------------------

TEST(McmcDiagnostics, SplitChainsDropsTheMiddleDrawOfOddChains) {
  // S = 5, C = 2: chain 0 = 0..4, chain 1 = 10..14. N = 2; columns: first halves of chains
  // 0, 1, then last halves; the middle draws 2 and 12 are dropped.
  at::Tensor d = draws_from({{0, 1, 2, 3, 4}, {10, 11, 12, 13, 14}});
  at::Tensor s = split_chains(d);
  ASSERT_EQ(s.sizes(), (at::IntArrayRef{2, 4}));
  const double expected[2][4] = {{0, 10, 3, 13}, {1, 11, 4, 14}};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(s[i][j].item<double>(), expected[i][j]);
}

TEST(McmcDiagnostics, RankNormalizeMatchesHandRanksAndBlomScores) {
  // Values 3 1 4 1 5 9 2 6 5 (n = 9). Sorted: 1 1 2 3 4 5 5 6 9, so the average ranks
  // are 1→1.5, 2→3, 3→4, 4→5, 5→6.5, 6→8, 9→9; p = (r − 3/8)/9.25 and z = Φ⁻¹(p):
  //   r = 1.5: p = 0.121621…, z = −1.1669186011353176
  //   r = 3:   p = 0.283783…, z = −0.5716375251650858
  //   r = 4:   p = 0.391891…, z = −0.2743914878600369
  //   r = 5:   p = 0.5,       z = 0
  //   r = 6.5: p = 0.662162…, z =  0.4183712879116542
  //   r = 8:   p = 0.824324…, z =  0.9319713123431903
  //   r = 9:   p = 0.932432…, z =  1.4941549086209047
  // (Φ⁻¹ values: Python's statistics.NormalDist().inv_cdf.)
  at::Tensor x = at::tensor({3., 1., 4., 1., 5., 9., 2., 6., 5.}, at::kFloat).reshape({3, 3});
  at::Tensor z = rank_normalize(x);
  ASSERT_EQ(z.sizes(), x.sizes());
  EXPECT_EQ(z.scalar_type(), at::kDouble);
  const double expected[9] = {-0.2743914878600369, -1.1669186011353176, 0.0,
                              -1.1669186011353176, 0.4183712879116542,  1.4941549086209047,
                              -0.5716375251650858, 0.9319713123431903,  0.4183712879116542};
  at::Tensor flat = z.reshape({-1});
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(flat[i].item<double>(), expected[i], 1e-12) << i;
}

TEST(McmcDiagnostics, RhatBasicHandComputed) {
  // S = 4, C = 2: chain 0 = 1 5 3 9, chain 1 = 2 15 7 40. Split chains (N = 2):
  //   {1, 5} {2, 15} {3, 9} {7, 40}; means 3, 8.5, 6, 23.5 (grand mean 10.25);
  //   variances (a−b)²/2: 8, 84.5, 18, 544.5 → W = 655/4 = 163.75;
  //   B/N = var(means) = (7.25² + 1.75² + 4.25² + 13.25²)/3 = 249.25/3 = 83.0833…;
  //   var⁺ = (N−1)/N·W + B/N; R̂ = sqrt(var⁺/W) = sqrt(1/2 + 249.25/(3·163.75)).
  const double expected = std::sqrt(0.5 + 249.25 / (3 * 163.75));  // 1.0036827859737611
  EXPECT_NEAR(rhat_basic(draws_from({{1, 5, 3, 9}, {2, 15, 7, 40}})), expected, 1e-14);
  // S = 5: the middle draws (here wild values) are dropped, the answer is the same.
  EXPECT_NEAR(rhat_basic(draws_from({{1, 5, 1000, 3, 9}, {2, 15, -1000, 7, 40}})), expected, 1e-14);
  // Hand example 2: chain 0 = 1 3 2 4, chain 1 = 0 2 5 7 → split {1,3} {0,2} {2,4} {5,7}:
  // means 2, 1, 3, 6 (var 14/3), each variance 2 → W = 2, var⁺ = 1 + 14/3, R̂ = sqrt(17/6).
  EXPECT_NEAR(rhat_basic(draws_from({{1, 3, 2, 4}, {0, 2, 5, 7}})), std::sqrt(17.0 / 6.0), 1e-14);
}

TEST(McmcDiagnostics, RankNormalizedRhatHandComputed) {
  // Same draws as above: split chains {1, 5} {2, 15} {3, 9} {7, 40}. Pooled ranks of
  // 1 2 3 5 7 9 15 40 are 1..8, so the chains hold ranks {1,4} {2,7} {3,6} {5,8}.
  // Normal scores z_r = Φ⁻¹((r − 3/8)/8.25), with z_{9−r} = −z_r:
  //   z1 = −1.4342001596863794, z2 = −0.8524950342746939, z3 = −0.4727891209922673,
  //   z4 = −0.15250597424624437 (Python statistics.NormalDist().inv_cdf).
  // Bulk: chain means (z1+z4)/2, 0, 0, −(z1+z4)/2 → B/N = 2·((z1+z4)/2)²/3;
  //   variances (z4−z1)²/2, 2·z2², 2·z3², (z4−z1)²/2 → W = their mean;
  //   R̂_bulk = sqrt(1/2 + (B/N)/W) = 0.98675745730704…
  // Folded: median 6, |x − 6| = {5, 1} {4, 9} {3, 3} {1, 34}, ranks {6, 1.5} {5, 7}
  //   {3.5, 3.5} {1.5, 8}, whose R̂ is 0.79671… < R̂_bulk, so rhat = R̂_bulk.
  const double z1 = -1.4342001596863794, z2 = -0.8524950342746939, z3 = -0.4727891209922673,
               z4 = -0.15250597424624437;
  const double m = 0.5 * (z1 + z4);
  const double b_over_n = 2 * m * m / 3;
  const double w = (2 * 0.5 * (z4 - z1) * (z4 - z1) + 2 * z2 * z2 + 2 * z3 * z3) / 4;
  const double expected = std::sqrt(0.5 + b_over_n / w);
  at::Tensor d = draws_from({{1, 5, 3, 9}, {2, 15, 7, 40}});
  EXPECT_NEAR(rhat(d), expected, 1e-12);
  EXPECT_NEAR(rhat(d), 0.9867574573070469, 1e-12);
  // Rank-based: any increasing transform leaves the bulk part alone; here the folded part
  // stays below it, so rhat(exp(d / 10)) is the same number.
  EXPECT_NEAR(rhat(at::exp(d / 10)), expected, 1e-12);
}

TEST(McmcDiagnostics, FoldedRhatHandComputed) {
  // Equal locations, different scales: chain 0 = −1 2 −2 1, chain 1 = −10 20 −20 10.
  // Split chains {−1, 2} {−10, 20} {−2, 1} {−20, 10}; median of all draws = 0.
  // Folded: {1, 2} {10, 20} {2, 1} {20, 10}; each value appears twice, so the average ranks
  // are 1.5 (value 1), 3.5 (2), 5.5 (10), 7.5 (20), with scores −a, −b, b, a where
  //   a = −Φ⁻¹(1.125/8.25) = 1.0968035620935135, b = −Φ⁻¹(3.125/8.25) = 0.308665805694934
  //   (Python statistics.NormalDist().inv_cdf).
  // Chain means ∓(a+b)/2 → B/N = 4((a+b)/2)²/3 = (a+b)²/3; every chain variance is
  // (a−b)²/2 = W. R̂_fold = sqrt(1/2 + 2(a+b)²/(3(a−b)²)) = 1.6186585696952713.
  // Bulk: the chains hold ranks {4,6} {2,8} {3,5} {1,7}, R̂_bulk = 0.7432 (< R̂_fold), so
  // rhat = R̂_fold. Classic: means 0.5, 5, −0.5, −5 (B/N = 50.5/3), variances 4.5, 450, 4.5,
  // 450 (W = 227.25): rhat_basic = sqrt(1/2 + 50.5/(3·227.25)) = 0.7577 — no alarm.
  const double a = 1.0968035620935135, b = 0.308665805694934;
  at::Tensor d = draws_from({{-1, 2, -2, 1}, {-10, 20, -20, 10}});
  EXPECT_NEAR(rhat(d), std::sqrt(0.5 + 2 * (a + b) * (a + b) / (3 * (a - b) * (a - b))), 1e-12);
  EXPECT_NEAR(rhat_basic(d), std::sqrt(0.5 + 50.5 / (3 * 227.25)), 1e-14);
}

TEST(McmcDiagnostics, EssHandComputedShortChains) {
  // Example 1: S = 12, C = 1 → split chains (N = 6, M = 2) a = 1 3 2 5 4 6,
  // b = 2 1 4 3 6 5. Both means are 7/2, so var(means) = 0. Mean over chains of the biased
  // autocovariances γ(t) = (1/N) Σ_i (x_i − x̄)(x_{i+t} − x̄), exact fractions:
  //   γ(0) = 35/12, γ(1) = 13/24, γ(2) = 7/12, γ(3) = −25/24.
  // W = γ(0)·6/5 = 7/2, var⁺ = γ(0) + 0 = 35/12, ρ_t = 1 − (W − γ(t))/var⁺:
  //   ρ1 = −1/70, ρ2 = 0, ρ3 = −39/70. The first pair ρ0 + ρ1 = 1 − 1/70 > 0; the next
  //   pair (lags 2, 3) sums to −39/70 < 0, so the sequence stops with t_max = 2, and
  //   ρ2 = 0 is not positive. τ = −1 + 2(ρ0 + ρ1) + ρ2 = 68/70, above 1/log10(12).
  //   ESS = 12·70/68 = 210/17.
  at::Tensor d1 = draws_from({{1, 3, 2, 5, 4, 6, 2, 1, 4, 3, 6, 5}});
  EXPECT_NEAR(ess_basic(d1), 210.0 / 17.0, 1e-12);
  // Example 2: S = 16, C = 1 → a = 2 5 1 4 3 1 5 2, b = 1 1 1 1 1 0 2 0 (N = 8). Means 23/8
  // and 7/8 → var(means) = 2. Mean autocovariances γ(0..5) = 87/64, −509/512, 71/256,
  // 161/512, −73/128, 247/512; W = 87/56, var⁺ = 87/64 + 2 = 215/64. Then
  //   ρ1 = 2909/12040, ρ2 = 3733/6020, ρ3 = 7599/12040, ρ4 = 1107/3010, ρ5 = 8201/12040.
  // Pairs: P0 = 1 + ρ1 > 0, P1 = ρ2 + ρ3 > 0, P2 = ρ4 + ρ5 > 0, and the loop stops at the
  // lag limit (t = 4 is not < N − 5 = 3), so t_max = 4. Monotone step: P1 > P0, so
  // ρ2 = ρ3 = P0/2. τ = −1 + 2(ρ0 + ρ1 + ρ2 + ρ3) + ρ4 = −1 + 4·P0 + ρ4 = 6523/1505;
  // ESS = 16/τ = 24080/6523.
  at::Tensor d2 = draws_from({{2, 5, 1, 4, 3, 1, 5, 2, 1, 1, 1, 1, 1, 0, 2, 0}});
  EXPECT_NEAR(ess_basic(d2), 24080.0 / 6523.0, 1e-12);
  // Example 3: S = 8, C = 2 (N = 4): with N <= 5 no pair after the first is examined
  // (t_max = 0) and posterior's rule gives τ = 2: ESS = N·M/2 = 8 for any such draws.
  EXPECT_NEAR(ess_basic(draws_from({{1, 4, 2, 8, 5, 7, 1, 3}, {0, 2, 9, 1, 4, 4, 6, 2}})), 8.0,
              1e-12);
}

TEST(McmcDiagnostics, AutocorrelationHandComputed) {
  // Chain 0 = 1 2 3 4: centred −1.5 −0.5 0.5 1.5, lag sums 5, 1.25, −1.5, −2.25 →
  //   ρ = 1, 0.25, −0.3, −0.45. Chain 1 = 1 −1 1 −1: lag sums 4, −3, 2, −1 →
  //   ρ = 1, −0.75, 0.5, −0.25. Mean over chains: 1, −0.25, 0.1, −0.35.
  at::Tensor ac = autocorrelation(draws_from({{1, 2, 3, 4}, {1, -1, 1, -1}}), /*max_lag=*/3);
  ASSERT_EQ(ac.numel(), 4);
  const double expected[4] = {1, -0.25, 0.1, -0.35};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(ac[k].item<double>(), expected[k], 1e-14) << k;
}

// ---- closed forms for AR(1) chains ----------------------------------------------------

TEST(McmcDiagnostics, AutocorrelationOfAr1IsPhiToTheLag) {
  // ρ_k = φ^k. Bartlett: Var(ρ̂_k) ≈ (1/n)[(1+φ²)(1−φ^{2k})/(1−φ²) − 2kφ^{2k}]
  // <= (1/n)(1+φ²)/(1−φ²) with n = S·C draws (the C chain estimates are averaged):
  // SD <= 0.0032 (φ = 0.5) and 0.0077 (φ = 0.9); tolerance 4 SD.
  const int64_t S = 20000, C = 8;
  for (double phi : {0.5, 0.9}) {
    at::Tensor ac = autocorrelation(ar1_chains(S, C, phi, /*seed=*/11), /*max_lag=*/10);
    const double sd = std::sqrt((1 + phi * phi) / (1 - phi * phi) / static_cast<double>(S * C));
    EXPECT_DOUBLE_EQ(ac[0].item<double>(), 1.0);
    for (int k = 1; k <= 10; ++k)
      EXPECT_NEAR(ac[k].item<double>(), std::pow(phi, k), 4 * sd) << "phi " << phi << " lag " << k;
  }
}

TEST(McmcDiagnostics, EssOfAr1ChainsMatchesIntegratedAutocorrelationTime) {
  // τ = (1+φ)/(1−φ) → ESS = S·C·(1−φ)/(1+φ). The estimator's relative SD is about
  // sqrt(2(2K+1)/(S·C)) for a truncation window of K lags (Sokal), K ≈ 10 for φ = 0.5
  // (1.6%) and ≈ 40 for φ = 0.9 (3.2%); over 20 seeds we measured 1.7% and 3.7%, with means
  // 0.997 and 0.994 of the closed form. Tolerances 7% and 15% (about 4 SD). Rank
  // normalisation of a Gaussian chain is close to the identity, so ess_bulk has the same τ.
  const int64_t S = 20000, C = 8;
  const double total = static_cast<double>(S * C);
  struct Case {
    double phi, rel_tol;
  };
  for (Case c : {Case{0.5, 0.07}, Case{0.9, 0.15}}) {
    at::Tensor x = ar1_chains(S, C, c.phi, /*seed=*/21);
    const double expected = total * (1 - c.phi) / (1 + c.phi);
    EXPECT_NEAR(ess_basic(x), expected, c.rel_tol * expected) << "phi " << c.phi;
    EXPECT_NEAR(ess_bulk(x), expected, c.rel_tol * expected) << "phi " << c.phi;
    EXPECT_EQ(ess_mean(x), ess_basic(x));
  }
}

TEST(McmcDiagnostics, EssOfIidDrawsIsTheDrawCount) {
  // iid: τ = 1, ESS ≈ S·C. The window is a few lags, relative SD ≈ sqrt(2·5/(S·C)) = 0.8%
  // (measured over 20 seeds: 0.9% for ess_basic/ess_bulk, 0.6% for ess_tail); tolerance 5%.
  // The indicator chains of ess_tail are iid Bernoulli, so their ESS is S·C as well.
  const int64_t S = 20000, C = 8;
  const double total = static_cast<double>(S * C);
  at::Tensor x = ar1_chains(S, C, /*phi=*/0.0, /*seed=*/31);
  EXPECT_NEAR(ess_basic(x), total, 0.05 * total);
  EXPECT_NEAR(ess_bulk(x), total, 0.05 * total);
  EXPECT_NEAR(ess_tail(x), total, 0.05 * total);
  // MCSE of the mean of unit-variance iid draws: 1/sqrt(S·C), within the same 5% (sd is
  // estimated to 0.2%), and by definition sd/sqrt(ess_mean).
  EXPECT_NEAR(mcse_mean(x), 1 / std::sqrt(total), 0.05 / std::sqrt(total));
  const double sd = x.std().item<double>();
  EXPECT_NEAR(mcse_mean(x), sd / std::sqrt(ess_mean(x)), 1e-15);
}

TEST(McmcDiagnostics, EssOfAntitheticChainsAndItsCap) {
  // φ = −0.3: τ = 0.7/1.3, ESS = 1.857·S·C > S·C (antithetic chains beat iid draws);
  // relative SD measured over 20 seeds 1.5%, tolerance 6%.
  const int64_t S = 20000, C = 8;
  const double total = static_cast<double>(S * C);
  const double expected = total * 1.3 / 0.7;
  EXPECT_NEAR(ess_basic(ar1_chains(S, C, -0.3, /*seed=*/41)), expected, 0.06 * expected);
  // φ = −0.9: τ = 0.1/1.9 = 0.053 is below the bound 1/log10(S·C) = 0.192, so the estimate
  // is capped: ESS = S·C·log10(S·C) exactly (S even, so N·M = S·C).
  EXPECT_NEAR(ess_basic(ar1_chains(S, C, -0.9, /*seed=*/42)), total * std::log10(total), 1e-6);
}

// ---- tail ESS ----------------------------------------------------------------------------

TEST(McmcDiagnostics, EssTailSeesSlowMixingInTheTails) {
  // x_t = σ(s_t)·ε_t with ε iid N(0, 1) and s_t a two-state Markov chain: narrow (σ = 1)
  // → wide (σ = 10) with probability a = 0.02, wide → narrow with b = 0.08; stationary
  // P(wide) = w = a/(a+b) = 0.2; s has autocorrelation λ^t, λ = 1 − a − b = 0.9.
  // Bulk: the sign of x is iid and the rank-normal score is (nearly) an odd function of
  // x, so its autocorrelation vanishes: ess_bulk ≈ S·C.
  // Tail: I_t = I(x_t ≤ q), q the 5% quantile of the mixture, solves
  //   w·Φ(q/10) + (1−w)·Φ(q) = 0.05; with p(s) = Φ(q/σ(s)), Cov(I_t, I_0) = Var p(s)·λ^t
  //   for t ≥ 1, Var p(s) = w(1−w)(p_wide − p_narrow)², Var I = 0.05·0.95, so
  //   τ_I = 1 + 2·(Var p(s)/0.0475)·λ/(1−λ) (= 4.789) and ESS = S·C/τ_I (= 33 407).
  //   By symmetry the 95% indicator has the same τ. Over 20 seeds the estimate averaged
  //   0.993 of this with a relative SD of 3.2%; tolerance 13%.
  const int64_t S = 20000, C = 8;
  const double a = 0.02, b = 0.08, wide = 10, w = a / (a + b), lambda = 1 - a - b;
  at::Generator gen = make_generator(/*seed=*/51, at::kCPU);
  at::Tensor eps = at::randn({S, C}, gen, at::kDouble);
  at::Tensor u = at::rand({S, C}, gen, at::kDouble);
  at::Tensor x = at::empty({S, C}, at::kDouble);
  const double* pe = eps.data_ptr<double>();
  const double* pu = u.data_ptr<double>();
  double* px = x.data_ptr<double>();
  for (int64_t c = 0; c < C; ++c) {
    bool is_wide = pu[c] < w;
    for (int64_t t = 0; t < S; ++t) {
      if (t > 0) is_wide = is_wide ? !(pu[t * C + c] < b) : pu[t * C + c] < a;
      px[t * C + c] = (is_wide ? wide : 1.0) * pe[t * C + c];
    }
  }
  double lo = -50, hi = 0;  // q: w·Φ(q/10) + (1−w)·Φ(q) = 0.05
  for (int i = 0; i < 200; ++i) {
    const double q = 0.5 * (lo + hi);
    (w * normal_cdf(q / wide) + (1 - w) * normal_cdf(q) < 0.05 ? lo : hi) = q;
  }
  const double q = 0.5 * (lo + hi);
  const double dp = normal_cdf(q / wide) - normal_cdf(q);
  const double tau = 1 + 2 * (w * (1 - w) * dp * dp / (0.05 * 0.95)) * lambda / (1 - lambda);
  const double total = static_cast<double>(S * C);
  const double bulk = ess_bulk(x), tail = ess_tail(x);
  EXPECT_NEAR(tail, total / tau, 0.13 * total / tau);
  EXPECT_NEAR(bulk, total, 0.05 * total);
  EXPECT_LT(tail, 0.5 * bulk);
  // Rank-based ESSs do not change under an increasing transform; ess_basic does.
  EXPECT_DOUBLE_EQ(ess_bulk(at::exp(x / 10)), bulk);
  EXPECT_DOUBLE_EQ(ess_tail(at::exp(x / 10)), tail);
  EXPECT_GT(std::abs(ess_basic(at::exp(x / 10)) - ess_basic(x)), 0.01 * total);
}

// ---- R̂ on well-mixed and on stuck chains ------------------------------------------------

TEST(McmcDiagnostics, RhatOfIidChainsIsNearOne) {
  // R̂² = (N−1)/N + var(x̄_m)/W with var(x̄_m)/W ≈ χ²_{M−1}/((M−1)·N) ≥ 0, so
  // R̂ >= sqrt(1 − 1/N) always, and the 99.99% point of χ²_7 (≈ 29.9) gives
  // R̂² <= 1 + 0.0085 − 1/N: R̂ < 1.004 for N = 500. Asserted: [sqrt(1 − 1/N), 1.01].
  const int64_t S = 1000, C = 4;
  at::Tensor x = ar1_chains(S, C, /*phi=*/0.0, /*seed=*/61);
  const double lower = std::sqrt(1 - 1.0 / (S / 2));
  for (double r : {rhat_basic(x), rhat(x)}) {
    EXPECT_GE(r, lower);
    EXPECT_LE(r, 1.01);
  }
}

TEST(McmcDiagnostics, RhatOfAShiftedChain) {
  // C = 4 iid N(0, 1) chains, chain 0 shifted by δ = 2: 2 of the M = 8 split chains have
  // mean δ, so B/N ≈ (2(δ − δ/4)² + 6(δ/4)²)/7 = 1.5δ²/7 and W ≈ 1: rhat_basic ≈
  // sqrt(1 + 6/7) = 1.363. The rank-normalised R̂ is the quadrature value of
  // population_rank_rhat. SD of either estimate: chain means have SE 1/sqrt(500), giving
  // SD(B/N) ≈ (2/7)·sqrt(Σ dev²)·0.045 = 0.03, and W has relative SD sqrt(2/(M(N−1))) =
  // 0.022, so SD(R̂) ≈ 0.014; tolerance 0.06 (over 20 seeds: rhat SD 0.009, mean 1.3167
  // against the quadrature's 1.3194; rhat_basic mean 1.359).
  const int64_t S = 1000, C = 4;
  const double delta = 2;
  at::Tensor x = ar1_chains(S, C, /*phi=*/0.0, /*seed=*/71);
  x.select(1, 0).add_(delta);
  EXPECT_NEAR(rhat_basic(x), std::sqrt(1 + 1.5 * delta * delta / 7), 0.06);
  const double expected = population_rank_rhat(C, delta, 1.0);
  EXPECT_GT(expected, 1.1);
  EXPECT_NEAR(rhat(x), expected, 0.06);
}

TEST(McmcDiagnostics, FoldedRhatCatchesAChainWithADifferentScale) {
  // C = 4 chains with mean 0, chain 0 with sd 3: the chain means agree, so the classic
  // split-R̂ stays near 1 (B/N ≈ average Var(x̄_m) = (2·9 + 6)/(8·500) = 0.006 against
  // W ≈ 3: R̂ ≈ 1 + 0.001), while the folded draws |x − median| of chain 0 are larger:
  // the population rank-normalised R̂ (quadrature: 1.1456) is well above 1.01. Tolerance
  // 0.06 as in the shifted case (over 20 seeds: SD 0.007, mean 1.1434).
  const int64_t S = 1000, C = 4;
  const double scale = 3;
  at::Tensor x = ar1_chains(S, C, /*phi=*/0.0, /*seed=*/81);
  x.select(1, 0).mul_(scale);
  EXPECT_LT(rhat_basic(x), 1.01);
  const double expected = population_rank_rhat(C, 0.0, scale);
  EXPECT_GT(expected, 1.05);
  EXPECT_NEAR(rhat(x), expected, 0.06);
  EXPECT_GT(rhat(x), 1.01);
}

// ---- degenerate input --------------------------------------------------------------------

TEST(McmcDiagnostics, ConstantOrNonFiniteDrawsGiveNaNNotAnException) {
  at::Tensor constant = at::full({10, 3}, 2.5, at::kDouble);
  for (double v : {rhat_basic(constant), rhat(constant), ess_basic(constant), ess_bulk(constant),
                   ess_tail(constant), ess_mean(constant), mcse_mean(constant)})
    EXPECT_TRUE(std::isnan(v));
  at::Tensor with_nan = ar1_chains(10, 3, 0.0, /*seed=*/91);
  with_nan[4][1] = std::numeric_limits<double>::quiet_NaN();
  at::Tensor with_inf = ar1_chains(10, 3, 0.0, /*seed=*/92);
  with_inf[2][0] = std::numeric_limits<double>::infinity();
  for (const at::Tensor& t : {with_nan, with_inf})
    for (double v : {rhat_basic(t), rhat(t), ess_basic(t), ess_bulk(t), ess_tail(t), mcse_mean(t)})
      EXPECT_TRUE(std::isnan(v));
  // One constant chain among varying ones is fine: finite diagnostics.
  at::Tensor one_constant = ar1_chains(100, 3, 0.0, /*seed=*/93);
  one_constant.select(1, 2).fill_(0.25);
  for (double v : {rhat_basic(one_constant), rhat(one_constant), ess_basic(one_constant),
                   ess_bulk(one_constant), ess_tail(one_constant)})
    EXPECT_TRUE(std::isfinite(v));
  // ...but that chain has no autocorrelation: 0/0.
  at::Tensor ac = autocorrelation(one_constant.narrow(1, 2, 1), /*max_lag=*/2);
  EXPECT_TRUE(std::isnan(ac[1].item<double>()));
  // Chains stuck at different values: W = 0 < B, R̂ = +inf (hand: division by W = 0). The
  // folded draws |x − 0.5| are all 0.5 here, so rhat() uses its bulk part alone (mcmc.h).
  at::Tensor stuck = at::zeros({8, 2}, at::kDouble);
  stuck.select(1, 1).fill_(1.0);
  EXPECT_EQ(rhat_basic(stuck), std::numeric_limits<double>::infinity());
  EXPECT_EQ(rhat(stuck), std::numeric_limits<double>::infinity());
}

TEST(McmcDiagnostics, MalformedDrawsAreProgrammingErrors) {
  EXPECT_THROW(rhat(at::zeros({3, 4}, at::kDouble)), c10::Error);                  // S < 4
  EXPECT_THROW(ess_bulk(at::zeros({10, 0}, at::kDouble)), c10::Error);             // C < 1
  EXPECT_THROW(rhat_basic(at::zeros({10}, at::kDouble)), c10::Error);              // not [S, C]
  EXPECT_THROW(summarize_draws(at::zeros({10, 2}, at::kDouble)), c10::Error);      // not [S, C, D]
  EXPECT_THROW(autocorrelation(at::randn({10, 2}, at::kDouble), 10), c10::Error);  // lag >= S
}

TEST(McmcDiagnostics, Float32DrawsAreComputedInFloat64) {
  at::Tensor x = ar1_chains(400, 4, 0.5, /*seed=*/95).to(at::kFloat);
  at::Tensor x64 = x.to(at::kDouble);  // exact widening of the same values
  EXPECT_EQ(rhat(x), rhat(x64));
  EXPECT_EQ(ess_bulk(x), ess_bulk(x64));
  EXPECT_EQ(ess_tail(x), ess_tail(x64));
}

// ---- energy distance ---------------------------------------------------------------------

TEST(McmcDiagnostics, EnergyDistanceHandValues) {
  // Identical sets: the cross term equals both within terms (V-statistic) → exactly 0.
  at::Tensor x = at::randn({50, 3}, at::kDouble);
  EXPECT_EQ(energy_distance(x, x), 0.0);
  // Point masses at 0 (5 points) and a = −1.5 (7 points), 1-D: 2|a| − 0 − 0 = 3.
  EXPECT_DOUBLE_EQ(energy_distance(at::zeros({5, 1}), at::full({7, 1}, -1.5)), 3.0);
  // 2-D point masses at (0, 0) and (3, 4): 2·5 = 10.
  EXPECT_DOUBLE_EQ(
      energy_distance(at::zeros({2, 2}), at::tensor({3., 4.}, at::kDouble).reshape({1, 2})), 10.0);
  // x = {0, 1}, y = {3}: mean|x − y| = (3 + 2)/2 = 2.5, mean|x − x'| over the 4 ordered
  // pairs = (0 + 1 + 1 + 0)/4 = 0.5, mean|y − y'| = 0 → 2·2.5 − 0.5 − 0 = 4.5.
  EXPECT_DOUBLE_EQ(
      energy_distance(at::tensor({0., 1.}).reshape({2, 1}), at::tensor({3.}).reshape({1, 1})), 4.5);
  // Non-finite rows are dropped before anything else.
  at::Tensor with_nan = at::cat({at::tensor({0., 1.}).reshape({2, 1}),
                                 at::full({1, 1}, std::numeric_limits<double>::quiet_NaN())});
  EXPECT_DOUBLE_EQ(energy_distance(with_nan, at::tensor({3.}).reshape({1, 1})), 4.5);
  EXPECT_TRUE(std::isnan(energy_distance(at::full({2, 1}, std::numeric_limits<double>::infinity()),
                                         x.narrow(1, 0, 1))));
}

TEST(McmcDiagnostics, EnergyDistanceOfGaussianSamples) {
  // 1-D N(0, 1) against N(δ, 1): X − Y ~ N(−δ, 2), and E|N(μ, s²)| =
  // s·sqrt(2/π)·exp(−μ²/(2s²)) + μ(1 − 2Φ(−μ/s)); E|X − X'| = 2/sqrt(π). The V-statistic
  // counts the n zero diagonal terms, so E[estimate] = D + E|X−X'|·(1/n + 1/m) with
  // D = 2E|X − Y| − 2E|X − X'|. 20 replicates of n = m = 400; tolerance 5 standard errors
  // of their mean (estimated from the replicates).
  const int64_t n = 400, reps = 20;
  const double e_xx = 2 / std::sqrt(kPi);
  for (double delta : {0.0, 1.0}) {
    const double s = std::sqrt(2.0);
    const double e_xy = s * std::sqrt(2 / kPi) * std::exp(-delta * delta / (2 * s * s)) +
                        delta * (1 - 2 * normal_cdf(-delta / s));
    const double expected = 2 * e_xy - 2 * e_xx + e_xx * 2.0 / static_cast<double>(n);
    at::Generator gen = make_generator(/*seed=*/101, at::kCPU);
    double sum = 0, sum2 = 0;
    for (int64_t r = 0; r < reps; ++r) {
      at::Tensor x = at::randn({n, 1}, gen, at::kDouble);
      at::Tensor y = at::randn({n, 1}, gen, at::kDouble) + delta;
      const double e = energy_distance(x, y);
      EXPECT_GE(e, 0.0);
      sum += e;
      sum2 += e * e;
    }
    const double mean = sum / reps;
    const double se = std::sqrt((sum2 / reps - mean * mean) / (reps - 1));
    EXPECT_NEAR(mean, expected, 5 * se) << "delta " << delta << " se " << se;
  }
}

TEST(McmcDiagnostics, EnergyDistanceSubsamplesEvenlySpacedRows) {
  // More than 2000 rows: rows ⌊i·n/2000⌋, i = 0..1999, are used (indices built here).
  at::Tensor x = at::randn({5000, 2}, at::kDouble);
  at::Tensor y = at::randn({3001, 2}, at::kDouble) + 0.5;
  auto rows = [](int64_t n) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < 2000; ++i) idx.push_back(i * n / 2000);
    return at::tensor(idx, at::kLong);
  };
  const double full = energy_distance(x, y);
  EXPECT_EQ(full, energy_distance(x.index_select(0, rows(5000)), y.index_select(0, rows(3001))));
}

// ---- summary -----------------------------------------------------------------------------

TEST(McmcDiagnostics, SummarizeDrawsMatchesTheScalarFunctions) {
  // D = 4 coordinates: iid, AR(1) φ = 0.8, chain 0 shifted by 2, constant. Odd S.
  const int64_t S = 201, C = 4, D = 4;
  at::Tensor draws = at::empty({S, C, D}, at::kDouble);
  draws.select(2, 0).copy_(ar1_chains(S, C, 0.0, /*seed=*/111));
  draws.select(2, 1).copy_(ar1_chains(S, C, 0.8, /*seed=*/112));
  at::Tensor shifted = ar1_chains(S, C, 0.0, /*seed=*/113);
  shifted.select(1, 0).add_(2.0);
  draws.select(2, 2).copy_(shifted);
  draws.select(2, 3).fill_(1.0);
  DrawsSummary s = summarize_draws(draws);
  EXPECT_EQ(s.num_draws, S);
  EXPECT_EQ(s.num_chains, C);
  for (const at::Tensor& t : {s.mean, s.sd, s.mcse_mean, s.ess_bulk, s.ess_tail, s.rhat}) {
    ASSERT_EQ(t.numel(), D);
    EXPECT_EQ(t.scalar_type(), at::kDouble);
  }
  for (int64_t d = 0; d < D; ++d) {
    at::Tensor x = draws.select(2, d);
    auto same = [&](const at::Tensor& t, double v, const char* what) {
      const double got = t[d].item<double>();
      if (std::isnan(v))
        EXPECT_TRUE(std::isnan(got)) << what << " coordinate " << d;
      else
        EXPECT_EQ(got, v) << what << " coordinate " << d;
    };
    same(s.rhat, rhat(x), "rhat");
    same(s.ess_bulk, ess_bulk(x), "ess_bulk");
    same(s.ess_tail, ess_tail(x), "ess_tail");
    same(s.mcse_mean, mcse_mean(x), "mcse_mean");
    EXPECT_NEAR(s.mean[d].item<double>(), x.mean().item<double>(), 1e-12);
    EXPECT_NEAR(s.sd[d].item<double>(), x.std().item<double>(), 1e-12);
  }
  // Extremes skip the constant coordinate 3 and count it as undefined.
  EXPECT_EQ(s.num_undefined, 1);
  EXPECT_EQ(s.max_rhat, s.rhat.narrow(0, 0, 3).max().item<double>());
  EXPECT_EQ(s.min_ess_bulk, s.ess_bulk.narrow(0, 0, 3).min().item<double>());
  EXPECT_EQ(s.min_ess_tail, s.ess_tail.narrow(0, 0, 3).min().item<double>());
  EXPECT_GT(s.max_rhat, 1.1);  // the shifted coordinate

  Json brief = s.to_json(/*per_coordinate=*/false);
  EXPECT_EQ(brief["dim"], D);
  EXPECT_EQ(brief["num_undefined"], 1);
  EXPECT_DOUBLE_EQ(brief["max_rhat"].get<double>(), s.max_rhat);
  EXPECT_FALSE(brief.contains("rhat"));
  Json full = s.to_json(/*per_coordinate=*/true);
  ASSERT_EQ(full["rhat"].size(), static_cast<size_t>(D));
  EXPECT_TRUE(full["rhat"][3].is_null());  // NaN has no JSON form
  EXPECT_DOUBLE_EQ(full["ess_bulk"][1].get<double>(), s.ess_bulk[1].item<double>());
}

TEST(McmcDiagnostics, SummarizeDrawsIsFast) {
  // S = 1000, C = 100, D = 10 (10^6 draws). Target well under a second in a Release
  // build; the bound here is loose so a busy machine or a debug build does not fail it.
  at::Tensor draws = at::randn({1000, 100, 10}, at::kDouble);
  const auto t0 = std::chrono::steady_clock::now();
  DrawsSummary s = summarize_draws(draws);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("summarize_draws S=1000 C=100 D=10: %.3f s\n", secs);
  EXPECT_LT(secs, 5.0);
  EXPECT_LT(s.max_rhat, 1.01);
  EXPECT_EQ(s.num_undefined, 0);
}

}  // namespace
}  // namespace anila::eval
