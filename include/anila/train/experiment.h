// experiment.h — from a JSON config to a finished run folder (docs/configs.md).
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
//   runs/NAME/curves.png        loss, energy gap, |∇f| along the chain and the
//                               evaluation metric against the iteration
//   runs/NAME/events.out.tfevents.*  with RunOptions::tensorboard: every metrics
//                               row as scalars, image runs' sample grids as images
// Image runs write, instead of the 2D grid files: samples.png / samples.npy
// (chains as trained, K steps), longrun.png / longrun.npy (the same chains
// continued to eval.long_run_steps, default 10·K), chain.png (chain-evolution
// strip: one chain per row, columns at evenly spaced steps), data.png,
// figure.png, and every eval.every iterations samples_itNNNNNN.png,
// longrun_itNNNNNN.png and chain_itNNNNNN.png; summary.json holds the energy
// gap mean f(data) − mean f(samples) for the short and the long run.
//
// `compare_samplers` runs one config under several samplers and seeds (same
// data, seeds and budget), concurrently where cores allow, and writes
// compare.md, compare.csv and compare.png.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <array>
#include <memory>

#include "anila/chains/chain_source.h"
#include "anila/common.h"
#include "anila/models/energy.h"
#include "anila/samplers/sampler.h"

namespace anila {

namespace data {
struct ImageDataset;
}
namespace dist {
class Communicator;
}

// Validates `config` and returns it with every default filled in, without
// loading its data (parse_run_config, anila/train/setup.h). Throws UserError.
Json resolve_config(const Json& config);

struct RunOptions {
  std::string out_dir;       // run folder
  bool force = false;        // replace an existing folder
  bool resume = false;       // continue the run in out_dir from its last checkpoint
  bool quiet = false;        // no progress output
  int interactive = -1;      // progress bar: -1 detect, 0 plain lines, 1 bar
  std::string label;         // progress label (default: folder name)
  bool tensorboard = false;  // also write TensorBoard event files (scalars, sample grids)
  // Data-parallel training (anila/train/distributed.h): every rank calls
  // run_experiment/resume_experiment with the same config; rank 0 writes the folder.
  std::shared_ptr<dist::Communicator> comm;
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

// Returns {"table_markdown": ..., "rows": [...], "runs": n, "diverged_runs": k};
// writes compare.{md,csv,png}. UserError for --jobs < 0 or --seeds < 1.
Json compare_samplers(const Json& config, const CompareOptions& options);

// The config with sampler.type replaced: the run then uses that type's own
// settings (samplers.<type>, see resolve_sampler), as every command does.
// Works on a config as given and on a resolved one alike.
Json config_for_sampler(const Json& config, const std::string& sampler);

// A trained run loaded back: its resolved config, the model with the
// checkpoint's parameters, its chain source (for starting states) and the box
// of its data. `path` is a run folder (its checkpoints/last.pt) or a checkpoint
// file inside RUN/checkpoints/ (last.pt, or best.pt: the best evaluation's).
// `weights`: "ema" (the parameters' moving average, train.ema), "raw" (the trained
// parameters) or "" (the run's choice: ema when it keeps one and train.ema_weights
// is on). UserError when the folder, config or checkpoint is missing, corrupt or
// mismatched, or "ema" is asked of a run without one.
struct LoadedRun {
  std::string dir;
  Json config;
  EnergyModelPtr model;
  ChainSourcePtr chains;
  double temperature = 1;       // noise_scale² of the training sampler
  std::array<double, 4> box{};  // xmin, xmax, ymin, ymax of the data

  std::vector<int64_t> sample_shape;           // one sample: {2} or {C, H, W}
  std::shared_ptr<data::ImageDataset> images;  // the run's image data (null for 2D runs)
  std::string checkpoint;                      // the checkpoint file loaded
  std::string weights = "raw";                 // "ema" or "raw": what `model` holds
  // The b the run's sampler ended with when its threshold was "auto" (else NaN).
  double threshold = NAN;
};
LoadedRun load_run(const std::string& path, const std::string& weights = "");

// resolve_sampler on a loaded run's config; a type whose threshold is "auto" gets
// the b the run trained to (LoadedRun::threshold) when there is one.
SamplerOptions resolve_run_sampler(const LoadedRun& run, const std::string& type = "",
                                   const Json& extra = Json());

// Benchmark of a config: per sampler, ms per training iteration, ms per
// sampler step (K steps of M chains from the same start, median of `repeats`),
// µs per step per chain and, when the model counts its FLOPs, achieved GFLOP/s
// of the step (≈ 2 × forward FLOPs × M: forward plus backward to the input);
// plus AniLA's overhead over Langevin in percent. Values of 0 below are taken
// from the config's optional "bench" section (keys of the same names), then
// from "train". Image data that cannot be loaded (e.g. CIFAR-10 not on this
// machine) is replaced by uniform random images of the configured shape, and
// the result says so ("data_note").
struct BenchOptions {
  std::vector<std::string> samplers;  // empty: bench.samplers (default langevin,anila)
  int64_t iterations = 0;             // training iterations per timing (default 20)
  int64_t repeats = 0;                // timings per measurement (default 5)
  int64_t batch_size = 0;             // M
  int64_t mcmc_steps = 0;             // K
  // Measure this CPU's matrix-product peak (float32, bf16) in this run instead
  // of using the recorded figures; "fraction_of_peak" is the step's GFLOP/s over it.
  bool measure_peak = false;
};
Json bench_config(const Json& config, const BenchOptions& options);

}  // namespace anila
