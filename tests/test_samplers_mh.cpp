// test_samplers_mh.cpp — exactness of the Metropolis-adjusted samplers (MALA,
// AniLA-MH, HMC), the known bias of unadjusted AniLA, GD, and step-size adaptation.
//
// Independent references used:
//   * Gaussian moments: chains started at exact draws of N(0, σ²) must keep
//     variance σ² under an exact kernel. SE of a sample variance of N draws of
//     variance v is v·√(2/N); we allow 4 SE (+ a stated allowance for correlation
//     between coordinates when pooled).
//   * The unadjusted AniLA small-step law ∝ exp(f/ε²)/γ(z) (docs/samplers.md); its
//     variance is computed in the test by midpoint quadrature, not by the sampler.
//   * The AniLA-MH proposal density is re-derived with scalar loops from the
//     Gaussian formula.
#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/samplers/adapt.h"
#include "anila/samplers/anila.h"
#include "anila/samplers/anila_mh.h"
#include "anila/samplers/hmc.h"

using namespace anila;

namespace {

// f(z) = −Σ_i z_i² / (2 σ_i²), closed-form gradient (no autograd: fast for many steps).
class DiagonalGaussian : public LogDensity {
 public:
  explicit DiagonalGaussian(std::vector<double> sd) : sd_(std::move(sd)) {}
  LogDensityValue operator()(const at::Tensor& z) const override {
    at::Tensor prec = precision(z);
    return {-0.5 * (z.pow(2) * prec).sum(1), -z * prec};
  }

 private:
  at::Tensor precision(const at::Tensor& z) const {
    return (1.0 / at::tensor(sd_, at::kDouble).pow(2)).to(z.scalar_type());
  }
  std::vector<double> sd_;
};

// `extra` may hold keys of several types (one table for mala, anila-mh, hmc);
// each sampler gets the keys its registry entry reads.
SamplerPtr sampler(const std::string& type, double s, Json extra = Json::object()) {
  const SamplerSpec& spec = sampler_spec(type);
  const auto common = common_sampler_keys(spec);
  Json j = {{"type", type}, {"step_size", s}};
  for (auto& [k, v] : extra.items()) {
    const bool own = std::find(spec.keys.begin(), spec.keys.end(), k) != spec.keys.end();
    if (own || std::find(common.begin(), common.end(), k) != common.end()) j[k] = v;
  }
  return make_sampler(j);
}

double quadrature_variance(const std::function<double(double)>& density, double lo, double hi) {
  const int n = 400000;
  double m0 = 0, m2 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = lo + (hi - lo) * (i + 0.5) / n, p = density(x);
    m0 += p;
    m2 += p * x * x;
  }
  return m2 / m0;
}

}  // namespace

// Invariance: exact N(0, diag(1, 0.25)) draws stay N(0, diag(1, 0.25)) under each
// MH kernel, at step sizes where the unadjusted chain would be visibly biased.
TEST(MetropolisSamplers, LeaveTheGaussianInvariant) {
  const int64_t N = 20000;
  DiagonalGaussian target({1.0, 0.5});
  struct Case {
    const char* type;
    double s;
    Json extra;
  };
  const std::vector<Case> cases = {
      {"mala", 0.8, Json::object()},
      {"anila-mh", 0.8, {{"threshold", 0.5}}},
      {"hmc", 0.4, {{"leapfrog_steps", 5}}},
  };
  for (const auto& c : cases) {
    auto smp = sampler(c.type, c.s, c.extra);
    at::Generator gen = make_generator(31, at::kCPU);
    at::Tensor z0 = at::randn({N, 2}, gen, at::kDouble) * at::tensor({1.0, 0.5}, at::kDouble);
    ChainState state = ChainState::start(z0, target);
    SamplerStats stats;
    smp->run(state, target, 20, gen, &stats);
    const double acc = stats.summary()["accept"].get<double>();
    EXPECT_GT(acc, 0.2) << c.type;
    EXPECT_LT(acc, 0.999) << c.type << ": the test needs rejections to mean anything";
    for (int d = 0; d < 2; ++d) {
      const double v = d == 0 ? 1.0 : 0.25;
      const double got = state.z.select(1, d).var().item<double>();
      EXPECT_NEAR(got, v, 4 * v * std::sqrt(2.0 / N)) << c.type << " coordinate " << d;
      EXPECT_NEAR(state.z.select(1, d).mean().item<double>(), 0, 4 * std::sqrt(v / N)) << c.type;
    }
  }
}

// Tempering: every MH sampler targets exp(f/ε²); with f = −z²/2 and ε = 0.5 the
// target is N(0, 0.25).
TEST(MetropolisSamplers, TargetExpFOverEpsilonSquared) {
  const int64_t N = 20000;
  DiagonalGaussian target({1.0});
  for (const char* type : {"mala", "anila-mh", "hmc"}) {
    auto smp = sampler(type, 0.3, {{"noise_scale", 0.5}, {"threshold", 0.3}});
    at::Generator gen = make_generator(5, at::kCPU);
    ChainState state = ChainState::start(at::randn({N, 1}, gen, at::kDouble) * 0.5, target);
    smp->run(state, target, 20, gen);
    EXPECT_NEAR(state.z.var().item<double>(), 0.25, 4 * 0.25 * std::sqrt(2.0 / N)) << type;
  }
}

// AniLA-MH where γ varies strongly: f = −2z² (sd 0.5), b = 1, so γ = 1/max(1, 4|z|)
// ranges over (0, 1]. Exact draws must stay N(0, 0.25).
TEST(AnilaMh, InvariantWhereGammaVariesStrongly) {
  const int64_t N = 20000;
  DiagonalGaussian target({0.5});
  auto smp = sampler("anila-mh", 0.5, {{"threshold", 1.0}});
  at::Generator gen = make_generator(77, at::kCPU);
  ChainState state = ChainState::start(at::randn({N, 1}, gen, at::kDouble) * 0.5, target);
  SamplerStats stats;
  smp->run(state, target, 30, gen, &stats);
  EXPECT_LT(stats.summary()["gamma_lt1"].get<double>(), 0.9);
  EXPECT_GT(stats.summary()["gamma_lt1"].get<double>(), 0.3);
  EXPECT_NEAR(state.z.var().item<double>(), 0.25, 4 * 0.25 * std::sqrt(2.0 / N));
}

// Unadjusted AniLA's small-step law is ∝ exp(f)/γ (one γ per chain in 1D): on
// f = −2z², b = 1 its variance is that of exp(−2z²)·max(1, 4|z|), not 0.25.
// AniLA-MH at the same step removes the bias.
TEST(AnilaBias, UnadjustedLawIsExpFOverGammaAndMhRemovesIt) {
  const double predicted = quadrature_variance(
      [](double x) { return std::exp(-2 * x * x) * std::max(1.0, 4 * std::abs(x)); }, -6, 6);
  EXPECT_NEAR(predicted, 0.445,
              0.005);  // measured 0.443 (20k chains × 20k steps) vs predicted 0.445
  const int64_t N = 10000;
  DiagonalGaussian target({0.5});
  for (const char* type : {"anila", "anila-mh"}) {
    auto smp = sampler(type, 0.005, {{"threshold", 1.0}});
    at::Generator gen = make_generator(2, at::kCPU);
    ChainState state = ChainState::start(at::randn({N, 1}, gen, at::kDouble) * 0.5, target);
    // Relaxation time ~ 1/(s·γ·4) ≈ a few hundred steps; 3000 steps then average
    // the variance over 10 snapshots 100 steps apart.
    smp->run(state, target, 3000, gen);
    double var = 0;
    for (int k = 0; k < 10; ++k) {
      smp->run(state, target, 100, gen);
      var += state.z.var().item<double>() / 10;
    }
    const double expected = std::string(type) == "anila" ? predicted : 0.25;
    // SE of one snapshot: v·√(2/N); snapshots are correlated, so keep that SE, ×4,
    // plus an O(s) discretisation allowance of 0.01.
    EXPECT_NEAR(var, expected, 4 * expected * std::sqrt(2.0 / N) + 0.01) << type;
  }
}

TEST(AnilaMh, ProposalDensityMatchesTheGaussianFormula) {
  SamplerOptions o;
  o.type = "anila-mh";
  o.step_size = 0.3;
  o.noise_scale = 0.7;
  o.threshold = 0.5;
  for (const std::string aniso : {"both", "noise", "drift"}) {
    o.anisotropy = aniso;
    AnilaMhSampler smp(o);
    at::Tensor from = at::tensor({0.2, -1.0, 0.4, 0.0}, at::kDouble).view({2, 2});
    at::Tensor grad = at::tensor({2.0, -0.1, 0.3, -4.0}, at::kDouble).view({2, 2});
    at::Tensor to = at::tensor({0.5, -0.7, 0.1, -0.6}, at::kDouble).view({2, 2});
    at::Tensor got = smp.log_proposal(to, from, grad);
    for (int b = 0; b < 2; ++b) {
      double expected = 0;
      for (int i = 0; i < 2; ++i) {
        const double g = grad[b][i].item<double>();
        const double gamma = 0.5 / std::max(0.5, std::abs(g));
        const double gd = aniso == "noise" ? 1 : gamma, gn = aniso == "drift" ? 1 : gamma;
        const double mean = from[b][i].item<double>() + 0.3 * gd / 2 * g;
        const double var = 0.7 * 0.7 * 0.3 * gn;
        const double d = to[b][i].item<double>() - mean;
        expected += -d * d / (2 * var) - 0.5 * std::log(2 * M_PI * var);
      }
      EXPECT_NEAR(got[b].item<double>(), expected, 1e-12) << aniso << " chain " << b;
    }
  }
}

// Detailed balance of the AniLA-MH kernel off the diagonal:
// π(x) q(y|x) α(x→y) = π(y) q(x|y) α(y→x), with π ∝ exp(f/ε²) on a 2D target
// whose γ varies, for many random pairs.
TEST(AnilaMh, DetailedBalanceOnA2DTarget) {
  FunctionLogDensity banana([](const at::Tensor& z) {
    at::Tensor x = z.select(1, 0), y = z.select(1, 1);
    return -0.5 * x.pow(2) - 2.0 * (y - 0.5 * x.pow(2)).pow(2);
  });
  SamplerOptions o;
  o.type = "anila-mh";
  o.step_size = 0.4;
  o.noise_scale = 0.8;
  o.threshold = 0.7;
  AnilaMhSampler smp(o);
  at::Generator gen = make_generator(9, at::kCPU);
  ChainState x = ChainState::start(at::randn({500, 2}, gen, at::kDouble), banana);
  ChainState y = ChainState::start(x.z + 0.5 * at::randn({500, 2}, gen, at::kDouble), banana);
  const double t = o.noise_scale * o.noise_scale;
  at::Tensor lhs =
      x.f / t + smp.log_proposal(y.z, x.z, x.grad) + smp.log_acceptance(x, y).clamp_max(0);
  at::Tensor rhs =
      y.f / t + smp.log_proposal(x.z, y.z, y.grad) + smp.log_acceptance(y, x).clamp_max(0);
  EXPECT_TRUE(at::allclose(lhs, rhs, 1e-10, 1e-10));
  // And the ratio is not trivially 1: the proposal is asymmetric here.
  EXPECT_GT((smp.log_acceptance(x, y) - (y.f - x.f) / t).abs().max().item<double>(), 0.1);
}

TEST(MetropolisSamplers, AcceptanceGoesToOneAsTheStepShrinks) {
  DiagonalGaussian target({1.0, 0.3});
  for (const char* type : {"mala", "anila-mh", "hmc"}) {
    double previous = 0;
    // AniLA-MH approaches 1 more slowly (its proposal variance varies with z, so
    // the log ratio is O(√s), not O(s^1.5)): go down to s = 5e-6.
    for (double s : {0.5, 0.05, 0.005, 0.0005, 0.00005, 0.000005}) {
      auto smp = sampler(type, s, {{"threshold", 0.5}, {"leapfrog_steps", 3}});
      at::Generator gen = make_generator(4, at::kCPU);
      ChainState state = ChainState::start(at::randn({4000, 2}, gen, at::kDouble), target);
      SamplerStats stats;
      smp->run(state, target, 5, gen, &stats);
      const double acc = stats.summary()["accept"].get<double>();
      EXPECT_GE(acc, previous - 0.01) << type << " s=" << s;
      previous = acc;
    }
    EXPECT_GT(previous, 0.995) << type;
  }
}

// Leapfrog's energy error after a fixed integration time T = L·h scales as h²:
// halving h (doubling L) divides the mean |ΔH| by ~4.
TEST(Hmc, EnergyErrorShrinksAsStepSquared) {
  DiagonalGaussian target({1.0, 0.4});
  at::Generator gen = make_generator(12, at::kCPU);
  at::Tensor z0 = at::randn({2000, 2}, gen, at::kDouble);
  at::Tensor p0 = at::randn({2000, 2}, gen, at::kDouble);
  std::vector<double> err;
  for (auto [h, L] : {std::pair<double, int64_t>{0.1, 10}, {0.05, 20}, {0.025, 40}}) {
    SamplerOptions o;
    o.type = "hmc";
    o.step_size = h;
    o.leapfrog_steps = L;
    HmcSampler hmc(o);
    ChainState s = ChainState::start(z0, target);
    auto traj = hmc.leapfrog(s, p0, target);
    err.push_back((hmc.hamiltonian(traj.end.f, traj.p) - hmc.hamiltonian(s.f, p0))
                      .abs()
                      .mean()
                      .item<double>());
  }
  EXPECT_NEAR(err[0] / err[1], 4.0, 0.4);
  EXPECT_NEAR(err[1] / err[2], 4.0, 0.4);
}

TEST(Hmc, DiagonalMassIsUsedAndChecked) {
  DiagonalGaussian target({1.0, 0.1});
  // M = Σ⁻¹ (mass = precision) makes the scaled problem isotropic: acceptance stays
  // high at a step where the identity mass fails on the narrow coordinate.
  auto identity = sampler("hmc", 0.5, {{"leapfrog_steps", 3}});
  auto matched = sampler("hmc", 0.5, {{"leapfrog_steps", 3}, {"mass", {1.0, 100.0}}});
  double acc[2];
  int i = 0;
  for (auto* smp : {identity.get(), matched.get()}) {
    at::Generator gen = make_generator(3, at::kCPU);
    ChainState state = ChainState::start(
        at::randn({2000, 2}, gen, at::kDouble) * at::tensor({1.0, 0.1}, at::kDouble), target);
    SamplerStats stats;
    smp->run(state, target, 5, gen, &stats);
    acc[i++] = stats.summary()["accept"].get<double>();
  }
  EXPECT_LT(acc[0], 0.2);
  EXPECT_GT(acc[1], 0.8);
  auto wrong = sampler("hmc", 0.5, {{"mass", {1.0, 2.0, 3.0}}});
  at::Generator gen = make_generator(3, at::kCPU);
  ChainState state = ChainState::start(at::zeros({4, 2}, at::kDouble), target);
  EXPECT_THROW(wrong->step(state, target, gen, nullptr), UserError);
}

TEST(Gd, IsNoiseFreeAscent) {
  DiagonalGaussian target({1.0});
  auto smp = sampler("gd", 0.2);
  at::Generator gen = make_generator(1, at::kCPU);
  ChainState state = ChainState::start(at::full({3, 1}, 2.0, at::kDouble), target);
  smp->step(state, target, gen, nullptr);
  // z' = z + (s/2)(−z) = 2 · 0.9
  EXPECT_TRUE(at::allclose(state.z, at::full({3, 1}, 1.8, at::kDouble)));
  smp->run(state, target, 500, gen);
  EXPECT_LT(state.z.abs().max().item<double>(), 1e-6);  // collapses onto the mode
}

TEST(Adaptation, DualAveragingReachesTheTargetAcceptance) {
  DiagonalGaussian target(std::vector<double>(10, 1.0));
  for (const char* type : {"mala", "hmc"}) {
    auto smp = sampler(type, 2.0, {{"leapfrog_steps", 5}});
    at::Generator gen = make_generator(6, at::kCPU);
    ChainState state = ChainState::start(at::randn({500, 10}, gen, at::kDouble), target);
    const double s = warm_up(*smp, state, target, 400, /*adapt=*/true, gen);
    EXPECT_LT(s, 2.0) << type;
    SamplerStats stats;
    smp->run(state, target, 100, gen, &stats);
    EXPECT_NEAR(stats.summary()["accept"].get<double>(), smp->options().adapt_target(), 0.07)
        << type << " adapted step " << s;
  }
}

TEST(SamplerFactory, KnowsEverySampler) {
  for (const char* type : {"langevin", "anila", "mala", "anila-mh", "hmc", "gd"}) {
    auto smp = make_sampler(Json{{"type", type}});
    EXPECT_EQ(smp->name(), type);
  }
  EXPECT_THROW(make_sampler(Json{{"type", "hmc"}, {"leapfrog_steps", 0}}), UserError);
  EXPECT_THROW(make_sampler(Json{{"type", "hmc"}, {"mass", {1.0, -1.0}}}), UserError);
  EXPECT_THROW(make_sampler(Json{{"type", "mala"}, {"target_accept", 1.5}}), UserError);
  EXPECT_EQ(make_sampler(Json{{"type", "hmc"}})->options().adapt_target(), 0.8);
  EXPECT_EQ(make_sampler(Json{{"type", "mala"}})->options().adapt_target(), 0.574);
}
