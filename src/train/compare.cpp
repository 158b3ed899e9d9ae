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
#include "anila/io/report.h"
#include "anila/samplers/sampler.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"

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

// Metrics in the comparison table: name, summary key, format.
struct Column {
  std::string title;
  std::string key;
  std::string format;
};
const std::vector<Column> kColumns = {
    {"sample_tv (lower better)", "sample_tv", "{:.4f}"},
    {"sample_mmd", "sample_mmd", "{:.5f}"},
    {"model kl [nats]", "kl", "{:.3f}"},
    {"model tv", "tv", "{:.4f}"},
    {"model nll", "nll", "{:.3f}"},
    {"s/run", "seconds", "{:.1f}"},
};

// Image runs: the energy gaps, then every fd_* / kid_* metric any run's summary
// holds (sorted, so fd_<tag> precedes kid_<tag> and kid_<tag>_se), then time.
std::vector<Column> image_columns(const std::vector<Json>& summaries) {
  std::vector<Column> columns = {
      {"energy gap (short run)", "energy_gap", "{:.4g}"},
      {"energy gap (long run)", "energy_gap_long_run", "{:.4g}"},
  };
  std::set<std::string> keys;
  for (const auto& s : summaries) {
    if (!s.is_object()) continue;
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& k = it.key();
      if ((k.rfind("fd_", 0) == 0 || k.rfind("kid_", 0) == 0) && it.value().is_number()) {
        keys.insert(k);
      }
    }
  }
  for (const auto& k : keys)
    columns.push_back({k, k, k.rfind("kid_", 0) == 0 ? "{:.5f}" : "{:.3f}"});
  columns.push_back({"s/run", "seconds", "{:.1f}"});
  return columns;
}

using io::mean_sd;

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

// learned density | learned log-density | samples, read back from a run folder.
void figure_from_run(const std::string& dir, const eval::Grid2D& grid, int size,
                     std::vector<io::Panel>* row) {
  at::Tensor log_density = io::read_npy(dir + "/log_density.npy");
  at::Tensor samples = io::read_npy(dir + "/samples.npy");
  row->push_back({"model exp(f/T)/Z", io::heatmap(log_density.exp(), size)});
  row->push_back({"model log-density", io::log_heatmap(log_density, size)});
  row->push_back({"chain samples", io::scatter_density(samples, grid.box.xmin, grid.box.xmax,
                                                       grid.box.ymin, grid.box.ymax, size, 120)});
}

}  // namespace

Json compare_samplers(const Json& config, const CompareOptions& options) {
  Json resolved = resolve_config(config);
  check_sampler_list(options.samplers, "--samplers");
  if (options.seeds < 1) throw UserError("--seeds: must be >= 1");
  if (options.jobs < 0) {
    throw UserError("--jobs: must be >= 1 (or 0 for one per core), got " +
                    std::to_string(options.jobs));
  }
  if (options.out_dir.empty()) throw UserError("no output folder given (--out DIR)");

  std::vector<Job> jobs;
  const uint64_t base_seed = resolved["seed"].get<uint64_t>();
  for (const auto& name : options.samplers) {
    for (int64_t i = 0; i < options.seeds; ++i) {
      Job job;
      job.sampler = name;
      job.seed_index = i;
      job.dir = fmt::format("{}/{}/seed{}", options.out_dir, name, i);
      job.config = config_for_sampler(config, name);
      job.config["seed"] = base_seed + static_cast<uint64_t>(i);
      job.config = resolve_config(job.config);  // validate every run before starting any
      jobs.push_back(std::move(job));
    }
  }
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
  if (workers > 1) set_threads(1);  // one core per run
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t j = next++; j < jobs.size(); j = next++) {
      run_job(jobs[j], options.force, options.quiet, workers > 1 ? 0 : -1);
    }
  };
  std::vector<std::thread> pool;
  for (int64_t w = 1; w < workers; ++w) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const auto& job : jobs) {
    if (!job.error.empty() && !job.diverged) throw UserError(job.error);
  }

  // Table: mean ± sd over seeds, one row per sampler.
  const bool image_run = data::is_image_dataset_type(resolved["data"]["type"].get<std::string>());
  std::vector<Column> columns = kColumns;
  if (image_run) {
    std::vector<Json> summaries;
    for (const auto& job : jobs) summaries.push_back(job.summary);
    columns = image_columns(summaries);
  }
  std::vector<std::string> header = {"sampler"};
  for (const auto& c : columns) header.push_back(c.title);
  std::vector<std::string> csv_header = {"sampler", "runs", "diverged"};
  for (const auto& c : columns) {
    csv_header.push_back(c.key + "_mean");
    csv_header.push_back(c.key + "_sd");
  }
  std::vector<std::vector<std::string>> rows, csv_rows;
  Json out_rows = Json::array();
  for (const auto& name : options.samplers) {
    std::vector<std::string> row = {name}, csv_row = {name};
    int64_t runs = 0, diverged = 0;
    Json jr = {{"sampler", name}};
    for (const auto& c : columns) {
      std::vector<double> v;
      for (const auto& job : jobs) {
        if (job.sampler != name) continue;
        if (job.diverged) continue;
        if (job.summary.contains(c.key) && job.summary[c.key].is_number()) {
          v.push_back(job.summary[c.key].get<double>());
        }
      }
      row.push_back(mean_sd(v, c.format));
      double mean = 0, var = 0;
      for (double x : v) mean += x;
      mean = v.empty() ? NAN : mean / v.size();
      for (double x : v) var += (x - mean) * (x - mean);
      double sd = v.size() > 1 ? std::sqrt(var / (v.size() - 1)) : NAN;
      csv_row.push_back(fmt::format("{:.9g}", mean));
      csv_row.push_back(v.size() > 1 ? fmt::format("{:.9g}", sd) : "");
      jr[c.key] = {{"mean", mean}, {"sd", sd}, {"n", v.size()}};
    }
    for (const auto& job : jobs) {
      if (job.sampler != name) continue;
      runs++;
      diverged += job.diverged;
    }
    if (diverged) row[0] += fmt::format(" ({} of {} diverged)", diverged, runs);
    csv_row.insert(csv_row.begin() + 1, {std::to_string(runs), std::to_string(diverged)});
    rows.push_back(row);
    csv_rows.push_back(csv_row);
    out_rows.push_back(jr);
  }
  const double T0 = resolve_sampler(resolved).noise_scale;
  std::string md = fmt::format(
      "# {}: sampler comparison\n\n{} seed(s) per sampler, {} iterations, K = {}, M = {}, "
      "chains: {}.\n\n",
      resolved["data"]["type"].get<std::string>(), options.seeds,
      resolved["train"]["iterations"].get<int64_t>(),
      resolved["train"]["mcmc_steps"].get<int64_t>(),
      resolved["train"]["batch_size"].get<int64_t>(),
      resolved["chains"]["type"].get<std::string>());
  md += io::markdown_table(header, rows);
  if (image_run) {
    md +=
        "\nenergy gap: mean f(data) − mean f(samples) on the final evaluation batch (short run: "
        "K steps as in training; long run: the same chains continued to eval.long_run_steps). "
        "`fd_TAG` / `kid_TAG`: Fréchet distance / kernel inception distance in the features "
        "named TAG (eval.features); they equal the published Inception FID only with the Inception "
        "network's features and the same sample counts.\n";
  } else {
    md += fmt::format(
        "\nsample_* columns measure chains drawn exactly as in training (sample quality); model "
        "columns measure the normalised density exp(f/T)/Z with T = noise_scale² (T = {:.3g} "
        "unless overridden), i.e. model quality. In the short-run regime they disagree by design: "
        "good samples, poor density.\n",
        T0 * T0);
  }
  io::write_atomic(options.out_dir + "/compare.md", md);
  io::write_atomic(options.out_dir + "/compare.csv", io::csv_table(csv_header, csv_rows));

  // Figure: data density on top, then one row per sampler (seed 0); image runs
  // show each sampler's grid of samples instead.
  RunSetup setup = build_setup(resolved);
  std::vector<std::vector<io::Panel>> fig_rows;
  std::vector<std::string> labels;
  const int size = 220;
  if (setup.images) {
    for (const auto& name : options.samplers) {
      const std::string png = fmt::format("{}/{}/seed0/samples.png", options.out_dir, name);
      if (!fs::exists(png)) continue;
      fig_rows.push_back({{"chain samples", io::read_png(png)}});
      labels.push_back(name);
    }
  } else {
    eval::Grid2D grid;
    grid.box = setup.data->box();
    if (!setup.eval.box.empty()) {
      grid.box = {setup.eval.box[0], setup.eval.box[1], setup.eval.box[2], setup.eval.box[3]};
    }
    grid.resolution = setup.eval.resolution;
    bool have_data = false;
    for (const auto& name : options.samplers) {
      const Job& job = *std::find_if(jobs.begin(), jobs.end(), [&](const Job& j) {
        return j.sampler == name && j.seed_index == 0;
      });
      if (job.diverged || !fs::exists(job.dir + "/log_density.npy")) continue;
      if (!have_data) {
        at::Tensor data_ld = io::read_npy(job.dir + "/data_log_density.npy");
        fig_rows.push_back({{"data density", io::heatmap(data_ld.exp(), size)}});
        labels.push_back("data");
        have_data = true;
      }
      std::vector<io::Panel> row;
      figure_from_run(job.dir, grid, size, &row);
      fig_rows.push_back(row);
      labels.push_back(name);
    }
  }
  if (!fig_rows.empty()) {
    io::write_png(io::compose(fig_rows, labels,
                              fmt::format("{}: samplers compared (seed 0)",
                                          resolved["data"]["type"].get<std::string>())),
                  options.out_dir + "/compare.png");
  }
  if (!options.quiet)
    std::cout << "\n" << md << "\nwrote " << options.out_dir << "/compare.{md,csv,png}\n";
  const int64_t n_diverged =
      std::count_if(jobs.begin(), jobs.end(), [](const Job& j) { return j.diverged; });
  return {{"table_markdown", md},
          {"rows", out_rows},
          {"runs", jobs.size()},
          {"diverged_runs", n_diverged}};
}

}  // namespace anila
