// test_samplers_forms.cpp — AniLA's forms (noise_power: √γ as in the paper, γ as in
// the authors' code), threshold adaptation during warm-up, and anila-ito (unadjusted
// AniLA with the divergence drift that removes its bias).
//
// Independent references used:
//   * One AniLA step on f = c·z (constant gradient c): z' − z − drift is N(0, (ε√s γ^p)²)
//     with γ = b/max(b, |c|); its sample sd over N chains has SE sd/√(2N).
//   * The AniLA-MH proposal density with noise_power = 1 is re-derived with scalar
//     loops from the Gaussian formula (variance ε² s γ²).
//   * Moments of 1D targets by midpoint quadrature (not by a sampler).
#include <algorithm>
#include <cmath>
#include <iostream>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/config.h"
#include "anila/samplers/adapt.h"
#include "anila/samplers/anila.h"
#include "anila/samplers/anila_ito.h"
#include "anila/samplers/anila_mh.h"
#include "anila/samplers/registry.h"

using namespace anila;

namespace {

// f(z) = Σ c·z: constant gradient c everywhere (closed form).
class Slope : public LogDensity {
 public:
  explicit Slope(double c) : c_(c) {}
  LogDensityValue operator()(const at::Tensor& z) const override {
    return {c_ * z.reshape({z.size(0), -1}).sum(1), at::full_like(z, c_)};
  }

 private:
  double c_;
};

// The sd of one step's noise, z' − z − (s/2)γ_d c, pooled over chains and coordinates.
double step_noise_sd(const Json& options, const std::vector<int64_t>& shape, at::ScalarType t,
                     double c) {
  SamplerPtr smp = make_sampler(options);
  Slope logp(c);
  at::Generator gen = make_generator(11, at::kCPU);
  ChainState state = ChainState::start(at::zeros(shape, at::TensorOptions().dtype(t)), logp);
  smp->step(state, logp, gen, nullptr);
  return state.z.to(at::kDouble).std().item<double>();  // the drift is the same everywhere
}

TEST(AnilaForms, NoisePowerScalesTheNoiseByGammaToThePower) {
  const double s = 0.5, eps = 0.8, b = 0.2, c = 1.0;  // γ = 0.2
  const std::vector<int64_t> flat = {20000, 2}, image = {2000, 3, 2, 2};
  for (double p : {0.5, 1.0}) {
    const double expected = eps * std::sqrt(s) * std::pow(b / c, p);
    // float32 element (the CPU fast path), double (tensor ops), pixel norm (tensor ops).
    struct Case {
      std::vector<int64_t> shape;
      at::ScalarType type;
      std::string norm;
      double gamma;
    };
    for (const Case& k :
         {Case{flat, at::kFloat, "element", b / c}, Case{flat, at::kDouble, "element", b / c},
          Case{image, at::kFloat, "pixel", b / (c * std::sqrt(3.0))}}) {
      Json o = {{"type", "anila"},  {"step_size", s}, {"noise_scale", eps},   {"threshold", b},
                {"noise_power", p}, {"norm", k.norm}, {"anisotropy", "noise"}};
      const double want = eps * std::sqrt(s) * std::pow(k.gamma, p);
      double n = 1;
      for (int64_t d : k.shape) n *= double(d);
      const double got = step_noise_sd(o, k.shape, k.type, c);
      EXPECT_NEAR(got, want, 4 * want / std::sqrt(2 * n)) << "p " << p << " " << k.norm;
      if (k.norm == "element") EXPECT_NEAR(want, expected, 1e-12);
    }
  }
}

TEST(AnilaForms, NoisePowerIsReadWrittenAndChecked) {
  SamplerOptions o = parse_sampler_options(Json{{"type", "anila-mh"}, {"noise_power", 1}});
  EXPECT_EQ(o.noise_power, 1.0);
  EXPECT_EQ(o.to_json()["noise_power"].get<double>(), 1.0);
  EXPECT_EQ(parse_sampler_options(Json{{"type", "anila"}}).to_json()["noise_power"], 0.5);
  for (double bad : {0.0, 1.5, -1.0}) {
    try {
      parse_sampler_options(Json{{"type", "anila"}, {"noise_power", bad}});
      FAIL() << bad;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("sampler.noise_power"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parse_sampler_options(Json{{"type", "mala"}, {"noise_power", 1}}), UserError);
}

// The image configs claim the authors' code's form; they must run it: one γ per
// pixel over the channels, drift unscaled, noise ∝ γ. The paper's form is there too.
TEST(AnilaForms, ImageConfigsRunTheAuthorsForm) {
  const std::string dir = std::string(ANILA_SOURCE_DIR) + "/configs/";
  for (const char* name : {"cifar10.json", "flowers.json", "celeba.json", "reproduce/cifar10.json",
                           "reproduce/flowers.json", "reproduce/celeba-inpainting.json",
                           "reproduce/fashion-mnist.json"}) {
    const SamplerOptions o = resolve_sampler(load_json_file(dir + name), "anila");
    EXPECT_EQ(o.norm, "pixel") << name;
    EXPECT_EQ(o.anisotropy, "noise") << name;
    EXPECT_EQ(o.noise_power, 1.0) << name;
    EXPECT_EQ(o.threshold, 2e-4) << name;  // the tuned numbers are unchanged
    EXPECT_EQ(o.step_size, 2.0) << name;
    // The paper's form beside it, as the named variant anila-paper: per-coordinate γ,
    // drift and noise scaled, noise ∝ √γ, at the same s, b and ε.
    const SamplerOptions p = resolve_sampler(load_json_file(dir + name), "anila-paper");
    EXPECT_EQ(p.type, "anila") << name;
    EXPECT_EQ(p.norm, "element") << name;
    EXPECT_EQ(p.anisotropy, "both") << name;
    EXPECT_EQ(p.noise_power, 0.5) << name;
    EXPECT_EQ(p.threshold, o.threshold) << name;
    EXPECT_EQ(p.step_size, o.step_size) << name;
    EXPECT_EQ(p.noise_scale, o.noise_scale) << name;
  }
}

TEST(AnilaForms, MhProposalDensityWithLinearNoise) {
  SamplerOptions o;
  o.type = "anila-mh";
  o.step_size = 0.3;
  o.noise_scale = 0.7;
  o.threshold = 0.5;
  o.noise_power = 1;
  for (const std::string aniso : {"both", "noise"}) {
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
        const double gd = aniso == "noise" ? 1 : gamma;
        const double mean = from[b][i].item<double>() + 0.3 * gd / 2 * g;
        const double var = 0.7 * 0.7 * 0.3 * gamma * gamma;
        const double d = to[b][i].item<double>() - mean;
        expected += -d * d / (2 * var) - 0.5 * std::log(2 * M_PI * var);
      }
      EXPECT_NEAR(got[b].item<double>(), expected, 1e-12) << aniso << " chain " << b;
    }
  }
}

// With linear noise the proposal is still a Gaussian and the ratio uses its density:
// exact draws of N(0, 0.25) stay exact where γ varies strongly (b = 1, |∇f| = 4|z|).
TEST(AnilaForms, MhWithLinearNoiseKeepsTheTargetInvariant) {
  const int64_t N = 20000;
  FunctionLogDensity target([](const at::Tensor& z) { return -2.0 * z.pow(2).sum(1); });
  SamplerPtr smp = make_sampler(Json{{"type", "anila-mh"},
                                     {"step_size", 0.5},
                                     {"threshold", 1.0},
                                     {"noise_power", 1},
                                     {"anisotropy", "noise"}});
  at::Generator gen = make_generator(78, at::kCPU);
  ChainState state = ChainState::start(at::randn({N, 1}, gen, at::kDouble) * 0.5, target);
  SamplerStats stats;
  smp->run(state, target, 30, gen, &stats);
  EXPECT_GT(stats.summary()["accept"].get<double>(), 0.2);
  EXPECT_NEAR(state.z.mean().item<double>(), 0.0, 4 * 0.5 / std::sqrt(double(N)));
  EXPECT_NEAR(state.z.var().item<double>(), 0.25, 4 * 0.25 * std::sqrt(2.0 / N));
}

// ---- threshold adaptation ----

// f = −|z|²/2 in d dimensions, closed form (N(0, I)).
class StandardGaussian : public LogDensity {
 public:
  LogDensityValue operator()(const at::Tensor& z) const override {
    return {-0.5 * z.pow(2).sum(1), -z};
  }
};

// AniLA-MH on N(0, I_20) from overdispersed starts (the `anila sample` setting: 200
// chains, 500 warm-up + 2000 kept steps): with b adapted together with s every
// coordinate's mean is within 0.05 and variance within 0.08 of the truth; at the
// fixed default b = 0.01 (sγ ≈ 0.002) the chains have not mixed (measured: variances
// off by up to 2.1).
TEST(ThresholdAdaptation, AnilaMhMixesOnAGaussianWithAdaptedThreshold) {
  StandardGaussian target;
  const int64_t C = 200, D = 20, W = 500, S = 2000;
  for (double quantile : {0.9, 0.0}) {
    SamplerPtr smp = make_sampler(Json{{"type", "anila-mh"}, {"step_size", 1.0}});
    at::Generator init = make_generator(123, at::kCPU);
    ChainState state = ChainState::start(at::randn({C, D}, init, at::kFloat) * 2, target);
    at::Generator gen = make_generator(124, at::kCPU);
    warm_up(*smp, state, target, W, /*adapt=*/true, gen, quantile);
    at::Tensor sum = at::zeros({D}, at::kDouble), sum2 = at::zeros({D}, at::kDouble);
    for (int64_t t = 0; t < S; ++t) {
      smp->step(state, target, gen, nullptr);
      at::Tensor z = state.z.to(at::kDouble);
      sum += z.sum(0);
      sum2 += z.pow(2).sum(0);
    }
    const double n = double(C * S);
    at::Tensor mean = sum / n, var = sum2 / n - mean.pow(2);
    const double mean_err = mean.abs().max().item<double>();
    const double var_err = (var - 1).abs().max().item<double>();
    if (quantile > 0) {
      EXPECT_LT(mean_err, 0.05);
      EXPECT_LT(var_err, 0.08);
      EXPECT_GT(smp->options().threshold, 0.5);  // ≈ the 0.9-quantile of |z_i|, 1.64
    } else {
      EXPECT_GT(var_err, 0.08);  // the fixed default threshold does not mix
      EXPECT_EQ(smp->options().threshold, 0.01);
    }
  }
}

TEST(ThresholdAdaptation, FollowsTheQuantileOfTheGradientMagnitude) {
  ThresholdAdaptation ta(0.5);
  at::Generator gen = make_generator(5, at::kCPU);
  double b = 0;
  for (int t = 0; t < 200; ++t) b = ta.update(at::randn({1000, 4}, gen, at::kDouble), "element");
  EXPECT_NEAR(b, 0.6745, 0.02);  // median of |N(0, 1)|
  ThresholdAdaptation per_sample(0.5);
  for (int t = 0; t < 200; ++t)
    b = per_sample.update(at::randn({1000, 2}, gen, at::kDouble), "sample");
  EXPECT_NEAR(b, std::sqrt(2 * std::log(2.0)), 0.03);  // median of a Rayleigh(1)
}

// ---- anila-ito ----

// A tilted quartic f = −z⁴/4 + z (1D): f, ∇f in closed form from differentiable ops.
class Quartic : public LogDensity {
 public:
  LogDensityValue operator()(const at::Tensor& z) const override {
    return {(-0.25 * z.pow(4) + z).sum(1), -z.pow(3) + 1};
  }
};

double quadrature_mean(const std::function<double(double)>& density, double lo, double hi) {
  const int n = 200000;
  double m0 = 0, m1 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = lo + (hi - lo) * (i + 0.5) / n, p = density(x);
    m0 += p;
    m1 += p * x;
  }
  return m1 / m0;
}

// Mean of the pooled chains after a burn-in, averaged over snapshots, and its MCSE
// from the N independent chains (snapshots 200 steps apart, treated as one draw).
std::pair<double, double> long_run_mean(const std::string& type, const LogDensity& logp, int64_t N,
                                        double s, double b) {
  SamplerPtr smp = make_sampler(Json{{"type", type}, {"step_size", s}, {"threshold", b}});
  at::Generator gen = make_generator(31, at::kCPU);
  ChainState state = ChainState::start(at::randn({N, 1}, gen, at::kDouble), logp);
  smp->run(state, logp, 1500, gen);
  at::Tensor acc = at::zeros({N}, at::kDouble);
  const int snaps = 5;
  for (int k = 0; k < snaps; ++k) {
    smp->run(state, logp, 200, gen);
    acc += state.z.squeeze(1) / snaps;
  }
  return {acc.mean().item<double>(), acc.std().item<double>() / std::sqrt(double(N))};
}

// Unadjusted AniLA targets ∝ exp(f)/γ: on the quartic with b = 1 its mean is far
// (> 10 MCSE) from the truth; anila-ito at the same step is within 3 MCSE + the
// O(s) discretisation allowance.
TEST(AnilaIto, RemovesUnadjustedAnilasBiasOnAQuartic) {
  auto f = [](double x) { return std::exp(-0.25 * std::pow(x, 4) + x); };
  const double truth = quadrature_mean(f, -8, 8);
  const double biased = quadrature_mean(
      [&](double x) { return f(x) * std::max(1.0, std::abs(1 - x * x * x)); }, -8, 8);
  Quartic logp;
  const int64_t N = 5000;
  const double s = 0.02;
  auto [anila, anila_se] = long_run_mean("anila", logp, N, s, 1.0);
  auto [ito, ito_se] = long_run_mean("anila-ito", logp, N, s, 1.0);
  EXPECT_GT(std::abs(anila - truth), 10 * anila_se) << anila << " vs " << truth;
  EXPECT_NEAR(anila, biased, 4 * anila_se + 0.02);  // the exp(f)/γ law, up to O(s)
  EXPECT_NEAR(ito, truth, 3 * ito_se + 0.01) << "biased law " << biased;
  std::cout << "quartic mean: truth " << truth << ", exp(f)/γ law " << biased << "; anila " << anila
            << " ± " << anila_se << ", anila-ito " << ito << " ± " << ito_se << "\n";
}

// ∇·γ against central finite differences of γ(∇f) on a 2D banana, for every norm;
// the Hutchinson estimate (many probes) against the exact diagonal.
TEST(AnilaIto, DivergenceMatchesFiniteDifferences) {
  FunctionLogDensity banana([](const at::Tensor& z) {
    at::Tensor x = z.select(1, 0), y = z.select(1, 1);
    return -0.5 * x.pow(2) - 2.0 * (y - 0.5 * x.pow(2)).pow(2);
  });
  at::Generator gen = make_generator(8, at::kCPU);
  at::Tensor z = at::randn({64, 2}, gen, at::kDouble) * 1.5;
  const double b = 0.5, h = 1e-6;
  for (const std::string norm : {"element", "sample"}) {
    for (int64_t exact_dim : {16, 0}) {
      SamplerOptions o = parse_sampler_options(Json{{"type", "anila-ito"},
                                                    {"threshold", b},
                                                    {"norm", norm},
                                                    {"exact_hessian_dim", exact_dim},
                                                    {"hessian_probes", 400}});
      AnilaItoSampler smp(o);
      at::Tensor got = smp.gamma_divergence(z, banana(z).grad, banana, gen);
      at::Tensor want = at::zeros_like(z);
      for (int64_t i = 0; i < 2; ++i) {
        at::Tensor e = at::zeros({1, 2}, at::kDouble);
        e[0][i] = h;
        at::Tensor up = anila_gamma(banana(z + e).grad, b, norm).select(1, i);
        at::Tensor down = anila_gamma(banana(z - e).grad, b, norm).select(1, i);
        want.select(1, i).copy_((up - down) / (2 * h));
      }
      // Exact: to rounding (points at the kink |∇f| = b have probability 0).
      // Sample norm is always exact (one product); element with 400 probes: the
      // Hutchinson error of H_ii is ~|H_ij|/√400.
      const bool exact = norm == "sample" || exact_dim > 0;
      const double tol = exact ? 1e-5 : 0.15;
      EXPECT_LT((got - want).abs().max().item<double>(),
                tol * (1 + want.abs().max().item<double>()))
          << norm << " exact_dim " << exact_dim;
    }
  }
}

TEST(AnilaIto, PixelDivergenceMatchesFiniteDifferences) {
  FunctionLogDensity f([](const at::Tensor& z) {
    at::Tensor flat = z.reshape({z.size(0), -1});
    // Channels coupled within each pixel, and pixels 0 and 1 coupled across pixels.
    return -0.25 * flat.pow(4).sum(1) - 0.5 * (flat.narrow(1, 0, 4) * flat.narrow(1, 4, 4)).sum(1) -
           0.3 * flat.select(1, 0) * flat.select(1, 1);
  });
  at::Generator gen = make_generator(9, at::kCPU);
  at::Tensor z = at::randn({8, 2, 2, 2}, gen, at::kDouble) * 1.5;
  const double b = 0.3, h = 1e-6;
  AnilaItoSampler smp(
      parse_sampler_options(Json{{"type", "anila-ito"}, {"threshold", b}, {"norm", "pixel"}}));
  at::Tensor got = smp.gamma_divergence(z, f(z).grad, f, gen);
  at::Tensor want = at::zeros_like(z).reshape({8, -1});
  for (int64_t i = 0; i < 8; ++i) {
    at::Tensor e = at::zeros({1, 8}, at::kDouble);
    e[0][i] = h;
    e = e.view({1, 2, 2, 2});
    at::Tensor up = anila_gamma(f(z + e).grad, b, "pixel").reshape({8, -1}).select(1, i);
    at::Tensor down = anila_gamma(f(z - e).grad, b, "pixel").reshape({8, -1}).select(1, i);
    want.select(1, i).copy_((up - down) / (2 * h));
  }
  EXPECT_LT((got.reshape({8, -1}) - want).abs().max().item<double>(), 1e-5);
}

TEST(AnilaIto, NeedsASecondDerivativePath) {
  Slope linear(1.0);  // ∇f is a constant: not connected to z
  SamplerPtr smp = make_sampler(Json{{"type", "anila-ito"}, {"threshold", 0.1}});
  at::Generator gen = make_generator(1, at::kCPU);
  ChainState state = ChainState::start(at::zeros({4, 2}), linear);
  EXPECT_THROW(smp->step(state, linear, gen, nullptr), UserError);
}

}  // namespace
