// sampler.cpp — ChainState, SamplerStats, option parsing and the sampler factory.
#include "anila/samplers/sampler.h"

#include <algorithm>
#include <limits>

#include <ATen/ATen.h>

#include "anila/config.h"
#include "anila/samplers/anila.h"
#include "anila/samplers/anila_mh.h"
#include "anila/samplers/gd.h"
#include "anila/samplers/hmc.h"
#include "anila/samplers/langevin.h"
#include "anila/samplers/mala.h"

namespace anila {

ChainState ChainState::start(const at::Tensor& z0, const LogDensity& logp) {
  LogDensityValue v = logp(z0);
  return {z0, v.f, v.grad, {}};
}

void SamplerStats::add(at::Tensor* slot, const at::Tensor& value) {
  at::Tensor v = value.detach().to(at::kDouble);
  *slot = slot->defined() ? *slot + v : v;
}

Json SamplerStats::summary() const {
  Json j = Json::object();
  if (steps == 0) return j;
  auto put = [&](const char* name, const at::Tensor& t) {
    if (t.defined()) j[name] = t.item<double>() / static_cast<double>(steps);
  };
  put("grad_abs", grad_abs);
  put("f", f);
  put("gamma", gamma);
  put("gamma_lt1", gamma_lt1);
  put("accept", accept);
  return j;
}

double SamplerOptions::adapt_target() const {
  if (target_accept > 0) return target_accept;
  return type == "hmc" ? 0.8 : 0.574;
}

bool SamplerOptions::metropolis() const {
  return type == "mala" || type == "anila-mh" || type == "hmc";
}

Json SamplerOptions::to_json() const {
  Json j = {{"type", type}, {"step_size", step_size}, {"noise_scale", noise_scale}};
  if (type == "anila" || type == "anila-mh") {
    j["threshold"] = threshold;
    j["anisotropy"] = anisotropy;
    j["norm"] = norm;
  }
  if (type == "hmc") {
    j["leapfrog_steps"] = leapfrog_steps;
    if (!mass.empty()) j["mass"] = mass;
  }
  if (metropolis()) j["target_accept"] = adapt_target();
  if (clamp_min < clamp_max) {
    j["clamp_min"] = clamp_min;
    j["clamp_max"] = clamp_max;
  }
  return j;
}

void Sampler::run(ChainState& state, const LogDensity& logp, int64_t steps, at::Generator& gen,
                  SamplerStats* stats) const {
  for (int64_t k = 0; k < steps; ++k) step(state, logp, gen, stats);
}

void Sampler::record_state(SamplerStats* stats, const ChainState& state) {
  if (!stats) return;
  stats->add(&stats->grad_abs, state.grad.abs().mean());
  stats->add(&stats->f, state.f.mean());
  stats->steps++;
}

void Sampler::accept_move(ChainState& state, at::Tensor z, const LogDensity& logp) const {
  if (options_.clamp_min < options_.clamp_max) z.clamp_(options_.clamp_min, options_.clamp_max);
  LogDensityValue v = logp(z);
  state.z = std::move(z);
  state.f = std::move(v.f);
  state.grad = std::move(v.grad);
}

void Sampler::metropolis_update(ChainState& state, const ChainState& proposal, at::Tensor log_alpha,
                                at::Generator& gen, SamplerStats* stats) const {
  const double neg_inf = -std::numeric_limits<double>::infinity();
  log_alpha = at::where(at::isnan(log_alpha), at::full_like(log_alpha, neg_inf), log_alpha);
  log_alpha = at::where(proposal.f.isfinite(), log_alpha, at::full_like(log_alpha, neg_inf));
  at::Tensor u = at::rand(log_alpha.sizes(), gen, log_alpha.options());
  at::Tensor accept = u.log() < log_alpha;  // [B]
  std::vector<int64_t> shape(state.z.dim(), 1);
  shape[0] = accept.size(0);
  at::Tensor mask = accept.view(shape);
  state.z = at::where(mask, proposal.z, state.z);
  state.grad = at::where(mask, proposal.grad, state.grad);
  state.f = at::where(accept, proposal.f, state.f);
  state.accept_prob = log_alpha.clamp_max(0).exp();
  if (stats) stats->add(&stats->accept, state.accept_prob.mean());
}

std::vector<std::string> sampler_types() {
  return {"langevin", "anila", "mala", "anila-mh", "hmc", "gd"};
}

void check_sampler_list(const std::vector<std::string>& names, const std::string& what) {
  if (names.empty()) throw UserError(what + ": give at least one sampler");
  const auto valid = sampler_types();
  for (const auto& name : names) {
    if (std::find(valid.begin(), valid.end(), name) == valid.end()) {
      std::string hint = closest_match(name, valid);
      throw UserError(what + ": unknown sampler \"" + name + "\"" +
                      (hint.empty() ? "" : " (did you mean " + hint + "?)") +
                      "; allowed: " + join(valid));
    }
  }
}

SamplerOptions parse_sampler_options(const Json& section, const std::string& path) {
  ConfigReader r(section, path);
  SamplerOptions o;
  o.type = r.choice("type", o.type, sampler_types());
  o.step_size = r.number("step_size", o.step_size, Range::positive());
  o.noise_scale = r.number("noise_scale", o.noise_scale, Range::non_negative());
  // AniLA keys are accepted for every type (so `--set sampler.type=langevin`
  // works on an AniLA config) but only AniLA reads them.
  o.threshold = r.number("threshold", o.threshold, Range::positive());
  o.anisotropy = r.choice("anisotropy", o.anisotropy, {"both", "noise", "drift"});
  o.norm = r.choice("norm", o.norm, {"element", "pixel", "sample"});
  o.leapfrog_steps = r.integer("leapfrog_steps", o.leapfrog_steps, {1, 10000});
  o.target_accept = r.number("target_accept", o.target_accept, {-1, 1});
  if (o.target_accept != -1 && !(o.target_accept > 0 && o.target_accept < 1)) {
    throw UserError(r.key_path("target_accept") + ": must be in (0, 1), got " +
                    std::to_string(o.target_accept));
  }
  r.allow({"mass"});
  if (r.has("mass")) {
    const Json& m = section["mass"];
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
  o.clamp_min = r.number("clamp_min", o.clamp_min);
  o.clamp_max = r.number("clamp_max", o.clamp_max);
  r.finish();
  if (o.noise_scale == 0) {
    throw UserError(path + ".noise_scale: must be > 0 (the target is exp(f/noise_scale^2)); " +
                    "for noise-free descent use a gd sampler");
  }
  return o;
}

SamplerPtr make_sampler(const SamplerOptions& options) {
  if (options.type == "langevin") return std::make_shared<LangevinSampler>(options);
  if (options.type == "anila") return std::make_shared<AnilaSampler>(options);
  if (options.type == "mala") return std::make_shared<MalaSampler>(options);
  if (options.type == "anila-mh") return std::make_shared<AnilaMhSampler>(options);
  if (options.type == "hmc") return std::make_shared<HmcSampler>(options);
  if (options.type == "gd") return std::make_shared<GdSampler>(options);
  throw UserError("sampler.type: unknown sampler \"" + options.type +
                  "\"; allowed: " + join(sampler_types()));
}

SamplerPtr make_sampler(const Json& section, const std::string& path) {
  return make_sampler(parse_sampler_options(section, path));
}

}  // namespace anila
