// train.cpp — `anila train`: one training run into a run folder; with --nproc N
// (or under torchrun's environment) a data-parallel run over N ranks.
#include <memory>

#include "anila/config.h"
#include "anila/train/distributed.h"
#include "anila/train/experiment.h"
#include "cli.h"

namespace anila::cli {

namespace {
struct TrainArgs {
  std::string config, out, resume;
  std::vector<std::string> sets;
  std::string device;
  bool force = false, quiet = false, tensorboard = false;
  int64_t nproc = 1;
  std::string dist_backend = "auto";
  double dist_timeout = 1800, rdzv_timeout = 120;
};

// The command line of each rank started by --nproc: this one without --nproc.
std::vector<std::string> rank_args(const TrainArgs& a, const std::string& out) {
  std::vector<std::string> r = {"train"};
  if (!a.resume.empty()) {
    r.insert(r.end(), {"--resume", a.resume});
  } else {
    r.insert(r.end(), {"--config", a.config, "--out", out});
    for (const auto& s : a.sets) r.insert(r.end(), {"--set", s});
    if (!a.device.empty()) r.insert(r.end(), {"--device", a.device});
    if (a.force) r.push_back("--force");
  }
  if (a.quiet) r.push_back("--quiet");
  if (a.tensorboard) r.push_back("--tensorboard");
  r.insert(r.end(),
           {"--dist-backend", a.dist_backend, "--dist-timeout", std::to_string(a.dist_timeout),
            "--rdzv-timeout", std::to_string(a.rdzv_timeout)});
  return r;
}

void add_dist_options(CLI::App* cmd, TrainArgs& a) {
  cmd->add_option("--nproc", a.nproc,
                  "Data-parallel training over N local ranks, one process each (like torchrun "
                  "--standalone --nproc-per-node N); see also the torchrun environment in README")
      ->check(CLI::Range(int64_t{1}, int64_t{1024}));
  cmd->add_option("--dist-backend", a.dist_backend,
                  "Distributed backend: auto (nccl on CUDA, gloo on CPU), gloo or nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
  cmd->add_option("--dist-timeout", a.dist_timeout,
                  "Seconds a rank waits in one collective before giving up (default 1800; must "
                  "exceed rank 0's evaluations)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rdzv-timeout", a.rdzv_timeout,
                  "Seconds to reach the rendezvous store and for every rank to join (default 120)")
      ->check(CLI::PositiveNumber);
}

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
  add_dist_options(cmd, *args);
  cmd->callback([args]() {
    RunOptions ro;
    ro.quiet = args->quiet;
    ro.force = args->force;
    ro.tensorboard = args->tensorboard;
    Json config;
    if (!args->resume.empty()) {
      if (!args->config.empty() || !args->sets.empty() || !args->device.empty()) {
        throw UserError(
            "--resume DIR takes the config from DIR/config.json; drop --config/--set/--device (a "
            "run resumes as configured)");
      }
      config = load_json_file(args->resume + "/config.json");
    } else {
      if (args->config.empty()) throw UserError("train: --config FILE or --resume DIR is required");
      config = load_config(args->config, args->sets, args->device);
      ro.out_dir = args->out.empty() ? "runs/" + config_stem(args->config) : args->out;
    }
    dist::DistOptions dist = dist::options_from_env();
    if (args->nproc > 1) {
      if (dist.world_size > 1) {
        throw UserError("--nproc starts its own ranks; drop it when a launcher sets WORLD_SIZE (" +
                        std::to_string(dist.world_size) + ")");
      }
      // Checked once here: a bad config is one error line, not one per rank.
      dist::check_world_size(resolve_config(config), args->nproc);
      const int code = dist::launch_local(args->nproc, rank_args(*args, ro.out_dir));
      if (code != 0) throw dist::PeerStopped("", code);
      return;
    }
    apply_threads(config);
    if (dist.world_size > 1) {
      dist.backend = args->dist_backend;
      dist.timeout_s = args->dist_timeout;
      dist.rdzv_timeout_s = args->rdzv_timeout;
      const Json resolved = resolve_config(config);
      dist::check_world_size(resolved, dist.world_size);
      ro.comm = dist::Communicator::connect(
          dist, parse_device(resolved["device"].get<std::string>(), "device"));
      ro.quiet = ro.quiet || dist.rank != 0;
    }
    if (!args->resume.empty()) {
      resume_experiment(args->resume, ro);
    } else {
      run_experiment(config, ro);
    }
  });
}

}  // namespace anila::cli
