// mala.h — Metropolis-adjusted Langevin (MALA) targeting exp(f/ε²).
//
//   proposal  z' ~ N(m(z), ε² s I),  m(z) = z + (s/2)∇f(z)
//   accept    min(1, exp((f(z') − f(z))/ε²) · q(z|z') / q(z'|z)),
//             log q(z'|z) = −‖z' − m(z)‖² / (2ε² s) + const
// Exact (leaves exp(f/ε²) invariant) for any step s; acceptance → 1 as s → 0.
#pragma once

#include "anila/samplers/registry.h"

namespace anila {

class MalaSampler : public Sampler {
 public:
  explicit MalaSampler(SamplerOptions options);
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override;
};

// The registry entry (anila/samplers/registry.h).
SamplerSpec mala_spec();

}  // namespace anila
