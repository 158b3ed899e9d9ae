// langevin.h — unadjusted Langevin (ULA):  z' = z + (s/2)∇f(z) + ε√s ξ,  ξ ~ N(0, I).
// With ε = 1 it is the Euler–Maruyama step of the diffusion whose stationary
// law is ∝ exp f; on a Gaussian it is biased by O(s) (variance 1/(1 − s/4) on N(0,1)).
#pragma once

#include "anila/samplers/registry.h"

namespace anila {

class LangevinSampler : public Sampler {
 public:
  explicit LangevinSampler(SamplerOptions options);
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override;
};

// The registry entry (anila/samplers/registry.h).
SamplerSpec langevin_spec();

}  // namespace anila
