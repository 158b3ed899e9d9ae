// rwm.cpp — random-walk Metropolis (see anila/samplers/rwm.h).
#include "anila/samplers/rwm.h"
#include "samplers/per_chain.h"

#include <cmath>

#include <ATen/ATen.h>

namespace anila {

RwmSampler::RwmSampler(SamplerOptions options) : Sampler(std::move(options)) {}

void RwmSampler::step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                      SamplerStats* stats) const {
  const double s = options_.step_size, eps2 = temperature();
  record_state(stats, state);
  ChainState prop;
  prop.z = at::randn(state.z.sizes(), gen, state.z.options()).mul_(std::sqrt(eps2 * s));
  prop.z.add_(state.z);
  if (options_.clamp_min < options_.clamp_max)
    prop.z.clamp_(options_.clamp_min, options_.clamp_max);
  LogDensityValue v = logp(prop.z);
  prop.f = v.f;
  prop.grad = v.grad;
  at::Tensor log_alpha = log_target_ratio(prop.f, state.f, eps2);
  metropolis_update(state, prop, log_alpha, gen, stats);
}

SamplerSpec rwm_spec() {
  SamplerSpec s;
  s.type = "rwm";
  s.summary = "random-walk Metropolis: z* = z + ε√s ξ, accepted for exp(f/ε²)";
  s.metropolis = true;
  s.target_accept = 0.234;
  s.diagnostics = {"accept"};
  s.make = [](const SamplerOptions& o) { return std::make_shared<RwmSampler>(o); };
  return s;
}

}  // namespace anila
