// test_fid.cpp — tests of the feature-space sample-quality metrics (anila/eval/fid.h):
// Fréchet distance, KID, precision/recall.
//
// Notation: N samples of D features per side; μ, Σ mean and covariance; m the KID subset size;
// k the neighbour rank of precision/recall. Expected values come from outside the code under
// test:
//   - FD: closed forms for commuting covariances (Σa = R diag(a) Rᵀ, Σb = R diag(b) Rᵀ gives
//     FD = ‖Δμ‖² + Σ (√a_i − √b_i)²), for 2×2 matrices (tr √M = sqrt(tr M + 2 sqrt(det M))
//     for a 2×2 PSD M, with tr M = tr(Σa Σb), det M = det Σa det Σb), and for 1-D Gaussians;
//     mean/covariance of a 3×2 literal worked by hand;
//   - KID: the unbiased MMD² of two 2-point 1-D sets worked by hand; a zero/positive check
//     against the spread between subsets (tolerance argued beside the test);
//   - precision/recall: a 1-D example worked by hand and a brute-force loop reference.
// Round-off tolerances: FD in float64 is accurate to about D·ε·(tr Σa + tr Σb) for the
// nonsingular or identical cases used here (ε = 2.2e-16); we allow 1e-10 of that scale
// (1e-9 where the brief of the code asks for it), which is orders of magnitude above
// round-off yet far below any real error (an error in a formula changes FD by O(1) here).
//
//   run: ./anila_tests --gtest_filter='Fid*'   (CPU, fixed seeds, about a second)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/eval/fid.h"
#include "test_util.h"

namespace anila::eval {
namespace {

using anila::test::user_error_message;

at::Tensor vec(const std::vector<double>& v) {
  return at::tensor(at::ArrayRef<double>(v), at::kDouble);
}

// [rows, cols] float64 from row-major values.
at::Tensor mat(const std::vector<double>& v, int64_t rows, int64_t cols) {
  return vec(v).reshape({rows, cols});
}

FeatureStats stats_of(const at::Tensor& mean, const at::Tensor& cov) {
  FeatureStats s;
  s.mean = mean;
  s.cov = cov;
  return s;
}

// FD = ‖Δμ‖² + Σ (√a_i − √b_i)² for covariances with common eigenvectors.
double fd_commuting(const std::vector<double>& mu_a, const std::vector<double>& mu_b,
                    const std::vector<double>& a, const std::vector<double>& b) {
  double fd = 0;
  for (size_t i = 0; i < mu_a.size(); ++i) fd += (mu_a[i] - mu_b[i]) * (mu_a[i] - mu_b[i]);
  for (size_t i = 0; i < a.size(); ++i) {
    fd += (std::sqrt(a[i]) - std::sqrt(b[i])) * (std::sqrt(a[i]) - std::sqrt(b[i]));
  }
  return fd;
}

// ---- feature_stats ------------------------------------------------------------------------

TEST(FidStats, HandExample) {
  // X = [[1,2],[3,0],[5,4]]: mean (3, 2); deviations (−2,0), (0,−2), (2,2);
  // scatter [[8,4],[4,8]], divided by N−1 = 2.
  for (auto dtype : {at::kFloat, at::kDouble}) {
    const FeatureStats s = feature_stats(mat({1, 2, 3, 0, 5, 4}, 3, 2).to(dtype));
    EXPECT_EQ(s.n, 3);
    EXPECT_EQ(s.mean.scalar_type(), at::kDouble);
    EXPECT_TRUE(at::allclose(s.mean, vec({3, 2}), 0, 1e-12));
    EXPECT_TRUE(at::allclose(s.cov, mat({4, 2, 2, 4}, 2, 2), 0, 1e-12)) << s.cov;
  }
}

TEST(FidStats, ChunkedMatchesDirect) {
  // feature_stats converts 2^21 float64 entries at a time: with D = 4 that is 2^19 rows, so
  // N = 2^19 + 3 takes a full chunk and a 3-row one. Reference: plain ATen on all rows.
  constexpr int64_t kN = (int64_t{1} << 19) + 3;
  at::Generator gen = make_generator(2, at::kCPU);
  const at::Tensor x = at::randn({kN, 4}, gen, at::kFloat) * 2 + 5;
  const at::Tensor d = x.to(at::kDouble), c = d - d.mean(0);
  const FeatureStats s = feature_stats(x);
  EXPECT_EQ(s.n, kN);
  // Float64 sums of 5e5 terms in a different order agree to ~1e-13 relative.
  EXPECT_TRUE(at::allclose(s.mean, d.mean(0), 1e-11, 0));
  EXPECT_TRUE(at::allclose(s.cov, c.t().mm(c) / (kN - 1), 1e-10, 1e-10));
  // The test can see a lost short chunk: without its 3 rows the mean moves by ~1e-6 relative.
  EXPECT_FALSE(at::allclose(s.mean, d.slice(0, 0, kN - 3).mean(0), 1e-11, 0));
}

TEST(FidStats, LargeOffsetDoesNotCancel) {
  // Values 1e8 + {0, 1, 2}: a one-pass E[x²] − E[x]² would lose everything in float64 (the
  // squares are ~1e16); the two-pass centred formula gives the variance 1 exactly.
  const FeatureStats s = feature_stats(mat({1e8, 1e8 + 1, 1e8 + 2}, 3, 1));
  EXPECT_DOUBLE_EQ(s.mean.item<double>(), 1e8 + 1);
  EXPECT_DOUBLE_EQ(s.cov.item<double>(), 1.0);
}

// ---- Fréchet distance ----------------------------------------------------------------------

TEST(FidFrechet, IdenticalStatsGiveZero) {
  at::Generator gen = make_generator(11, at::kCPU);
  // N = 20 < D = 50: Σ has rank 19 (31 zero eigenvalues); also a full-rank case N = 500.
  for (int64_t n : {20, 500}) {
    const at::Tensor x = at::randn({n, 50}, gen, at::kDouble) * 3 + 1;
    const FeatureStats s = feature_stats(x);
    const double scale = 2 * s.cov.trace().item<double>();
    const double fd = frechet_distance(s, s);
    EXPECT_GE(fd, 0.0);  // round-off negatives are clamped
    EXPECT_LE(fd, 1e-9 * scale) << "N = " << n;
    EXPECT_LE(frechet_distance(x, x.to(at::kFloat).to(at::kDouble)), 1e-9 * scale);
  }
}

TEST(FidFrechet, DiagonalClosedForm) {
  // Includes a zero variance on each side (singular Σ) — exact for diagonal matrices.
  const std::vector<double> mu_a{0, 1, -2, 0.5}, mu_b{1, 1, 0, 0};
  const std::vector<double> a{1, 4, 9, 0.25}, b{4, 1, 0, 2};
  const double expected = fd_commuting(mu_a, mu_b, a, b);  // 5.25 + 1 + 1 + 9 + (0.5−√2)²
  const double fd = frechet_distance(stats_of(vec(mu_a), at::diag(vec(a))),
                                     stats_of(vec(mu_b), at::diag(vec(b))));
  EXPECT_NEAR(fd, expected, 1e-12 * (5.25 + 14.25 + 7));
}

TEST(FidFrechet, RotatedClosedForm) {
  // R: an orthogonal matrix (Q of a seeded Gaussian matrix); Σa, Σb share eigenvectors R.
  at::Generator gen = make_generator(5, at::kCPU);
  const at::Tensor r = std::get<0>(at::linalg_qr(at::randn({6, 6}, gen, at::kDouble)));
  const std::vector<double> a{0.25, 1, 2, 3, 5, 8}, b{3, 0.5, 2, 7, 0.3, 1};
  const std::vector<double> mu_a{1, 0, 0, 2, 0, -1}, mu_b{0, 0, 1, 2, 0.5, 0};
  const at::Tensor cov_a = r.mm(at::diag(vec(a))).mm(r.t());
  const at::Tensor cov_b = r.mm(at::diag(vec(b))).mm(r.t());
  const double scale = 19.25 + 13.8 + 3.25;  // tr Σa + tr Σb + ‖Δμ‖²
  const double fd = frechet_distance(stats_of(vec(mu_a), cov_a), stats_of(vec(mu_b), cov_b));
  EXPECT_NEAR(fd, fd_commuting(mu_a, mu_b, a, b), 1e-10 * scale);
}

TEST(FidFrechet, NonCommutingTwoByTwo) {
  // A = [[2,1],[1,2]], B = diag(1, 3) do not commute. tr(AB) = 2 + 6 = 8, det A = det B = 3,
  // so tr((A^{1/2} B A^{1/2})^{1/2}) = sqrt(8 + 2·3) = √14, FD = ‖Δμ‖² + 4 + 4 − 2√14.
  const at::Tensor a = mat({2, 1, 1, 2}, 2, 2), b = mat({1, 0, 0, 3}, 2, 2);
  const double fd = frechet_distance(stats_of(vec({1, 0}), a), stats_of(vec({0, 2}), b));
  EXPECT_NEAR(fd, 5 + 8 - 2 * std::sqrt(14.0), 1e-12 * 13);
  // FD is symmetric in its arguments.
  EXPECT_NEAR(frechet_distance(stats_of(vec({0, 2}), b), stats_of(vec({1, 0}), a)), fd, 1e-12 * 13);
}

TEST(FidFrechet, OneDimensional) {
  // N(m1, s1²) vs N(m2, s2²): (m1 − m2)² + (s1 − s2)².
  const double m1 = 0.3, s1 = 1.5, m2 = -1.2, s2 = 0.4;
  const double fd = frechet_distance(stats_of(vec({m1}), mat({s1 * s1}, 1, 1)),
                                     stats_of(vec({m2}), mat({s2 * s2}, 1, 1)));
  EXPECT_NEAR(fd, (m1 - m2) * (m1 - m2) + (s1 - s2) * (s1 - s2), 1e-13);
  // From samples: {1, 2, 3} has mean 2, variance 1; {0, 4} mean 2, variance 8 (divisor N−1).
  const double fd_samples = frechet_distance(mat({1, 2, 3}, 3, 1), mat({0, 4}, 2, 1));
  EXPECT_NEAR(fd_samples, (1 - std::sqrt(8.0)) * (1 - std::sqrt(8.0)), 1e-13);
}

TEST(FidFrechet, FeaturesEqualStats) {
  at::Generator gen = make_generator(3, at::kCPU);
  const at::Tensor x = at::randn({300, 10}, gen, at::kFloat);
  const at::Tensor y = at::randn({200, 10}, gen, at::kFloat) * 1.5 + 0.3;
  const double from_features = frechet_distance(x, y);
  // Stats computed here independently of feature_stats (plain ATen, float64).
  auto stats = [](const at::Tensor& f) {
    const at::Tensor d = f.to(at::kDouble), c = d - d.mean(0);
    return stats_of(d.mean(0), c.t().mm(c) / (f.size(0) - 1));
  };
  const double from_stats = frechet_distance(stats(x), stats(y));
  EXPECT_GT(from_features, 1.0);  // the sets clearly differ (‖Δμ‖² alone is ~0.9)
  EXPECT_NEAR(from_features, from_stats, 1e-10 * from_stats);
}

TEST(FidFrechet, SaveLoadRoundTrip) {
  anila::test::TempDir dir("anila_fid");
  const FeatureStats s = feature_stats(mat({1, 2, 3, 0, 5, 4}, 3, 2));
  save_feature_stats(dir / "ref", s);
  const FeatureStats t = load_feature_stats(dir / "ref");
  EXPECT_EQ(t.n, 3);
  EXPECT_TRUE(at::equal(t.mean, s.mean));
  EXPECT_TRUE(at::equal(t.cov, s.cov));
  const std::string msg = user_error_message([&] { load_feature_stats(dir / "missing"); });
  EXPECT_NE(msg.find("mu.npy"), std::string::npos) << msg;
}

// ---- kernel inception distance --------------------------------------------------------------

TEST(FidKid, HandComputedTinyCase) {
  // D = 1, a = {0, 1}, b = {1, 2}, k(x, y) = (xy + 1)³, m = 2 (every subset is the whole set):
  //   Σ_{i≠j} k(a_i, a_j)/(m(m−1)) = 2·k(0,1)/2 = 1
  //   Σ_{i≠j} k(b_i, b_j)/(m(m−1)) = 2·k(1,2)/2 = 27
  //   2 Σ k(a_i, b_j)/m² = 2·(k(0,1) + k(0,2) + k(1,1) + k(1,2))/4 = 2·(1 + 1 + 8 + 27)/4 = 18.5
  // MMD² = 1 + 27 − 18.5 = 9.5. (Keeping the diagonal would give a different value.)
  at::Generator gen = make_generator(1, at::kCPU);
  const KidResult r =
      kernel_inception_distance(mat({0, 1}, 2, 1), mat({1, 2}, 2, 1), gen, /*subsets=*/3);
  EXPECT_NEAR(r.mean, 9.5, 1e-12);
  EXPECT_NEAR(r.sd, 0.0, 1e-12);
  EXPECT_NEAR(r.se, 0.0, 1e-12);
  EXPECT_EQ(r.subsets, 3);
  EXPECT_EQ(r.subset_size, 2);  // min(1000, 2, 2)
}

TEST(FidKid, ZeroOnSameDistributionPositiveOnShift) {
  // N = 4000 per side, m = 100: two subsets share ~m²/N = 2.5 rows, so the 50 subset
  // estimates are nearly independent and se is their standard error; the finite pool adds a
  // relative variance of order (m/N)² ≈ 6e-4, negligible. |mean| <= 4·se is a 4σ bound.
  constexpr int64_t kN = 4000, kD = 8;
  at::Generator data_gen = make_generator(21, at::kCPU);
  const at::Tensor a = at::randn({kN, kD}, data_gen, at::kFloat);
  const at::Tensor b = at::randn({kN, kD}, data_gen, at::kFloat);
  const at::Tensor shifted = at::randn({kN, kD}, data_gen, at::kFloat) + 0.5;

  at::Generator gen = make_generator(7, at::kCPU);
  const KidResult same = kernel_inception_distance(a, b, gen, /*subsets=*/50, /*subset_size=*/100);
  EXPECT_EQ(same.subset_size, 100);
  EXPECT_GT(same.se, 0.0);
  EXPECT_LE(std::abs(same.mean), 4 * same.se) << same.mean << " ± " << same.se;

  const KidResult diff = kernel_inception_distance(a, shifted, gen, 50, 100);
  EXPECT_GT(diff.mean, 10 * diff.se) << diff.mean << " ± " << diff.se;

  // Same seed, same draws.
  at::Generator g1 = make_generator(9, at::kCPU), g2 = make_generator(9, at::kCPU);
  EXPECT_EQ(kernel_inception_distance(a, shifted, g1, 5, 50).mean,
            kernel_inception_distance(a, shifted, g2, 5, 50).mean);
}

// ---- precision and recall -------------------------------------------------------------------

// Brute-force reference: fraction of `q` within the k-NN radius (in `ref`) of some ref point.
double covered_reference(const std::vector<std::vector<double>>& q,
                         const std::vector<std::vector<double>>& ref, int64_t k) {
  auto dist = [](const std::vector<double>& u, const std::vector<double>& v) {
    double s = 0;
    for (size_t i = 0; i < u.size(); ++i) s += (u[i] - v[i]) * (u[i] - v[i]);
    return std::sqrt(s);
  };
  std::vector<double> radius(ref.size());
  for (size_t j = 0; j < ref.size(); ++j) {
    std::vector<double> d;
    for (size_t l = 0; l < ref.size(); ++l)
      if (l != j) d.push_back(dist(ref[j], ref[l]));
    std::nth_element(d.begin(), d.begin() + (k - 1), d.end());
    radius[j] = d[k - 1];
  }
  int64_t hits = 0;
  for (const auto& p : q) {
    for (size_t j = 0; j < ref.size(); ++j) {
      if (dist(p, ref[j]) <= radius[j]) {
        ++hits;
        break;
      }
    }
  }
  return static_cast<double>(hits) / static_cast<double>(q.size());
}

std::vector<std::vector<double>> rows_of(const at::Tensor& t) {
  const at::Tensor d = t.to(at::kDouble).contiguous();
  std::vector<std::vector<double>> out(d.size(0));
  for (int64_t i = 0; i < d.size(0); ++i) {
    out[i].assign(d[i].data_ptr<double>(), d[i].data_ptr<double>() + d.size(1));
  }
  return out;
}

TEST(FidPrecisionRecall, HandExample1D) {
  // real {0, 1, 2, 3}, k = 1: every real radius is 1.
  // fake {0.2, 0.5, 3.9, 4.5}: radii (nearest other fake) 0.3, 0.3, 0.6, 0.6.
  // precision: 0.2 (0.2 from 0), 0.5 (0.5 from 0), 3.9 (0.9 from 3) are inside; 4.5 (1.5 from 3)
  //   is not -> 3/4.
  // recall: real 0 is 0.2 from fake 0.2 (radius 0.3) -> inside; real 1 is 0.5 from 0.5
  //   (radius 0.3), 2.9 from 3.9; real 2 is 1.5 / 1.9 away; real 3 is 0.9 from 3.9 (radius 0.6)
  //   -> none of them -> 1/4.
  const PrecisionRecall pr =
      precision_recall(mat({0, 1, 2, 3}, 4, 1), mat({0.2, 0.5, 3.9, 4.5}, 4, 1), /*k=*/1);
  EXPECT_EQ(pr.k, 1);
  EXPECT_DOUBLE_EQ(pr.precision, 0.75);
  EXPECT_DOUBLE_EQ(pr.recall, 0.25);
  // k = 2: real radii 2, 1, 1, 2 -> 4.5 is 1.5 from 3 (radius 2): precision 1.
  // fake radii (2nd nearest other fake): 0.2 -> 3.7, 0.5 -> 3.4, 3.9 -> 3.4, 4.5 -> 4.0; every
  // real point is within 3.7 of fake 0.2 -> recall 1.
  const PrecisionRecall pr2 =
      precision_recall(mat({0, 1, 2, 3}, 4, 1), mat({0.2, 0.5, 3.9, 4.5}, 4, 1), /*k=*/2);
  EXPECT_DOUBLE_EQ(pr2.precision, 1.0);
  EXPECT_DOUBLE_EQ(pr2.recall, 1.0);
}

TEST(FidPrecisionRecall, IdenticalAndDisjointSets) {
  // N = 1500 rows: more than one distance chunk (2^21 / 1500 = 1398 rows each).
  at::Generator gen = make_generator(4, at::kCPU);
  const at::Tensor x = at::randn({1500, 2}, gen, at::kFloat);
  const PrecisionRecall same = precision_recall(x, x);
  EXPECT_DOUBLE_EQ(same.precision, 1.0);
  EXPECT_DOUBLE_EQ(same.recall, 1.0);
  // Unit-variance clusters 1000 apart: every radius is a few units, no ball reaches across.
  const PrecisionRecall far = precision_recall(x, x.slice(0, 0, 500) + 1000.0);
  EXPECT_DOUBLE_EQ(far.precision, 0.0);
  EXPECT_DOUBLE_EQ(far.recall, 0.0);
}

TEST(FidPrecisionRecall, MatchesBruteForce) {
  at::Generator gen = make_generator(8, at::kCPU);
  // 1500 and 1600 rows: several distance chunks of 2^21 entries on both passes.
  const at::Tensor real = at::randn({1500, 3}, gen, at::kDouble);
  const at::Tensor fake = at::randn({1600, 3}, gen, at::kDouble) * 1.3 + 0.4;
  const PrecisionRecall pr = precision_recall(real, fake, /*k=*/3);
  const auto r = rows_of(real), f = rows_of(fake);
  EXPECT_DOUBLE_EQ(pr.precision, covered_reference(f, r, 3));
  EXPECT_DOUBLE_EQ(pr.recall, covered_reference(r, f, 3));
  EXPECT_GT(pr.precision, 0.2);  // the case is not degenerate
  EXPECT_LT(pr.precision, 0.99);
}

// ---- errors ---------------------------------------------------------------------------------

TEST(FidErrors, OneLineUserErrors) {
  at::Generator gen = make_generator(0, at::kCPU);
  const at::Tensor a = at::zeros({5, 3}), b = at::zeros({5, 4});
  auto has = [](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  };
  has(user_error_message([&] { frechet_distance(a, b); }), "feature dimensions differ");
  has(user_error_message([&] { frechet_distance(a, b); }), "D = 4");
  has(user_error_message([&] { kernel_inception_distance(a, b, gen); }),
      "feature dimensions differ");
  has(user_error_message([&] { precision_recall(a, b); }), "feature dimensions differ");
  has(user_error_message([&] { frechet_distance(feature_stats(a), feature_stats(b)); }),
      "feature dimensions differ");

  has(user_error_message([&] {
        feature_stats(at::zeros({1, 3}));
      }),
      "at least 2 samples, got N = 1");
  has(user_error_message([&] { frechet_distance(a, at::zeros({1, 3})); }), "features_b");
  has(user_error_message([&] { kernel_inception_distance(at::zeros({1, 3}), a, gen); }), "N = 1");
  has(user_error_message([&] { feature_stats(at::zeros({6})); }), "2-D tensor [N, D]");

  at::Tensor bad = at::zeros({5, 3});
  bad[2][1] = std::numeric_limits<double>::quiet_NaN();
  has(user_error_message([&] { feature_stats(bad); }), "NaN or Inf");
  bad[2][1] = std::numeric_limits<double>::infinity();
  has(user_error_message([&] { precision_recall(a, bad); }), "fake contains NaN or Inf");

  has(user_error_message([&] { precision_recall(a, a, /*k=*/5); }), "k must be");
  has(user_error_message([&] { kernel_inception_distance(a, a, gen, 0); }), "subsets must be");
  has(user_error_message([&] { kernel_inception_distance(a, a, gen, 10, 1); }), "subset_size");
}

}  // namespace
}  // namespace anila::eval
