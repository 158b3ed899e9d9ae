// reproduce.cpp — `anila reproduce NAME`: run one published experiment (every
// sampler, every seed) and write OUT/report.md + OUT/report.html
// (anila/train/reproduce.h, docs/reproducing.md).
//
//   anila reproduce rings [--seeds N] [--out DIR] [--force] [--quiet]
//                         [--iterations N] [--jobs N] [--features FILE]
//                         [--data PATH] [--config FILE] [--set key=value]...
//
// Re-running the same command with the same --out continues: finished runs are
// reused, interrupted ones resume from their last checkpoint.
#include <iostream>
#include <memory>

#include "anila/config.h"
#include "anila/train/reproduce.h"
#include "cli.h"

namespace anila::cli {

namespace {
struct ReproduceArgs {
  std::string name;
  ReproduceOptions o;
};
}  // namespace

void add_reproduce(CLI::App& app) {
  auto args = std::make_shared<ReproduceArgs>();
  CLI::App* cmd = app.add_subcommand(
      "reproduce",
      "Run a published experiment (" + join(reproduce_experiments()) +
          ") under every sampler and seed, then write OUT/report.md and OUT/report.html");
  cmd->add_option("name", args->name, "Experiment: " + join(reproduce_experiments()))->required();
  cmd->add_option("--seeds", args->o.seeds, "Seeds per sampler (default: the experiment's)");
  cmd->add_option("--out", args->o.out_dir, "Output folder (default: runs/reproduce-NAME)")
      ->check(non_empty());
  cmd->add_flag("--force", args->o.force,
                "Redo finished runs (and accept an output folder made with other settings)");
  cmd->add_flag("--quiet", args->o.quiet, "No progress output");
  cmd->add_option("--iterations", args->o.iterations,
                  "Training iterations (default: the experiment's); evaluation, logging and "
                  "checkpoint intervals are scaled alike");
  cmd->add_option("--jobs", args->o.jobs, "Concurrent runs (default: one per core)");
  cmd->add_option("--features", args->o.features,
                  "Feature network for FD/KID: fmnist or a TorchScript file (e.g. Inception)");
  cmd->add_option("--data", args->o.data_path, "Where the experiment's data lies (data.path)");
  cmd->add_option("--config", args->o.config_path,
                  "Experiment file (default: configs/reproduce/NAME.json, searched)");
  cmd->add_option("--set", args->o.sets,
                  "Override a key of the experiment file: section.key=value (repeatable)");
  cmd->callback([args]() {
    Json result = reproduce(args->name, args->o);
    std::cout << "\nreport: " << result["report"].get<std::string>() << "\n        "
              << result["html"].get<std::string>() << "\n";
  });
}

}  // namespace anila::cli
