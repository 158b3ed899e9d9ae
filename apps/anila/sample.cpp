// sample.cpp — `anila sample`: run samplers on an analytic target or a trained
// EBM and report acceptance, ESS, R-hat, distances to exact draws, with plots
// (the policy is the library's anila::sample, anila/train/sampling.h).
#include <memory>

#include "anila/config.h"
#include "anila/samplers/registry.h"
#include "anila/train/sampling.h"
#include "cli.h"

namespace anila::cli {

namespace {

struct SampleArgs {
  SampleRequest request;
  std::vector<std::string> sets;
  int64_t dim = 0, chains = 100, steps = 1000;
  bool no_adapt = false;
};

}  // namespace

void add_sample(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  SampleRequest& r = args->request;
  r.samplers = split_list(kDefaultSampledSamplers);
  CLI::App* cmd = app.add_subcommand(
      "sample", "Run samplers on an analytic target or a trained model; ESS/R-hat table and plots");
  cmd->add_option(
      "--target", r.target,
      "Analytic target: gaussian, gaussian-ill, gaussian-corr, mixture, funnel, banana");
  cmd->add_option("--checkpoint", r.checkpoint, "A run folder or its checkpoints/last.pt");
  CLI::Option* dim_opt =
      cmd->add_option("--dim", args->dim, "Target dimension (default: the target's)");
  CLI::Option* samplers_opt =
      cmd->add_option("--samplers", r.samplers,
                      "Comma-separated sampler types (image checkpoints: default the run's)")
          ->delimiter(',')
          ->capture_default_str();
  CLI::Option* chains_opt =
      cmd->add_option("--chains", args->chains, "Chains (image checkpoints: default 64)")
          ->capture_default_str();
  CLI::Option* steps_opt =
      cmd->add_option("--steps", args->steps,
                      "Kept steps per chain (image checkpoints: K, default the run's mcmc_steps)")
          ->capture_default_str();
  cmd->add_option("--init", r.init,
                  "Image checkpoints: chains start from noise (the run's) or data");
  cmd->add_option("--warmup", r.warmup, "Warm-up steps (step-size adaptation)")
      ->capture_default_str();
  cmd->add_flag("--no-adapt", args->no_adapt, "Keep the given step sizes during warm-up");
  cmd->add_option("--set", args->sets,
                  "target.KEY=V, sampler.KEY=V (all samplers) or SAMPLER.KEY=V (one), repeatable");
  cmd->add_option("--seed", r.seed, "Seed")->capture_default_str();
  cmd->add_option("--store-dims", r.store_dims, "Coordinates kept in draws.npy and diagnostics")
      ->capture_default_str();
  cmd->add_option("--out", r.out_dir, "Output folder (default: runs/sample-<target>)")
      ->check(non_empty());
  cmd->add_flag("--force", r.force, "Replace an existing output folder");
  cmd->add_flag("--quiet", r.quiet, "No progress output");
  cmd->callback([args, dim_opt, samplers_opt, chains_opt, steps_opt]() {
    SampleRequest request = args->request;
    for (const auto& s : args->sets) apply_override(request.sets, s);
    if (dim_opt->count() > 0) request.dim = args->dim;
    if (chains_opt->count() > 0) request.chains = args->chains;
    if (steps_opt->count() > 0) request.steps = args->steps;
    if (samplers_opt->count() > 0 && request.samplers.empty())
      throw UserError("--samplers: give at least one sampler");
    // Image checkpoints default to the run's own sampler, analytic targets and 2D runs to the list
    // above.
    if (samplers_opt->count() == 0 && !request.checkpoint.empty()) request.samplers.clear();
    request.adapt = !args->no_adapt;
    sample(request);
  });
}

}  // namespace anila::cli
