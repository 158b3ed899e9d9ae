// mala.cpp — Metropolis-adjusted Langevin (see anila/samplers/mala.h).
#include "anila/samplers/mala.h"

#include <cmath>

#include <ATen/ATen.h>

#include "samplers/per_chain.h"

namespace anila {

MalaSampler::MalaSampler(SamplerOptions options) : Sampler(std::move(options)) {}

void MalaSampler::step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                       SamplerStats* stats) const {
  const double s = options_.step_size, eps2 = temperature();
  record_state(stats, state);
  at::Tensor xi = at::randn(state.z.sizes(), gen, state.z.options());
  at::Tensor mean = state.z + (s / 2) * state.grad;
  ChainState prop;
  prop.z = mean + std::sqrt(eps2 * s) * xi;
  if (options_.clamp_min < options_.clamp_max)
    prop.z.clamp_(options_.clamp_min, options_.clamp_max);
  LogDensityValue v = logp(prop.z);
  prop.f = v.f;
  prop.grad = v.grad;
  // log q(z'|z) − log q(z|z'), the shared constants cancel. Everything in float64,
  // f' − f before dividing by ε² (docs/samplers.md, "Precision").
  at::Tensor forward = -sum_per_chain((prop.z - mean).to(at::kDouble).pow(2)) / (2 * eps2 * s);
  at::Tensor back_mean = prop.z + (s / 2) * prop.grad;
  at::Tensor backward =
      -sum_per_chain((state.z - back_mean).to(at::kDouble).pow(2)) / (2 * eps2 * s);
  at::Tensor log_alpha = log_target_ratio(prop.f, state.f, eps2) + (backward - forward);
  metropolis_update(state, prop, log_alpha, gen, stats);
}

SamplerSpec mala_spec() {
  SamplerSpec s;
  s.type = "mala";
  s.summary = "Metropolis-adjusted Langevin: the Langevin proposal, accepted for exp(f/ε²)";
  s.metropolis = true;
  s.counterpart = "langevin";
  s.target_accept = 0.574;
  s.diagnostics = {"accept"};
  s.make = [](const SamplerOptions& o) { return std::make_shared<MalaSampler>(o); };
  return s;
}

}  // namespace anila
