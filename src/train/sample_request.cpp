// sample_request.cpp — the policy of `anila sample`: which path a request
// takes and the defaults of each (see SampleRequest in anila/train/sampling.h).
#include <cmath>
#include <iostream>

#include <fmt/format.h>

#include "anila/config.h"
#include "anila/samplers/registry.h"
#include "anila/train/experiment.h"
#include "anila/train/generate.h"
#include "anila/train/sampling.h"

namespace anila {

namespace {

SampleOptions sample_options(const SampleRequest& r) {
  SampleOptions so;
  so.samplers = r.samplers.empty() ? split_list(kDefaultSampledSamplers) : r.samplers;
  if (r.chains) so.chains = *r.chains;
  if (r.steps) so.steps = *r.steps;
  so.warmup = r.warmup;
  so.adapt = r.adapt;
  so.threshold_quantile = r.adapt ? r.threshold_quantile : 0;
  so.seed = r.seed;
  so.store_dims = r.store_dims;
  so.force = r.force;
  so.quiet = r.quiet;
  so.sampler_config = r.sets;
  return so;
}

Json sample_target(const SampleRequest& r) {
  if (!r.init.empty()) throw UserError("--init: only for image checkpoints");
  SampleOptions so = sample_options(r);
  Json section = so.sampler_config.value("target", Json::object());
  so.sampler_config.erase("target");
  section["type"] = r.target;
  if (r.dim) {
    const int64_t d = *r.dim;
    if (d < 1) throw UserError("--dim: must be >= 1, got " + std::to_string(d));
    // The target holds D-vectors and (for the exact covariance) a D × D matrix.
    check_memory("--dim " + std::to_string(d), 8.0 * double(d) * double(d));
    section["dim"] = d;
  }
  so.out_dir = r.out_dir.empty() ? "runs/sample-" + r.target : r.out_dir;
  return sample_analytic_target(section, so);
}

void print_image_summary(const std::string& out_dir, const Json& summary) {
  std::cout << out_dir << "/samples.png\n";
  for (const auto& name : summary["sampler_order"]) {
    const Json& row = summary["samplers"][name.get<std::string>()];
    std::cout << fmt::format("  {:<10} mean f {:.4g}  energy gap {:.4g}  {:.2f} s\n",
                             name.get<std::string>(), row["mean_f"].get<double>(),
                             row.value("energy_gap", NAN), row["seconds"].get<double>());
  }
}

// An image EBM: K steps of each sampler from the run's noise (or data), grids and arrays.
Json sample_image_run(const LoadedRun& run, const SampleRequest& r) {
  if (r.steps && *r.steps < 0)
    throw UserError("--steps: must be >= 0, got " + std::to_string(*r.steps));
  GenerateOptions g;
  for (auto it = r.sets.begin(); it != r.sets.end(); ++it) {
    if (it.key() == "sampler") {
      g.sampler = it.value();
    } else {
      check_sampler_list({it.key()}, "--set " + it.key() + ".*", run.config);
      g.per_sampler[it.key()] = it.value();
    }
  }
  g.samplers = r.samplers;
  g.chains = r.chains.value_or(64);
  g.steps = r.steps.value_or(-1);
  g.init = r.init.empty() ? "noise" : r.init;
  g.seed = r.seed;
  g.force = r.force;
  g.out_dir = r.out_dir.empty() ? run.dir + "/sample" : r.out_dir;
  if (run.config.value("threads", int64_t{0}) > 0) set_threads(run.config["threads"].get<int>());
  Json summary = generate_images(run, g);
  if (!r.quiet) print_image_summary(g.out_dir, summary);
  return summary;
}

}  // namespace

Json sample(const SampleRequest& r) {
  if (r.target.empty() == r.checkpoint.empty()) {
    throw UserError("sample: give exactly one of --target NAME or --checkpoint FILE");
  }
  set_threads(1);
  if (!r.target.empty()) return sample_target(r);
  // A trained EBM: the target is exp(f/T) with the run's T unless overridden.
  if (r.sets.contains("target")) throw UserError("--set target.*: only with --target");
  LoadedRun run = load_run(r.checkpoint, r.weights);
  if (run.sample_shape.size() == 3) return sample_image_run(run, r);
  if (!r.init.empty()) throw UserError("--init: only for image checkpoints");
  if (r.dim) throw UserError("--dim: only with --target (a checkpoint fixes it)");
  SampleOptions so = sample_options(r);
  so.out_dir = r.out_dir.empty() ? run.dir + "/sample" : r.out_dir;
  return sample_trained_run(run, so);
}

}  // namespace anila
