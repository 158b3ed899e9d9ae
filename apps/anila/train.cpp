// train.cpp — `anila train`: one training run into a run folder.
#include <memory>

#include "anila/config.h"
#include "anila/train/experiment.h"
#include "cli.h"

namespace anila::cli {

namespace {
struct TrainArgs {
  std::string config, out, resume;
  std::vector<std::string> sets;
  std::string device;
  bool force = false, quiet = false, tensorboard = false;
};
}  // namespace

void add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd =
      app.add_subcommand("train", "Train an energy-based model from a config; writes a run folder");
  cmd->add_option("--config", args->config, "JSON config file (see configs/)");
  cmd->add_option("--set", args->sets, "Override a config key: section.key=value (repeatable)");
  add_device_option(cmd, args->device);
  cmd->add_option("--out", args->out, "Run folder (default: runs/<config name>)")
      ->check(non_empty());
  cmd->add_flag("--force", args->force, "Replace an existing run folder");
  cmd->add_option("--resume", args->resume, "Continue the run in this folder from its checkpoint");
  cmd->add_flag("--quiet", args->quiet, "No progress output");
  cmd->add_flag("--tensorboard", args->tensorboard,
                "Also write TensorBoard event files (scalars, sample grids) in the run folder");
  cmd->callback([args]() {
    RunOptions ro;
    ro.quiet = args->quiet;
    ro.force = args->force;
    ro.tensorboard = args->tensorboard;
    if (!args->resume.empty()) {
      if (!args->config.empty() || !args->sets.empty() || !args->device.empty()) {
        throw UserError(
            "--resume DIR takes the config from DIR/config.json; drop --config/--set/--device (a "
            "run resumes as configured)");
      }
      Json cfg = load_json_file(args->resume + "/config.json");
      apply_threads(cfg);
      resume_experiment(args->resume, ro);
      return;
    }
    if (args->config.empty()) throw UserError("train: --config FILE or --resume DIR is required");
    Json config = load_config(args->config, args->sets, args->device);
    apply_threads(config);
    ro.out_dir = args->out.empty() ? "runs/" + config_stem(args->config) : args->out;
    run_experiment(config, ro);
  });
}

}  // namespace anila::cli
