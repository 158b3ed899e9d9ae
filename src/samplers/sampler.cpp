// sampler.cpp — ChainState, SamplerStats, option parsing and the sampler factory.
#include "anila/samplers/sampler.h"

#include <ATen/ATen.h>

#include "anila/config.h"
#include "anila/samplers/anila.h"
#include "anila/samplers/langevin.h"

namespace anila {

ChainState ChainState::start(const at::Tensor& z0, const LogDensity& logp) {
  LogDensityValue v = logp(z0);
  return {z0, v.f, v.grad};
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

Json SamplerOptions::to_json() const {
  Json j = {{"type", type}, {"step_size", step_size}, {"noise_scale", noise_scale}};
  if (type == "anila") {
    j["threshold"] = threshold;
    j["anisotropy"] = anisotropy;
    j["norm"] = norm;
  }
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

void Sampler::accept_move(ChainState& state, at::Tensor z, const LogDensity& logp) const {
  if (options_.clamp_min < options_.clamp_max) z.clamp_(options_.clamp_min, options_.clamp_max);
  LogDensityValue v = logp(z);
  state.z = std::move(z);
  state.f = std::move(v.f);
  state.grad = std::move(v.grad);
}

std::vector<std::string> sampler_types() {
  return {"langevin", "anila"};
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
  throw UserError("sampler.type: unknown sampler \"" + options.type +
                  "\"; allowed: " + join(sampler_types()));
}

SamplerPtr make_sampler(const Json& section, const std::string& path) {
  return make_sampler(parse_sampler_options(section, path));
}

}  // namespace anila
