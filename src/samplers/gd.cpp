// gd.cpp — noise-free gradient ascent  z' = z + (s/2)∇f(z).
#include "anila/samplers/gd.h"

#include <ATen/ATen.h>

namespace anila {

GdSampler::GdSampler(SamplerOptions options) : Sampler(std::move(options)) {}

void GdSampler::step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                     SamplerStats* stats) const {
  record_state(stats, state);
  accept_move(state, state.z + (options_.step_size / 2) * state.grad, logp);
}

SamplerSpec gd_spec() {
  SamplerSpec s;
  s.type = "gd";
  s.summary = "noise-free gradient ascent: z' = z + (s/2)∇f (noise_scale only sets T)";
  s.counterpart = "mala";
  s.make = [](const SamplerOptions& o) { return std::make_shared<GdSampler>(o); };
  return s;
}

}  // namespace anila
