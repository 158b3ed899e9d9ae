// anila.h — anisotropic Langevin (AniLA, the sampler of STANLEY; docs/samplers.md).
//
//   γ(z) = b / max(b, |∇f(z)|)                    recomputed every step
//   z'   = z + (s γ/2) ⊙ ∇f(z) + ε √s γ^p ⊙ ξ      (anisotropy = both)
//
// noise_power p: 0.5 (√γ, the paper's eq. 6; default) or 1 (γ linearly, as the
//             authors' released code does); any p in (0, 1] is accepted.
// anisotropy: both  — γ scales drift and noise (the paper)
//             noise — γ scales only the noise (the authors' released CIFAR code)
//             drift — γ scales only the drift (= elementwise gradient clipping to ±b)
// norm:       element — |∇f| per coordinate (the paper)
//             pixel   — L2 norm over the channel axis (dim 1 of [B, C, H, W]), one γ per pixel
//             sample  — L2 norm over the whole sample, one γ per chain
//
// Note (γ/2)∇f = ½·clip(∇f, −b, b) coordinatewise, so the drift is bounded.
// The unadjusted chain is biased where γ varies: with one γ per chain its
// small-step stationary law is ∝ exp(f/ε²)/γ(z), not exp(f/ε²).
#pragma once

#include "anila/samplers/registry.h"

namespace anila {

// γ(g) = b / max(b, |g|) for gradients g: [B, ...] with the given norm
// (element | pixel | sample), broadcast to g's shape.
at::Tensor anila_gamma(const at::Tensor& grad, double threshold, const std::string& norm);
// The magnitude γ compares with b: |g| (element), the L2 norm over channels
// ([B, 1, ...], pixel) or over the sample ([B, 1, ...], sample); not broadcast.
at::Tensor anila_magnitude(const at::Tensor& grad, const std::string& norm);
// The factors AniLA applies for `options`: drift scale γ_d and noise sd scale
// γ_n^p (ones where the anisotropy leaves a term unscaled), both of grad's shape.
std::pair<at::Tensor, at::Tensor> anila_scales(const at::Tensor& grad,
                                               const SamplerOptions& options);

class AnilaSampler : public Sampler {
 public:
  explicit AnilaSampler(SamplerOptions options);
  void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
            SamplerStats* stats) const override;
  // The per-coordinate step factor γ for gradient g: [B, ...] -> [B, ...]
  // (broadcast to g's shape for the pixel and sample norms).
  at::Tensor gamma(const at::Tensor& grad) const;
};

// AniLA's own option keys (threshold, threshold_quantile, anisotropy, norm,
// noise_power), shared with anila-mh.
void parse_anila_options(ConfigReader& reader, SamplerOptions& options);
void write_anila_options(const SamplerOptions& options, Json& out);
std::vector<std::string> anila_option_keys();

// ---- threshold "auto" (anila, anila-mh, anila-ito) ----
// threshold: a number b > 0, or "auto": training then sets b every iteration to a
// running `threshold_quantile`-quantile of the chains' |∇f| in the sampler's norm
// (ThresholdAdaptation, anila/samplers/adapt.h; docs/samplers.md). The auto setting
// lives in SamplerOptions::extra ("threshold": "auto", "threshold_quantile": q);
// options.threshold keeps the b in use (0.01 until something adapts it).
inline constexpr double kDefaultThresholdQuantile = 0.99;  // training (docs/samplers.md)
// Reads threshold and threshold_quantile; UserError naming the key for anything
// but a number > 0 or "auto", and for a quantile outside (0, 1).
void parse_anila_threshold(ConfigReader& reader, SamplerOptions& options);
// Writes threshold (the number, or "auto" with threshold_quantile).
void write_anila_threshold(const SamplerOptions& options, Json& out);
// The quantile b follows when the threshold is "auto", else 0.
double threshold_auto_quantile(const SamplerOptions& options);

// The registry entry (anila/samplers/registry.h).
SamplerSpec anila_spec();

}  // namespace anila
