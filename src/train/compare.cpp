// compare.cpp — `anila compare`: one config under several samplers, with the
// same data, seeds and budget for each.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include "anila/config.h"
#include "anila/data/images.h"
#include "anila/eval/grid2d.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/results.h"
#include "anila/samplers/sampler.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"
#include "train/run_kind.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

struct Job {
  std::string sampler;
  int64_t seed_index = 0;
  std::string dir;
  Json config;
  Json summary;       // filled when done
  std::string error;  // user error text
  bool diverged = false;
};

void run_job(Job& job, bool force, bool quiet, int interactive) {
  RunOptions ro;
  ro.out_dir = job.dir;
  ro.quiet = quiet;
  ro.interactive = interactive;
  ro.label = fmt::format("{}/seed{}", job.sampler, job.seed_index);
  try {
    const std::string summary_path = job.dir + "/summary.json";
    if (!force && fs::exists(summary_path)) {
      Json done = try_parse_json(io::read_text(summary_path));
      if (done.is_object() && done.value("status", "") == "completed") {
        job.summary = done;
        return;
      }
    }
    if (!force && fs::exists(job.dir + "/checkpoints/last.pt") &&
        fs::exists(job.dir + "/config.json")) {
      job.summary = resume_experiment(job.dir, ro);
      return;
    }
    ro.force = true;
    job.summary = run_experiment(job.config, ro);
  } catch (const DivergedError& e) {
    job.diverged = true;
    job.error = e.what();
  } catch (const UserError& e) {
    job.error = e.what();
  }
}

// Every run of the comparison, validated (resolve_config) before any starts.
std::vector<Job> plan_jobs(const Json& config, const Json& resolved, const CompareOptions& o) {
  std::vector<Job> jobs;
  const uint64_t base_seed = resolved["seed"].get<uint64_t>();
  for (const auto& name : o.samplers) {
    for (int64_t i = 0; i < o.seeds; ++i) {
      Job job;
      job.sampler = name;
      job.seed_index = i;
      job.dir = fmt::format("{}/{}/seed{}", o.out_dir, name, i);
      job.config = config_for_sampler(config, name);
      job.config["seed"] = base_seed + static_cast<uint64_t>(i);
      job.config = resolve_config(job.config);
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

// Runs the jobs, `workers` at a time (one core each when more than one).
void run_jobs(std::vector<Job>& jobs, const CompareOptions& o, int64_t workers) {
  if (workers > 1) set_threads(1);
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t j = next++; j < jobs.size(); j = next++) {
      run_job(jobs[j], o.force, o.quiet, workers > 1 ? 0 : -1);
    }
  };
  std::vector<std::thread> pool;
  for (int64_t w = 1; w < workers; ++w) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const auto& job : jobs) {
    if (!job.error.empty() && !job.diverged) throw UserError(job.error);
  }
}

// The table: one row per run, shown as mean ± sd per sampler.
io::ResultsTable results_table(const std::vector<Job>& jobs, const RunKind& kind) {
  FeatureKeys features;
  for (const auto& job : jobs) features.note_summary(job.summary);
  std::vector<io::Column> columns = kind.final_columns(features);
  columns.push_back({"seconds", "s/run", "{:.1f}"});
  io::ResultsTable table(columns);
  for (const auto& job : jobs) {
    io::ResultRow row{job.sampler, job.seed_index, Json::object(), job.diverged, ""};
    if (!job.diverged && job.summary.is_object()) row.values = job.summary;
    table.add(std::move(row));
  }
  return table;
}

std::string table_markdown(const io::ResultsTable& table, const Json& resolved, const RunKind& kind,
                           int64_t seeds) {
  std::string md = fmt::format(
      "# {}: sampler comparison\n\n{} seed(s) per sampler, {} iterations, K = {}, M = {}, "
      "chains: {}.\n\n",
      resolved["data"]["type"].get<std::string>(), seeds,
      resolved["train"]["iterations"].get<int64_t>(),
      resolved["train"]["mcmc_steps"].get<int64_t>(),
      resolved["train"]["batch_size"].get<int64_t>(),
      resolved["chains"]["type"].get<std::string>());
  return md + table.markdown() + "\n" + kind.compare_note(resolved);
}

// compare.png: the data on top (2D), then each sampler's seed-0 run.
void write_figure(const std::vector<Job>& jobs, const Json& resolved, const RunKind& kind,
                  const std::string& out_dir) {
  std::vector<ReportRun> seed0;
  for (const auto& job : jobs)
    if (job.seed_index == 0)
      seed0.push_back({job.sampler, job.dir, 0, job.summary, job.config, job.diverged});
  std::vector<std::vector<io::Panel>> rows;
  std::vector<std::string> labels;
  kind.compare_figure(resolved, seed0, &rows, &labels);
  if (rows.empty()) return;
  io::write_png(io::compose(rows, labels,
                            fmt::format("{}: samplers compared (seed 0)",
                                        resolved["data"]["type"].get<std::string>())),
                out_dir + "/compare.png");
}

void check_compare_options(const Json& config, const CompareOptions& options) {
  check_sampler_list(options.samplers, "--samplers", config);
  if (options.seeds < 1) throw UserError("--seeds: must be >= 1");
  if (options.jobs < 0) {
    throw UserError("--jobs: must be >= 1 (or 0 for one per core), got " +
                    std::to_string(options.jobs));
  }
  if (options.out_dir.empty()) throw UserError("no output folder given (--out DIR)");
}

}  // namespace

Json compare_samplers(const Json& config, const CompareOptions& options) {
  const Json resolved = resolve_config(config);
  check_compare_options(config, options);
  std::vector<Job> jobs = plan_jobs(config, resolved, options);
  // The data, loaded before any folder exists and held for the runs, which share it.
  const RunSetup data = build_setup(resolved);
  io::make_dirs(options.out_dir);
  io::check_writable(options.out_dir);

  const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t workers =
      std::min<int64_t>(options.jobs > 0 ? options.jobs : cores, static_cast<int64_t>(jobs.size()));
  if (!options.quiet) {
    std::cerr << fmt::format("compare: {} runs ({} samplers × {} seeds), {} at a time -> {}\n",
                             jobs.size(), options.samplers.size(), options.seeds, workers,
                             options.out_dir);
  }
  run_jobs(jobs, options, workers);

  const auto kind = run_kind(resolved);
  const io::ResultsTable table = results_table(jobs, *kind);
  const std::string md = table_markdown(table, resolved, *kind, options.seeds);
  io::write_atomic(options.out_dir + "/compare.md", md);
  io::write_atomic(options.out_dir + "/compare.csv", table.csv());
  write_figure(jobs, resolved, *kind, options.out_dir);
  if (!options.quiet)
    std::cout << "\n" << md << "\nwrote " << options.out_dir << "/compare.{md,csv,png}\n";
  const int64_t n_diverged =
      std::count_if(jobs.begin(), jobs.end(), [](const Job& j) { return j.diverged; });
  return {{"table_markdown", md},
          {"rows", table.to_json()},
          {"runs", jobs.size()},
          {"diverged_runs", n_diverged}};
}

}  // namespace anila
