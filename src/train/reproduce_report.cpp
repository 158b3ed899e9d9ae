// reproduce_report.cpp — run folders → report.md / report.html with tables,
// curves and sample grids (see reproduce_report.h and anila/train/reproduce.h).
//
// Notation: T training iterations, K sampler steps per iteration, M chains per
// iteration, L leapfrog steps (HMC).
#include "train/reproduce_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/config.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/plot.h"
#include "anila/io/report.h"
#include "anila/io/results.h"
#include "anila/samplers/registry.h"
#include "anila/train/experiment.h"
#include "anila/train/generate.h"
#include "train/reproduce_sweep.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

// A run folder read back, with every metric column as iteration → value (the
// last value written for an iteration wins: a resumed run may repeat rows).
struct RunData : ReportRun {
  std::map<std::string, std::map<int64_t, double>> series;
};

// Everything the report's sections read.
struct Context {
  const Experiment& ex;
  const ReproduceOptions& o;
  const Invocation& inv;
  std::vector<RunData> runs;
  std::map<std::string, std::vector<const RunData*>> by_sampler;
  std::unique_ptr<RunKind> kind;
  FeatureKeys features;
  int64_t T = 0;  // configured iterations
};

void read_series(RunData& r) {
  std::ifstream in(r.dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    Json row = try_parse_json(line);
    if (!row.is_object() || !row.contains("iteration") || !row["iteration"].is_number()) continue;
    const int64_t it = row["iteration"].get<int64_t>();
    for (auto kv = row.begin(); kv != row.end(); ++kv) {
      if (kv.key() == "iteration" || !kv.value().is_number()) continue;
      const double v = kv.value().get<double>();
      if (std::isfinite(v)) r.series[kv.key()][it] = v;
    }
  }
}

// A missing or unreadable file reads as null (the run then shows as unfinished).
RunData read_run(const std::string& dir, const std::string& sampler, int64_t seed_index) {
  RunData r;
  r.sampler = sampler;
  r.dir = dir;
  r.seed_index = seed_index;
  r.summary = read_json_or_null(dir + "/summary.json");
  r.config = upgrade_run_config(read_json_or_null(dir + "/config.json"));
  if (r.config.is_discarded()) r.config = Json();
  r.diverged = r.summary.is_object() && r.summary.value("status", "") == "diverged";
  if (r.diverged) r.diverged_at = r.summary.value("iteration", int64_t{0});
  read_series(r);
  // Feature metrics of the final evaluation: from summary.json when the final
  // metrics row lacks them.
  if (r.summary.is_object() && r.summary.value("status", "") == "completed" &&
      r.config.is_object() && r.config.contains("train")) {
    const int64_t last = r.config["train"]["iterations"].get<int64_t>();
    FeatureKeys keys;
    keys.note_summary(r.summary);
    for (const auto& k : keys.fd) r.series[k].emplace(last, r.summary[k].get<double>());
    for (const auto& k : keys.kid) r.series[k].emplace(last, r.summary[k].get<double>());
  }
  return r;
}

Context read_context(const Experiment& ex, const ReproduceOptions& o, const Invocation& inv) {
  Context c{ex, o, inv, {}, {}, run_kind(ex.resolved), {}, 0};
  for (const auto& s : ex.samplers)
    for (int64_t i = 0; i < ex.seeds; ++i)
      c.runs.push_back(read_run(fmt::format("{}/{}/seed{}", ex.out, s, i), s, i));
  for (const auto& r : c.runs) {
    c.by_sampler[r.sampler].push_back(&r);
    for (const auto& [k, s] : r.series) c.features.note(k);
    c.features.note_summary(r.summary);
  }
  c.T = ex.resolved["train"]["iterations"].get<int64_t>();
  for (const auto& r : c.runs) {
    if (r.config.is_object() && r.config.contains("train")) {
      c.T = r.config["train"]["iterations"].get<int64_t>();
      break;
    }
  }
  return c;
}

// Up to 4 evaluation iterations nearest to T·j/5 (j = 1..4) among those where
// any run has `key`, then the final one.
std::vector<int64_t> report_iterations(const std::vector<RunData>& runs, const std::string& key,
                                       int64_t T) {
  std::set<int64_t> its;
  for (const auto& r : runs) {
    auto s = r.series.find(key);
    if (s == r.series.end()) continue;
    for (const auto& [it, v] : s->second) its.insert(it);
  }
  if (its.empty()) return {};
  const int64_t last = std::max(T, *its.rbegin());
  std::vector<int64_t> inner;
  for (int64_t it : its)
    if (it < last) inner.push_back(it);
  std::set<int64_t> chosen;
  if (inner.size() <= 4) {
    chosen.insert(inner.begin(), inner.end());
  } else {
    for (int j = 1; j <= 4; ++j) {
      const double target = static_cast<double>(T) * j / 5.0;
      int64_t best = inner.front();
      for (int64_t it : inner)
        if (std::fabs(it - target) < std::fabs(best - target)) best = it;
      chosen.insert(best);
    }
  }
  std::vector<int64_t> out(chosen.begin(), chosen.end());
  if (its.count(last)) out.push_back(last);
  return out;
}

std::string status_text(const std::vector<const RunData*>& runs) {
  int64_t done = 0;
  std::vector<std::string> bad;
  for (const RunData* r : runs) {
    if (r->diverged) {
      bad.push_back(fmt::format("seed{} diverged at iteration {}", r->seed_index, r->diverged_at));
    } else if (r->summary.is_object() && r->summary.value("status", "") == "completed") {
      done++;
    } else {
      bad.push_back(fmt::format("seed{} unfinished", r->seed_index));
    }
  }
  std::string out = fmt::format("{}/{} completed", done, runs.size());
  if (!bad.empty()) out += "; " + join(bad, "; ");
  return out;
}

// Per-sampler settings as they ran, every key the type reads, as "key value" pairs.
std::string sampler_settings(const SamplerOptions& o) {
  std::vector<std::string> parts;
  const Json settings = o.to_json();
  for (auto& [key, value] : settings.items()) {
    if (key == "type") continue;
    parts.push_back(
        key + " " +
        (value.is_number() ? fmt::format("{:g}", value.get<double>()) : describe_json(value)));
  }
  return join(parts, ", ");
}

// ∇f evaluations per training iteration: K steps of gradients_per_step each.
int64_t gradient_budget(const Json& config) {
  const SamplerOptions o = resolve_sampler(config);
  const SamplerSpec& spec = o.spec();
  const int64_t per_step = spec.gradients_per_step ? spec.gradients_per_step(o) : 1;
  return config["train"]["mcmc_steps"].get<int64_t>() * per_step;
}

// "mlp (hidden [32,64,64,64], activation leaky_relu, ...)": a section's type and its other keys.
std::string describe_section(const Json& section) {
  if (!section.is_object()) return "-";
  std::string out = section.value("type", std::string("?")), rest;
  for (auto it = section.begin(); it != section.end(); ++it) {
    if (it.key() == "type") continue;
    rest += (rest.empty() ? "" : ", ") + it.key() + " " +
            (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
  return rest.empty() ? out : out + " (" + rest + ")";
}

io::Image placeholder(const std::string& text) {
  io::Image img(std::max(240, io::text_width(text, 2) + 24), 80);
  img.text(12, 32, text, {180, 0, 0}, 2);
  return img;
}

// ---- sections ------------------------------------------------------------------

std::string setup_text(const Context& c) {
  const Json& r = c.ex.resolved;
  const Json& tr = r["train"];
  const Json& ch = r["chains"];
  std::string data_text = r["data"].value("type", "");
  if (r["data"].contains("path") && r["data"]["path"].is_string())
    data_text += " (`" + r["data"]["path"].get<std::string>() + "`)";
  const uint64_t seed = r["seed"].get<uint64_t>();
  const int64_t seeds = c.ex.seeds;
  std::string text = fmt::format(
      "Experiment file `{}`. Data: {}. Model: {}. Chains: {} (init {}, scale {:g}). Training: "
      "T = {} iterations, M = {} chains per iteration, K = {} sampler steps per iteration, {} "
      "with lr {:g}. {} seed(s) per sampler ({}).",
      c.ex.path, data_text, describe_section(r["model"]), ch.value("type", ""),
      ch.value("init", std::string("-")), ch.value("scale", 0.0), c.T,
      tr["batch_size"].get<int64_t>(), tr["mcmc_steps"].get<int64_t>(),
      tr["optimizer"].value("type", std::string("adam")), tr["optimizer"].value("lr", 0.0), seeds,
      seeds == 1 ? fmt::format("seed {}", seed)
                 : fmt::format("seeds {}..{}", seed, seed + uint64_t(seeds) - 1));
  if (!c.ex.spec.budget.empty()) text += " " + c.ex.spec.budget;
  if (c.o.iterations > 0) {
    text += fmt::format(
        " This report was made with --iterations {} (eval.every, train.log_every and "
        "train.checkpoint_every scaled alike).",
        c.o.iterations);
  }
  return text;
}

void setup_section(const Context& c, io::Report& rep) {
  rep.heading("Setup");
  rep.paragraph(setup_text(c));
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : c.ex.samplers) {
    const auto& rs = c.by_sampler.at(s);
    std::vector<double> secs;
    for (const RunData* r : rs)
      if (r->summary.is_object() && r->summary.contains("seconds") &&
          r->summary["seconds"].is_number())
        secs.push_back(r->summary["seconds"].get<double>());
    const Json& cfg = rs.front()->config;
    const bool ok = cfg.is_object();
    rows.push_back({s, ok ? sampler_settings(resolve_sampler(cfg)) : "-",
                    ok ? std::to_string(gradient_budget(cfg)) : "0", status_text(rs),
                    io::mean_sd(secs, "{:.1f}")});
  }
  rep.table({"sampler", "settings (as run)", "∇f evaluations / iteration", "runs", "s/run"}, rows,
            "Samplers. Every sampler targets exp(f/ε²) (model temperature T = ε²) and evaluates "
            "f and ∇f once per step (HMC: L times per step), so the ∇f column is the gradient "
            "budget per training iteration.");
  rep.paragraph(fmt::format(
      "{} of {} runs were reused from an earlier invocation; this invocation took {:.0f} s of "
      "wall time ({} at a time).",
      c.inv.reused, c.runs.size() * c.ex.sweep.size(), c.inv.wall_seconds,
      c.o.jobs > 0 ? fmt::format("{} runs", c.o.jobs) : std::string("one run per core")));
}

// A headline metric at its report iterations: one column per iteration.
io::ResultsTable iteration_table(const Context& c, const Metric& m,
                                 const std::vector<int64_t>& its) {
  std::vector<io::Column> columns;
  for (int64_t it : its)
    columns.push_back({fmt::format("it{}", it), fmt::format("it {}", it), m.format});
  io::ResultsTable table(columns);
  for (const RunData& r : c.runs) {
    Json values = Json::object();
    auto s = r.series.find(m.key);
    for (int64_t it : its) {
      if (s == r.series.end()) continue;
      auto p = s->second.find(it);
      if (p != s->second.end()) values[fmt::format("it{}", it)] = p->second;
    }
    table.add({r.sampler, r.seed_index, values, r.diverged, ""});
  }
  return table;
}

// Final metrics of summary.json; a diverged run's values are not counted.
io::ResultsTable final_table(const Context& c) {
  io::ResultsTable table(c.kind->final_columns(c.features));
  for (const RunData& r : c.runs) {
    const bool ok = !r.diverged && r.summary.is_object();
    table.add({r.sampler, r.seed_index, ok ? r.summary : Json::object(), r.diverged, ""});
  }
  return table;
}

void results_section(const Context& c, io::Report& rep) {
  rep.heading("Results");
  for (const auto& m : c.kind->headline(c.features)) {
    const std::vector<int64_t> its = report_iterations(c.runs, m.key, c.T);
    if (its.empty()) continue;
    const io::ResultsTable t = iteration_table(c, m, its);
    rep.table(t.header(), t.cells(),
              fmt::format("{}: up to four evenly spaced iterations and the last, mean ± sd over "
                          "{} seed(s).",
                          m.title, c.ex.seeds));
  }
  const io::ResultsTable t = final_table(c);
  rep.table(t.header(), t.cells(),
            fmt::format("Final metrics (summary.json of each run), mean ± sd over {} seed(s).",
                        c.ex.seeds));
}

// published.key: the reference was measured with this report's own metric
// `key`, so the table sets it beside this report's final value.
void reference_section(const Context& c, io::Report& rep) {
  const Json& p = c.ex.spec.published;
  const std::string key = p["key"].get<std::string>();
  const std::string metric = p.value("metric", key);
  io::ResultsTable finals = final_table(c);
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : c.ex.samplers) {
    const bool has = p["values"].contains(s) && p["values"][s].is_number();
    rows.push_back({s, has ? fmt::format("{:.4g}", p["values"][s].get<double>()) : "-",
                    io::mean_sd(finals.values(s, key), "{:.4f}")});
  }
  rep.table(
      {"sampler",
       fmt::format("reference: {} ({} iterations)", metric, p.value("iterations", int64_t{0})),
       fmt::format("this report: {} (final, {} iterations)", key, c.T)},
      rows,
      "Reference figure (" + p.value("source", std::string("the reference")) +
          "), measured with the same metric as this report's `" + key +
          "`: the gap between the columns is the gap to the reference (compare at equal "
          "iterations).");
}

void published_section(const Context& c, io::Report& rep) {
  const Json& p = c.ex.spec.published;
  if (p.is_null()) return;
  if (p.contains("key") && p["key"].is_string()) return reference_section(c, rep);
  const std::string metric = p.value("metric", std::string("published metric"));
  io::ResultsTable finals = final_table(c);
  std::vector<std::string> header = {"sampler", fmt::format("published {} ({} iterations)", metric,
                                                            p.value("iterations", int64_t{0}))};
  for (const auto& k : c.features.fd)
    header.push_back("this report: FD-" + k.substr(3) + " (final)");
  std::vector<std::string> names = c.ex.samplers;
  for (auto it = p["values"].begin(); it != p["values"].end(); ++it)
    if (std::find(names.begin(), names.end(), it.key()) == names.end()) names.push_back(it.key());
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : names) {
    std::vector<std::string> row = {s};
    row.push_back(p["values"].contains(s) && p["values"][s].is_number()
                      ? fmt::format("{:g}", p["values"][s].get<double>())
                      : "-");
    for (const auto& k : c.features.fd) row.push_back(io::mean_sd(finals.values(s, k), "{:.2f}"));
    rows.push_back(row);
  }
  rep.table(header, rows,
            "Published reference (" + p.value("source", std::string("the paper")) + "): " + metric +
                " as reported in the paper. Not comparable to the FD columns of this report: "
                "different feature network (unless --features is the same Inception network), "
                "sample counts and, unless run in full, iteration budget.");
}

// One line per sampler: the mean over seeds at every iteration where a seed has the metric.
std::vector<io::Series> curves(const Context& c, const std::string& key) {
  std::vector<io::Series> out;
  for (size_t i = 0; i < c.ex.samplers.size(); ++i) {
    const auto& runs = c.by_sampler.at(c.ex.samplers[i]);
    std::map<int64_t, std::pair<double, int>> acc;
    int64_t diverged = 0;
    for (const RunData* r : runs) {
      diverged += r->diverged;
      auto s = r->series.find(key);
      if (s == r->series.end()) continue;
      for (const auto& [it, v] : s->second) {
        acc[it].first += v;
        acc[it].second += 1;
      }
    }
    io::Series series;
    series.label = c.ex.samplers[i];
    if (diverged) series.label += fmt::format(" ({}/{} diverged)", diverged, runs.size());
    series.color = static_cast<int>(i);
    for (const auto& [it, sum] : acc) {
      series.x.push_back(static_cast<double>(it));
      series.y.push_back(sum.first / sum.second);
    }
    series.points = series.x.size() <= 12;
    out.push_back(std::move(series));
  }
  return out;
}

bool all_positive(const std::vector<io::Series>& series) {
  bool any = false;
  for (const auto& s : series) {
    for (double y : s.y) {
      if (!(y > 0)) return false;
      any = true;
    }
  }
  return any;
}

void curve_figure(const Context& c, const Metric& m, io::Report& rep) {
  std::vector<io::Series> series = curves(c, m.key);
  bool any = false;
  for (const auto& s : series) any = any || !s.x.empty();
  if (!any) return;
  io::PlotOptions po;
  po.title = fmt::format("{} (mean over {} seed(s))", m.key, c.ex.seeds);
  po.xlabel = "iteration";
  po.ylabel = m.key;
  po.width = 720;
  po.height = 420;
  po.log_y = m.log_y && all_positive(series);
  if (m.key == "energy_gap") po.hlines = {0.0};
  const std::string file = "curve_" + m.key + ".png";
  io::write_png(io::line_plot(series, po), c.ex.out + "/" + file);
  rep.figure(file, fmt::format("{} against training iteration, one line per sampler (mean over "
                               "seeds){}.",
                               m.title, po.log_y ? ", log scale" : ""));
}

void curves_section(const Context& c, io::Report& rep) {
  std::vector<Metric> metrics = c.kind->headline(c.features);
  metrics.push_back({"energy_gap", "energy gap mean f(data) − mean f(chains)", "", false});
  metrics.push_back({"grad_abs", "mean |∇f| along the chains", "", true});
  std::set<std::string> drawn;
  for (const auto& m : metrics)
    if (drawn.insert(m.key).second) curve_figure(c, m, rep);
}

std::string diverged_text(const RunData& r) {
  return fmt::format("diverged at iteration {}", r.diverged_at);
}

void samples_section(const Context& c, io::Report& rep) {
  rep.heading("Samples (seed 0)");
  std::vector<std::vector<io::Panel>> rows;
  for (const auto& s : c.ex.samplers) {
    const RunData* r = c.by_sampler.at(s).front();
    const std::string fig = r->dir + "/figure.png";
    if (!r->diverged && fs::exists(fig)) {
      rows.push_back({{"", io::read_png(fig)}});
    } else {
      rows.push_back({{"", placeholder(r->diverged ? diverged_text(*r) : "no figure")}});
    }
  }
  io::write_png(io::compose(rows, c.ex.samplers, c.ex.spec.title + ": seed 0 of each sampler"),
                c.ex.out + "/samples_seed0.png");
  rep.figure("samples_seed0.png", c.kind->samples_caption());
}

// Inpaints the batch with one sampler's seed-0 model: the table row and the figure.
void inpaint_one(const Context& c, const RunData& r, Json* results,
                 std::vector<std::vector<std::string>>* rows,
                 std::vector<std::vector<io::Panel>>* fig_rows) {
  if (r.diverged) {
    rows->push_back({r.sampler, "diverged", "-", "-"});
    fig_rows->push_back({{"", placeholder(diverged_text(r))}});
    return;
  }
  const ReproduceSpec& spec = c.ex.spec;
  InpaintOptions io_;
  io_.mask = spec.inpaint_mask;
  io_.steps = spec.inpaint_steps;
  io_.seed = static_cast<uint64_t>(spec.inpaint_seed);
  io_.out_dir = c.ex.out + "/inpaint/" + r.sampler;
  io_.force = true;
  const Json res = inpaint_images(load_run(r.dir), c.ex.inpaint_batch, io_);
  (*results)[r.sampler] = res;
  rows->push_back({r.sampler, fmt::format("{:.4f}", res.value("mse", NAN)),
                   fmt::format("{:.4f}", res.value("mse_start", NAN)),
                   fmt::format("{}", res.value("steps", int64_t{0}))});
  fig_rows->push_back({{"", io::read_png(io_.out_dir + "/figure.png")}});
}

Json inpaint_section(const Context& c, io::Report& rep) {
  Json results = Json::object();
  if (!c.ex.spec.inpaint) return results;
  std::vector<std::vector<io::Panel>> fig_rows;
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : c.ex.samplers)
    inpaint_one(c, *c.by_sampler.at(s).front(), &results, &rows, &fig_rows);
  rep.heading("Inpainting");
  rep.paragraph(fmt::format(
      "{} images ({}), mask `{}`. The masked pixels start from the run's noise init and each "
      "sampler runs with its own trained seed-0 model, the kept pixels held fixed. Lower mse on "
      "the masked pixels is better; the noise start is the reference.",
      c.ex.inpaint_batch.size(0), c.ex.inpaint_note, c.ex.spec.inpaint_mask));
  rep.table({"sampler", "mse (masked pixels)", "mse at the noise start", "steps"}, rows,
            "Inpainting error on the masked pixels against the original images.");
  io::write_png(
      io::compose(fig_rows, c.ex.samplers, c.ex.spec.title + ": inpainting (seed-0 models)"),
      c.ex.out + "/inpaint.png");
  rep.figure("inpaint.png", "Per sampler: original | masked | inpainted.");
  return results;
}

void reading_section(const Context& c, io::Report& rep) {
  rep.heading("How to read this");
  std::vector<ReportRun> runs(c.runs.begin(), c.runs.end());
  for (const auto& text : c.kind->reading_notes(c.ex.resolved, runs, c.features))
    rep.paragraph(text);
  rep.heading("Files");
  rep.paragraph(
      fmt::format("Run folders: `{}/<sampler>/seed<i>/` (config.json, metrics.csv, summary.json, "
                  "figure.png, checkpoints/). The comparison table of `anila compare`: compare.md, "
                  "compare.csv, compare.png. The experiment as run: experiment.json.",
                  c.ex.out));
}

}  // namespace

Json read_json_or_null(const std::string& file) {
  if (!fs::exists(file)) return Json();
  Json j = try_parse_json(io::read_text(file));
  return j.is_discarded() ? Json() : j;
}

bool run_completed(const std::string& dir) {
  const Json s = read_json_or_null(dir + "/summary.json");
  return s.is_object() && s.value("status", "") == "completed";
}

Json write_reproduce_report(const Experiment& ex, const ReproduceOptions& o,
                            const Invocation& inv) {
  const Context c = read_context(ex, o, inv);
  io::Report rep(ex.spec.title);
  if (!ex.spec.about.empty()) rep.paragraph(ex.spec.about);
  rep.paragraph(
      "Reproduce this report (finished runs in the output folder are reused, interrupted ones "
      "resume from their last checkpoint):");
  rep.code(reproduce_command(ex.name, o));
  setup_section(c, rep);
  results_section(c, rep);
  sweep_section(ex, *c.kind, c.features, rep);
  published_section(c, rep);
  curves_section(c, rep);
  samples_section(c, rep);
  Json inpainted = inpaint_section(c, rep);
  reading_section(c, rep);
  rep.write(ex.out);
  return inpainted;
}

}  // namespace anila
