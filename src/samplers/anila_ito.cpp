// anila_ito.cpp — AniLA plus the divergence drift (see anila/samplers/anila_ito.h).
#include "anila/samplers/anila_ito.h"

#include <cmath>

#include <ATen/ATen.h>

#include "anila/config.h"
#include "anila/samplers/anila.h"

namespace anila {

namespace {

int64_t probes_of(const SamplerOptions& o) {
  return o.extra.value("hessian_probes", int64_t{1});
}

int64_t exact_dim_of(const SamplerOptions& o) {
  return o.extra.value("exact_hessian_dim", int64_t{16});
}

// The groups γ is shared over: each coordinate (element), each pixel (pixel:
// all axes after the channel axis), the whole sample (sample). Their number per sample.
int64_t group_count(const std::vector<int64_t>& shape, const std::string& norm) {
  if (norm == "sample") return 1;
  int64_t n = 1;
  for (size_t d = norm == "pixel" ? 2 : 1; d < shape.size(); ++d) n *= shape[d];
  return n;
}

// The shape of a per-group tensor broadcastable to `like`: [B or 1, 1 (pixel: channels), ...].
std::vector<int64_t> group_shape(const at::Tensor& like, const std::string& norm, int64_t batch) {
  std::vector<int64_t> shape = like.sizes().vec();
  shape[0] = batch;
  if (norm == "pixel" && shape.size() > 1) shape[1] = 1;
  if (norm == "sample")
    for (size_t d = 1; d < shape.size(); ++d) shape[d] = 1;
  return shape;
}

// One-hot indicator of group j, broadcastable to `like`.
at::Tensor group_mask(const at::Tensor& like, const std::string& norm, int64_t j) {
  const std::vector<int64_t> shape = group_shape(like, norm, 1);
  at::Tensor m = at::zeros(shape, like.options()).reshape({-1});
  m.narrow(0, j, 1).fill_(1);
  return m.view(shape);
}

}  // namespace

AnilaItoSampler::AnilaItoSampler(SamplerOptions options) : Sampler(std::move(options)) {}

int64_t AnilaItoSampler::products_per_step(const std::vector<int64_t>& shape) const {
  const int64_t groups = group_count(shape, options_.norm);
  return groups <= exact_dim_of(options_) ? groups : probes_of(options_);
}

at::Tensor AnilaItoSampler::gamma_divergence(const at::Tensor& z, const at::Tensor& grad,
                                             const LogDensity& logp, at::Generator& gen) const {
  const std::string& norm = options_.norm;
  const double b = options_.threshold;
  const at::Tensor w = norm == "element" ? at::ones_like(grad) : grad;
  // u_i ≈ Σ_{j in i's group} H_ij w_j: exact by one product per group, or Hutchinson.
  const int64_t groups = group_count(z.sizes().vec(), norm);
  std::vector<at::Tensor> vs, weights;
  if (groups <= exact_dim_of(options_)) {
    for (int64_t j = 0; j < groups; ++j) weights.push_back(group_mask(z, norm, j));
  } else {
    const std::vector<int64_t> shape = group_shape(z, norm, z.size(0));
    for (int64_t k = 0; k < probes_of(options_); ++k)
      weights.push_back(at::randint(0, 2, shape, gen, z.options()).mul_(2).sub_(1));
  }
  for (const auto& r : weights) vs.push_back(r * w);
  const std::vector<at::Tensor> hv = hessian_vector_products(logp, z, vs);
  at::Tensor u = at::zeros_like(grad);
  for (size_t k = 0; k < hv.size(); ++k) u = u + weights[k] * hv[k].to(grad.scalar_type());
  if (groups > exact_dim_of(options_)) u = u / static_cast<double>(hv.size());
  const at::Tensor m = anila_magnitude(grad, norm).expand_as(grad);
  const at::Tensor div = norm == "element" ? -b * grad.sign() * u / grad.pow(2) : -b * u / m.pow(3);
  return at::where(m > b, div, at::zeros_like(div));
}

void AnilaItoSampler::step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                           SamplerStats* stats) const {
  const double s = options_.step_size, eps = options_.noise_scale;
  const at::Tensor gamma = anila_gamma(state.grad, options_.threshold, options_.norm);
  if (stats) {
    record_state(stats, state);
    stats->add(&stats->gamma, gamma.mean());
    stats->add(&stats->gamma_lt1, (gamma < 1).to(at::kFloat).mean());
  }
  const at::Tensor div = gamma_divergence(state.z, state.grad, logp, gen);
  at::Tensor xi = at::randn(state.z.sizes(), gen, state.z.options());
  at::Tensor z = state.z + (s / 2) * gamma * state.grad + (s * eps * eps / 2) * div +
                 (eps * std::sqrt(s)) * gamma.sqrt() * xi;
  accept_move(state, z, logp);
}

SamplerSpec anila_ito_spec() {
  SamplerSpec s;
  s.type = "anila-ito";
  s.summary = "AniLA + the drift (sε²/2)∇·γ: unadjusted, without AniLA's exp(f/ε²)/γ bias";
  s.counterpart = "anila-mh";
  s.keys = {"threshold", "threshold_quantile", "norm", "hessian_probes", "exact_hessian_dim"};
  s.diagnostics = {"gamma", "gamma_lt1"};
  s.parse = [](ConfigReader& r, SamplerOptions& o) {
    parse_anila_threshold(r, o);
    o.norm = r.choice("norm", o.norm, {"element", "pixel", "sample"});
    o.extra["hessian_probes"] = r.integer("hessian_probes", probes_of(o), {1, 1000});
    o.extra["exact_hessian_dim"] = r.integer("exact_hessian_dim", exact_dim_of(o), {0, 4096});
  };
  s.to_json = [](const SamplerOptions& o, Json& out) {
    write_anila_threshold(o, out);
    out["norm"] = o.norm;
    out["hessian_probes"] = probes_of(o);
    out["exact_hessian_dim"] = exact_dim_of(o);
  };
  s.make = [](const SamplerOptions& o) { return std::make_shared<AnilaItoSampler>(o); };
  // One evaluation at the new state and one gradient with a graph (the products'
  // backward passes come on top; docs/samplers.md has the measured cost).
  s.gradients_per_step = [](const SamplerOptions&) { return int64_t{2}; };
  return s;
}

}  // namespace anila
