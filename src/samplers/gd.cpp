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

}  // namespace anila
