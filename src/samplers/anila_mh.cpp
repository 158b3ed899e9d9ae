// anila_mh.cpp — AniLA proposal + Metropolis–Hastings (see anila/samplers/anila_mh.h).
#include "anila/samplers/anila_mh.h"

#include <cmath>

#include <ATen/ATen.h>

#include "samplers/per_chain.h"

#include "anila/samplers/anila.h"

namespace anila {

namespace {
constexpr double kLog2Pi = 1.8378770664093453;
}  // namespace

AnilaMhSampler::AnilaMhSampler(SamplerOptions options) : Sampler(std::move(options)) {}

std::pair<at::Tensor, at::Tensor> AnilaMhSampler::proposal(const at::Tensor& z,
                                                           const at::Tensor& grad) const {
  const double s = options_.step_size, eps2 = temperature();
  auto [drift_scale, noise_sd] = anila_scales(grad, options_);
  return {z + (s / 2) * drift_scale * grad, (eps2 * s) * noise_sd * noise_sd};
}

namespace {
// log N(to; mean, diag(var)) summed per chain: [B].
// Float64 (docs/samplers.md, "Precision").
at::Tensor log_gaussian(const at::Tensor& to, const at::Tensor& mean, const at::Tensor& var) {
  const at::Tensor v = var.to(at::kDouble);
  return sum_per_chain(-(to - mean).to(at::kDouble).pow(2) / (2 * v) - 0.5 * (kLog2Pi + v.log()));
}
}  // namespace

at::Tensor AnilaMhSampler::log_proposal(const at::Tensor& to, const at::Tensor& from,
                                        const at::Tensor& from_grad) const {
  auto [mean, var] = proposal(from, from_grad);
  return log_gaussian(to, mean, var);
}

at::Tensor AnilaMhSampler::log_acceptance(const ChainState& from, const ChainState& to) const {
  auto [mean, var] = proposal(from.z, from.grad);
  return log_acceptance(from, to, mean, var);
}

at::Tensor AnilaMhSampler::log_acceptance(const ChainState& from, const ChainState& to,
                                          const at::Tensor& from_mean,
                                          const at::Tensor& from_var) const {
  return log_target_ratio(to.f, from.f, temperature()) +
         (log_proposal(from.z, to.z, to.grad) - log_gaussian(to.z, from_mean, from_var));
}

void AnilaMhSampler::step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                          SamplerStats* stats) const {
  record_state(stats, state);
  auto [mean, var] = proposal(state.z, state.grad);
  if (stats) {
    at::Tensor gamma = anila_gamma(state.grad, options_.threshold, options_.norm);
    stats->add(&stats->gamma, gamma.mean());
    stats->add(&stats->gamma_lt1, (gamma < 1).to(at::kFloat).mean());
  }
  at::Tensor xi = at::randn(state.z.sizes(), gen, state.z.options());
  ChainState prop;
  prop.z = mean + var.sqrt() * xi;
  if (options_.clamp_min < options_.clamp_max)
    prop.z.clamp_(options_.clamp_min, options_.clamp_max);
  LogDensityValue v = logp(prop.z);
  prop.f = v.f;
  prop.grad = v.grad;
  // The forward density reuses this step's proposal mean and variance.
  metropolis_update(state, prop, log_acceptance(state, prop, mean, var), gen, stats);
}

SamplerSpec anila_mh_spec() {
  SamplerSpec s;
  s.type = "anila-mh";
  s.summary = "AniLA proposal N(z + (sγ/2)∇f, ε² s γ), accepted for exp(f/ε²)";
  s.metropolis = true;
  s.counterpart = "anila";
  s.target_accept = 0.574;
  s.keys = anila_option_keys();
  s.diagnostics = {"accept"};
  s.parse = parse_anila_options;
  s.to_json = write_anila_options;
  s.make = [](const SamplerOptions& o) { return std::make_shared<AnilaMhSampler>(o); };
  return s;
}

}  // namespace anila
