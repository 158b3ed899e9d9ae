// compare.cpp — `anila compare`: one config, several samplers, same seeds and budget.
#include <memory>

#include "anila/config.h"
#include "anila/samplers/registry.h"
#include "anila/train/experiment.h"
#include "cli.h"

namespace anila::cli {

namespace {
struct CompareArgs {
  std::string config, out;
  std::vector<std::string> samplers;
  std::vector<std::string> sets;
  std::string device;
  int64_t seeds = 1, jobs = 0;
  bool force = false, quiet = false;
};
}  // namespace

void add_compare(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd =
      app.add_subcommand("compare",
                         "Train one config with several samplers (same data, seeds and budget); "
                         "writes compare.md, compare.csv and compare.png");
  cmd->add_option("--config", args->config, "JSON config file")->required();
  CLI::Option* samplers = cmd->add_option("--samplers", args->samplers,
                                          "Comma-separated sampler types (default: the config's "
                                          "compare.samplers, else langevin,anila)")
                              ->delimiter(',');
  CLI::Option* seeds = cmd->add_option(
      "--seeds", args->seeds, "Seeds per sampler, mean ± sd (default: compare.seeds, else 1)");
  cmd->add_option("--set", args->sets, "Override a config key: section.key=value (repeatable)");
  add_device_option(cmd, args->device);
  cmd->add_option("--out", args->out, "Output folder (default: runs/compare-<config name>)")
      ->check(non_empty());
  cmd->add_option("--jobs", args->jobs, "Concurrent runs (default: one per core)");
  cmd->add_flag("--force", args->force, "Redo runs that already finished in the output folder");
  cmd->add_flag("--quiet", args->quiet, "No progress output");
  cmd->callback([args, samplers, seeds]() {
    Json config = load_config(args->config, args->sets, args->device);
    const Json section = config.value("compare", Json::object());
    std::vector<std::string> names = args->samplers;
    if (samplers->count() == 0) {
      const bool in_config =
          section.is_object() && section.contains("samplers") && section["samplers"].is_string();
      names = split_list(in_config ? section["samplers"].get<std::string>()
                                   : std::string(kDefaultComparedSamplers));
    }
    if (seeds->count() == 0 && section.is_object() && section.contains("seeds") &&
        section["seeds"].is_number_integer()) {
      args->seeds = section["seeds"].get<int64_t>();
    }
    CompareOptions co;
    co.samplers = names;
    co.seeds = args->seeds;
    co.jobs = args->jobs;
    co.force = args->force;
    co.quiet = args->quiet;
    co.out_dir = args->out.empty() ? "runs/compare-" + config_stem(args->config) : args->out;
    apply_threads(config);
    const Json result = compare_samplers(config, co);
    const int64_t runs = result["runs"].get<int64_t>();
    if (runs > 0 && result["diverged_runs"].get<int64_t>() == runs) {
      throw DivergedError("every run of the comparison diverged (" + std::to_string(runs) +
                          " runs); see " + co.out_dir + "/compare.md");
    }
  });
}

}  // namespace anila::cli
