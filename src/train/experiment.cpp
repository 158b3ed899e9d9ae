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
#include "anila/samplers/sampler.h"
#include "anila/train/distributed.h"
#include "anila/train/setup.h"
#include "anila/train/trainer.h"
#include "train/image_metrics.h"

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

void print_final(const Json& summary, const std::string& dir) {
  std::cout << fmt::format(
      "\n{}\n  sample quality (chains as drawn in training):  sample_tv {:.4f}  (exact-sample "
      "floor {:.4f})  sample_mmd {:.5f}\n  model quality (exp(f/T)/Z, T={:.3g}):          kl "
      "{:.4f} nats  tv {:.4f}  nll {:.4f}\n",
      dir, summary.value("sample_tv", NAN), summary.value("sample_tv_floor", NAN),
      summary.value("sample_mmd", NAN), summary.value("temperature", NAN), summary.value("kl", NAN),
      summary.value("tv", NAN), summary.value("nll", NAN));
  std::cout.flush();
}

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

// Ranks other than 0: the same trainer, steps and checkpoints as rank 0's loop
// in run_in_folder (collectives in the same order), without the run folder.
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
  try {
    while (trainer->iteration() < s.train.iterations) {
      const int64_t it = trainer->iteration() + 1;
      trainer->step(/*collect_sampler_stats=*/false);
      if (it % s.train.checkpoint_every == 0) trainer->save_checkpoint(ckpt);
    }
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

Json run_in_folder(const Json& resolved, const RunOptions& options, bool resume) {
  RunSetup s = build_setup(resolved);
  if (options.comm) {
    s.device = dist::rank_device(s.device, options.comm->options());
    if (options.comm->rank() != 0) return run_rank(s, resolved, options, resume);
  }
  StartAgreement start_agreement(options.comm, "while starting the run");
  const std::string dir = options.out_dir;
  const std::string ckpt_dir = dir + "/checkpoints";
  const std::string ckpt = ckpt_dir + "/last.pt";
  io::make_dirs(ckpt_dir);
  if (!resume) io::write_atomic(dir + "/config.json", s.config.dump(2) + "\n");

  std::unique_ptr<Trainer> trainer_ptr = make_trainer(s, resolved, options.comm);
  Trainer& trainer = *trainer_ptr;
  const SamplerPtr& sampler = trainer.sampler();
  if (resume) trainer.load_checkpoint(ckpt);
  if (resume && !options.comm && trainer.checkpoint_world_size() != 1) {
    throw UserError(
        fmt::format("cannot resume {}: its checkpoint was written by {} ranks; resume "
                    "it with --nproc {}",
                    dir, trainer.checkpoint_world_size(), trainer.checkpoint_world_size()));
  }
  const int64_t start = trainer.iteration();
  if (resume && start >= s.train.iterations) {
    // A finished run: its rows and summary stay as they are.
    const Json done = fs::exists(dir + "/summary.json")
                          ? try_parse_json(io::read_text(dir + "/summary.json"))
                          : Json();
    if (done.is_object() && done.value("status", "") == "completed") {
      if (!options.quiet) {
        std::cerr << fmt::format("{}: already complete ({} iterations); nothing to do\n", dir,
                                 start);
      }
      return done;
    }
  }
  if (s.images && !options.quiet) {
    for (const std::string& w : s.images->warnings) std::cerr << "anila: warning: " << w << "\n";
  }
  std::unique_ptr<ImageMetrics> metrics;
  std::vector<std::string> columns = kMetricColumns;
  if (s.images && !s.eval.features.empty()) {
    metrics = std::make_unique<ImageMetrics>(s.eval.features, s.config["data"], s.device,
                                             s.eval.fd_reference, options.quiet);
    for (const auto& c : metrics->columns()) columns.push_back(c);
  }
  io::MetricsLog log(dir, columns, resume, start);
  std::unique_ptr<io::TensorBoardWriter> tb;
  if (options.tensorboard) tb = std::make_unique<io::TensorBoardWriter>(dir);
  auto append = [&](const Json& row) {
    log.append(row);
    if (!tb) return;
    const int64_t step = row["iteration"].get<int64_t>();
    for (const auto& [k, v] : row.items()) {
      if (k != "iteration" && v.is_number()) tb->add_scalar(k, v.get<double>(), step);
    }
  };
  std::vector<std::string> eval_keys = {"kl", "sample_tv"};
  if (s.images)
    eval_keys =
        metrics ? std::vector<std::string>{metrics->columns()[0]} : std::vector<std::string>{};

  io::Progress progress(s.train.iterations,
                        options.label.empty() ? fs::path(dir).filename().string() : options.label,
                        start, stderr, options.interactive, options.quiet);
  eval::Grid2D grid;
  if (s.data) grid = make_grid(s);
  double latest_kl = std::nan(""), latest_loss = std::nan(""), latest_fd = std::nan("");
  auto t0 = std::chrono::steady_clock::now();
  int64_t last_good = start;
  start_agreement.ready();
  try {
    while (trainer.iteration() < s.train.iterations) {
      const int64_t it = trainer.iteration() + 1;
      const bool log_now = it % s.train.log_every == 0 || it == s.train.iterations || it == 1;
      IterationStats st = trainer.step(log_now);
      latest_loss = st.loss;
      const bool eval_now = s.eval.every > 0 && it % s.eval.every == 0 && it != s.train.iterations;
      if (log_now || eval_now) {
        double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        Json row = {{"iteration", it},
                    {"loss", st.loss},
                    {"f_data", st.f_data},
                    {"f_samples", st.f_samples},
                    {"energy_gap", st.f_data - st.f_samples},
                    {"grad_norm", st.grad_norm},
                    {"lr", st.lr},
                    {"elapsed_s", elapsed},
                    {"it_per_s", (it - start) / std::max(elapsed, 1e-9)}};
        for (auto& [k, v] : st.sampler.items()) row[k == "f" ? "f_chain" : k] = v;
        if (eval_now && s.images) {
          io::Image grid = write_image_grids(trainer, s, dir, it);
          if (tb) tb->add_image("samples", grid, it);
          if (metrics) {
            Json q = image_quality(trainer, s, *metrics);
            for (const auto& c : metrics->columns()) row[c] = q[c];
            latest_fd = q["fd_" + metrics->tag()].get<double>();
          }
        } else if (eval_now) {
          eval::Report2D r = evaluate(trainer, s, s.eval.chains, nullptr);
          Json rj = r.to_json();
          for (const char* k : {"kl", "tv", "nll", "sample_tv", "sample_tv_model", "sample_mmd"}) {
            row[k] = rj[k];
          }
          latest_kl = r.kl;
        }
        append(row);
      }
      if (it % s.train.checkpoint_every == 0) {
        trainer.save_checkpoint(ckpt);
        last_good = it;
      }
      if (s.images) {
        if (metrics) {
          progress.update(it, {{"loss", latest_loss}, {"fd_" + metrics->tag(), latest_fd}});
        } else {
          progress.update(it, {{"loss", latest_loss}, {"gap", -latest_loss}});
        }
      } else {
        progress.update(it, {{"loss", latest_loss}, {"kl", latest_kl}});
      }
    }
  } catch (const DivergedError& e) {
    progress.finish();
    std::string where =
        last_good > 0 || resume
            ? fmt::format("last good checkpoint: iteration {} in {}", last_good, ckpt)
            : "no checkpoint was written before it";
    Json summary = {{"status", "diverged"},
                    {"iteration", trainer.iteration() + 1},
                    {"message", e.what()},
                    {"last_checkpoint_iteration", last_good}};
    io::write_atomic(dir + "/summary.json", summary.dump(2) + "\n");
    throw DivergedError(std::string(e.what()) + "; " + where);
  } catch (const dist::RankLostError& e) {
    progress.finish();
    throw dist::RankLostError(
        std::string(e.what()) + "; " +
        (last_good > 0 || resume
             ? fmt::format("last complete checkpoint: iteration {} in {}", last_good, ckpt)
             : "no checkpoint was written before it"));
  }
  progress.finish();
  trainer.save_checkpoint(ckpt);
  if (s.images) {
    Json summary = finish_images(trainer, s, dir);
    if (tb) tb->add_image("samples", io::read_png(dir + "/samples.png"), trainer.iteration());
    if (metrics) {
      Json q = image_quality(trainer, s, *metrics);
      Json row = {{"iteration", trainer.iteration()}};
      for (const auto& c : metrics->columns()) row[c] = summary[c] = q[c];
      summary["features"] = q["features"];
      summary["n_generated"] = s.eval.fd_samples;  // images compared (not fd_*: fd_* are metrics)
      summary["n_reference"] = metrics->reference_size();
      append(row);
    }
    summary["seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    io::write_atomic(dir + "/summary.json", summary.dump(2) + "\n");
    write_curves(dir, eval_keys);
    if (!options.quiet) {
      std::cout << fmt::format(
          "\n{}\n  energy gap mean f(data) - mean f(samples): {:.4g}; "
          "samples: {}/samples.png\n",
          dir, summary["energy_gap"].get<double>(), dir);
      if (metrics) {
        const std::string& t = metrics->tag();
        std::cout << fmt::format(
            "  FD-{} {:.4g}  KID-{} {:.4g} ± {:.2g}  ({} samples vs {} reference images; "
            "features: {})\n",
            t, summary["fd_" + t].get<double>(), t, summary["kid_" + t].get<double>(),
            summary["kid_" + t + "_se"].get<double>(), s.eval.fd_samples, metrics->reference_size(),
            metrics->extractor_name());
      }
    }
    return summary;
  }

  // Final evaluation with the full evaluation batch.
  at::Tensor samples;
  eval::Report2D report = evaluate(trainer, s, s.eval.samples, &samples);
  const double T = sampler->temperature();
  Json summary = summary_json(report, grid, T);
  summary["status"] = "completed";
  summary["iterations"] = trainer.iteration();
  summary["sampler"] = sampler->name();
  summary["sampler_settings"] = sampler->options().to_json();
  summary["data_log_density"] = report.data_log_density_exact ? "exact" : "kde_reference";
  summary["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  io::write_npy(dir + "/samples.npy", samples);
  io::write_npy(dir + "/log_density.npy", report.log_density);
  io::write_npy(dir + "/data_log_density.npy", report.data_log_density);
  io::write_png(io::compose({figure_row(report, samples, grid, T, true)}, {},
                            fmt::format("{}: {} ({} iterations)", s.data->name(), sampler->name(),
                                        trainer.iteration())),
                dir + "/figure.png");
  // The final row of metrics carries the final evaluation too; it is written
  // before summary.json, so a completed summary means the row is there.
  Json row = {{"iteration", trainer.iteration()}};
  for (const char* k : {"kl", "tv", "nll", "sample_tv", "sample_tv_model", "sample_mmd"}) {
    row[k] = summary[k];
  }
  append(row);
  io::write_atomic(dir + "/summary.json", summary.dump(2) + "\n");
  write_curves(dir, eval_keys);
  if (tb) tb->add_image("figure", io::read_png(dir + "/figure.png"), trainer.iteration());
  if (!options.quiet) print_final(summary, dir);
  return summary;
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
  if (!lead) return run_in_folder(resolved, options, /*resume=*/false);
  try {
    return run_in_folder(resolved, options, /*resume=*/false);
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
  return run_in_folder(resolved, o, /*resume=*/true);
}

LoadedRun load_run(const std::string& path) {
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
  run.model = trainer->model();
  run.chains = trainer->chains();
  run.temperature = trainer->sampler()->temperature();
  run.sample_shape = setup.sample_shape;
  run.images = setup.images;
  run.checkpoint = ckpt;
  if (setup.data) {
    const data::Box b = setup.data->box();
    run.box = {b.xmin, b.xmax, b.ymin, b.ymax};
  }
  return run;
}

Json config_for_sampler(const Json& config, const std::string& sampler) {
  Json c = config;
  if (!c.contains("sampler") || !c["sampler"].is_object()) c["sampler"] = Json::object();
  c["sampler"]["type"] = sampler;
  return c;
}

}  // namespace anila
