// bench.cpp — `anila bench`: ms per training iteration and µs per sampler step
// per chain for Langevin and AniLA on a config; JSON on stdout.
#include <iostream>
#include <memory>

#include "anila/config.h"
#include "anila/train/experiment.h"
#include "cli.h"

namespace anila::cli {

namespace {
struct BenchArgs {
  std::string config;
  std::vector<std::string> sets;
  int64_t iterations = 20, repeats = 5;
};
}  // namespace

void add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time training iterations and sampler steps (Langevin vs AniLA); JSON on stdout");
  cmd->add_option("--config", args->config, "JSON config file")->required();
  cmd->add_option("--set", args->sets, "Override a config key: section.key=value (repeatable)");
  cmd->add_option("--iterations", args->iterations, "Training iterations per timing")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--repeats", args->repeats, "Timings per measurement (median reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([args]() {
    Json config = load_config(args->config, args->sets);
    apply_threads(config);
    Json result = bench_config(config, {"langevin", "anila"}, args->iterations, args->repeats);
    result["config"] = args->config;
    std::cout << result.dump(2) << std::endl;
  });
}

}  // namespace anila::cli
