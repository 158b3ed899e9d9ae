// sampling.h — sampling mode: run several samplers on one log-density (an
// analytic target or a trained EBM) from the same starting points, with the
// diagnostics the MCMC world expects, and write tables, arrays and plots.
//
// Notation: C chains, S kept draws per chain (after W warm-up steps), D the
// coordinates of a state. Draws are stored as [S, C, D'] with D' = min(D, store_dims)
// coordinates (evenly spaced, first and last included).
//
// Per sampler, OUT/<sampler>/: draws.npy [S, C, D'], trace.png (coordinates of a
// few chains against the step), autocorr.png (autocorrelation of the first
// coordinates), scatter.png (first two coordinates over the target's contours),
// summary.json. In OUT/: summary.md and summary.csv, one row per sampler.
//
// Step sizes: Metropolis samplers adapt theirs by dual averaging during the
// warm-up (adapt = true). Unadjusted samplers (langevin, anila, gd) given no
// explicit step size borrow the step their Metropolis-adjusted counterpart
// adapted to (langevin, gd ← mala; anila ← anila-mh; the counterpart named in
// the sampler's registry entry), so bias and efficiency are compared at the same
// step; else they use base_settings' step (a trained run's), else the default.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/common.h"
#include "anila/logdensity.h"

namespace anila {

namespace targets {
class AnalyticTarget;
}
struct LoadedRun;

struct SampleOptions {
  std::vector<std::string> samplers;  // sampler types, run in this order (MH ones first)
  int64_t chains = 100;               // C
  int64_t steps = 1000;               // S kept steps
  int64_t warmup = 500;               // W
  bool adapt = true;                  // dual averaging for MH samplers during warm-up
  // AniLA types: b adapted during warm-up to this quantile of |∇f| (adapt.h; 0: off;
  // a threshold given in sampler_config is kept). Unadjusted ones borrow it.
  double threshold_quantile = 0.9;
  uint64_t seed = 123;
  // Sampler keys: "sampler" applies to every listed type that reads the key
  // (threshold reaches anila and anila-mh, not mala), "<type>" to one, winning
  // over "sampler" (e.g. {"hmc": {"leapfrog_steps": 20}}).
  Json sampler_config = Json::object();
  // Per-type base settings under those keys, e.g. a trained run's
  // {"anila": {"threshold": 3, ...}} (resolve_sampler of its config); lowest precedence.
  Json base_settings = Json::object();
  int64_t store_dims = 100;
  std::string out_dir;
  bool force = false;
  bool quiet = false;
};

// What is being sampled.
struct SampleProblem {
  std::string name;                   // for titles ("funnel (d = 10)")
  const LogDensity* logp = nullptr;   // the log-density (target: exp(f/ε²))
  std::vector<int64_t> sample_shape;  // one state's shape, e.g. {D}
  // Starting states [C, ...] for every sampler (the same for all of them).
  std::function<at::Tensor(int64_t C, at::Generator& gen)> init;
  const targets::AnalyticTarget* target = nullptr;  // exact samples/moments when set
  // For 2D problems without a target: the log-density on points [n, 2] for contours.
  std::function<at::Tensor(const at::Tensor&)> contour_field;
  std::array<double, 4> box{-3, 3, -3, 3};
};

// Runs every sampler, writes the outputs, returns {"rows": [...], "table_markdown": ...}.
// UserError on an unknown sampler, a bad sampler key, or an existing output folder
// without force.
Json run_sampling(const SampleProblem& problem, const SampleOptions& options);

// Sampling mode on an analytic target (section: {"type": NAME, ...}, targets/analytic.h):
// chains start from exact draws scaled by 2 (overdispersed, as R-hat expects), and
// the draws are scored against the target's exact samples and moments.
Json sample_analytic_target(const Json& target_section, const SampleOptions& options);

// Sampling mode on a trained 2D run (load_run): the target is exp(f/ε²) of the
// run's model; chains start from the run's noise; each sampler starts from the
// run's settings for its type (samplers.<type>, put in base_settings), the
// command-line keys of options.sampler_config on top; contours of f/ε² at the
// given noise_scale (default: the run's temperature). UserError for an image run.
Json sample_trained_run(const LoadedRun& run, SampleOptions options);

// Everything `anila sample` is asked, before it is known whether the target is
// analytic, a trained 2D run or a trained image run; sample() applies the
// command's policy and returns what the chosen path returns:
//   target       sample_analytic_target on {"type": target, "dim": dim, target.* keys}
//   2D run       sample_trained_run (the run's settings per sampler type)
//   image run    generate_images: K steps of each sampler from the run's noise (or data)
// Values left empty are the path's defaults: samplers mala,anila-mh,hmc (image
// runs: the run's own sampler), chains 100 (images 64), steps 1000 (images: the
// run's K), out_dir runs/sample-<target> or <run>/sample.
struct SampleRequest {
  std::string target;      // an analytic target name, or
  std::string checkpoint;  // a run folder or checkpoint file (last.pt or best.pt)
  std::string weights;     // checkpoints: "ema" | "raw" | "" (the run's; see load_run)
  // --set keys: target.KEY (targets only), sampler.KEY (every sampler), <type>.KEY (one;
  // image runs: any sampler name of --samplers, a type or a named variant).
  Json sets = Json::object();
  std::optional<int64_t> dim;         // target dimension (none: the target's)
  std::vector<std::string> samplers;  // empty: the default above
  std::optional<int64_t> chains, steps;
  int64_t warmup = 500, store_dims = 100;
  std::string init;  // image runs: noise | data ("": noise)
  uint64_t seed = 123;
  bool adapt = true, force = false, quiet = false;
  // SampleOptions::threshold_quantile (0: keep b; --no-adapt sets it to 0 as well).
  double threshold_quantile = SampleOptions{}.threshold_quantile;
  std::string out_dir;
};

// The keys of a command line's `sets` ({"sampler": {...}, "<name>": {...}}) for the
// sampler `name` of type `type`: those of "sampler" that `type` reads or no type reads
// (a key only other types read, such as threshold for mala, is skipped), then those
// of "<name>", which win.
Json command_line_sampler_keys(const Json& sets, const std::string& name, const std::string& type);

// UserError for a request that mixes the paths (both or neither of target and
// checkpoint, --dim or target.* with a checkpoint, --init without an image run).
Json sample(const SampleRequest& request);

}  // namespace anila
