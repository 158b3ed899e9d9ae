// hmc.h — Hamiltonian Monte Carlo targeting exp(f/ε²).
//
// Potential U(z) = −f(z)/ε², momentum p ~ N(0, M) with M diagonal (identity by
// default; options.mass), kinetic energy K(p) = ½ pᵀM⁻¹p. One step: L leapfrog
// steps of size h = options.step_size,
//   p ← p − (h/2)∇U(z);  repeat L: { z ← z + h M⁻¹p;  p ← p − h∇U(z) (h/2 on the last) }
// then accept with min(1, exp(H(z, p) − H(z', p'))), H = U + K. Per chain.
// Exact for any h; the energy error of one trajectory is O(h²).
// clamp_min/clamp_max are not applied (clamping inside a trajectory breaks
// reversibility); use them with the Langevin-type samplers.
#pragma once

#include "anila/samplers/registry.h"

namespace anila {

class HmcSampler : public Sampler {
 public:
  explicit HmcSampler(SamplerOptions options);
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override;

  struct Trajectory {
    ChainState end;  // z', f(z'), ∇f(z')
    at::Tensor p;    // p' [B, ...]
  };
  // L leapfrog steps from (state, p). Public for tests of the integrator.
  Trajectory leapfrog(const ChainState& state, const at::Tensor& p, const LogDensity& logp) const;
  // H(z, p) = −f(z)/ε² + ½ pᵀM⁻¹p per chain: [B].
  at::Tensor hamiltonian(const at::Tensor& f, const at::Tensor& p) const;
  // H(z, p) − H(z', p') per chain in float64, formed as (f' − f)/ε² + (K − K'):
  // the energy difference is taken before dividing by ε², so a large offset in f
  // is not amplified by 1/ε² (at ε² = 5e-5, −f/ε² of f = 1e4 is 2e8 and float32
  // spacing there is 16). [B] float64.
  at::Tensor log_acceptance(const at::Tensor& f, const at::Tensor& p, const at::Tensor& f_end,
                            const at::Tensor& p_end) const;

 private:
  at::Tensor inverse_mass(const at::Tensor& like) const;  // M⁻¹ broadcastable to z
};

// The registry entry (anila/samplers/registry.h).
SamplerSpec hmc_spec();

}  // namespace anila
