// sample.cpp — `anila sample`: run samplers on an analytic target or a trained
// EBM and report acceptance, ESS, R-hat, distances to exact draws, with plots.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/chains/chain_source.h"
#include "anila/config.h"
#include "anila/models/energy.h"
#include "anila/targets/analytic.h"
#include "anila/train/experiment.h"
#include "anila/train/generate.h"
#include "anila/train/sampling.h"
#include "anila/train/trainer.h"
#include "cli.h"

namespace fs = std::filesystem;

namespace anila::cli {

namespace {
struct SampleArgs {
  std::string target, checkpoint, out, samplers = "mala,anila-mh,hmc", init = "noise", weights;
  std::vector<std::string> sets;
  int64_t dim = -1, chains = 100, steps = 1000, warmup = 500, store_dims = 100;
  uint64_t seed = 123;
  bool no_adapt = false, force = false, quiet = false;
};

}  // namespace

void add_sample(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sample", "Run samplers on an analytic target or a trained model; ESS/R-hat table and plots");
  cmd->add_option(
      "--target", args->target,
      "Analytic target: gaussian, gaussian-ill, gaussian-corr, mixture, funnel, banana");
  cmd->add_option("--checkpoint", args->checkpoint,
                  "A run folder or its checkpoints/last.pt or checkpoints/best.pt");
  cmd->add_option(
         "--weights", args->weights,
         "Checkpoints: ema or raw (default: the run's: ema when it keeps a moving average)")
      ->check(CLI::IsMember({"ema", "raw"}));
  CLI::Option* dim_opt =
      cmd->add_option("--dim", args->dim, "Target dimension (default: the target's)");
  CLI::Option* samplers_opt =
      cmd->add_option("--samplers", args->samplers,
                      "Comma-separated sampler types (image checkpoints: default the run's)")
          ->capture_default_str();
  CLI::Option* chains_opt =
      cmd->add_option("--chains", args->chains, "Chains (image checkpoints: default 64)")
          ->capture_default_str();
  CLI::Option* steps_opt =
      cmd->add_option("--steps", args->steps,
                      "Kept steps per chain (image checkpoints: K, default the run's mcmc_steps)")
          ->capture_default_str();
  CLI::Option* init_opt = cmd->add_option(
      "--init", args->init, "Image checkpoints: chains start from noise (the run's) or data");
  cmd->add_option("--warmup", args->warmup, "Warm-up steps (step-size adaptation)")
      ->capture_default_str();
  cmd->add_flag("--no-adapt", args->no_adapt, "Keep the given step sizes during warm-up");
  cmd->add_option("--set", args->sets,
                  "target.KEY=V, sampler.KEY=V (all samplers) or SAMPLER.KEY=V (one), repeatable");
  cmd->add_option("--seed", args->seed, "Seed")->capture_default_str();
  cmd->add_option("--store-dims", args->store_dims, "Coordinates kept in draws.npy and diagnostics")
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Output folder (default: runs/sample-<target>)")
      ->check(non_empty());
  cmd->add_flag("--force", args->force, "Replace an existing output folder");
  cmd->add_flag("--quiet", args->quiet, "No progress output");
  cmd->callback([args, dim_opt, samplers_opt, chains_opt, steps_opt, init_opt]() {
    if (args->target.empty() == args->checkpoint.empty()) {
      throw UserError("sample: give exactly one of --target NAME or --checkpoint FILE");
    }
    Json sets = Json::object();
    for (const auto& s : args->sets) apply_override(sets, s);
    SampleOptions so;
    so.samplers = split_commas(args->samplers);
    so.chains = args->chains;
    so.steps = args->steps;
    so.warmup = args->warmup;
    so.adapt = !args->no_adapt;
    so.seed = args->seed;
    so.store_dims = args->store_dims;
    so.force = args->force;
    so.quiet = args->quiet;
    set_threads(1);
    if (!args->target.empty()) {
      if (init_opt->count() > 0) throw UserError("--init: only for image checkpoints");
      Json section = sets.contains("target") ? sets["target"] : Json::object();
      sets.erase("target");
      section["type"] = args->target;
      if (dim_opt->count() > 0) {
        if (args->dim < 1) throw UserError("--dim: must be >= 1, got " + std::to_string(args->dim));
        // The target holds D-vectors and (for the exact covariance) a D × D matrix.
        check_memory("--dim " + std::to_string(args->dim), 8.0 * double(args->dim) * args->dim);
        section["dim"] = args->dim;
      }
      so.sampler_config = sets;
      so.out_dir = args->out.empty() ? "runs/sample-" + args->target : args->out;
      sample_analytic_target(section, so);
      return;
    }
    // A trained EBM: the target is exp(f/T) with the run's T unless overridden.
    if (sets.contains("target")) throw UserError("--set target.*: only with --target");
    LoadedRun run = load_run(args->checkpoint, args->weights);
    if (run.sample_shape.size() == 3) {
      // An image EBM: K steps of each sampler from the run's noise (or data), grids and arrays.
      for (auto it = sets.begin(); it != sets.end(); ++it) {
        if (it.key() != "sampler") {
          throw UserError("--set " + it.key() + ".*: image checkpoints take only sampler.KEY=V");
        }
      }
      GenerateOptions g;
      if (sets.contains("sampler")) g.sampler = sets["sampler"];
      if (samplers_opt->count() > 0) g.samplers = split_commas(args->samplers);
      if (samplers_opt->count() > 0 && g.samplers.empty()) {
        throw UserError("--samplers: give at least one sampler");
      }
      g.chains = chains_opt->count() > 0 ? args->chains : 64;
      g.steps = steps_opt->count() > 0 ? args->steps : -1;
      if (steps_opt->count() > 0 && args->steps < 0) {
        throw UserError("--steps: must be >= 0, got " + std::to_string(args->steps));
      }
      g.init = args->init;
      g.seed = args->seed;
      g.force = args->force;
      g.out_dir = args->out.empty() ? run.dir + "/sample" : args->out;
      apply_threads(run.config);
      Json summary = generate_images(run, g);
      if (!args->quiet) {
        std::cout << g.out_dir << "/samples.png\n";
        for (const auto& name : summary["sampler_order"]) {
          const Json& row = summary["samplers"][name.get<std::string>()];
          std::cout << fmt::format("  {:<10} mean f {:.4g}  energy gap {:.4g}  {:.2f} s\n",
                                   name.get<std::string>(), row["mean_f"].get<double>(),
                                   row.value("energy_gap", NAN), row["seconds"].get<double>());
        }
      }
      return;
    }
    if (init_opt->count() > 0) throw UserError("--init: only for image checkpoints");
    if (dim_opt->count() > 0) throw UserError("--dim: only with --target (a checkpoint fixes it)");
    so.sampler_config = sets;
    so.out_dir = args->out.empty() ? run.dir + "/sample" : args->out;
    sample_trained_run(run, so);
  });
}

}  // namespace anila::cli
