// registry.h — every sampler type in one table, each describing itself.
//
// A sampler type is one `SamplerSpec`: its name, what it is (Metropolis-adjusted
// or not, its adjusted/unadjusted counterpart, its gradient evaluations per
// step, the names of the diagnostics it reports) and the functions that read,
// write and build it. The table is `sampler_registry()` in
// src/samplers/registry.cpp: one line per type. docs/adding-a-sampler.md is the
// recipe for a new one; the contract tests (tests/test_sampler_contract.cpp)
// run over the whole table, so a registered sampler is tested without new tests.
//
// Option keys every type reads (common): type, step_size (s; HMC: the leapfrog
// step h), noise_scale (ε; the target is exp(f/ε²)), clamp_min, clamp_max; and
// target_accept for Metropolis-adjusted types. A type's own keys (AniLA's
// threshold, HMC's leapfrog_steps, ...) are read by its `parse`.
//
//   const anila::SamplerSpec& spec = anila::sampler_spec("hmc");
//   spec.metropolis;                    // true
//   spec.gradients_per_step(options);   // L
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "anila/common.h"
#include "anila/samplers/sampler.h"

namespace anila {

class ConfigReader;

struct SamplerSpec {
  std::string type;                      // the config's sampler type, e.g. "anila-mh"
  std::string summary;                   // one line: what the step computes
  bool metropolis = false;               // accept/reject step with target exp(f/ε²)
  std::string counterpart;               // adjusted <-> unadjusted sibling ("" none)
  double target_accept = 0;              // default dual-averaging target (MH types)
  std::vector<std::string> keys;         // the type's own option keys (beyond the common ones)
  std::vector<std::string> diagnostics;  // SamplerStats::summary() keys it adds to grad_abs, f
  // Reads the type's own keys into `options` (the common ones are already read).
  std::function<void(ConfigReader& reader, SamplerOptions& options)> parse;
  // Writes the type's own keys (resolved values) into `out`.
  std::function<void(const SamplerOptions& options, Json& out)> to_json;
  std::function<SamplerPtr(const SamplerOptions& options)> make;
  // ∇f evaluations per step (null: 1).
  std::function<int64_t(const SamplerOptions& options)> gradients_per_step;
};

// The samplers `anila compare` and `anila bench` run when neither the command
// line nor the config's compare/bench section names any.
inline constexpr const char* kDefaultComparedSamplers = "langevin,anila";
// The samplers `anila sample` runs on an analytic target or a 2D run when the
// command line names none.
inline constexpr const char* kDefaultSampledSamplers = "mala,anila-mh,hmc";

// The table, in the order commands list the types.
const std::vector<SamplerSpec>& sampler_registry();

// The entry for `type`; UserError naming `what`, the closest type and the list otherwise.
const SamplerSpec& sampler_spec(const std::string& type, const std::string& what = "sampler.type");

// The common option keys (read for every type) and, for Metropolis types, target_accept.
std::vector<std::string> common_sampler_keys(const SamplerSpec& spec);

}  // namespace anila
