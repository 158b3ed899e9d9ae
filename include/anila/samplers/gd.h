// gd.h — noise-free gradient ascent on f (baseline):  z' = z + (s/2)∇f(z).
// Not a sampler of any distribution: chains collapse onto modes of f.
#pragma once

#include "anila/samplers/registry.h"

namespace anila {

class GdSampler : public Sampler {
 public:
  explicit GdSampler(SamplerOptions options);
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override;
};

// The registry entry (anila/samplers/registry.h).
SamplerSpec gd_spec();

}  // namespace anila
