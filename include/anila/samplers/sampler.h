// sampler.h — the MCMC sampler interface, its options and its factory.
//
// Notation: z: [B, ...] chain states (B chains, e.g. [B, 2] or [B, C, H, W]);
// f(z): [B] log unnormalised density; s step size; ε noise scale; b AniLA
// threshold. Every sampler targets exp(f/ε²), so a model trained with it has
// temperature T = ε² (DESIGN.md §2).
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

// Options of every sampler type (each type uses the keys that apply to it;
// docs/samplers.md lists which).
struct SamplerOptions {
  std::string type = "anila";       // langevin | anila | mala | anila-mh | hmc | gd
  double step_size = 1.0;           // s (HMC: the leapfrog step h)
  double noise_scale = 1.0;         // ε; target exp(f/ε²)
  double threshold = 0.01;          // b (anila, anila-mh)
  std::string anisotropy = "both";  // both | noise | drift (anila, anila-mh)
  std::string norm = "element";     // element | pixel | sample (anila, anila-mh)
  int64_t leapfrog_steps = 10;      // L (hmc)
  std::vector<double> mass;  // diagonal mass (hmc): empty = identity; 1 value or one per coordinate
  double target_accept = -1;            // dual-averaging target (-1: 0.574 MALA-type, 0.8 HMC)
  double clamp_min = 0, clamp_max = 0;  // clamp z to [min, max] after each step when min < max
  Json to_json() const;
  double adapt_target() const;  // the acceptance rate step-size adaptation aims for
  bool metropolis() const;      // mala, anila-mh, hmc
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
  // Log-density evaluations per step (HMC: L).
  virtual int64_t gradients_per_step() const { return 1; }
  // Step-size adaptation (see adapt.h) changes s between warm-up steps.
  void set_step_size(double s) { options_.step_size = s; }

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

// Reads a sampler section (type + options) with validation; UserError on an
// unknown type/key or a bad value (step_size ≤ 0, noise_scale < 0, threshold ≤ 0).
SamplerOptions parse_sampler_options(const Json& section, const std::string& path = "sampler");
SamplerPtr make_sampler(const SamplerOptions& options);
SamplerPtr make_sampler(const Json& section, const std::string& path = "sampler");
std::vector<std::string> sampler_types();
// UserError naming `what` unless `names` is a non-empty list of sampler types
// (an unknown name gets the closest valid one).
void check_sampler_list(const std::vector<std::string>& names, const std::string& what);

}  // namespace anila
