// experiment.h — from a JSON config to a finished run folder (DESIGN.md §4).
//
// `resolve_config` validates a whole config and fills in every default (every
// user mistake is a UserError before anything touches the disk);
// `run_experiment` trains and writes the run folder:
//
//   runs/NAME/config.json       resolved config
//   runs/NAME/metrics.csv|jsonl one row per logged iteration (+ eval columns)
//   runs/NAME/summary.json      final model metrics (kl, tv, nll) and sample
//                               metrics (sample_tv, sample_mmd, ...), grid box
//   runs/NAME/checkpoints/last.pt  model, optimizer, chain bank, RNG, iteration
//   runs/NAME/figure.png        data density | learned density | learned f | samples
//   runs/NAME/samples.npy       final evaluation batch of chain samples [N, 2]
//   runs/NAME/log_density.npy   normalised learned log-density on the grid [iy, ix]
//
// `compare_samplers` runs one config under several samplers and seeds (same
// data, seeds and budget), concurrently where cores allow, and writes
// compare.md, compare.csv and compare.png.
#pragma once

#include <string>
#include <vector>

#include <array>
#include <memory>

#include "anila/chains/chain_source.h"
#include "anila/common.h"
#include "anila/models/energy.h"

namespace anila {

// Validates `config` and returns it with every default filled in. Throws UserError.
Json resolve_config(const Json& config);

struct RunOptions {
  std::string out_dir;   // run folder
  bool force = false;    // replace an existing folder
  bool resume = false;   // continue the run in out_dir from its last checkpoint
  bool quiet = false;    // no progress output
  int interactive = -1;  // progress bar: -1 detect, 0 plain lines, 1 bar
  std::string label;     // progress label (default: folder name)
};

// Trains one run. Returns summary.json's content. Throws UserError (bad input,
// existing folder, unwritable folder) or DivergedError (NaN/Inf; last good
// checkpoint kept, summary.json records it).
Json run_experiment(const Json& config, const RunOptions& options);

// Reads DIR/config.json and resumes that run.
Json resume_experiment(const std::string& run_dir, const RunOptions& options);

struct CompareOptions {
  std::vector<std::string> samplers;  // sampler types, e.g. {"langevin", "anila"}
  int64_t seeds = 1;                  // seeds seed, seed+1, ...
  std::string out_dir;
  bool force = false;  // redo finished runs
  int64_t jobs = 0;    // concurrent runs (0: number of cores)
  bool quiet = false;
};

// Returns {"table_markdown": ..., "rows": [...]}; writes compare.{md,csv,png}.
Json compare_samplers(const Json& config, const CompareOptions& options);

// The config for one sampler of a comparison: sampler.type replaced and
// compare.overrides.<name> applied.
Json config_for_sampler(const Json& resolved, const std::string& sampler);

// A trained run loaded back: its resolved config, the model with the
// checkpoint's parameters, its chain source (for starting states) and the box
// of its data. `path` is a run folder or a checkpoint file inside RUN/checkpoints/.
// UserError when the folder, config or checkpoint is missing, corrupt or mismatched.
struct LoadedRun {
  std::string dir;
  Json config;
  EnergyModelPtr model;
  ChainSourcePtr chains;
  double temperature = 1;       // noise_scale² of the training sampler
  std::array<double, 4> box{};  // xmin, xmax, ymin, ymax of the data
};
LoadedRun load_run(const std::string& path);

// Benchmark: ms per training iteration and µs per sampler step per chain for
// each sampler in `samplers`, plus AniLA's overhead over Langevin in percent.
Json bench_config(const Json& config, const std::vector<std::string>& samplers, int64_t iterations,
                  int64_t repeats);

}  // namespace anila
