// hmc.cpp — Hamiltonian Monte Carlo with a leapfrog integrator (see anila/samplers/hmc.h).
#include "anila/samplers/hmc.h"

#include <cmath>

#include <ATen/ATen.h>
#include "anila/config.h"

#include "samplers/per_chain.h"

namespace anila {

HmcSampler::HmcSampler(SamplerOptions options) : Sampler(std::move(options)) {}

at::Tensor HmcSampler::inverse_mass(const at::Tensor& like) const {
  if (options_.mass.empty()) return at::ones({}, like.options());
  at::Tensor m = at::tensor(options_.mass, at::TensorOptions().dtype(at::kDouble))
                     .to(like.device(), like.scalar_type());
  if (m.numel() == 1) return 1.0 / m.squeeze();
  const int64_t per_sample = like[0].numel();
  if (m.numel() != per_sample) {
    throw UserError("sampler.mass: has " + std::to_string(m.numel()) +
                    " values but the chains have " + std::to_string(per_sample) +
                    " coordinates; give one value or one per coordinate");
  }
  return (1.0 / m).view(like[0].sizes());
}

at::Tensor HmcSampler::hamiltonian(const at::Tensor& f, const at::Tensor& p) const {
  return -f / temperature() + 0.5 * sum_per_chain(p.pow(2) * inverse_mass(p));
}

at::Tensor HmcSampler::log_acceptance(const at::Tensor& f, const at::Tensor& p,
                                      const at::Tensor& f_end, const at::Tensor& p_end) const {
  const at::Tensor inv_m = inverse_mass(p).to(at::kDouble);
  auto kinetic = [&](const at::Tensor& q) {
    return 0.5 * sum_per_chain(q.to(at::kDouble).pow(2) * inv_m);
  };
  return log_target_ratio(f_end, f, temperature()) + kinetic(p) - kinetic(p_end);
}

HmcSampler::Trajectory HmcSampler::leapfrog(const ChainState& state, const at::Tensor& p0,
                                            const LogDensity& logp) const {
  const double h = options_.step_size, inv_t = 1.0 / temperature();
  const at::Tensor inv_m = inverse_mass(state.z);
  // ∇U = −∇f/ε², so p ← p − h∇U is p ← p + (h/ε²)∇f.
  at::Tensor p = p0 + (h / 2 * inv_t) * state.grad;
  at::Tensor z = state.z;
  LogDensityValue v{state.f, state.grad};
  for (int64_t l = 0; l < options_.leapfrog_steps; ++l) {
    z = z + h * inv_m * p;
    v = logp(z);
    const double kick = l + 1 == options_.leapfrog_steps ? h / 2 : h;
    p = p + (kick * inv_t) * v.grad;
  }
  return {{z, v.f, v.grad, {}}, p};
}

void HmcSampler::step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                      SamplerStats* stats) const {
  record_state(stats, state);
  const at::Tensor inv_m = inverse_mass(state.z);
  // p ~ N(0, M): ξ / sqrt(M⁻¹).
  at::Tensor p = at::randn(state.z.sizes(), gen, state.z.options()) / inv_m.sqrt();
  Trajectory t = leapfrog(state, p, logp);
  metropolis_update(state, t.end, log_acceptance(state.f, p, t.end.f, t.p), gen, stats);
}

namespace {

void parse_hmc_options(ConfigReader& r, SamplerOptions& o) {
  o.leapfrog_steps = r.integer("leapfrog_steps", o.leapfrog_steps, {1, 10000});
  if (!r.has("mass")) return;
  const Json m = r.raw("mass");
  bool ok = m.is_number() || (m.is_array() && !m.empty());
  if (m.is_number()) {
    o.mass = {m.get<double>()};
  } else if (ok) {
    for (const auto& v : m) {
      if (!v.is_number())
        ok = false;
      else
        o.mass.push_back(v.get<double>());
    }
  }
  for (double v : o.mass) ok = ok && v > 0;
  if (!ok) {
    throw UserError(r.key_path("mass") + ": expected a positive number or a list of them, got " +
                    describe_json(m));
  }
}

}  // namespace

SamplerSpec hmc_spec() {
  SamplerSpec s;
  s.type = "hmc";
  s.summary = "Hamiltonian Monte Carlo: L leapfrog steps of size h on U = −f/ε², then MH";
  s.metropolis = true;
  s.target_accept = 0.8;
  s.keys = {"leapfrog_steps", "mass"};
  s.diagnostics = {"accept"};
  s.parse = parse_hmc_options;
  s.to_json = [](const SamplerOptions& o, Json& out) {
    out["leapfrog_steps"] = o.leapfrog_steps;
    if (!o.mass.empty()) out["mass"] = o.mass;
  };
  s.make = [](const SamplerOptions& o) { return std::make_shared<HmcSampler>(o); };
  s.gradients_per_step = [](const SamplerOptions& o) { return o.leapfrog_steps; };
  return s;
}

}  // namespace anila
