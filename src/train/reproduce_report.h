// reproduce_report.h — the report of `anila reproduce` from its finished run
// folders: tables, curves, sample grids, inpainting and the notes on reading
// them (internal to the library; see anila/train/reproduce.h for the outputs).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/common.h"
#include "anila/train/reproduce.h"
#include "train/run_kind.h"

namespace anila {

// What the "reproduce" section of an experiment file says.
struct ReproduceSpec {
  std::string title, about, budget;
  // null or {"source", "metric", "iterations", "values": {sampler: number}} and optionally
  // "key": the summary.json key of this report that measures the same thing (then the
  // reference was measured with anila's own metric and the table sets them side by side).
  Json published;
  // reproduce.mcmc_steps: the K values to compare at (empty: train.mcmc_steps only).
  std::vector<int64_t> mcmc_steps;
  // Inpainting (when the section has "inpaint"): N images, mask, K (-1: the run's), seed,
  // the image data section (null: the first N training images).
  bool inpaint = false;
  int64_t inpaint_n = 16, inpaint_steps = -1, inpaint_seed = 123;
  std::string inpaint_mask = "center";
  Json inpaint_data;
};

// One experiment as it runs: its file, config (as given and resolved), the
// samplers and seeds, the output folder and the inpainting batch.
struct Experiment {
  std::string name, path, out;
  ReproduceSpec spec;
  Json config, resolved;
  std::vector<std::string> samplers;
  int64_t seeds = 1;
  int64_t K = 0;               // train.mcmc_steps: the runs in out/<sampler>/seed<i>
  std::vector<int64_t> sweep;  // every K compared, ascending, K among them
  at::Tensor inpaint_batch;
  std::string inpaint_note;
};

// How this invocation went: wall time and the runs reused from an earlier one.
struct Invocation {
  double wall_seconds = 0;
  int64_t reused = 0;
};

// A JSON file read back; null when it is missing or does not parse.
Json read_json_or_null(const std::string& file);
// Whether a run folder's summary.json says the run completed.
bool run_completed(const std::string& dir);

// Reads the run folders back, writes OUT/report.{md,html} with its figures and
// returns the inpainting results ({sampler: summary}, empty without inpainting).
Json write_reproduce_report(const Experiment& ex, const ReproduceOptions& o, const Invocation& inv);

}  // namespace anila
