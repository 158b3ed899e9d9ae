// rwm.h — random-walk Metropolis targeting exp(f/ε²), the gradient-free baseline:
//
//   z* = z + ε√s ξ,   accepted with probability min(1, exp((f(z*) − f(z))/ε²))
//
// (a symmetric proposal, so the proposal densities cancel). Exact for any s;
// its acceptance falls as exp(−O(s·d)), so it needs s ∝ 1/d where MALA needs
// s ∝ d^(−1/3): a yardstick for what the gradient buys. The dual-averaging
// default aims for the acceptance rate 0.234 that is optimal for it in high
// dimension. ∇f is still evaluated (and cached) at every proposal, for the
// diagnostics and the shared ChainState.
#pragma once

#include "anila/samplers/registry.h"

namespace anila {

class RwmSampler : public Sampler {
 public:
  explicit RwmSampler(SamplerOptions options);
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override;
};

// The registry entry (anila/samplers/registry.h).
SamplerSpec rwm_spec();

}  // namespace anila
