// test_sampler_contract.cpp — what every registered sampler must do, tested
// over the whole registry (anila/samplers/registry.h). A sampler added by
// docs/adding-a-sampler.md is tested here without writing tests by hand.
//
// Per type: its registry entry is consistent; its options survive a
// to_json → parse round trip; a step keeps the state's shapes (2D and image
// states), leaves the model's parameters θ untouched and accumulates no
// parameter gradients; its diagnostics are present; it evaluates the
// log-density exactly gradients_per_step() times per step; and, for the
// Metropolis-adjusted types (MetropolisContract), exact draws of a Gaussian target stay distributed
// as the target (mean and variance within 5 Monte Carlo standard errors).
#include <cmath>
#include <string>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "anila/config.h"
#include "anila/models/energy.h"
#include "anila/samplers/registry.h"

namespace anila {
namespace {

std::vector<std::string> registered() {
  return sampler_types();
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

// f(z) = −½ Σ z²/σ² (σ per call); counts evaluations.
class CountingGaussian : public LogDensity {
 public:
  explicit CountingGaussian(double sd) : sd_(sd) {}
  LogDensityValue operator()(const at::Tensor& z) const override {
    ++calls;
    std::vector<int64_t> dims;
    for (int64_t d = 1; d < z.dim(); ++d) dims.push_back(d);
    const double prec = 1.0 / (sd_ * sd_);
    return {-0.5 * prec * z.pow(2).sum(dims), -prec * z};
  }
  mutable int64_t calls = 0;

 private:
  double sd_;
};

class SamplerContract : public testing::TestWithParam<std::string> {
 protected:
  // Defaults of the type with a small step, at temperature 1.
  SamplerOptions options(double step = 0.05) const {
    return parse_sampler_options(Json{{"type", GetParam()}, {"step_size", step}});
  }
};

TEST_P(SamplerContract, RegistryEntryIsConsistent) {
  const SamplerSpec& spec = sampler_spec(GetParam());
  EXPECT_EQ(spec.type, GetParam());
  EXPECT_FALSE(spec.summary.empty());
  ASSERT_TRUE(static_cast<bool>(spec.make));
  if (spec.metropolis) {
    EXPECT_GT(spec.target_accept, 0);
    EXPECT_LT(spec.target_accept, 1);
    EXPECT_NE(std::find(spec.diagnostics.begin(), spec.diagnostics.end(), "accept"),
              spec.diagnostics.end());
  }
  if (!spec.counterpart.empty()) {
    const SamplerSpec& other = sampler_spec(spec.counterpart);
    EXPECT_NE(other.metropolis, spec.metropolis) << spec.counterpart;
  }
  // The type's own keys are readable: every key to_json writes is common or own.
  const auto common = common_sampler_keys(spec);
  const Json written = options().to_json();
  for (auto& [key, value] : written.items()) {
    const bool known = key == "type" ||
                       std::find(common.begin(), common.end(), key) != common.end() ||
                       std::find(spec.keys.begin(), spec.keys.end(), key) != spec.keys.end();
    EXPECT_TRUE(known) << key;
  }
}

TEST_P(SamplerContract, OptionsRoundTripThroughJson) {
  const Json once = options(0.125).to_json();
  const Json twice = parse_sampler_options(once).to_json();
  EXPECT_EQ(once, twice);
  EXPECT_EQ(once["type"], GetParam());
  EXPECT_DOUBLE_EQ(once["step_size"].get<double>(), 0.125);
}

TEST_P(SamplerContract, RejectsKeysOfNoTypeAndNamesThem) {
  try {
    parse_sampler_options(Json{{"type", GetParam()}, {"not_a_key", 1}});
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("sampler.not_a_key"), std::string::npos) << e.what();
  }
}

TEST_P(SamplerContract, StepKeepsShapesAndReportsDiagnostics) {
  SamplerPtr sampler = make_sampler(options());
  EXPECT_EQ(sampler->name(), GetParam());
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{16, 2}, std::vector<int64_t>{4, 3, 4, 4}}) {
    CountingGaussian logp(1.0);
    at::Generator gen = make_generator(3, at::kCPU);
    ChainState state = ChainState::start(at::randn(shape, gen, at::kFloat), logp);
    SamplerStats stats;
    sampler->run(state, logp, 3, gen, &stats);
    EXPECT_EQ(state.z.sizes().vec(), shape);
    EXPECT_EQ(state.grad.sizes().vec(), shape);
    EXPECT_EQ(state.f.sizes().vec(), std::vector<int64_t>{shape[0]});
    EXPECT_EQ(state.z.scalar_type(), at::kFloat);
    EXPECT_TRUE(at::isfinite(state.z).all().item<bool>());
    // The cache holds f and ∇f of the current state.
    LogDensityValue fresh = logp(state.z);
    EXPECT_TRUE(at::allclose(fresh.f, state.f, 1e-4, 1e-5));
    EXPECT_TRUE(at::allclose(fresh.grad, state.grad, 1e-4, 1e-5));
    const Json summary = stats.summary();
    EXPECT_EQ(stats.steps, 3);
    for (const std::string& key : {std::string("grad_abs"), std::string("f")})
      EXPECT_TRUE(summary.contains(key)) << key;
    for (const std::string& key : sampler->spec().diagnostics)
      EXPECT_TRUE(summary.contains(key)) << key;
  }
}

TEST_P(SamplerContract, EvaluatesTheLogDensityGradientsPerStepTimes) {
  SamplerPtr sampler = make_sampler(options());
  CountingGaussian logp(1.0);
  at::Generator gen = make_generator(4, at::kCPU);
  ChainState state = ChainState::start(at::randn({8, 2}, gen, at::kFloat), logp);
  logp.calls = 0;
  sampler->run(state, logp, 5, gen);
  EXPECT_EQ(logp.calls, 5 * sampler->gradients_per_step());
}

TEST_P(SamplerContract, LeavesTheModelParametersAlone) {
  torch::manual_seed(0);
  EnergyModelPtr model = make_model(Json{{"type", "mlp"}, {"hidden", {8, 8}}}, {2});
  std::vector<at::Tensor> before;
  for (const auto& p : model->parameters()) before.push_back(p.detach().clone());
  ModelLogDensity logp(model);
  SamplerPtr sampler = make_sampler(options());
  at::Generator gen = make_generator(5, at::kCPU);
  ChainState state = ChainState::start(at::randn({16, 2}, gen, at::kFloat), logp);
  sampler->run(state, logp, 4, gen);
  auto params = model->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(at::equal(params[i], before[i])) << i;
    EXPECT_FALSE(params[i].grad().defined() && params[i].grad().abs().sum().item<double>() != 0)
        << i;
  }
  EXPECT_FALSE(state.z.requires_grad());
  EXPECT_FALSE(state.grad.requires_grad());
}

// exp(f/ε²) with f = −½ z²/σ², σ = 1, ε = 0.5: N(0, 0.25) per coordinate. From exact
// draws, N chains × 2 coordinates after 10 steps: the mean's MCSE is √(0.25/2N), the
// variance's √(2·0.25²/2N) (independent chains; coordinates independent).
class MetropolisContract : public SamplerContract {};

TEST_P(MetropolisContract, ExactDrawsOfAGaussianStayExact) {
  ASSERT_TRUE(sampler_spec(GetParam()).metropolis);
  const int64_t N = 20000;
  SamplerOptions o = options(0.2);
  o.noise_scale = 0.5;
  SamplerPtr sampler = make_sampler(o);
  CountingGaussian logp(1.0);
  at::Generator gen = make_generator(6, at::kCPU);
  ChainState state = ChainState::start(at::randn({N, 2}, gen, at::kDouble) * 0.5, logp);
  SamplerStats stats;
  sampler->run(state, logp, 10, gen, &stats);
  const double n = 2.0 * N, var = 0.25;
  EXPECT_NEAR(state.z.mean().item<double>(), 0.0, 5 * std::sqrt(var / n));
  EXPECT_NEAR(state.z.var().item<double>(), var, 5 * std::sqrt(2 * var * var / n));
  EXPECT_GT(stats.summary()["accept"].get<double>(), 0.05);  // it does move
}

std::vector<std::string> metropolis_types() {
  std::vector<std::string> out;
  for (const auto& spec : sampler_registry())
    if (spec.metropolis) out.push_back(spec.type);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Registry, SamplerContract, testing::ValuesIn(registered()), test_name);
INSTANTIATE_TEST_SUITE_P(Registry, MetropolisContract, testing::ValuesIn(metropolis_types()),
                         test_name);

}  // namespace
}  // namespace anila
