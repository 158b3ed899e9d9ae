// anila.cpp — the AniLA step (see anila/samplers/anila.h for the equations).
//
// CPU fast path: for contiguous float32 states with norm = element, γ, the
// drift and the noise are applied in one pass over the coordinates (one read
// of z, ∇f and ξ; one write of z'), so AniLA costs the same memory traffic as
// Langevin. Every other case uses tensor ops and runs on any device.
#include "anila/samplers/anila.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include "anila/config.h"

namespace anila {

AnilaSampler::AnilaSampler(SamplerOptions options) : Sampler(std::move(options)) {}

at::Tensor anila_gamma(const at::Tensor& grad, double b, const std::string& norm) {
  at::Tensor magnitude;
  if (norm == "element") {
    magnitude = grad.abs();
  } else if (norm == "pixel") {
    TORCH_CHECK(grad.dim() >= 2, "AniLA norm=pixel needs states [B, C, ...], got ", grad.sizes());
    magnitude = grad.norm(2, {1}, /*keepdim=*/true);
  } else {  // sample
    std::vector<int64_t> dims;
    for (int64_t d = 1; d < grad.dim(); ++d) dims.push_back(d);
    magnitude = dims.empty() ? grad.abs() : grad.norm(2, dims, /*keepdim=*/true);
  }
  return (b / magnitude.clamp_min(b)).expand_as(grad);
}

at::Tensor AnilaSampler::gamma(const at::Tensor& grad) const {
  return anila_gamma(grad, options_.threshold, options_.norm);
}

void AnilaSampler::step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                        SamplerStats* stats) const {
  const double s = options_.step_size, eps = options_.noise_scale, b = options_.threshold;
  const bool scale_drift = options_.anisotropy != "noise";
  const bool scale_noise = options_.anisotropy != "drift";
  at::Tensor xi = at::randn(state.z.sizes(), gen, state.z.options());
  at::Tensor z;
  const bool fast = state.z.device().is_cpu() && state.z.scalar_type() == at::kFloat &&
                    state.z.is_contiguous() && state.grad.is_contiguous() &&
                    options_.norm == "element" && state.grad.scalar_type() == at::kFloat;
  if (stats) {
    at::Tensor gamma_t = gamma(state.grad);
    record_state(stats, state);
    stats->add(&stats->gamma, gamma_t.mean());
    stats->add(&stats->gamma_lt1, (gamma_t < 1).to(at::kFloat).mean());
  }
  if (fast) {
    z = at::empty_like(state.z);
    const float* zp = state.z.data_ptr<float>();
    const float* gp = state.grad.data_ptr<float>();
    const float* xp = xi.data_ptr<float>();
    float* out = z.data_ptr<float>();
    const float fb = static_cast<float>(b), half_s = static_cast<float>(s / 2);
    const float noise = static_cast<float>(eps * std::sqrt(s));
    at::parallel_for(0, z.numel(), 16384, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float g = gp[i];
        const float gamma = fb / std::max(fb, std::fabs(g));
        const float drift = half_s * (scale_drift ? gamma : 1.0f) * g;
        const float sd = noise * (scale_noise ? std::sqrt(gamma) : 1.0f);
        out[i] = zp[i] + drift + sd * xp[i];
      }
    });
  } else {
    at::Tensor gamma_t = gamma(state.grad);
    at::Tensor drift = scale_drift ? state.grad * gamma_t * (s / 2) : state.grad * (s / 2);
    at::Tensor sd = scale_noise ? gamma_t.sqrt() * (eps * std::sqrt(s))
                                : at::full_like(gamma_t, eps * std::sqrt(s));
    z = state.z + drift + sd * xi;
  }
  accept_move(state, z, logp);
}

void parse_anila_options(ConfigReader& r, SamplerOptions& o) {
  o.threshold = r.number("threshold", o.threshold, Range::positive());
  o.anisotropy = r.choice("anisotropy", o.anisotropy, {"both", "noise", "drift"});
  o.norm = r.choice("norm", o.norm, {"element", "pixel", "sample"});
}

void write_anila_options(const SamplerOptions& o, Json& out) {
  out["threshold"] = o.threshold;
  out["anisotropy"] = o.anisotropy;
  out["norm"] = o.norm;
}

SamplerSpec anila_spec() {
  SamplerSpec s;
  s.type = "anila";
  s.summary = "anisotropic Langevin: γ = b/max(b, |∇f|), z' = z + (sγ/2)∇f + ε√(sγ) ξ";
  s.counterpart = "anila-mh";
  s.keys = {"threshold", "anisotropy", "norm"};
  s.diagnostics = {"gamma", "gamma_lt1"};
  s.parse = parse_anila_options;
  s.to_json = write_anila_options;
  s.make = [](const SamplerOptions& o) { return std::make_shared<AnilaSampler>(o); };
  return s;
}

}  // namespace anila
