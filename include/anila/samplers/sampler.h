// sampler.h — the MCMC sampler interface, its options and its factory.
//
// Notation: z: [B, ...] chain states (B chains, e.g. [B, 2] or [B, C, H, W]);
// f(z): [B] log unnormalised density; s step size; ε noise scale; b AniLA
// threshold. Every sampler targets exp(f/ε²), so a model trained with it has
// temperature T = ε² (docs/samplers.md).
//
// Every sampler type is registered in one table (anila/samplers/registry.h),
// where it says what it is and reads its own options.
//
// A sampler step reads and updates a `ChainState`, which caches f(z) and
// ∇f(z) so no sampler recomputes them. Per-step diagnostics are accumulated
// into an optional `SamplerStats` (tensor sums; no host sync inside the loop).
//
//   auto sampler = anila::make_sampler({{"type", "anila"}, {"threshold", 0.01}});
//   anila::ChainState state = anila::ChainState::start(z0, logp);
//   anila::SamplerStats stats;
//   sampler->run(state, logp, /*steps=*/100, gen, &stats);
//   stats.summary();  // {"grad_abs": ..., "f": ..., "gamma": ..., ...}
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/common.h"
#include "anila/logdensity.h"

namespace anila {

struct ChainState {
  at::Tensor z;     // [B, ...]
  at::Tensor f;     // [B]
  at::Tensor grad;  // [B, ...]
  // Metropolis–Hastings acceptance probabilities of the last step: [B]
  // (undefined for unadjusted samplers). Read by step-size adaptation.
  at::Tensor accept_prob;
  // Evaluates f and ∇f at z0.
  static ChainState start(const at::Tensor& z0, const LogDensity& logp);
};

// Per-step diagnostics, summed over the steps of a run (device tensors until summary()).
struct SamplerStats {
  int64_t steps = 0;
  at::Tensor grad_abs;   // Σ_steps mean |∇f|
  at::Tensor f;          // Σ_steps mean f
  at::Tensor gamma;      // Σ_steps mean γ              (AniLA)
  at::Tensor gamma_lt1;  // Σ_steps fraction of γ < 1   (AniLA)
  at::Tensor accept;     // Σ_steps acceptance rate     (MH samplers)
  void add(at::Tensor* slot, const at::Tensor& value);
  // Means over steps: {"grad_abs", "f", and where recorded "gamma", "gamma_lt1", "accept"}.
  Json summary() const;
};

struct SamplerSpec;

// Options of the sampler types (each type reads and writes the keys that apply
// to it; its registry entry says which, and docs/samplers.md lists them).
struct SamplerOptions {
  std::string type = "anila";  // a registered type: langevin | anila | mala | anila-mh | hmc | gd
  double step_size = 1.0;      // s (HMC: the leapfrog step h)
  double noise_scale = 1.0;    // ε; target exp(f/ε²)
  double threshold = 0.01;     // b (anila, anila-mh)
  std::string anisotropy = "both";  // both | noise | drift (anila, anila-mh)
  std::string norm = "element";     // element | pixel | sample (anila, anila-mh)
  // p in (0, 1]: the noise is scaled by γ^p (0.5: √γ, the paper; 1: γ, the authors'
  // code). anila, anila-mh; anila-mh's proposal variance is ε² s γ^(2p).
  double noise_power = 0.5;
  int64_t leapfrog_steps = 10;  // L (hmc)
  std::vector<double> mass;  // diagonal mass (hmc): empty = identity; 1 value or one per coordinate
  double target_accept = -1;            // dual-averaging target (-1: the type's default)
  double clamp_min = 0, clamp_max = 0;  // clamp z to [min, max] after each step when min < max
  // Options of a sampler type registered outside these fields (its spec reads
  // and writes them; see docs/adding-a-sampler.md).
  Json extra = Json::object();
  const SamplerSpec& spec() const;  // the registry entry of `type`
  Json to_json() const;             // every key the type reads, resolved
  double adapt_target() const;      // the acceptance rate step-size adaptation aims for
  bool metropolis() const;          // the type is Metropolis-adjusted
};

class Sampler {
 public:
  explicit Sampler(SamplerOptions options) : options_(std::move(options)) {}
  virtual ~Sampler() = default;
  // One transition of every chain; updates z, f, grad in place; adds diagnostics to stats.
  virtual void step(ChainState& state, const LogDensity& logp, at::Generator& gen,
                    SamplerStats* stats) const = 0;
  // `steps` transitions.
  void run(ChainState& state, const LogDensity& logp, int64_t steps, at::Generator& gen,
           SamplerStats* stats = nullptr) const;
  double temperature() const { return options_.noise_scale * options_.noise_scale; }
  const SamplerOptions& options() const { return options_; }
  std::string name() const { return options_.type; }
  // Log-density evaluations per step (HMC: L), as the type's registry entry says.
  int64_t gradients_per_step() const;
  const SamplerSpec& spec() const { return options_.spec(); }
  // Step-size adaptation (see adapt.h) changes s between warm-up steps.
  void set_step_size(double s) { options_.step_size = s; }
  // Threshold adaptation (see adapt.h) changes b between warm-up steps (AniLA types).
  void set_threshold(double b) { options_.threshold = b; }

 protected:
  // Adds mean |∇f| and mean f of the current state to stats (and counts the step).
  static void record_state(SamplerStats* stats, const ChainState& state);
  // Moves every chain to z (clamped when the options ask for it) and caches
  // f(z) and ∇f(z) in the state: the end of every unadjusted step.
  void accept_move(ChainState& state, at::Tensor z, const LogDensity& logp) const;
  // Metropolis–Hastings accept/reject per chain: chain b moves to proposal b with
  // probability min(1, exp(log_alpha[b])) (NaN/−inf: rejected). Records acceptance.
  void metropolis_update(ChainState& state, const ChainState& proposal, at::Tensor log_alpha,
                         at::Generator& gen, SamplerStats* stats) const;
  SamplerOptions options_;
};

using SamplerPtr = std::shared_ptr<Sampler>;

// Reads one sampler section (type + options) with validation; UserError on an
// unknown type/key, a key of another type, or a bad value (step_size ≤ 0,
// noise_scale ≤ 0, threshold ≤ 0).
SamplerOptions parse_sampler_options(const Json& section, const std::string& path = "sampler");
SamplerPtr make_sampler(const SamplerOptions& options);
// "" or one sentence saying that the float32 f of `state` cannot support exact
// Metropolis–Hastings acceptance at the sampler's temperature T: the rounding of f
// alone, max|f|·2⁻²⁴ per evaluation, divided by T exceeds 0.01 nats (e.g. |f| ≥ 8.4
// at T = 5e-5). "" for unadjusted samplers and float64 f.
std::string precision_warning(const Sampler& sampler, const ChainState& state);
SamplerPtr make_sampler(const Json& section, const std::string& path = "sampler");
// The registered type names, in the registry's order.
std::vector<std::string> sampler_types();
// UserError naming `what` unless `names` is a non-empty list of sampler names:
// registered types or the named variants of `config` (an unknown name gets the
// closest valid one).
void check_sampler_list(const std::vector<std::string>& names, const std::string& what,
                        const Json& config = Json());
// The names a config can run: every registered type, then its named variants.
std::vector<std::string> sampler_names(const Json& config);

// ---- the sampler of a run config ----
// A run config names its sampler in `sampler.type` (default anila) and may hold
// tuned settings for any number of types under `samplers.<type>`; the other keys
// of `sampler` apply to whichever type runs. The options of type X are
//     built-in defaults  <  samplers.X  <  sampler.* (except type)  <  extra
// so `--set sampler.type=X` and `anila compare --samplers X` run X with X's own
// settings. A key of `samplers` that is not a type is a named variant,
// samplers.V = {"type": X, ...}: V runs X with samplers.X overlaid by V's keys
// (defaults < samplers.X < samplers.V < sampler.* < extra), and V is a name like
// a type's wherever samplers are named (sampler.type, --samplers, compare.samplers,
// run folders). `type` ("" = sampler.type) picks the name; `extra` holds sampler
// keys given on a command line. UserError on a bad section, naming it.
SamplerOptions resolve_sampler(const Json& config, const std::string& type = "",
                               const Json& extra = Json());
// The `sampler` and `samplers` sections config.json records: sampler = {type,
// the other keys of sampler as given}; samplers.<t> = the resolved settings of
// every type the config names, the running type's being exactly what ran.
// Resolving the result again gives the same options for every type.
Json resolved_sampler_sections(const Json& config);
// The name a config runs: `type` if given, else sampler.type (default anila);
// a type or a named variant.
std::string sampler_name(const Json& config, const std::string& type = "");
// A run folder's config.json written before per-sampler settings (no
// `samplers` section; a flat `sampler` section that every type inherited, and
// compare.overrides): rewritten so that every type resolves to what it did
// then (samplers.<t> = the old section's keys t reads, then overrides.<t>).
// Other configs are returned unchanged. Used where run folders are read back
// (resume, sample, eval, inpaint); a config file given to train/compare with
// compare.overrides gets reject_compare_overrides' error instead.
Json upgrade_run_config(const Json& config);
// The error for a config that still uses compare.overrides (removed).
[[noreturn]] void reject_compare_overrides(const Json& overrides);

}  // namespace anila
