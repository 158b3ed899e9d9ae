// anila_mh.h — AniLA proposal with a Metropolis–Hastings correction (docs/samplers.md).
//
//   γ(z) = b / max(b, |∇f(z)|)          (norm element | pixel | sample)
//   proposal  z' ~ N(m(z), diag(ε² s γ_n(z))),  m(z) = z + (s γ_d(z)/2) ⊙ ∇f(z)
//   log q(z'|z) = Σ_i −(z'_i − m_i(z))² / (2ε² s γ_n,i(z)) − ½ log(2π ε² s γ_n,i(z))
//   accept    min(1, exp((f(z') − f(z))/ε²) · q(z|z') / q(z'|z))
// with γ_d = γ, γ_n = γ^(2p) for anisotropy = both (noise_power p: 0.5 gives γ_n = γ,
// the paper; 1 gives γ², the authors' linear noise), γ_d = 1 for noise, γ_n = 1 for drift.
// The proposal is a Gaussian for every form, so the ratio is exact for each.
// The proposal density is position dependent, so the reverse move uses γ(z').
// Exact for any s: it removes unadjusted AniLA's bias (stationary law
// ∝ exp(f/ε²)/γ for one γ per chain).
#pragma once

#include "anila/samplers/registry.h"

namespace anila {

class AnilaMhSampler : public Sampler {
 public:
  explicit AnilaMhSampler(SamplerOptions options);
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override;
  // log q(to | from) for every chain: [B] float (the formula above; `from_grad` is ∇f(from)).
  at::Tensor log_proposal(const at::Tensor& to, const at::Tensor& from,
                          const at::Tensor& from_grad) const;
  // log of the acceptance ratio for moving each chain from `from` to `to`:
  // (f(to) − f(from))/ε² + log q(from|to) − log q(to|from); [B].
  at::Tensor log_acceptance(const ChainState& from, const ChainState& to) const;
  // The same, given the proposal mean and variance at `from` (already computed by step()).
  at::Tensor log_acceptance(const ChainState& from, const ChainState& to,
                            const at::Tensor& from_mean, const at::Tensor& from_var) const;
  // Proposal mean m(z) and per-coordinate variance ε² s γ_n(z) (= (ε√s γ^p)²), both [B, ...].
  std::pair<at::Tensor, at::Tensor> proposal(const at::Tensor& z, const at::Tensor& grad) const;
};

// The registry entry (anila/samplers/registry.h).
SamplerSpec anila_mh_spec();

}  // namespace anila
