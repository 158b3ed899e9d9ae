// anila_ito.h — unadjusted AniLA without its bias: the Euler step of the
// position-dependent Langevin diffusion whose stationary law is exp(f/ε²)
// (docs/samplers.md, "anila-ito").
//
//   γ(z) = b / max(b, |∇f(z)|)   (norm element | pixel | sample; the paper's form:
//                                  γ scales drift and noise, noise ∝ √γ)
//   z'   = z + (s γ/2) ⊙ ∇f + (s ε²/2) (∇·γ) + ε √(s γ) ⊙ ξ,   (∇·γ)_i = ∂γ_i/∂z_i
//
// The divergence term is what unadjusted AniLA leaves out (its small-step law is
// ∝ exp(f/ε²)/γ). Where the magnitude exceeds b (elsewhere γ = 1 and the term is 0):
//   element: ∂_iγ_i = −b sign(∂_i f) H_ii / (∂_i f)²
//   pixel:   ∂γ_p/∂z_{c,p} = −b Σ_c' ∂_{c',p} f H_{(c',p),(c,p)} / ‖∇_p f‖³
//   sample:  ∇γ = −b H∇f / ‖∇f‖³                          (one Hessian-vector product)
// The Hessian blocks come from Hessian-vector products (logdensity.h): exactly, one
// product per coordinate (element) or pixel (pixel) when a sample has at most
// `exact_hessian_dim` of them, else by Hutchinson's unbiased estimate
// E[r ⊙ H(r ⊙ w)] with `hessian_probes` Rademacher vectors r (one sign per pixel
// for pixel). Cost per step: one log-density evaluation, one gradient evaluation
// with a graph, and one backward pass per product.
#pragma once

#include "anila/samplers/registry.h"

namespace anila {

class AnilaItoSampler : public Sampler {
 public:
  explicit AnilaItoSampler(SamplerOptions options);
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override;
  // ∇·γ at the chains' states z with cached gradients grad: [B, ...] (z's shape).
  at::Tensor gamma_divergence(const at::Tensor& z, const at::Tensor& grad, const LogDensity& logp,
                              at::Generator& gen) const;
  // Hessian-vector products one divergence costs at state shape `shape` ([B, ...]).
  int64_t products_per_step(const std::vector<int64_t>& shape) const;
};

// The registry entry (anila/samplers/registry.h).
SamplerSpec anila_ito_spec();

}  // namespace anila
