// experiment.cpp — config resolution, the run folder, evaluation and figures
// around the Trainer (see anila/train/experiment.h).
#include "anila/train/experiment.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include "anila/chains/chain_source.h"
#include "anila/config.h"
#include "anila/data/dataset2d.h"
#include "anila/eval/grid2d.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/plot.h"
#include "anila/io/progress.h"
#include "anila/io/run_lock.h"
#include "anila/io/tensorboard.h"
#include "anila/models/energy.h"
#include "anila/samplers/anila.h"
#include "anila/samplers/sampler.h"
#include "anila/train/distributed.h"
#include "anila/train/setup.h"
#include "anila/train/trainer.h"
#include "train/image_metrics.h"
#include "train/run_loop.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

eval::Grid2D make_grid(const RunSetup& s) {
  eval::Grid2D grid;
  grid.box = s.data->box();
  if (!s.eval.box.empty()) grid.box = {s.eval.box[0], s.eval.box[1], s.eval.box[2], s.eval.box[3]};
  grid.resolution = s.eval.resolution;
  return grid;
}

eval::EvalOptions eval_options(const EvalConfig& e) {
  eval::EvalOptions o;
  o.resolution = e.resolution;
  o.hist_bins = e.hist_bins;
  o.n_data = e.n_data;
  o.n_mmd = e.n_mmd;
  return o;
}

eval::ScalarField model_field(const EnergyModelPtr& model, c10::Device device) {
  return [model, device](const at::Tensor& x) {
    at::NoGradGuard no_grad;
    return model->forward(x.to(device)).to(at::kCPU);
  };
}

// Metrics of the current model: an evaluation batch drawn as training draws it,
// with a generator derived from the seed and iteration (training RNG untouched).
eval::Report2D evaluate(Trainer& trainer, const RunSetup& s, int64_t n_samples,
                        at::Tensor* samples_out) {
  at::Generator gen =
      make_generator(s.seed * 1000003ULL + 7919ULL * trainer.iteration() + 17, s.device);
  int64_t n = n_samples;
  const auto& co = trainer.chains()->options();
  if (co.type == "persistent" || co.type == "replay") n = std::min(n, co.bank_size);
  at::Tensor samples = trainer.draw_samples(n, gen).to(at::kCPU);
  if (samples_out) *samples_out = samples;
  at::Generator cpu_gen = make_generator(s.seed + 99991ULL * (trainer.iteration() + 1), at::kCPU);
  return eval::evaluate_2d(model_field(trainer.model(), s.device), trainer.sampler()->temperature(),
                           *s.data, samples, make_grid(s), eval_options(s.eval), cpu_gen);
}

const std::vector<std::string> kMetricColumns = {
    "iteration", "loss",    "f_data", "f_samples", "energy_gap",      "grad_norm", "lr",
    "grad_abs",  "f_chain", "gamma",  "gamma_lt1", "accept",          "it_per_s",  "elapsed_s",
    "kl",        "tv",      "nll",    "sample_tv", "sample_tv_model", "sample_mmd"};

io::Image density_panel(const at::Tensor& log_density, int size) {
  return io::heatmap(log_density.exp(), size);
}

// data density | learned density | learned f | samples
std::vector<io::Panel> figure_row(const eval::Report2D& report, const at::Tensor& samples,
                                  const eval::Grid2D& grid, double temperature, bool with_data,
                                  int size = 240) {
  std::vector<io::Panel> row;
  if (with_data) row.push_back({"data density", density_panel(report.data_log_density, size)});
  row.push_back({fmt::format("model exp(f/T)/Z, T={:.3g}", temperature),
                 density_panel(report.log_density, size)});
  row.push_back({"model log-density", io::log_heatmap(report.log_density, size)});
  row.push_back({"chain samples", io::scatter_density(samples, grid.box.xmin, grid.box.xmax,
                                                      grid.box.ymin, grid.box.ymax, size, 120)});
  return row;
}

Json summary_json(const eval::Report2D& r, const eval::Grid2D& grid, double temperature) {
  Json j = r.to_json();
  j["temperature"] = temperature;
  j["grid"] = grid.to_json();
  j["note"] =
      "kl, tv, nll describe the model density exp(f/T)/Z (model quality); sample_tv, "
      "sample_tv_model, sample_mmd describe chains drawn as in training (sample quality). "
      "In the short-run regime (noise-initialised chains, small noise) they disagree by "
      "design: good samples, poor density.";
  return j;
}

// The model metric a 2D run is scored by (best checkpoint, progress, final line):
// kl where the data's density is exact; nll where it is a KDE (csv, pinwheel),
// whose kl is an approximation that can be negative.
std::string model_metric_2d(const data::Dataset2D& data) {
  return data.log_density_exact() ? "kl" : "nll";
}

void print_final(const Json& summary, const std::string& dir) {
  std::string model;
  if (summary.value("data_log_density", "") == "exact") {
    model = fmt::format("kl {:.4f} nats  tv {:.4f}  nll {:.4f}", summary.value("kl", NAN),
                        summary.value("tv", NAN), summary.value("nll", NAN));
  } else {
    const bool held = summary.value("nll_data", "") == "held_out";
    model = fmt::format(
        "nll {:.4f} nats on {} {}  tv {:.4f}  kl {:.4f} (approximate: KDE reference, can be "
        "negative)",
        summary.value("nll", NAN), summary.value("nll_points", int64_t{0}),
        held ? "held-out points" : "fresh draws", summary.value("tv", NAN),
        summary.value("kl", NAN));
  }
  std::cout << fmt::format(
      "\n{}\n  sample quality (chains as drawn in training):  sample_tv {:.4f}  (exact-sample "
      "floor {:.4f})  sample_mmd {:.5f}\n  model quality (exp(f/T)/Z, T={:.3g}):          {}\n",
      dir, summary.value("sample_tv", NAN), summary.value("sample_tv_floor", NAN),
      summary.value("sample_mmd", NAN), summary.value("temperature", NAN), model);
  std::cout.flush();
}

// A 2D evaluation's grid_warning (box too small, grid too coarse), said once per
// run on stderr however many evaluations carry it; the first one is remembered
// for summary.json.
class GridWarningOnce {
 public:
  explicit GridWarningOnce(std::string label) : label_(std::move(label)) {}
  void note(const Json& report, int64_t iteration) {
    if (!first_.is_null() || !report.contains("grid_warning")) return;
    first_ = {{"iteration", iteration}, {"warning", report["grid_warning"]}};
    std::cerr << fmt::format("anila: warning: {}: iteration {}: {}\n", label_, iteration,
                             report["grid_warning"].get<std::string>());
  }
  // summary.json keeps the final evaluation's grid_warning, or else the first one.
  void add_to(Json& summary) const {
    if (first_.is_null() || summary.contains("grid_warning")) return;
    summary["grid_warning"] = fmt::format("at iteration {}: {}", first_["iteration"].get<int64_t>(),
                                          first_["warning"].get<std::string>());
  }

 private:
  std::string label_;
  Json first_;
};

// Image runs: chains drawn exactly as training draws them (K steps), the same
// chains continued to eval.long_run_steps, and snapshots of the first chains
// along the way for the chain-evolution strip.
struct ImageDraw {
  at::Tensor short_run;  // [n, C, H, W] after K steps (CPU)
  at::Tensor long_run;   // after eval.long_run_steps, undefined when off
  io::Image strip;       // rows: chains; columns: steps (see strip_steps)
  std::vector<int64_t> strip_steps;
};

constexpr int64_t kStripChains = 4;
constexpr int64_t kStripColumns = 9;  // evenly spaced over 0..K

int grid_scale(const at::Tensor& images) {
  return images.size(2) < 48 ? 2 : 1;
}

ImageDraw draw_images(Trainer& trainer, const RunSetup& s, int64_t n) {
  at::Generator gen =
      make_generator(s.seed * 1000003ULL + 7919ULL * trainer.iteration() + 17, s.device);
  const auto& co = trainer.chains()->options();
  if (co.type == "persistent" || co.type == "replay") n = std::min(n, co.bank_size);
  const int64_t K = s.train.mcmc_steps, L = s.eval.long_run_steps;
  ImageDraw d;
  for (int64_t i = 0; i < kStripColumns; ++i) d.strip_steps.push_back(K * i / (kStripColumns - 1));
  for (int64_t m : {2, 5}) {
    if (L > m * K) d.strip_steps.push_back(m * K);
  }
  if (L > K) d.strip_steps.push_back(L);
  d.strip_steps.erase(std::unique(d.strip_steps.begin(), d.strip_steps.end()), d.strip_steps.end());
  std::vector<at::Tensor> kept;
  at::Tensor last = trainer.draw_samples(n, gen, std::max(K, L), d.strip_steps, &kept).to(at::kCPU);
  const size_t k_index =
      size_t(std::find(d.strip_steps.begin(), d.strip_steps.end(), K) - d.strip_steps.begin());
  d.short_run = kept.at(k_index).to(at::kCPU);
  if (L > K) d.long_run = last;
  std::vector<at::Tensor> columns;
  const int64_t rows = std::min(kStripChains, n);
  for (const auto& z : kept) columns.push_back(z.narrow(0, 0, rows).to(at::kCPU));
  // [columns, rows, C, H, W] -> row-major grid with one row per chain.
  at::Tensor strip = at::stack(columns, 1).flatten(0, 1);
  d.strip = io::image_grid(strip, int64_t(columns.size()), grid_scale(strip));
  return d;
}

// FD/KID of `n` chains drawn as in training (in chunks of kMetricChunk chains,
// with their own generator), against the reference split.
constexpr int64_t kMetricChunk = 500;

Json image_quality(Trainer& trainer, const RunSetup& s, const ImageMetrics& metrics) {
  at::Generator gen =
      make_generator(s.seed * 1000033ULL + 7907ULL * trainer.iteration() + 29, s.device);
  int64_t n = s.eval.fd_samples;
  const auto& co = trainer.chains()->options();
  if (co.type == "persistent" || co.type == "replay") n = std::min(n, co.bank_size);
  std::vector<at::Tensor> parts;
  for (int64_t done = 0; done < n; done += kMetricChunk) {
    parts.push_back(trainer.draw_samples(std::min(kMetricChunk, n - done), gen).to(at::kCPU));
  }
  Json out = metrics.evaluate(at::cat(parts), s.seed + uint64_t(trainer.iteration()));
  out["features"] = metrics.extractor_name();
  return out;
}

std::string strip_title(const ImageDraw& d) {
  std::string steps;
  for (int64_t k : d.strip_steps) steps += (steps.empty() ? "" : ", ") + std::to_string(k);
  return fmt::format("chain evolution: one chain per row, steps {}", steps);
}

// Returns the short-run grid.
io::Image write_image_grids(Trainer& trainer, const RunSetup& s, const std::string& dir,
                            int64_t it) {
  ImageDraw d = draw_images(trainer, s, 64);
  const int scale = grid_scale(d.short_run);
  io::Image grid = io::image_grid(d.short_run, 8, scale);
  io::write_png(grid, fmt::format("{}/samples_it{:06d}.png", dir, it));
  if (d.long_run.defined()) {
    io::write_png(io::image_grid(d.long_run, 8, scale),
                  fmt::format("{}/longrun_it{:06d}.png", dir, it));
  }
  io::write_png(io::compose({{{strip_title(d), d.strip}}}, {}, ""),
                fmt::format("{}/chain_it{:06d}.png", dir, it));
  return grid;
}

// Final outputs of an image run: samples.npy, samples.png, longrun.png,
// chain.png, data.png, figure.png, and the energy gap on these batches.
Json finish_images(Trainer& trainer, const RunSetup& s, const std::string& dir) {
  ImageDraw d = draw_images(trainer, s, std::min<int64_t>(s.eval.samples, 100));
  const at::Tensor& samples = d.short_run;
  at::Generator data_gen = make_generator(s.seed + 99991ULL, at::kCPU);
  at::Tensor data = data::sample_images(*s.images, samples.size(0), data_gen);
  auto mean_f = [&](const at::Tensor& x) {
    at::NoGradGuard no_grad;
    return trainer.model()->forward(x.to(s.device)).mean().item<double>();
  };
  const double f_data = mean_f(data);
  const double gap = f_data - mean_f(samples);
  io::write_npy(dir + "/samples.npy", samples);
  const int scale = grid_scale(samples);
  io::Image sample_grid = io::image_grid(samples, 10, scale);
  io::Image data_grid = io::image_grid(data, 10, scale);
  io::write_png(sample_grid, dir + "/samples.png");
  io::write_png(data_grid, dir + "/data.png");
  std::vector<io::Panel> row = {
      {"data", data_grid},
      {fmt::format("chain samples ({} steps)", s.train.mcmc_steps), sample_grid}};
  Json summary = {{"status", "completed"},
                  {"iterations", trainer.iteration()},
                  {"sampler", trainer.sampler()->name()},
                  {"sampler_settings", trainer.sampler()->options().to_json()},
                  {"temperature", trainer.sampler()->temperature()},
                  {"energy_gap", gap},
                  {"samples", samples.size(0)}};
  if (d.long_run.defined()) {
    io::Image long_grid = io::image_grid(d.long_run, 10, scale);
    io::write_png(long_grid, dir + "/longrun.png");
    io::write_npy(dir + "/longrun.npy", d.long_run);
    row.push_back({fmt::format("long run ({} steps)", s.eval.long_run_steps), long_grid});
    summary["energy_gap_long_run"] = f_data - mean_f(d.long_run);
    summary["long_run_steps"] = s.eval.long_run_steps;
  }
  io::write_png(io::compose({{{strip_title(d), d.strip}}}, {}, ""), dir + "/chain.png");
  io::write_png(io::compose({row}, {},
                            fmt::format("{}: {} ({} iterations)", s.images->name,
                                        trainer.sampler()->name(), trainer.iteration())),
                dir + "/figure.png");
  return summary;
}

// curves.png from metrics.jsonl (so resumed runs plot their whole history):
// one panel per quantity that has values.
void write_curves(const std::string& dir, const std::vector<std::string>& eval_keys) {
  const std::string path = dir + "/metrics.jsonl";
  if (!fs::exists(path)) return;
  std::vector<Json> rows;
  {
    std::istringstream in(io::read_text(path));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) rows.push_back(try_parse_json(line));
    }
  }
  std::vector<std::pair<std::string, std::string>> panels = {
      {"loss", "training loss"},
      {"energy_gap", "energy gap mean f(data) - mean f(samples)"},
      {"grad_abs", "mean |grad f| along the chain"}};
  for (const auto& k : eval_keys) panels.push_back({k, k});
  std::vector<io::Panel> row;
  for (const auto& [key, title] : panels) {
    io::Series series;
    for (const auto& r : rows) {
      if (r.is_object() && r.contains(key) && r[key].is_number() && r.contains("iteration")) {
        const double v = r[key].get<double>();
        if (!std::isfinite(v)) continue;
        series.x.push_back(r["iteration"].get<double>());
        series.y.push_back(v);
      }
    }
    if (series.x.size() < 2) continue;
    io::PlotOptions po;
    po.xlabel = "iteration";
    po.ylabel = key;
    po.width = 420;
    po.height = 300;
    po.legend = false;
    series.points = series.x.size() < 30;
    row.push_back({title, io::line_plot({series}, po)});
  }
  if (!row.empty()) io::write_png(io::compose({row}, {}, ""), dir + "/curves.png");
}

// Data-parallel runs: the ranks stop together when one fails before training
// starts. ready() tells the others that this rank is set up; leaving the scope by
// an exception before that tells them it is not (Communicator::agree), so no rank
// waits in a collective that the failed one never joins.
class StartAgreement {
 public:
  StartAgreement(std::shared_ptr<dist::Communicator> comm, std::string what)
      : comm_(std::move(comm)), what_(std::move(what)) {}
  ~StartAgreement() {
    if (!comm_ || done_ || std::uncaught_exceptions() == 0) return;
    try {
      comm_->agree(kExitUserError, what_);
    } catch (...) {
      // This rank's own error is already on its way out.
    }
  }
  void ready() {
    if (comm_ && !done_) comm_->agree(0, what_);
    done_ = true;
  }

 private:
  std::shared_ptr<dist::Communicator> comm_;
  std::string what_;
  bool done_ = false;
};

// The evaluation metric a run keeps its best checkpoint by ("" when it has none):
// the model KL in 2D, the FD of image runs with eval.features.
std::string best_metric_name(const RunSetup& s) {
  if (!s.images) return model_metric_2d(*s.data);
  return s.eval.features.empty() ? "" : "fd_" + feature_tag(s.eval.features);
}

// A fresh run with train.on_divergence = rollback writes a checkpoint before the
// first iteration, so there is always one to go back to (a collective with ranks).
bool needs_start_checkpoint(const RunSetup& s, bool resume) {
  return !resume && s.train.divergence.on_divergence == "rollback";
}

// Ranks other than 0: the same trainer, steps and checkpoints as rank 0's loop
// (collectives in the same order), without the run folder.
Json run_rank(const RunSetup& s, const Json& resolved, const RunOptions& options, bool resume) {
  const std::string ckpt = options.out_dir + "/checkpoints/last.pt";
  std::unique_ptr<Trainer> trainer;
  std::exception_ptr error;
  int status = 0;
  try {
    trainer = make_trainer(s, resolved, options.comm);
    if (resume) trainer->load_checkpoint(ckpt);
  } catch (const UserError&) {
    status = kExitUserError;
    error = std::current_exception();
  }
  // When a lower rank failed too (the same checkpoint, say), it reports; this one
  // stops with PeerStopped instead of printing the same line again.
  if (!options.comm->agree(status, "while starting the run")) std::rethrow_exception(error);
  RunLoop loop(s.train.iterations, s.train.log_every, s.eval.every);
  auto checkpoints = std::make_unique<Checkpointer>(ckpt, s.train.checkpoint_every, 0);
  DivergenceRecovery recovery(s.train.divergence, *checkpoints, /*quiet=*/true);
  if (needs_start_checkpoint(s, resume)) checkpoints->save(*trainer);
  const std::string metric = best_metric_name(s);
  if (!metric.empty()) {
    loop.add(std::make_unique<BestCheckpoint>(options.out_dir, metric, options.comm));
  }
  loop.add(std::move(checkpoints));
  loop.set_recovery(&recovery);
  try {
    loop.run(*trainer);
  } catch (const DivergedError& e) {
    // Every rank saw the same flags; rank 0 reports it and writes summary.json.
    const bool quiet = options.comm->options().launched;
    throw dist::PeerStopped(
        quiet ? "" : fmt::format("rank {}: diverged: {}", options.comm->rank(), e.what()),
        kExitDiverged);
  }
  trainer->save_checkpoint(ckpt);
  return {{"status", "completed"}, {"rank", options.comm->rank()}};
}

// ---- rank 0's observers ----

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The row's training columns (loss, energies, sampler stats, timing).
class MetricsRow : public RunObserver {
 public:
  MetricsRow(int64_t start, std::chrono::steady_clock::time_point t0) : start_(start), t0_(t0) {}
  void after_step(Trainer&, StepEvent& e) override {
    if (!e.log_now && !e.eval_now) return;
    const IterationStats& st = *e.stats;
    const double elapsed = seconds_since(t0_);
    e.row = {{"iteration", e.iteration},
             {"loss", st.loss},
             {"f_data", st.f_data},
             {"f_samples", st.f_samples},
             {"energy_gap", st.f_data - st.f_samples},
             {"grad_norm", st.grad_norm},
             {"lr", st.lr},
             {"elapsed_s", elapsed},
             {"it_per_s", (e.iteration - start_) / std::max(elapsed, 1e-9)}};
    for (auto& [k, v] : st.sampler.items()) e.row[k == "f" ? "f_chain" : k] = v;
    if (std::isfinite(st.threshold)) e.row["threshold"] = st.threshold;
  }
  void rolled_back(int64_t iteration) override { start_ = std::min(start_, iteration); }

 private:
  int64_t start_;
  std::chrono::steady_clock::time_point t0_;
};

const std::vector<std::string> k2DEvalColumns = {
    "kl", "tv", "nll", "sample_tv", "sample_tv_model", "sample_mmd"};

// Adds the time from its construction to its destruction to `*total`.
class AddElapsed {
 public:
  explicit AddElapsed(double* total) : total_(total), t0_(std::chrono::steady_clock::now()) {}
  ~AddElapsed() { *total_ += seconds_since(t0_); }
  AddElapsed(const AddElapsed&) = delete;
  AddElapsed& operator=(const AddElapsed&) = delete;

 private:
  double* total_;
  std::chrono::steady_clock::time_point t0_;
};

// 2D runs: model and sample metrics every eval.every iterations (their time is
// added to `*seconds`).
class Evaluation2D : public RunObserver {
 public:
  Evaluation2D(const RunSetup& s, GridWarningOnce& warning, double* seconds)
      : s_(s), warning_(warning), seconds_(seconds) {}
  void after_step(Trainer& trainer, StepEvent& e) override {
    if (!e.eval_now) return;
    AddElapsed timed(seconds_);
    EvaluationWeights weights(trainer);
    const eval::Report2D r = evaluate(trainer, s_, s_.eval.chains, nullptr);
    const Json rj = r.to_json();
    for (const auto& k : k2DEvalColumns) e.row[k] = rj[k];
    e.metric = rj[model_metric_2d(*s_.data)].get<double>();
    warning_.note(rj, e.iteration);
  }

 private:
  const RunSetup& s_;
  GridWarningOnce& warning_;
  double* seconds_;
};

// The run folder's metric rows (metrics.csv/jsonl) and, with --tensorboard, the
// same values as scalars and the sample grids as images.
class MetricsWriter : public RunObserver {
 public:
  MetricsWriter(std::string dir, std::vector<std::string> columns, bool resume, int64_t start,
                bool tensorboard)
      : dir_(std::move(dir)), columns_(std::move(columns)) {
    log_ = std::make_unique<io::MetricsLog>(dir_, columns_, resume, start);
    if (tensorboard) tb_ = std::make_unique<io::TensorBoardWriter>(dir_);
  }
  void after_step(Trainer&, StepEvent& e) override {
    if (!e.row.is_null()) append(e.row);
  }
  // Rows after the checkpoint a rollback went back to are written again.
  void rolled_back(int64_t iteration) override {
    log_ = std::make_unique<io::MetricsLog>(dir_, columns_, /*resume=*/true, iteration);
  }
  void append(const Json& row) {
    log_->append(row);
    if (!tb_) return;
    const int64_t step = row["iteration"].get<int64_t>();
    for (const auto& [k, v] : row.items()) {
      if (k != "iteration" && v.is_number()) tb_->add_scalar(k, v.get<double>(), step);
    }
  }
  io::TensorBoardWriter* tensorboard() { return tb_.get(); }

 private:
  std::string dir_;
  std::vector<std::string> columns_;
  std::unique_ptr<io::MetricsLog> log_;
  std::unique_ptr<io::TensorBoardWriter> tb_;
};

// Image runs: sample grids every eval.every iterations, and FD/KID with
// eval.features (their time is added to `*seconds`).
class ImageEvaluation : public RunObserver {
 public:
  ImageEvaluation(const RunSetup& s, std::string dir, const ImageMetrics* metrics,
                  MetricsWriter& writer, double* seconds)
      : s_(s), dir_(std::move(dir)), metrics_(metrics), writer_(writer), seconds_(seconds) {}
  void after_step(Trainer& trainer, StepEvent& e) override {
    if (!e.eval_now) return;
    AddElapsed timed(seconds_);
    EvaluationWeights weights(trainer);
    io::Image grid = write_image_grids(trainer, s_, dir_, e.iteration);
    if (writer_.tensorboard()) writer_.tensorboard()->add_image("samples", grid, e.iteration);
    if (!metrics_) return;
    Json q = image_quality(trainer, s_, *metrics_);
    for (const auto& c : metrics_->columns()) e.row[c] = q[c];
    e.metric = q["fd_" + metrics_->tag()].get<double>();
  }

 private:
  const RunSetup& s_;
  std::string dir_;
  const ImageMetrics* metrics_;
  MetricsWriter& writer_;
  double* seconds_;
};

// The progress bar or lines: loss and the latest evaluation metric.
class ProgressReporter : public RunObserver {
 public:
  ProgressReporter(const RunSetup& s, const RunOptions& options, const std::string& dir,
                   int64_t start, const ImageMetrics* metrics)
      : progress_(s.train.iterations,
                  options.label.empty() ? fs::path(dir).filename().string() : options.label, start,
                  stderr, options.interactive, options.quiet),
        metric_(metrics ? "fd_" + metrics->tag() : (s.images ? "" : model_metric_2d(*s.data))) {}
  void after_step(Trainer&, StepEvent& e) override {
    loss_ = e.stats->loss;
    if (std::isfinite(e.metric)) latest_ = e.metric;
    if (metric_.empty()) {
      progress_.update(e.iteration, {{"loss", loss_}, {"gap", -loss_}});
    } else {
      progress_.update(e.iteration, {{"loss", loss_}, {metric_, latest_}});
    }
  }
  void finish() { progress_.finish(); }

 private:
  io::Progress progress_;
  std::string metric_;
  double loss_ = std::nan(""), latest_ = std::nan("");
};

// ---- rank 0: the run folder ----

// The columns of metrics.csv: training (with threshold "auto": the b in use), 2D
// evaluation and the image metrics'.
std::vector<std::string> metric_columns(const ImageMetrics* metrics, bool threshold_auto) {
  std::vector<std::string> columns = kMetricColumns;
  if (threshold_auto) columns.insert(columns.begin() + 11, "threshold");
  if (metrics) {
    for (const auto& c : metrics->columns()) columns.push_back(c);
  }
  return columns;
}

// summary.json of a run resumed after it finished, or null when it did not.
Json finished_summary(const std::string& dir, const RunOptions& options, int64_t iterations) {
  const Json done = fs::exists(dir + "/summary.json")
                        ? try_parse_json(io::read_text(dir + "/summary.json"))
                        : Json();
  if (!done.is_object() || done.value("status", "") != "completed") return Json();
  if (!options.quiet) {
    std::cerr << fmt::format("{}: already complete ({} iterations); nothing to do\n", dir,
                             iterations);
  }
  return done;
}

// Where a run's wall time went, in seconds: summary.json's "time_s" and the
// final "time" line.
struct RunTimes {
  double startup = 0;      // data, model, checkpoint (from the command's start)
  double features = 0;     // feature classifier and FD reference features
  double training = 0;     // training iterations and checkpoints
  double evaluations = 0;  // in-run evaluations (eval.every)
  double final = 0;        // final samples, metrics and pictures (with final_fd)
  double final_fd = 0;     // of which the final FD/KID
  int64_t iterations = 0;  // trained by this process

  Json to_json() const {
    return {{"startup", startup},         {"features", features}, {"training", training},
            {"evaluations", evaluations}, {"final", final},       {"final_fd", final_fd}};
  }
  // The run's last line on stdout.
  std::string line() const {
    const double total = startup + features + training + evaluations + final;
    std::string feature_text, fd_text;
    if (features > 0.05)
      feature_text = fmt::format(", feature classifier and FD reference {:.1f} s", features);
    if (final_fd > 0) fd_text = fmt::format(" (FD/KID {:.1f} s)", final_fd);
    return fmt::format(
        "  time {:.1f} s: startup (data, model) {:.1f} s{}, training {:.1f} s ({} iterations), "
        "in-run evaluations {:.1f} s, final samples and metrics {:.1f} s{}\n",
        total, startup, feature_text, training, iterations, evaluations, final, fd_text);
  }
};

class LeadRun {
 public:
  LeadRun(const RunSetup& s, const RunOptions& options, bool resume,
          std::chrono::steady_clock::time_point begun)
      : s_(s),
        options_(options),
        resume_(resume),
        begun_(begun),
        dir_(options.out_dir),
        ckpt_(dir_ + "/checkpoints/last.pt"),
        loop_(s.train.iterations, s.train.log_every, s.eval.every),
        grid_warning_(options.label.empty() ? dir_ : options.label) {}

  // Builds the trainer; returns summary.json's content when the run is already done.
  Json start(const Json& resolved);
  // Observers and metrics (after start; may train the feature classifier).
  void prepare();
  Json train();

 private:
  void add_observers();
  void train_loop();
  Json finish_2d();
  Json finish_image();
  void print_image_summary(const Json& summary) const;
  Json write_summary(Json summary);
  std::string checkpoint_note(const char* what) const;

  const RunSetup& s_;
  const RunOptions& options_;
  bool resume_;
  std::chrono::steady_clock::time_point begun_;
  RunTimes times_;
  std::string dir_, ckpt_;
  std::unique_ptr<Trainer> trainer_;
  std::unique_ptr<ImageMetrics> metrics_;
  int64_t start_ = 0;
  std::chrono::steady_clock::time_point t0_;
  RunLoop loop_;
  Checkpointer* checkpoints_ = nullptr;
  MetricsWriter* writer_ = nullptr;
  ProgressReporter* progress_ = nullptr;
  BestCheckpoint* best_ = nullptr;
  std::unique_ptr<DivergenceRecovery> recovery_;
  GridWarningOnce grid_warning_;
};

Json LeadRun::start(const Json& resolved) {
  io::make_dirs(dir_ + "/checkpoints");
  if (!resume_) io::write_atomic(dir_ + "/config.json", s_.config.dump(2) + "\n");
  trainer_ = make_trainer(s_, resolved, options_.comm);
  if (resume_) trainer_->load_checkpoint(ckpt_);
  if (resume_ && !options_.comm && trainer_->checkpoint_world_size() != 1) {
    throw UserError(
        fmt::format("cannot resume {}: its checkpoint was written by {} ranks; resume "
                    "it with --nproc {}",
                    dir_, trainer_->checkpoint_world_size(), trainer_->checkpoint_world_size()));
  }
  start_ = trainer_->iteration();
  times_.startup = seconds_since(begun_);
  // A finished run: its rows and summary stay as they are.
  if (resume_ && start_ >= s_.train.iterations) return finished_summary(dir_, options_, start_);
  return Json();
}

void LeadRun::prepare() {
  if (s_.images && !options_.quiet) {
    for (const std::string& w : s_.images->warnings) std::cerr << "anila: warning: " << w << "\n";
  }
  if (s_.images && !s_.eval.features.empty()) {
    AddElapsed timed(&times_.features);
    metrics_ = std::make_unique<ImageMetrics>(s_.eval.features, s_.config["data"], s_.device,
                                              s_.eval.fd_reference, options_.quiet);
  }
  add_observers();
}

void LeadRun::add_observers() {
  auto writer = std::make_unique<MetricsWriter>(
      dir_, metric_columns(metrics_.get(), trainer_->threshold_auto()), resume_, start_,
      options_.tensorboard);
  auto checkpoints = std::make_unique<Checkpointer>(ckpt_, s_.train.checkpoint_every, start_);
  auto progress = std::make_unique<ProgressReporter>(s_, options_, dir_, start_, metrics_.get());
  writer_ = writer.get();
  checkpoints_ = checkpoints.get();
  progress_ = progress.get();
  t0_ = std::chrono::steady_clock::now();
  loop_.add(std::make_unique<MetricsRow>(start_, t0_));
  if (s_.images) {
    loop_.add(
        std::make_unique<ImageEvaluation>(s_, dir_, metrics_.get(), *writer_, &times_.evaluations));
  } else {
    loop_.add(std::make_unique<Evaluation2D>(s_, grid_warning_, &times_.evaluations));
  }
  const std::string metric = best_metric_name(s_);
  if (!metric.empty()) {
    auto best = std::make_unique<BestCheckpoint>(dir_, metric, options_.comm);
    best_ = best.get();
    loop_.add(std::move(best));
  }
  loop_.add(std::move(writer));
  loop_.add(std::move(checkpoints));
  loop_.add(std::move(progress));
  recovery_ =
      std::make_unique<DivergenceRecovery>(s_.train.divergence, *checkpoints_, options_.quiet);
  loop_.set_recovery(recovery_.get());
}

std::string LeadRun::checkpoint_note(const char* what) const {
  const bool any = checkpoints_->last_good() > 0 || resume_ || needs_start_checkpoint(s_, resume_);
  return any ? fmt::format("{} checkpoint: iteration {} in {}", what, checkpoints_->last_good(),
                           ckpt_)
             : "no checkpoint was written before it";
}

void LeadRun::train_loop() {
  if (needs_start_checkpoint(s_, resume_)) checkpoints_->save(*trainer_);
  try {
    loop_.run(*trainer_);
  } catch (const DivergedError& e) {
    progress_->finish();
    Json summary = {{"status", "diverged"},
                    {"iteration", trainer_->iteration() + 1},
                    {"message", e.what()},
                    {"last_checkpoint_iteration", checkpoints_->last_good()}};
    if (!recovery_->rollbacks().empty()) summary["rollbacks"] = recovery_->rollbacks();
    io::write_atomic(dir_ + "/summary.json", summary.dump(2) + "\n");
    throw DivergedError(std::string(e.what()) + "; " + checkpoint_note("last good"));
  } catch (const dist::RankLostError& e) {
    progress_->finish();
    throw dist::RankLostError(std::string(e.what()) + "; " + checkpoint_note("last complete"));
  }
  progress_->finish();
  trainer_->save_checkpoint(ckpt_);
}

Json LeadRun::train() {
  const auto t0 = std::chrono::steady_clock::now();
  train_loop();
  times_.training = seconds_since(t0) - times_.evaluations;
  times_.iterations = trainer_->iteration() - start_;
  return s_.images ? finish_image() : finish_2d();
}

// Adds what every summary.json says (weights, best checkpoint, rollbacks, seconds,
// where the time went) and writes it; the final phase ends here.
Json LeadRun::write_summary(Json summary) {
  times_.final = seconds_since(t0_) - times_.training - times_.evaluations;
  summary["time_s"] = times_.to_json();
  summary["weights"] = trainer_->evaluation_weights();
  if (trainer_->threshold_auto())
    summary["threshold_final"] = trainer_->sampler()->options().threshold;
  if (best_ && !best_->summary().is_null()) summary["best_checkpoint"] = best_->summary();
  if (!recovery_->rollbacks().empty()) summary["rollbacks"] = recovery_->rollbacks();
  summary["seconds"] = seconds_since(t0_);
  io::write_atomic(dir_ + "/summary.json", summary.dump(2) + "\n");
  return summary;
}

// Final outputs of a 2D run: the full evaluation batch, figure, arrays, summary.
Json LeadRun::finish_2d() {
  Trainer& trainer = *trainer_;
  const SamplerPtr& sampler = trainer.sampler();
  at::Tensor samples;
  eval::Report2D report;
  {
    EvaluationWeights weights(trainer);
    report = evaluate(trainer, s_, s_.eval.samples, &samples);
  }
  const eval::Grid2D grid = make_grid(s_);
  const double T = sampler->temperature();
  Json summary = summary_json(report, grid, T);
  summary["status"] = "completed";
  summary["iterations"] = trainer.iteration();
  summary["sampler"] = sampler->name();
  summary["sampler_settings"] = sampler->options().to_json();
  summary["data_log_density"] = report.data_log_density_exact ? "exact" : "kde_reference";
  summary["model_metric"] = model_metric_2d(*s_.data);
  grid_warning_.note(summary, trainer.iteration());
  grid_warning_.add_to(summary);
  io::write_npy(dir_ + "/samples.npy", samples);
  io::write_npy(dir_ + "/log_density.npy", report.log_density);
  io::write_npy(dir_ + "/data_log_density.npy", report.data_log_density);
  io::write_png(io::compose({figure_row(report, samples, grid, T, true)}, {},
                            fmt::format("{}: {} ({} iterations)", s_.data->name(), sampler->name(),
                                        trainer.iteration())),
                dir_ + "/figure.png");
  // The final row of metrics carries the final evaluation too; it is written
  // before summary.json, so a completed summary means the row is there.
  Json row = {{"iteration", trainer.iteration()}};
  for (const auto& k : k2DEvalColumns) row[k] = summary[k];
  writer_->append(row);
  if (best_) best_->consider(trainer, summary[model_metric_2d(*s_.data)].get<double>());
  summary = write_summary(summary);
  write_curves(dir_, {model_metric_2d(*s_.data), "sample_tv"});
  if (writer_->tensorboard()) {
    writer_->tensorboard()->add_image("figure", io::read_png(dir_ + "/figure.png"),
                                      trainer.iteration());
  }
  if (!options_.quiet) {
    print_final(summary, dir_);
    std::cout << times_.line() << std::flush;
  }
  return summary;
}

// Final outputs of an image run (finish_images) and, with eval.features, FD/KID.
Json LeadRun::finish_image() {
  Trainer& trainer = *trainer_;
  Json summary;
  Json q;
  {
    EvaluationWeights weights(trainer);
    summary = finish_images(trainer, s_, dir_);
    AddElapsed timed(&times_.final_fd);
    if (metrics_) q = image_quality(trainer, s_, *metrics_);
  }
  if (writer_->tensorboard()) {
    writer_->tensorboard()->add_image("samples", io::read_png(dir_ + "/samples.png"),
                                      trainer.iteration());
  }
  if (metrics_) {
    Json row = {{"iteration", trainer.iteration()}};
    for (const auto& c : metrics_->columns()) row[c] = summary[c] = q[c];
    summary["features"] = q["features"];
    summary["n_generated"] = s_.eval.fd_samples;  // images compared (not fd_*: fd_* are metrics)
    summary["n_reference"] = metrics_->reference_size();
    writer_->append(row);
    if (best_) best_->consider(trainer, q["fd_" + metrics_->tag()].get<double>());
  }
  summary = write_summary(summary);
  write_curves(dir_, metrics_ ? std::vector<std::string>{metrics_->columns()[0]}
                              : std::vector<std::string>{});
  if (!options_.quiet) print_image_summary(summary);
  return summary;
}

void LeadRun::print_image_summary(const Json& summary) const {
  std::cout << fmt::format(
      "\n{}\n  energy gap mean f(data) - mean f(samples): {:.4g}; "
      "samples: {}/samples.png\n",
      dir_, summary["energy_gap"].get<double>(), dir_);
  if (!metrics_) {
    std::cout << times_.line() << std::flush;
    return;
  }
  const std::string& t = metrics_->tag();
  std::cout << fmt::format(
      "  FD-{} {:.4g}  KID-{} {:.4g} ± {:.2g}  ({} samples vs {} reference images; "
      "features: {}; {} weights)\n",
      t, summary["fd_" + t].get<double>(), t, summary["kid_" + t].get<double>(),
      summary["kid_" + t + "_se"].get<double>(), s_.eval.fd_samples, metrics_->reference_size(),
      metrics_->extractor_name(), summary["weights"].get<std::string>());
  std::cout << times_.line() << std::flush;
}

// `begun`: when the command started (the run's startup time counts from it).
Json run_in_folder(const Json& resolved, const RunOptions& options, bool resume,
                   std::chrono::steady_clock::time_point begun) {
  RunSetup s = build_setup(resolved);
  if (options.comm) {
    s.device = dist::rank_device(s.device, options.comm->options());
    if (options.comm->rank() != 0) return run_rank(s, resolved, options, resume);
  }
  StartAgreement start_agreement(options.comm, "while starting the run");
  LeadRun run(s, options, resume, begun);
  Json done = run.start(resolved);
  if (!done.is_null()) return done;
  run.prepare();
  start_agreement.ready();
  return run.train();
}

// What an existing run folder holds, the lock file aside.
struct FolderState {
  bool empty = true;        // nothing but (perhaps) the lock file
  bool checkpoint = false;  // checkpoints/last.pt
  bool results = false;     // summary.json
  bool config = false;      // config.json
};

FolderState folder_state(const std::string& dir) {
  FolderState st;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename() != io::kRunLockName) st.empty = false;
  }
  st.checkpoint = fs::exists(fs::path(dir) / "checkpoints" / "last.pt", ec);
  st.results = fs::exists(fs::path(dir) / "summary.json", ec);
  st.config = fs::exists(fs::path(dir) / "config.json", ec);
  return st;
}

// Removes everything in `dir` but the lock file (held by this process).
void clear_folder(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename() == io::kRunLockName) continue;
    fs::remove_all(e.path(), ec);
    if (ec) throw UserError("cannot remove " + e.path().string() + ": " + ec.message());
  }
  if (ec) throw UserError("cannot list run folder " + dir + ": " + ec.message());
}

// Removes the temporaries of atomic writes a killed process left in `dir` and
// dir/checkpoints (NAME.tmp-PID-N); only while holding the folder's lock.
void remove_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const fs::path& d : {fs::path(dir), fs::path(dir) / "checkpoints"}) {
    for (const auto& e : fs::directory_iterator(d, ec)) {
      if (e.path().filename().string().find(".tmp-") != std::string::npos &&
          e.is_regular_file(ec)) {
        fs::remove(e.path(), ec);
      }
    }
  }
}

// Makes `dir`, locks it, and makes it ready for a fresh run: an empty folder, a
// run that stopped before its first checkpoint (restarted without --force), or
// with --force any run folder not in use. Returns the lock and whether the
// folder was created here.
std::unique_ptr<io::RunLock> prepare_folder(const std::string& dir, bool force, bool quiet,
                                            bool* created) {
  if (dir.empty())
    throw UserError("--out: empty folder name (give a folder, e.g. --out runs/NAME)");
  std::error_code ec;
  *created = !fs::exists(dir, ec);
  if (!*created && !fs::is_directory(dir, ec))
    throw UserError("output path " + dir + " exists and is not a folder");
  io::make_dirs(dir);
  io::check_writable(dir);
  auto lock = std::make_unique<io::RunLock>(dir);  // before looking: nobody else writes now
  const FolderState st = folder_state(dir);
  if (st.empty) return lock;
  const bool abandoned = st.config && !st.checkpoint && !st.results;
  if (!force && !abandoned) {
    throw UserError("run folder " + dir + " already exists; use --force to overwrite it" +
                    (st.checkpoint ? " or --resume " + dir + " to continue it" : std::string()));
  }
  if (abandoned && !force && !quiet) {
    std::cerr << fmt::format(
        "{}: the run there stopped before its first checkpoint; starting it again\n", dir);
  }
  clear_folder(dir);
  return lock;
}

}  // namespace

Json resolve_config(const Json& config) {
  return parse_run_config(config).config;
}

Json run_experiment(const Json& config, const RunOptions& options) {
  const auto begun = std::chrono::steady_clock::now();
  Json resolved = resolve_config(config);  // every user error before touching disk
  // The data too (a missing or damaged file is an error before any folder
  // exists); image data is loaded once per process, so the run reuses it.
  const RunSetup data = build_setup(resolved);
  const bool lead = !options.comm || options.comm->rank() == 0;  // rank 0 owns the folder
  bool created = false;
  std::unique_ptr<io::RunLock> lock;
  {
    StartAgreement folder(options.comm, "to prepare the run folder");
    if (lead) lock = prepare_folder(options.out_dir, options.force, options.quiet, &created);
    folder.ready();
  }
  if (!lead) return run_in_folder(resolved, options, /*resume=*/false, begun);
  try {
    return run_in_folder(resolved, options, /*resume=*/false, begun);
  } catch (const UserError& e) {
    // A late user error (a full disk, an unwritable file). A folder that holds a
    // checkpoint is kept for --resume; one with nothing worth keeping is removed.
    const std::string& dir = options.out_dir;
    if (folder_state(dir).checkpoint) {
      throw UserError(std::string(e.what()) + "; " + dir +
                      " keeps its last checkpoint: fix the cause and run anila train --resume " +
                      dir);
    }
    std::error_code ec;
    if (created) {
      lock.reset();
      fs::remove_all(dir, ec);
    } else {
      clear_folder(dir);
    }
    throw;
  }
}

Json resume_experiment(const std::string& run_dir, const RunOptions& options) {
  const auto begun = std::chrono::steady_clock::now();
  const std::string cfg = run_dir + "/config.json";
  if (!fs::exists(cfg))
    throw UserError("cannot resume " + run_dir + ": no config.json (not a run folder?)");
  // Rank 0 of a data-parallel run owns the folder (the other ranks only read it).
  std::unique_ptr<io::RunLock> lock;
  if (!options.comm || options.comm->rank() == 0) {
    lock = std::make_unique<io::RunLock>(run_dir);
    remove_temporaries(run_dir);
  }
  if (!fs::exists(run_dir + "/checkpoints/last.pt")) {
    throw UserError("cannot resume " + run_dir +
                    ": the run stopped before its first checkpoint; start it again with anila "
                    "train --config " +
                    cfg + " --out " + run_dir);
  }
  Json resolved = resolve_config(upgrade_run_config(load_json_file(cfg)));
  RunOptions o = options;
  o.out_dir = run_dir;
  return run_in_folder(resolved, o, /*resume=*/true, begun);
}

LoadedRun load_run(const std::string& path, const std::string& weights) {
  if (weights != "" && weights != "ema" && weights != "raw") {
    throw UserError("--weights: unknown value \"" + weights + "\"; allowed: ema, raw");
  }
  fs::path p(path);
  std::error_code ec;
  LoadedRun run;
  std::string ckpt;
  if (fs::is_directory(p, ec) && fs::exists(p / "config.json", ec)) {
    run.dir = p.string();
    ckpt = (p / "checkpoints" / "last.pt").string();
  } else if (fs::is_regular_file(p, ec) &&
             fs::exists(p.parent_path().parent_path() / "config.json", ec)) {
    run.dir = p.parent_path().parent_path().string();
    ckpt = p.string();
  } else {
    throw UserError("checkpoint " + path +
                    ": not a run folder or a checkpoint inside one (expected RUN/config.json and "
                    "RUN/checkpoints/last.pt)");
  }
  run.config = resolve_config(upgrade_run_config(load_json_file(run.dir + "/config.json")));
  RunSetup setup = build_setup(run.config);
  auto trainer = make_trainer(setup, run.config);
  trainer->load_checkpoint(ckpt);
  if (weights == "ema" && !trainer->has_ema()) {
    throw UserError("--weights ema: run " + run.dir +
                    " keeps no moving average of its weights (train.ema is 0)");
  }
  const bool ema = weights == "ema" || (weights.empty() && trainer->evaluation_weights() == "ema");
  if (ema) trainer->swap_ema();
  run.weights = ema ? "ema" : "raw";
  run.model = trainer->model();
  run.chains = trainer->chains();
  run.temperature = trainer->sampler()->temperature();
  if (trainer->threshold_auto()) run.threshold = trainer->sampler()->options().threshold;
  run.sample_shape = setup.sample_shape;
  run.images = setup.images;
  run.checkpoint = ckpt;
  if (setup.data) {
    const data::Box b = setup.data->box();
    run.box = {b.xmin, b.xmax, b.ymin, b.ymax};
  }
  return run;
}

SamplerOptions resolve_run_sampler(const LoadedRun& run, const std::string& type,
                                   const Json& extra) {
  SamplerOptions o = resolve_sampler(run.config, type, extra);
  if (threshold_auto_quantile(o) > 0 && std::isfinite(run.threshold)) o.threshold = run.threshold;
  return o;
}

Json config_for_sampler(const Json& config, const std::string& sampler) {
  Json c = config;
  if (!c.contains("sampler") || !c["sampler"].is_object()) c["sampler"] = Json::object();
  c["sampler"]["type"] = sampler;
  return c;
}

}  // namespace anila
