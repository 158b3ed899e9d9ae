// test_samplers.cpp — Langevin and AniLA against hand computations and closed forms.
//
// Closed forms used:
//   * γ = b / max(b, |g|) per coordinate (element), per pixel (L2 over channels),
//     per sample (L2 over the whole sample).
//   * On f(z) = −‖z‖²/2 (standard Gaussian) the unadjusted Langevin chain is the
//     AR(1) z' = (1 − s/2) z + √s ξ, whose stationary variance is
//     s / (1 − (1 − s/2)²) = 1 / (1 − s/4).
// Statistical tolerances: the sample variance of N iid Gaussians with variance v
// has standard error v·√(2/N); means have v^½/√N. We allow 4 standard errors.
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/logdensity.h"
#include "anila/samplers/anila.h"
#include "anila/samplers/langevin.h"

using namespace anila;

namespace {

FunctionLogDensity standard_gaussian() {
  return FunctionLogDensity([](const at::Tensor& z) { return -0.5 * z.pow(2).sum(1); });
}

SamplerOptions anila_options(double s, double eps, double b, const std::string& anisotropy,
                             const std::string& norm = "element") {
  SamplerOptions o;
  o.type = "anila";
  o.step_size = s;
  o.noise_scale = eps;
  o.threshold = b;
  o.anisotropy = anisotropy;
  o.norm = norm;
  return o;
}

}  // namespace

TEST(Anila, GammaElementHandValues) {
  AnilaSampler sampler(anila_options(1, 1, /*b=*/0.01, "both"));
  at::Tensor g = at::tensor({0.005, -0.02, 0.01, 2.0}, at::kDouble).view({1, 4});
  at::Tensor gamma = sampler.gamma(g);
  // b / max(b, |g|): 0.01/0.01, 0.01/0.02, 0.01/0.01, 0.01/2
  at::Tensor expected = at::tensor({1.0, 0.5, 1.0, 0.005}, at::kDouble).view({1, 4});
  EXPECT_TRUE(at::allclose(gamma, expected, 0, 1e-15));
}

TEST(Anila, GammaPixelAndSampleNorms) {
  // One chain, 2 channels, 1×2 pixels: pixel 0 has (0.03, 0.04) -> L2 0.05,
  // pixel 1 has (0.001, 0) -> L2 0.001 < b.
  at::Tensor g = at::tensor({0.03, 0.001, 0.04, 0.0}, at::kDouble).view({1, 2, 1, 2});
  AnilaSampler pixel(anila_options(1, 1, 0.01, "both", "pixel"));
  at::Tensor gp = pixel.gamma(g);
  EXPECT_NEAR(gp[0][0][0][0].item<double>(), 0.2, 1e-12);
  EXPECT_NEAR(gp[0][1][0][0].item<double>(), 0.2, 1e-12);
  EXPECT_NEAR(gp[0][0][0][1].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(gp[0][1][0][1].item<double>(), 1.0, 1e-12);
  // Whole sample: sqrt(0.03² + 0.04² + 0.001²) = sqrt(0.002501).
  AnilaSampler sample(anila_options(1, 1, 0.01, "both", "sample"));
  at::Tensor gs = sample.gamma(g);
  const double expected = 0.01 / std::sqrt(0.002501);
  EXPECT_TRUE(at::allclose(gs, at::full({1, 2, 1, 2}, expected, at::kDouble), 0, 1e-12));
}

TEST(Langevin, OneStepMatchesHandComputation) {
  // z = (1, −2), f = −‖z‖²/2, ∇f = (−1, 2); s = 0.1, ε = 0.5.
  SamplerOptions o;
  o.type = "langevin";
  o.step_size = 0.1;
  o.noise_scale = 0.5;
  LangevinSampler sampler(o);
  auto logp = standard_gaussian();
  at::Tensor z0 = at::tensor({1.0f, -2.0f}).view({1, 2});
  ChainState state = ChainState::start(z0, logp);
  at::Generator gen = make_generator(42, at::kCPU);
  at::Generator same = make_generator(42, at::kCPU);
  at::Tensor xi = at::randn({1, 2}, same, at::kFloat);
  sampler.step(state, logp, gen, nullptr);
  const double c = 0.5 * std::sqrt(0.1);
  EXPECT_NEAR(state.z[0][0].item<double>(), 1.0 + 0.05 * -1.0 + c * xi[0][0].item<double>(), 1e-6);
  EXPECT_NEAR(state.z[0][1].item<double>(), -2.0 + 0.05 * 2.0 + c * xi[0][1].item<double>(), 1e-6);
  // The state caches f and ∇f at the new point.
  EXPECT_NEAR(state.f.item<double>(), -0.5 * state.z.pow(2).sum().item<double>(), 1e-6);
  EXPECT_TRUE(at::allclose(state.grad, -state.z));
}

TEST(Anila, OneStepEachAnisotropyMatchesHandComputation) {
  // z = (1, −2), ∇f = (−1, 2); b = 1.5 -> γ = (1, 0.75); s = 0.2, ε = 0.3.
  const double s = 0.2, eps = 0.3;
  const double gamma[2] = {1.0, 0.75}, g[2] = {-1.0, 2.0}, z[2] = {1.0, -2.0};
  for (const std::string aniso : {"both", "noise", "drift"}) {
    for (auto dtype : {at::kFloat, at::kDouble}) {  // fast CPU path and tensor path
      AnilaSampler sampler(anila_options(s, eps, 1.5, aniso));
      auto logp = standard_gaussian();
      ChainState state = ChainState::start(at::tensor({1.0, -2.0}, dtype).view({1, 2}), logp);
      at::Generator gen = make_generator(7, at::kCPU);
      at::Generator same = make_generator(7, at::kCPU);
      at::Tensor xi = at::randn({1, 2}, same, dtype);
      sampler.step(state, logp, gen, nullptr);
      for (int i = 0; i < 2; ++i) {
        const double gd = aniso == "noise" ? 1.0 : gamma[i];
        const double gn = aniso == "drift" ? 1.0 : gamma[i];
        const double expected =
            z[i] + s * gd / 2 * g[i] + eps * std::sqrt(s * gn) * xi[0][i].item<double>();
        EXPECT_NEAR(state.z[0][i].item<double>(), expected, 1e-6) << aniso << " coord " << i;
      }
    }
  }
}

TEST(Anila, DriftIsHalfClippedGradient) {
  // With ε → 0 the step is z + (s/2)·clip(∇f, −b, b) coordinatewise.
  AnilaSampler sampler(anila_options(/*s=*/1.0, /*eps=*/1e-12, /*b=*/0.5, "both"));
  FunctionLogDensity linear([](const at::Tensor& z) {
    return (z * at::tensor({3.0, -0.2}, z.options())).sum(1);  // ∇f = (3, −0.2)
  });
  ChainState state = ChainState::start(at::zeros({4, 2}), linear);
  at::Generator gen = make_generator(1, at::kCPU);
  sampler.step(state, linear, gen, nullptr);
  EXPECT_NEAR(state.z[0][0].item<double>(), 0.25, 1e-6);  // ½·clip(3) = ½·0.5
  EXPECT_NEAR(state.z[0][1].item<double>(), -0.1, 1e-6);  // ½·(−0.2)
}

TEST(Anila, StatsReportGammaFraction) {
  AnilaSampler sampler(anila_options(0.01, 1, /*b=*/1.0, "both"));
  // ∇f = −z: with z = ±2 every coordinate has |∇f| = 2 > b, γ = 0.5.
  auto logp = standard_gaussian();
  ChainState state = ChainState::start(at::full({8, 2}, 2.0f), logp);
  at::Generator gen = make_generator(3, at::kCPU);
  SamplerStats stats;
  sampler.step(state, logp, gen, &stats);
  Json s = stats.summary();
  EXPECT_NEAR(s["gamma"].get<double>(), 0.5, 1e-6);
  EXPECT_NEAR(s["gamma_lt1"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(s["grad_abs"].get<double>(), 2.0, 1e-6);
  EXPECT_NEAR(s["f"].get<double>(), -4.0, 1e-6);
}

// 10,000 chains started exactly from N(0, I) keep mean 0 and variance ≈ 1 at a small step.
TEST(Langevin, StandardGaussianStaysStandardAtSmallStep) {
  const int64_t N = 10000;
  SamplerOptions o;
  o.type = "langevin";
  o.step_size = 0.01;
  LangevinSampler sampler(o);
  auto logp = standard_gaussian();
  at::Generator gen = make_generator(2024, at::kCPU);
  ChainState state = ChainState::start(at::randn({N, 2}, gen, at::kFloat), logp);
  sampler.run(state, logp, 200, gen);
  at::Tensor z = state.z.to(at::kDouble);
  const double expected_var = 1.0 / (1.0 - 0.01 / 4);  // 1.0025
  // Pool both coordinates: 2N draws.
  const double mean_se = std::sqrt(expected_var / (2.0 * N));
  const double var_se = expected_var * std::sqrt(2.0 / (2.0 * N));
  EXPECT_LT(std::abs(z.mean().item<double>()), 4 * mean_se);
  EXPECT_NEAR(z.var(/*unbiased=*/true).item<double>(), expected_var, 4 * var_se);
}

// At a large step the variance is the exact ULA value 1/(1 − s/4), not 1.
TEST(Langevin, StationaryVarianceIsExactUlaValue) {
  const int64_t N = 10000;
  for (double s : {0.5, 1.0}) {
    SamplerOptions o;
    o.type = "langevin";
    o.step_size = s;
    LangevinSampler sampler(o);
    auto logp = standard_gaussian();
    at::Generator gen = make_generator(99, at::kCPU);
    ChainState state = ChainState::start(at::randn({N, 2}, gen, at::kDouble), logp);
    sampler.run(state, logp, 100, gen);  // contraction (1 − s/2)^100 ≤ 0.75^100: converged
    const double expected = 1.0 / (1.0 - s / 4);
    const double se = expected * std::sqrt(2.0 / (2.0 * N));
    EXPECT_NEAR(state.z.var().item<double>(), expected, 4 * se) << "s = " << s;
    EXPECT_GT(std::abs(state.z.var().item<double>() - 1.0), 4 * se) << "bias must be visible";
  }
}

// With b large (γ ≡ 1) AniLA is exactly Langevin: same draws, same chains.
TEST(Anila, ReducesToLangevinWhenThresholdExceedsGradients) {
  auto logp = standard_gaussian();
  SamplerOptions lo;
  lo.type = "langevin";
  lo.step_size = 0.3;
  LangevinSampler langevin(lo);
  AnilaSampler anila(anila_options(0.3, 1.0, /*b=*/1e6, "both"));
  at::Generator g1 = make_generator(5, at::kCPU), g2 = make_generator(5, at::kCPU);
  at::Tensor z0 = at::randn({64, 2}, g1, at::kFloat);
  g1 = make_generator(6, at::kCPU);
  g2 = make_generator(6, at::kCPU);
  ChainState a = ChainState::start(z0, logp), b = ChainState::start(z0, logp);
  langevin.run(a, logp, 10, g1);
  anila.run(b, logp, 10, g2);
  EXPECT_TRUE(at::allclose(a.z, b.z, 1e-5, 1e-6));
}

TEST(SamplerFactory, RejectsUnknownTypeAndKeysWithSuggestions) {
  try {
    make_sampler(Json{{"type", "anilla"}});
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("sampler.type"), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean anila"), std::string::npos) << m;
    EXPECT_NE(m.find("langevin"), std::string::npos) << m;
  }
  try {
    make_sampler(Json{{"type", "anila"}, {"treshold", 0.1}});
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("sampler.threshold"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_sampler(Json{{"type", "anila"}, {"threshold", 0}}), UserError);
  EXPECT_THROW(make_sampler(Json{{"type", "langevin"}, {"step_size", -1}}), UserError);
  EXPECT_THROW(make_sampler(Json{{"type", "anila"}, {"anisotropy", "diagonal"}}), UserError);
  EXPECT_THROW(make_sampler(Json{{"type", "anila"}, {"step_size", "big"}}), UserError);
  auto s = make_sampler(Json{{"type", "anila"}, {"noise_scale", 0.1}});
  EXPECT_DOUBLE_EQ(s->temperature(), 0.01);
  EXPECT_EQ(s->options().to_json()["threshold"].get<double>(), 0.01);
}

TEST(SamplerOptions, ClampKeepsChainsInRangeAndRefreshesTheCache) {
  for (const char* type : {"langevin", "anila"}) {
    auto sampler = make_sampler(
        Json{{"type", type}, {"step_size", 4.0}, {"clamp_min", -1.0}, {"clamp_max", 1.0}});
    auto logp = standard_gaussian();
    at::Generator gen = make_generator(8, at::kCPU);
    ChainState state = ChainState::start(at::zeros({256, 2}), logp);
    sampler->run(state, logp, 5, gen);
    EXPECT_LE(state.z.abs().max().item<double>(), 1.0) << type;
    EXPECT_TRUE(at::allclose(state.grad, -state.z)) << type;  // ∇f cached at the clamped z
  }
}
