// sampling.cpp — `anila sample`: several samplers on one log-density, with
// ESS/R-hat diagnostics, exact-sample distances and plots (see anila/train/sampling.h).
#include "anila/train/sampling.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/config.h"
#include "anila/eval/grid2d.h"
#include "anila/eval/mcmc.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/plot.h"
#include "anila/io/results.h"
#include "anila/models/energy.h"
#include "anila/samplers/adapt.h"
#include "anila/samplers/anila.h"
#include "anila/samplers/registry.h"
#include "anila/samplers/sampler.h"
#include "anila/targets/analytic.h"
#include "anila/train/experiment.h"
#include "train/sampling_score.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

// The Metropolis-adjusted sampler whose adapted step an unadjusted one borrows.
std::string counterpart(const std::string& type) {
  const SamplerSpec& spec = sampler_spec(type);
  if (spec.metropolis || spec.counterpart.empty()) return "";
  return sampler_spec(spec.counterpart).metropolis ? spec.counterpart : "";
}

// Whether some registered type reads `key` but `type` does not.
bool foreign_key(const std::string& key, const std::string& type) {
  const SamplerSpec& spec = sampler_spec(type);
  const auto own = common_sampler_keys(spec);
  auto in = [&](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), key) != v.end();
  };
  if (key == "type" || in(own) || in(spec.keys)) return false;
  for (const auto& other : sampler_registry()) {
    if (in(other.keys) || in(common_sampler_keys(other))) return true;
  }
  return false;
}

// The keys the command line gives for `type`: "sampler" (every listed type; a
// key only other types read, such as threshold for mala, is skipped for this
// one) then "<type>".
Json given_section(const SampleOptions& o, const std::string& type) {
  return command_line_sampler_keys(o.sampler_config, type, type);
}

Json sampler_section(const SampleOptions& o, const std::string& type) {
  Json j = o.base_settings.contains(type) ? o.base_settings[type] : Json::object();
  const Json given = given_section(o, type);
  for (auto& [k, v] : given.items()) j[k] = v;
  j["type"] = type;
  return j;
}

// Evenly spaced coordinate indices, first and last included: [min(D, k)].
at::Tensor stored_coordinates(int64_t D, int64_t k) {
  if (D <= k) return at::arange(D, at::kLong);
  return at::linspace(0, static_cast<double>(D - 1), k, at::kDouble).round().to(at::kLong);
}

void write_plots(const std::string& dir, const at::Tensor& draws, const at::Tensor& coords,
                 const SampleProblem& problem, const std::string& sampler) {
  const int64_t S = draws.size(0), C = draws.size(1), Dk = draws.size(2);
  std::vector<double> steps(S);
  for (int64_t s = 0; s < S; ++s) steps[s] = static_cast<double>(s);
  auto column = [&](int64_t chain, int64_t d) {
    at::Tensor c = draws.select(1, chain).select(1, d).to(at::kDouble).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + S);
  };
  // Trace: coordinate 0 of up to three chains, and the last stored coordinate of chain 0.
  std::vector<io::Series> trace;
  for (int64_t c = 0; c < std::min<int64_t>(3, C); ++c) {
    trace.push_back({fmt::format("chain {}, z[0]", c), steps, column(c, 0)});
  }
  if (Dk > 1) {
    const int64_t last = coords[Dk - 1].item<int64_t>();
    trace.push_back({fmt::format("chain 0, z[{}]", last), steps, column(0, Dk - 1)});
  }
  io::PlotOptions po;
  po.title = fmt::format("{}: {} trace", problem.name, sampler);
  po.xlabel = "step (after warm-up)";
  po.ylabel = "value";
  po.width = 800;
  io::write_png(io::line_plot(trace, po), dir + "/trace.png");

  // Autocorrelation of up to three stored coordinates (mean over chains).
  const int64_t max_lag = std::min<int64_t>(100, S - 1);
  std::vector<double> lags(max_lag + 1);
  for (int64_t l = 0; l <= max_lag; ++l) lags[l] = static_cast<double>(l);
  std::vector<io::Series> acf;
  for (int64_t d : {int64_t{0}, std::min<int64_t>(1, Dk - 1), Dk - 1}) {
    if (!acf.empty() && acf.back().label == fmt::format("z[{}]", coords[d].item<int64_t>()))
      continue;
    at::Tensor a = eval::autocorrelation(draws.select(2, d), max_lag).to(at::kDouble).contiguous();
    acf.push_back({fmt::format("z[{}]", coords[d].item<int64_t>()), lags,
                   std::vector<double>(a.data_ptr<double>(), a.data_ptr<double>() + a.numel())});
  }
  io::PlotOptions ao;
  ao.title = fmt::format("{}: {} autocorrelation", problem.name, sampler);
  ao.xlabel = "lag";
  ao.ylabel = "autocorrelation";
  ao.hlines = {0.0};
  io::write_png(io::line_plot(acf, ao), dir + "/autocorr.png");

  // Scatter of the first two coordinates over the target's contours.
  if (Dk < 2) return;
  at::Tensor pts = draws.select(2, 0).reshape({-1});
  at::Tensor pts2 = draws.select(2, 1).reshape({-1});
  at::Tensor xy = at::stack({pts, pts2}, 1).to(at::kFloat);
  if (xy.size(0) > 5000)
    xy = xy.index_select(0, at::linspace(0, xy.size(0) - 1, 5000).to(at::kLong));
  const auto box = problem.target ? problem.target->box2d() : problem.box;
  eval::Grid2D grid;
  grid.box = {box[0], box[1], box[2], box[3]};
  grid.resolution = 120;
  at::Tensor field;
  if (problem.target) field = problem.target->marginal2d_log_density(grid.points().to(at::kDouble));
  if (!field.defined() && problem.contour_field) field = problem.contour_field(grid.points());
  std::vector<double> levels;
  if (field.defined()) {
    field = field.to(at::kDouble).view({120, 120});
    const double top = field.masked_select(field.isfinite()).max().item<double>();
    for (double k : {0.5, 2.0, 4.5, 8.0}) levels.push_back(top - k);  // 1–4 sd for a Gaussian
  } else {
    field = at::zeros({120, 120}, at::kDouble);
  }
  io::PlotOptions so;
  so.title = fmt::format("{}: {} draws, z[0] vs z[1]", problem.name, sampler);
  so.xlabel = "z[0]";
  so.ylabel = "z[1]";
  so.width = 520;
  so.height = 520;
  io::write_png(io::contour_scatter(xy, field, box, levels, so), dir + "/scatter.png");
}

// Every user mistake before the disk is touched: sections, counts, memory.
void check_sample_options(const SampleProblem& problem, const SampleOptions& options) {
  check_sampler_list(options.samplers, "--samplers");
  const auto valid = sampler_types();
  for (auto& [key, value] : options.sampler_config.items()) {
    std::vector<std::string> sections = valid;
    sections.push_back("sampler");
    if (std::find(sections.begin(), sections.end(), key) == sections.end()) {
      std::string hint = closest_match(key, sections);
      throw UserError(
          "--set " + key + ".*: unknown section \"" + key + "\"" +
          (hint.empty() ? "" : " (did you mean " + hint + "?)") +
          "; use sampler.KEY for every sampler or <sampler>.KEY for one of: " + join(valid));
    }
  }
  if (options.chains < 2) throw UserError("--chains: need at least 2 chains for R-hat");
  if (options.steps < 4) throw UserError("--steps: need at least 4 kept steps");
  if (options.warmup < 0) throw UserError("--warmup: must be >= 0");
  if (options.store_dims < 1) {
    throw UserError("--store-dims: must be >= 1, got " + std::to_string(options.store_dims));
  }
  // Before any allocation: the chains (states, gradients, proposals) and the
  // kept draws [steps, chains, min(D, store_dims)].
  double D = 1;
  for (int64_t s : problem.sample_shape) D *= double(s);
  const double kept = std::min(D, double(options.store_dims));
  check_memory("--chains " + std::to_string(options.chains) + " × " + std::to_string(int64_t(D)) +
                   " dimensions",
               4.0 * 4 * double(options.chains) * D);
  check_memory("--steps " + std::to_string(options.steps) + " × --chains " +
                   std::to_string(options.chains) + " kept draws",
               4.0 * double(options.steps) * double(options.chains) * kept);
  if (options.out_dir.empty()) throw UserError("no output folder given (--out DIR)");
}

void prepare_out_folder(const SampleOptions& options) {
  std::error_code ec;
  if (fs::exists(options.out_dir, ec) && !fs::is_empty(options.out_dir, ec)) {
    if (!options.force) {
      throw UserError("output folder " + options.out_dir + " already exists; use --force");
    }
    fs::remove_all(options.out_dir, ec);
  }
  io::make_dirs(options.out_dir);
  io::check_writable(options.out_dir);
}

// One sampler's chains after warm-up: the kept draws and what the run measured.
struct SamplerRun {
  SamplerOptions options;  // as run (adapted step size)
  std::string step_note;   // where the step came from: given, run's, default, adapted, from X
  int64_t gradients_per_step = 1;
  at::Tensor draws;  // [S, C, D']
  SamplerStats stats;
  double seconds = 0, seconds_with_warmup = 0;
  int64_t diverged_at = -1;    // kept step at which a state stopped being finite (-1: never)
  std::string threshold_note;  // AniLA types: where b came from (threshold_source)
  std::string precision;       // precision_warning after the warm-up ("" if none)
};

// Where an AniLA-type sampler's threshold b comes from ("" for other types):
// "given" (on the command line: sampler_config), "from <counterpart>" (an
// unadjusted type borrows its adapted b; set on `so`), "adapted" (warm-up
// adapts it, adapt.h) or "default" (the type's or the run's).
std::string threshold_source(const SampleOptions& o, const std::string& name, SamplerOptions& so,
                             const std::map<std::string, double>& adapted_b) {
  const auto& keys = so.spec().keys;
  if (std::find(keys.begin(), keys.end(), "threshold") == keys.end()) return "";
  const Json given = given_section(o, name);
  if (given.contains("threshold") && threshold_auto_quantile(so) == 0) return "given";
  const std::string other = so.spec().counterpart;
  if (!so.metropolis() && adapted_b.count(other)) {
    so.threshold = adapted_b.at(other);
    return "from " + other;
  }
  return o.threshold_quantile > 0 && o.warmup > 0 && so.metropolis() ? "adapted" : "default";
}

// ", b 0.42 (adapted)" for a row with an AniLA threshold, else "".
std::string threshold_cell(const Json& row) {
  if (!row.contains("threshold")) return "";
  return fmt::format(", b {:.3g} (", row["threshold"].get<double>()) +
         row["threshold_from"].get<std::string>() + ")";
}

// Lines under the table for rows that carry a note (draws not scored, ...).
std::string report_notes(const std::vector<Json>& rows) {
  std::string out;
  for (const Json& r : rows) {
    if (r.contains("not_scored"))
      out +=
          "\n" + r["sampler"].get<std::string>() + ": " + r["not_scored"].get<std::string>() + "\n";
  }
  return out;
}

// Where an unadjusted sampler's step comes from (see sampling.h), applied to `so`.
std::string choose_step(const SampleOptions& o, const std::string& name,
                        const std::map<std::string, double>& adapted, SamplerOptions& so) {
  const bool given = given_section(o, name).contains("step_size");
  const bool from_base =
      o.base_settings.contains(name) && o.base_settings[name].contains("step_size");
  std::string note = given ? "given" : from_base ? "run's" : "default";
  const std::string adjusted = counterpart(name);
  if (!so.metropolis() && !given && adapted.count(adjusted)) {
    so.step_size = adapted.at(adjusted);
    note = "from " + adjusted;
  }
  return note;
}

SamplerRun run_sampler(const SampleProblem& problem, const SampleOptions& o, SamplerOptions so,
                       std::string step_note, const std::string& threshold_note,
                       const at::Tensor& z0, const at::Tensor& coords) {
  SamplerRun run;
  SamplerPtr sampler = make_sampler(so);
  at::Generator gen = make_generator(o.seed + 1, at::kCPU);
  ChainState state = ChainState::start(z0, *problem.logp);
  const auto t0 = std::chrono::steady_clock::now();
  warm_up(*sampler, state, *problem.logp, o.warmup, o.adapt, gen,
          threshold_note == "adapted" ? o.threshold_quantile : 0);
  if (so.metropolis() && o.adapt && o.warmup > 0) step_note = "adapted";
  run.threshold_note = threshold_note;
  run.precision = precision_warning(*sampler, state);
  // NaN rows after a divergence (the loop stops there; sampling.h).
  run.draws = at::full({o.steps, o.chains, coords.size(0)}, NAN, at::kFloat);
  const auto t1 = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < o.steps; ++s) {
    sampler->step(state, *problem.logp, gen, &run.stats);
    run.draws[s].copy_(state.z.reshape({o.chains, -1}).index_select(1, coords));
    if ((s % 50 == 49 || s + 1 == o.steps) && !state.z.isfinite().all().item<bool>()) {
      run.diverged_at = s + 1;
      break;
    }
  }
  const auto t2 = std::chrono::steady_clock::now();
  run.seconds = std::chrono::duration<double>(t2 - t1).count();
  run.seconds_with_warmup = std::chrono::duration<double>(t2 - t0).count();
  run.options = sampler->options();
  run.step_note = step_note;
  run.gradients_per_step = sampler->gradients_per_step();
  return run;
}

// summary.json of one sampler; with its diagnostics and plots written to `dir`.
Json sampler_summary(const std::string& name, const SamplerRun& run, const SampleProblem& problem,
                     const SampleOptions& o, const at::Tensor& coords, const std::string& dir) {
  Json row = {{"sampler", name},
              {"step_size", run.options.step_size},
              {"step_size_from", run.step_note},
              {"gradients_per_step", run.gradients_per_step},
              {"seconds", run.seconds},
              {"seconds_with_warmup", run.seconds_with_warmup}};
  const Json st = run.stats.summary();
  for (const char* k : {"accept", "gamma"})
    if (st.contains(k)) row[k] = st[k];
  if (!run.precision.empty()) row["precision_warning"] = run.precision;
  if (!run.threshold_note.empty()) {
    row["threshold"] = run.options.threshold;
    row["threshold_from"] = run.threshold_note;
  }
  if (run.diverged_at >= 0) {
    row["diverged_at_step"] = run.diverged_at;
    return row;
  }
  const eval::DrawsSummary ds = eval::summarize_draws(run.draws);
  row["min_ess_bulk"] = ds.min_ess_bulk;
  row["min_ess_tail"] = ds.min_ess_tail;
  row["max_rhat"] = ds.max_rhat;
  const double grads = static_cast<double>(o.steps) * o.chains * run.gradients_per_step;
  row["ess_per_gradient"] = ds.min_ess_bulk / grads;
  row["ess_per_second"] = ds.min_ess_bulk / run.seconds;
  if (problem.target) {
    const double T = run.options.noise_scale * run.options.noise_scale;
    const std::string why = tempered_target_problem(*problem.target, T);
    if (why.empty()) {
      score_draws(row, run.draws, coords, *problem.target, T, o.seed + 2);
    } else {
      row["not_scored"] = why;
      if (!o.quiet) std::cerr << "sample: " << name << ": " << why << "\n";
    }
  }
  io::write_atomic(dir + "/diagnostics.json", ds.to_json(/*per_coordinate=*/true).dump(2));
  write_plots(dir, run.draws, coords, problem, name);
  return row;
}

// The summary table: one row per sampler.
io::ResultsTable sampling_table(const std::vector<Json>& rows, bool with_target) {
  std::vector<io::Column> columns = {{"step", "step", ""},
                                     {"accept", "accept", "{:.3f}"},
                                     {"min_ess_bulk", "min ESS bulk", "{:.0f}"},
                                     {"min_ess_tail", "min ESS tail", "{:.0f}"},
                                     {"max_rhat", "max R-hat", "{:.3f}"},
                                     {"ess_per_gradient", "ESS/grad", "{:.2e}"},
                                     {"ess_per_second", "ESS/s", "{:.3g}"}};
  if (with_target) {
    columns.push_back({"mean_error", "mean err [sd]", "{:.3f}"});
    columns.push_back({"var_error", "var err", "{:.3f}"});
    columns.push_back({"cov_error", "cov err", "{:.3f}"});
    columns.push_back({"mmd", "MMD²", "{:.2e}"});
    columns.push_back({"energy_distance", "energy dist", "{:.3g}"});
  }
  columns.push_back({"step_size", "step size", "{:.6g}", /*csv_only=*/true});
  columns.push_back({"step_size_from", "step from", "", /*csv_only=*/true});
  columns.push_back({"threshold", "threshold", "{:.6g}", /*csv_only=*/true});
  columns.push_back({"seconds", "s", "{:.2f}"});
  io::ResultsTable table(columns);
  for (const Json& r : rows) {
    Json values = r;
    values["step"] = fmt::format("{:.3g} ({})", r["step_size"].get<double>(),
                                 r["step_size_from"].get<std::string>()) +
                     threshold_cell(r);
    const bool diverged = r.contains("diverged_at_step");
    const std::string note =
        diverged ? fmt::format("diverged at step {}", r["diverged_at_step"].get<int64_t>()) : "";
    table.add({r["sampler"].get<std::string>(), 0, values, diverged, note});
  }
  return table;
}

std::string sampling_markdown(const io::ResultsTable& table, const SampleProblem& problem,
                              const SampleOptions& o) {
  return fmt::format(
             "# {}: samplers compared\n\n{} chains, {} warm-up + {} kept steps, seed {}. ESS is "
             "the minimum over the stored coordinates (bulk and tail, Vehtari et al. 2021); "
             "ESS/grad divides it by all gradient evaluations of the kept steps (chains × steps × "
             "gradients per step); ESS/s by their wall time. mean err is max |mean − exact| in "
             "units of the exact sd, var err max |var − exact| / exact var, both against "
             "exp(f/T) at each sampler's T = noise_scale².\n\n",
             problem.name, o.chains, o.warmup, o.steps, o.seed) +
         table.markdown();
}

// Metropolis samplers first, so that unadjusted ones can borrow their adapted steps.
std::vector<size_t> sampling_order(const std::vector<SamplerOptions>& parsed) {
  std::vector<size_t> order(parsed.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return parsed[a].metropolis() > parsed[b].metropolis();
  });
  return order;
}

}  // namespace

Json run_sampling(const SampleProblem& problem, const SampleOptions& options) {
  check_sample_options(problem, options);
  std::vector<SamplerOptions> parsed;
  for (const auto& name : options.samplers) {
    parsed.push_back(parse_sampler_options(sampler_section(options, name), name));
  }
  prepare_out_folder(options);

  // The same starting points for every sampler.
  at::Generator init_gen = make_generator(options.seed, at::kCPU);
  const at::Tensor z0 = problem.init(options.chains, init_gen);
  int64_t D = 1;
  for (int64_t s : problem.sample_shape) D *= s;
  const at::Tensor coords = stored_coordinates(D, options.store_dims);

  std::map<std::string, double> adapted, adapted_b;
  std::vector<Json> rows(options.samplers.size());
  for (size_t i : sampling_order(parsed)) {
    const std::string& name = options.samplers[i];
    SamplerOptions so = parsed[i];
    const std::string note = choose_step(options, name, adapted, so);
    const std::string b_note = threshold_source(options, name, so, adapted_b);
    const SamplerRun run = run_sampler(problem, options, so, note, b_note, z0, coords);
    adapted[name] = run.options.step_size;
    if (!b_note.empty()) adapted_b[name] = run.options.threshold;
    if (!run.precision.empty() && !options.quiet)
      std::cerr << "sample: " << name << ": " << run.precision << "\n";
    const std::string dir = options.out_dir + "/" + name;
    io::make_dirs(dir);
    rows[i] = sampler_summary(name, run, problem, options, coords, dir);
    io::write_npy(dir + "/draws.npy", run.draws);
    io::write_atomic(dir + "/summary.json", rows[i].dump(2) + "\n");
    if (!options.quiet) {
      std::cerr << fmt::format("sample: {} done in {:.1f}s (step {:.4g}, {})\n", name,
                               run.seconds_with_warmup, run.options.step_size, run.step_note);
    }
  }

  const io::ResultsTable table = sampling_table(rows, problem.target != nullptr);
  const std::string md = sampling_markdown(table, problem, options) + report_notes(rows);
  io::write_atomic(options.out_dir + "/summary.md", md);
  io::write_atomic(options.out_dir + "/summary.csv", table.csv_rows());
  if (!options.quiet)
    std::cout << "\n" << md << "\nwrote " << options.out_dir << "/summary.{md,csv}\n";
  Json out_rows = Json::array();
  for (auto& r : rows) out_rows.push_back(r);
  return {{"rows", out_rows}, {"table_markdown", md}};
}

Json sample_analytic_target(const Json& target_section, const SampleOptions& options) {
  auto target = targets::make_target(target_section, "target");
  SampleProblem problem;
  problem.name = target_section.value("type", std::string("target")) +
                 " (d = " + std::to_string(target->dim()) + ")";
  problem.logp = target.get();
  problem.sample_shape = {target->dim()};
  problem.target = target.get();
  problem.init = [&](int64_t C, at::Generator& gen) {
    return (target->sample(C, gen) * 2).to(at::kFloat);
  };
  return run_sampling(problem, options);
}

Json sample_trained_run(const LoadedRun& run, SampleOptions options) {
  if (run.sample_shape.size() != 1) {
    throw UserError("sample: " + run.dir +
                    " is an image run; its samples come from generate_images (anila sample "
                    "--checkpoint writes grids for it)");
  }
  check_sampler_list(options.samplers, "--samplers");
  for (const auto& name : options.samplers) {
    options.base_settings[name] = resolve_sampler(run.config, name).to_json();
  }
  ModelLogDensity logp(run.model);
  SampleProblem problem;
  problem.name = fs::path(run.dir).filename().string() + " (trained EBM)";
  problem.logp = &logp;
  problem.sample_shape = run.sample_shape;
  auto chains = run.chains;
  problem.init = [chains](int64_t C, at::Generator& gen) { return chains->noise(C, gen); };
  const Json& given = options.sampler_config;
  const double eps = given.contains("sampler") && given["sampler"].contains("noise_scale") &&
                             given["sampler"]["noise_scale"].is_number()
                         ? given["sampler"]["noise_scale"].get<double>()
                         : std::sqrt(run.temperature);
  auto model = run.model;
  problem.contour_field = [model, eps](const at::Tensor& x) {
    at::NoGradGuard no_grad;
    return model->forward(x.to(at::kFloat)) / (eps * eps);
  };
  problem.box = run.box;
  return run_sampling(problem, options);
}

Json command_line_sampler_keys(const Json& sets, const std::string& name, const std::string& type) {
  Json j = Json::object();
  for (const std::string& key : {std::string("sampler"), name}) {
    if (!sets.contains(key) || !sets[key].is_object()) continue;
    const bool shared = key == "sampler";
    for (auto& [k, v] : sets[key].items()) {
      if (!(shared && foreign_key(k, type))) j[k] = v;
    }
  }
  return j;
}

}  // namespace anila
