// langevin.cpp — unadjusted Langevin step  z' = z + (s/2)∇f(z) + ε√s ξ.
#include "anila/samplers/langevin.h"

#include <cmath>

#include <ATen/ATen.h>

namespace anila {

LangevinSampler::LangevinSampler(SamplerOptions options) : Sampler(std::move(options)) {}

void LangevinSampler::step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                           SamplerStats* stats) const {
  const double s = options_.step_size, eps = options_.noise_scale;
  record_state(stats, state);
  at::Tensor xi = at::randn(state.z.sizes(), gen, state.z.options());
  // z' = z + (s/2)∇f + ε√s ξ, written into the fresh noise buffer.
  at::Tensor z = xi.mul_(eps * std::sqrt(s)).add_(state.z).add_(state.grad, s / 2);
  accept_move(state, z, logp);
}

SamplerSpec langevin_spec() {
  SamplerSpec s;
  s.type = "langevin";
  s.summary = "unadjusted Langevin: z' = z + (s/2)∇f + ε√s ξ";
  s.counterpart = "mala";
  s.make = [](const SamplerOptions& o) { return std::make_shared<LangevinSampler>(o); };
  return s;
}

}  // namespace anila
