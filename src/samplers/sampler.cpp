// sampler.cpp — ChainState, SamplerStats, option parsing, the factory and the
// per-sampler settings of a run config.
#include "anila/samplers/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/config.h"
#include "anila/samplers/registry.h"

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

const SamplerSpec& SamplerOptions::spec() const {
  return sampler_spec(type);
}

double SamplerOptions::adapt_target() const {
  return target_accept > 0 ? target_accept : spec().target_accept;
}

bool SamplerOptions::metropolis() const {
  return spec().metropolis;
}

Json SamplerOptions::to_json() const {
  const SamplerSpec& s = spec();
  Json j = {{"type", type}, {"step_size", step_size}, {"noise_scale", noise_scale}};
  if (s.to_json) s.to_json(*this, j);
  if (s.metropolis) j["target_accept"] = adapt_target();
  if (clamp_min < clamp_max) {
    j["clamp_min"] = clamp_min;
    j["clamp_max"] = clamp_max;
  }
  return j;
}

int64_t Sampler::gradients_per_step() const {
  const SamplerSpec& s = spec();
  return s.gradients_per_step ? s.gradients_per_step(options_) : 1;
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
  std::vector<std::string> names;
  for (const auto& spec : sampler_registry()) names.push_back(spec.type);
  return names;
}

namespace {

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// A key of `section` that `spec` does not read but another type does gets a
// message saying whose key it is and where it goes (keys no type reads are
// left to ConfigReader::finish, which suggests the closest valid key).
void reject_foreign_keys(const Json& section, const SamplerSpec& spec, const std::string& path) {
  const auto own = common_sampler_keys(spec);
  for (auto it = section.begin(); it != section.end(); ++it) {
    const std::string& key = it.key();
    if (key == "type" || contains(own, key) || contains(spec.keys, key)) continue;
    std::vector<std::string> owners;
    for (const auto& other : sampler_registry()) {
      if (contains(other.keys, key) || contains(common_sampler_keys(other), key))
        owners.push_back(other.type);
    }
    if (owners.empty()) continue;
    throw UserError(path + "." + key + ": not an option of " + spec.type + " (a key of " +
                    join(owners) + "); set it for one type as samplers." + owners[0] + "." + key);
  }
}

}  // namespace

std::vector<std::string> common_sampler_keys(const SamplerSpec& spec) {
  std::vector<std::string> keys = {"step_size", "noise_scale", "clamp_min", "clamp_max"};
  if (spec.metropolis) keys.push_back("target_accept");
  return keys;
}

SamplerOptions parse_sampler_options(const Json& section, const std::string& path) {
  if (!section.is_null() && !section.is_object()) {
    throw UserError(path + ": expected an object {...}, got " + describe_json(section));
  }
  ConfigReader r(section, path);
  SamplerOptions o;
  o.type = r.string("type", o.type);
  const SamplerSpec& spec = sampler_spec(o.type, r.key_path("type"));
  o.step_size = r.number("step_size", o.step_size, Range::positive());
  o.noise_scale = r.number("noise_scale", o.noise_scale, Range::non_negative());
  o.clamp_min = r.number("clamp_min", o.clamp_min);
  o.clamp_max = r.number("clamp_max", o.clamp_max);
  if (spec.metropolis) {
    o.target_accept = r.number("target_accept", o.target_accept, {-1, 1});
    if (o.target_accept != -1 && !(o.target_accept > 0 && o.target_accept < 1)) {
      throw UserError(r.key_path("target_accept") + ": must be in (0, 1), got " +
                      std::to_string(o.target_accept));
    }
  }
  if (spec.parse) spec.parse(r, o);
  if (!section.is_null()) reject_foreign_keys(section, spec, path);
  r.finish();
  if (o.noise_scale == 0) {
    throw UserError(path + ".noise_scale: must be > 0 (the target is exp(f/noise_scale^2)); " +
                    "for noise-free descent use a gd sampler");
  }
  return o;
}

SamplerPtr make_sampler(const SamplerOptions& options) {
  return options.spec().make(options);
}

std::string precision_warning(const Sampler& sampler, const ChainState& state) {
  if (!sampler.options().metropolis() || state.f.scalar_type() == at::kDouble) return "";
  const at::Tensor f = state.f.to(at::kDouble);
  const double top = f.masked_select(f.isfinite()).abs().max().item<double>();
  const double nats = top * std::ldexp(1.0, -24) / sampler.temperature();
  if (!(nats > 0.01)) return "";
  return fmt::format(
      "f is float32 with |f| up to {:.3g} at T = {:.3g}: its rounding alone is ~{:.2g} nats in "
      "every acceptance ratio, so acceptance is not exact to 0.01 (evaluate f in float64, "
      "or keep |f| small: an offset in f costs precision)",
      top, sampler.temperature(), nats);
}

SamplerPtr make_sampler(const Json& section, const std::string& path) {
  return make_sampler(parse_sampler_options(section, path));
}

// ---- the sampler of a run config ----

namespace {

// config[key] as an object (empty when absent); UserError naming key otherwise.
Json section_of(const Json& config, const char* key) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return Json::object();
  if (!config[key].is_object()) {
    throw UserError(std::string(key) + ": expected an object {...}, got " +
                    describe_json(config[key]));
  }
  return config[key];
}

Json merged(Json base, const Json& over) {
  for (auto it = over.begin(); it != over.end(); ++it) base[it.key()] = it.value();
  return base;
}

bool is_type(const std::string& name) {
  return contains(sampler_types(), name);
}

// The type a named variant samplers.<name> = {"type": t, ...} runs; UserError naming it otherwise.
std::string variant_type(const std::string& name, const Json& entry) {
  const std::string path = "samplers." + name;
  if (!entry.is_object() || !entry.contains("type")) {
    const std::string hint = closest_match(name, sampler_types());
    throw UserError(path + ": \"" + name + "\" is not a sampler type" +
                    (hint.empty() ? "" : " (did you mean " + hint + "?)") +
                    "; a named variant needs its type, e.g. {\"type\": \"anila\", ...}; types: " +
                    join(sampler_types()));
  }
  if (!entry["type"].is_string()) {
    throw UserError(path + ".type: expected a sampler type, got " + describe_json(entry["type"]));
  }
  const std::string type = entry["type"].get<std::string>();
  sampler_spec(type, path + ".type");
  const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (name.empty() || !plain) {
    throw UserError(path +
                    ": a variant's name is also a folder name: use letters, digits, - and _");
  }
  return type;
}

// The settings of sampler `name` in `samplers`, as a section with its type: for a type,
// samplers.<type>; for a named variant, samplers.<its type> overlaid by samplers.<name>.
Json sampler_entry(const Json& samplers, const std::string& name) {
  if (!samplers.contains(name)) return {{"type", name}};
  if (is_type(name)) return merged(samplers[name], {{"type", name}});
  const std::string type = variant_type(name, samplers[name]);
  const Json base = samplers.contains(type) ? samplers[type] : Json::object();
  return merged(base, samplers[name]);
}

// samplers.<name> for every name, checked: a registered type (its settings) or a named
// variant of one (its type and settings); objects, valid keys alone.
Json checked_samplers(const Json& config) {
  Json samplers = section_of(config, "samplers");
  for (auto it = samplers.begin(); it != samplers.end(); ++it) {
    const std::string path = "samplers." + it.key();
    const bool type = is_type(it.key());
    if (type && !it.value().is_object()) {
      throw UserError(path + ": expected an object of " + it.key() + "'s settings, got " +
                      describe_json(it.value()));
    }
    if (type && it.value().contains("type")) {
      throw UserError(path + ".type: not needed (the key " + it.key() + " names the type)");
    }
    parse_sampler_options(sampler_entry(samplers, it.key()), path);
  }
  return samplers;
}

// The sampler a config runs: `type` if given, else sampler.type (default anila).
std::string running_name(const Json& sampler, const std::string& type) {
  if (!type.empty()) return type;
  if (!sampler.contains("type")) return "anila";
  if (!sampler["type"].is_string()) {
    throw UserError("sampler.type: expected a string, got " + describe_json(sampler["type"]));
  }
  return sampler["type"].get<std::string>();
}

}  // namespace

std::vector<std::string> sampler_names(const Json& config) {
  std::vector<std::string> names = sampler_types();
  const Json samplers = checked_samplers(config);
  for (auto it = samplers.begin(); it != samplers.end(); ++it)
    if (!is_type(it.key())) names.push_back(it.key());
  return names;
}

void check_sampler_list(const std::vector<std::string>& names, const std::string& what,
                        const Json& config) {
  if (names.empty()) throw UserError(what + ": give at least one sampler");
  const std::vector<std::string> known = sampler_names(config);
  for (const auto& name : names) {
    if (name.empty()) throw UserError(what + ": an empty sampler name (a stray comma?)");
    if (contains(known, name)) continue;
    const std::string hint = closest_match(name, known);
    throw UserError(what + ": unknown sampler \"" + name + "\"" +
                    (hint.empty() ? "" : " (did you mean " + hint + "?)") +
                    "; allowed: " + join(known));
  }
}

std::string sampler_name(const Json& config, const std::string& type) {
  return running_name(section_of(config, "sampler"), type);
}

SamplerOptions resolve_sampler(const Json& config, const std::string& type, const Json& extra) {
  const Json sampler = section_of(config, "sampler");
  const Json samplers = checked_samplers(config);
  Json given = extra.is_object() ? merged(sampler, extra) : sampler;
  const std::string name = running_name(given, type);
  const bool variant = samplers.contains(name) && !is_type(name);
  if (!variant) sampler_spec(name, type.empty() ? "sampler.type" : "sampler");
  given.erase("type");
  // Each layer is validated on its own first, so an error names the section it is in.
  const Json own = sampler_entry(samplers, name);
  parse_sampler_options(merged(given, {{"type", own["type"]}}), "sampler");
  return parse_sampler_options(merged(own, given), "sampler");
}

Json resolved_sampler_sections(const Json& config) {
  const SamplerOptions ran = resolve_sampler(config);
  const std::string name = sampler_name(config);
  Json sampler = section_of(config, "sampler");
  sampler["type"] = name;
  Json out_samplers = Json::object();
  const Json samplers = checked_samplers(config);
  // A variant records its type; a type's key names it.
  auto recorded = [](const SamplerOptions& o, const std::string& key) {
    Json one = o.to_json();
    if (key == o.type) one.erase("type");
    return one;
  };
  for (auto it = samplers.begin(); it != samplers.end(); ++it) {
    const SamplerOptions o =
        parse_sampler_options(sampler_entry(samplers, it.key()), "samplers." + it.key());
    out_samplers[it.key()] = recorded(o, it.key());
  }
  out_samplers[name] = recorded(ran, name);
  return {{"sampler", sampler}, {"samplers", out_samplers}};
}

Json upgrade_run_config(const Json& config) {
  if (!config.is_object() || config.contains("samplers")) return config;
  const Json old = section_of(config, "sampler");
  Json overrides = Json::object();
  if (config.contains("compare") && config["compare"].is_object() &&
      config["compare"].contains("overrides") && config["compare"]["overrides"].is_object()) {
    overrides = config["compare"]["overrides"];
  }
  Json out = config;
  if (out.contains("compare") && out["compare"].is_object()) out["compare"].erase("overrides");
  const std::string type = old.value("type", std::string("anila"));
  Json samplers = Json::object();
  for (const SamplerSpec& spec : sampler_registry()) {
    const auto common = common_sampler_keys(spec);
    Json entry = Json::object();
    for (auto it = old.begin(); it != old.end(); ++it) {
      if (contains(common, it.key()) || contains(spec.keys, it.key())) entry[it.key()] = it.value();
    }
    if (overrides.contains(spec.type) && overrides[spec.type].is_object())
      entry = merged(entry, overrides[spec.type]);
    if (!entry.empty() || spec.type == type) samplers[spec.type] = entry;
  }
  out["sampler"] = {{"type", type}};
  out["samplers"] = samplers;
  return out;
}

void reject_compare_overrides(const Json& overrides) {
  std::string example = "{\"samplers\": {\"langevin\": {\"step_size\": 1e-4}}}";
  if (overrides.is_object() && !overrides.empty()) {
    example = "{\"samplers\": " + overrides.dump() + "}";
  }
  throw UserError(
      "compare.overrides: removed; per-sampler settings now live in a top-level \"samplers\" "
      "section that every command uses (train, compare, sample, eval, ...): write " +
      example + " and remove compare.overrides");
}

}  // namespace anila
