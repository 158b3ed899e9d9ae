// bench.cpp — `anila bench`: ms per training iteration and per sampler step
// (and GFLOP/s for image models) for Langevin, AniLA or any samplers on a
// config; JSON on stdout.
//
//   anila bench --config configs/rings.json
//   anila bench --config configs/cifar10.json --set device=cpu
#include <iostream>
#include <memory>

#include "anila/config.h"
#include "anila/train/experiment.h"
#include "cli.h"

namespace anila::cli {

namespace {
struct BenchArgs {
  std::string config;
  std::vector<std::string> samplers;
  std::vector<std::string> sets;
  std::string device;
  BenchOptions options;
};
}  // namespace

void add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time training iterations and sampler steps (Langevin vs AniLA); JSON on stdout");
  cmd->add_option("--config", args->config, "JSON config file")->required();
  cmd->add_option("--set", args->sets, "Override a config key: section.key=value (repeatable)");
  add_device_option(cmd, args->device);
  cmd->add_option("--samplers", args->samplers,
                  "Comma-separated samplers (default: bench.samplers or langevin,anila)")
      ->delimiter(',');
  cmd->add_option("--iterations", args->options.iterations,
                  "Training iterations per timing (default: bench.iterations or 20)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--repeats", args->options.repeats,
                  "Timings per measurement, median reported (default: bench.repeats or 5)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch", args->options.batch_size,
                  "Chains M (default: bench.batch_size or train.batch_size)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--steps", args->options.mcmc_steps,
                  "Sampler steps K per iteration (default: bench.mcmc_steps or train.mcmc_steps)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--measure-peak", args->options.measure_peak,
                "Measure the CPU's float32/bf16 matrix-product peak in this run (default: the "
                "recorded figures of docs/performance.md)");
  cmd->callback([args]() {
    Json config = load_config(args->config, args->sets, args->device);
    apply_threads(config);
    args->options.samplers = args->samplers;
    Json result = bench_config(config, args->options);
    result["config"] = args->config;
    std::cout << result.dump(2) << std::endl;
  });
}

}  // namespace anila::cli
