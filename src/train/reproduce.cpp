// reproduce.cpp — `anila reproduce NAME`: an experiment file → compare_samplers
// runs → (inpainting) → report.md / report.html with tables, curves and sample
// grids (see anila/train/reproduce.h).
//
// Notation: T training iterations, K sampler steps per iteration, M chains per
// iteration, L leapfrog steps (HMC), s step size, ε noise scale, b threshold.
#include "anila/train/reproduce.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/config.h"
#include "anila/data/images.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/plot.h"
#include "anila/io/report.h"
#include "anila/samplers/registry.h"
#include "anila/train/experiment.h"
#include "anila/train/generate.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

const std::vector<std::string> kExperiments = {"rings",   "gmm",     "fashion-mnist",
                                               "flowers", "cifar10", "celeba-inpainting"};

// What the "reproduce" section of an experiment file says.
struct Spec {
  std::string title, about, budget;
  Json published;  // null or {"source", "metric", "iterations", "values": {sampler: number}}
  // Inpainting (when the section has "inpaint"): N images, mask, K (-1: the run's), seed,
  // the image data section (null: the first N training images).
  bool inpaint = false;
  int64_t inpaint_n = 16, inpaint_steps = -1, inpaint_seed = 123;
  std::string inpaint_mask = "center";
  Json inpaint_data;
};

// One run folder read back: summary, config and every metric column as
// iteration → value (the last value written for an iteration wins: a resumed
// run may repeat its final rows).
struct RunData {
  std::string sampler, dir;
  int64_t seed_index = 0;
  Json summary, config;
  bool diverged = false;
  int64_t diverged_at = 0;  // first iteration that failed
  std::map<std::string, std::map<int64_t, double>> series;
};

// A metric as the report shows it.
struct Metric {
  std::string key, title, format;
  bool log_y = false;
};

// ---- small helpers -----------------------------------------------------------

using io::mean_sd;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Whether summary key `key` is a feature metric of `prefix` ("fd_", "kid_"), not
// its standard error.
bool feature_metric(const std::string& key, const std::string& prefix) {
  return starts_with(key, prefix) && !ends_with(key, "_se");
}

std::string shell_quote(const std::string& s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string("_.,=/:+-@%").find(c) != std::string::npos;
  });
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// ---- the experiment file -----------------------------------------------------

std::vector<fs::path> search_folders() {
  std::vector<fs::path> dirs;
  std::error_code ec;
  dirs.push_back(fs::current_path(ec) / "configs" / "reproduce");
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && !exe.empty()) {
    const fs::path bin = exe.parent_path();
    dirs.push_back(bin / "configs" / "reproduce");
    dirs.push_back(bin.parent_path() / "configs" / "reproduce");
    dirs.push_back(bin.parent_path() / "share" / "anila" / "configs" / "reproduce");
  }
#ifdef ANILA_SOURCE_DIR
  dirs.push_back(fs::path(ANILA_SOURCE_DIR) / "configs" / "reproduce");
#endif
  return dirs;
}

// Sets key = value in section `section` of `config` (creating the section).
void set_key(Json& config, const std::string& section, const std::string& key, Json value) {
  if (!config.contains(section) || !config[section].is_object()) config[section] = Json::object();
  config[section][key] = std::move(value);
}

int64_t integer_or(const Json& config, const std::string& section, const std::string& key,
                   int64_t def) {
  if (config.contains(section) && config[section].is_object() && config[section].contains(key) &&
      config[section][key].is_number_integer()) {
    return config[section][key].get<int64_t>();
  }
  return def;
}

// The experiment file with the options applied; `spec` receives its reproduce section.
Json load_experiment(const std::string& name, const ReproduceOptions& o, std::string* path,
                     Spec* spec) {
  *path = o.config_path.empty() ? find_reproduce_config(name) : o.config_path;
  Json config = load_json_file(*path);
  if (!config.is_object()) throw UserError("experiment file " + *path + ": expected a JSON object");
  if (!o.data_path.empty()) set_key(config, "data", "path", o.data_path);
  if (!o.features.empty()) set_key(config, "eval", "features", o.features);
  if (o.iterations < 0) {
    throw UserError("--iterations: must be >= 1 (0: the experiment's), got " +
                    std::to_string(o.iterations));
  }
  if (o.iterations > 0) {
    // Keep the number of evaluations, metric rows and checkpoints: scale their
    // intervals by the new budget (defaults as in TrainOptions / EvalConfig).
    const int64_t old_t = integer_or(config, "train", "iterations", 10000);
    const double ratio = static_cast<double>(o.iterations) / static_cast<double>(old_t);
    auto scaled = [&](const std::string& section, const std::string& key, int64_t def) {
      const int64_t v = integer_or(config, section, key, def);
      if (v > 0) set_key(config, section, key, std::max<int64_t>(1, std::llround(v * ratio)));
    };
    scaled("eval", "every", 500);
    scaled("train", "log_every", 50);
    scaled("train", "checkpoint_every", 1000);
    set_key(config, "train", "iterations", o.iterations);
  }
  for (const auto& s : o.sets) apply_override(config, s);

  Json section = config.value("reproduce", Json::object());
  config.erase("reproduce");
  ConfigReader r(section, "reproduce");
  spec->title = r.string("title", name);
  spec->about = r.string("about", "");
  spec->budget = r.string("budget", "");
  spec->published = r.object("published");
  const Json inpaint = r.object("inpaint");
  r.finish();
  if (!inpaint.is_null()) {
    ConfigReader ir(inpaint, "reproduce.inpaint");
    spec->inpaint = true;
    spec->inpaint_n = ir.integer("n", spec->inpaint_n, Range::at_least(1));
    spec->inpaint_mask = ir.choice("mask", spec->inpaint_mask, inpaint_mask_types());
    spec->inpaint_steps = ir.integer("steps", spec->inpaint_steps, Range::at_least(-1));
    spec->inpaint_seed = ir.integer("seed", spec->inpaint_seed, Range::non_negative());
    spec->inpaint_data = ir.object("data");
    ir.finish();
  }
  if (!spec->published.is_null()) {
    const Json& p = spec->published;
    if (!p.is_object() || !p.contains("values") || !p["values"].is_object()) {
      throw UserError(
          "reproduce.published: expected {\"source\", \"metric\", \"iterations\", "
          "\"values\": {sampler: number}}");
    }
  }
  return config;
}

// ---- reading the runs back ---------------------------------------------------

RunData read_run(const std::string& dir, const std::string& sampler, int64_t seed_index) {
  RunData r;
  r.sampler = sampler;
  r.dir = dir;
  r.seed_index = seed_index;
  // A missing or unreadable file reads as null (the run then shows as unfinished).
  auto read = [&](const std::string& file) {
    return fs::exists(dir + "/" + file) ? try_parse_json(io::read_text(dir + "/" + file)) : Json();
  };
  r.summary = read("summary.json");
  r.config = upgrade_run_config(read("config.json"));
  if (r.summary.is_discarded()) r.summary = Json();
  if (r.config.is_discarded()) r.config = Json();
  r.diverged = r.summary.is_object() && r.summary.value("status", "") == "diverged";
  if (r.diverged) r.diverged_at = r.summary.value("iteration", int64_t{0});
  std::ifstream in(dir + "/metrics.jsonl");
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
  // Feature metrics of the final evaluation: from summary.json when the final
  // metrics row lacks them.
  if (r.summary.is_object() && r.summary.value("status", "") == "completed" &&
      r.config.is_object() && r.config.contains("train")) {
    const int64_t last = r.config["train"]["iterations"].get<int64_t>();
    for (auto kv = r.summary.begin(); kv != r.summary.end(); ++kv) {
      const std::string& k = kv.key();
      if ((feature_metric(k, "fd_") || starts_with(k, "kid_")) && kv.value().is_number()) {
        r.series[k].emplace(last, kv.value().get<double>());
      }
    }
  }
  return r;
}

int64_t configured_iterations(const std::vector<RunData>& runs, const Json& config) {
  for (const auto& r : runs) {
    if (r.config.is_object() && r.config.contains("train"))
      return r.config["train"]["iterations"].get<int64_t>();
  }
  return integer_or(config, "train", "iterations", 10000);
}

// Up to 4 evaluation iterations nearest to T·j/5 (j = 1..4) among those where
// any run has `key`, then the final one.
std::vector<int64_t> checkpoints(const std::vector<RunData>& runs, const std::string& key,
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

// The cell of one sampler at one iteration: mean ± sd over the seeds that have
// the value; seeds that had diverged by then are counted, never dropped.
std::string cell(const std::vector<const RunData*>& runs, const Metric& m, int64_t it) {
  std::vector<double> v;
  int64_t diverged = 0;
  for (const RunData* r : runs) {
    auto s = r->series.find(m.key);
    if (s != r->series.end()) {
      auto p = s->second.find(it);
      if (p != s->second.end()) {
        v.push_back(p->second);
        continue;
      }
    }
    if (r->diverged && r->diverged_at <= it) diverged++;
  }
  const size_t n = runs.size();
  if (v.empty() && diverged > 0) return fmt::format("diverged ({}/{})", diverged, n);
  std::string out = mean_sd(v, m.format);
  if (diverged > 0) out += fmt::format(" ({}/{} diverged)", diverged, n);
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

// Per-sampler settings as they ran (the seed-0 run's resolved sampler), every
// key the type reads, as "key value" pairs.
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

// One line per sampler: the mean over seeds at every iteration where a seed has the metric.
std::vector<io::Series> curves(const std::vector<std::string>& samplers,
                               const std::map<std::string, std::vector<const RunData*>>& by_sampler,
                               const std::string& key) {
  std::vector<io::Series> out;
  for (size_t i = 0; i < samplers.size(); ++i) {
    const auto& runs = by_sampler.at(samplers[i]);
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
    series.label = samplers[i];
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

}  // namespace

// ---- public ------------------------------------------------------------------

std::vector<std::string> reproduce_experiments() {
  return kExperiments;
}

std::string find_reproduce_config(const std::string& name) {
  if (std::find(kExperiments.begin(), kExperiments.end(), name) == kExperiments.end()) {
    const std::string close = closest_match(name, kExperiments);
    throw UserError("unknown experiment \"" + name + "\"" +
                    (close.empty() ? "" : " (did you mean " + close + "?)") +
                    "; allowed: " + join(kExperiments));
  }
  std::vector<std::string> looked;
  for (const auto& dir : search_folders()) {
    const fs::path p = dir / (name + ".json");
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    looked.push_back(dir.lexically_normal().string());
  }
  throw UserError("experiment file " + name + ".json not found (looked in " + join(looked) +
                  "); run from the source folder or pass --config FILE");
}

std::string reproduce_command(const std::string& name, const ReproduceOptions& o) {
  std::string cmd = "anila reproduce " + shell_quote(name);
  if (o.seeds > 0) cmd += fmt::format(" --seeds {}", o.seeds);
  if (o.iterations > 0) cmd += fmt::format(" --iterations {}", o.iterations);
  if (!o.features.empty()) cmd += " --features " + shell_quote(o.features);
  if (!o.data_path.empty()) cmd += " --data " + shell_quote(o.data_path);
  if (!o.config_path.empty()) cmd += " --config " + shell_quote(o.config_path);
  for (const auto& s : o.sets) cmd += " --set " + shell_quote(s);
  cmd += " --out " + shell_quote(o.out_dir.empty() ? "runs/reproduce-" + name : o.out_dir);
  return cmd;
}

Json reproduce(const std::string& name, const ReproduceOptions& o) {
  if (o.config_path.empty()) find_reproduce_config(name);  // unknown name: the list, first
  if (o.seeds < 0) throw UserError("--seeds: must be >= 1, got " + std::to_string(o.seeds));
  std::string path;
  Spec spec;
  const Json config = load_experiment(name, o, &path, &spec);
  const Json resolved = resolve_config(config);  // every config error before any run
  const std::string out = o.out_dir.empty() ? "runs/reproduce-" + name : o.out_dir;

  const Json compare = resolved.value("compare", Json::object());
  std::vector<std::string> samplers;
  {
    std::stringstream in(compare.value("samplers", std::string(kDefaultComparedSamplers)));
    for (std::string item; std::getline(in, item, ',');)
      if (!item.empty()) samplers.push_back(item);
  }
  const int64_t seeds = o.seeds > 0 ? o.seeds : compare.value("seeds", int64_t{1});

  // The inpainting batch, loaded before any training so that a bad section fails early.
  at::Tensor inpaint_batch;
  std::string inpaint_note;
  if (spec.inpaint) {
    Json section = spec.inpaint_data;
    inpaint_note = "given by reproduce.inpaint.data";
    if (section.is_null()) {
      section = resolved["data"];
      inpaint_note =
          "the first ones of the training data; set reproduce.inpaint.data to a held-out folder "
          "for a test batch";
    }
    if (!section.contains("limit")) section["limit"] = spec.inpaint_n;
    data::ImageDataset batch = data::load_image_dataset(section, "reproduce.inpaint.data");
    inpaint_batch =
        batch.images.slice(0, 0, std::min<int64_t>(spec.inpaint_n, batch.images.size(0)));
  }

  // An output folder made with another configuration would mix runs: refuse.
  const std::string record = out + "/experiment.json";
  if (!o.force && fs::exists(record)) {
    Json before = try_parse_json(io::read_text(record));
    if (before.is_object() && before.contains("config") && before["config"] != config) {
      Json diff = Json::diff(before["config"], config);
      const std::string where = diff.empty() ? "" : diff[0].value("path", "");
      throw UserError(out + " holds runs of a different configuration of " + name +
                      " (first difference at " + where +
                      "); use --force to redo them or --out for a new folder");
    }
  }
  io::make_dirs(out);
  io::check_writable(out);
  io::write_atomic(record, Json{{"name", name},
                                {"file", path},
                                {"command", reproduce_command(name, o)},
                                {"seeds", seeds},
                                {"samplers", samplers},
                                {"config", config}}
                                   .dump(2) +
                               "\n");

  // Runs already finished before this call (reused by compare_samplers).
  int64_t reused = 0;
  for (const auto& s : samplers) {
    for (int64_t i = 0; i < seeds; ++i) {
      const std::string sj = fmt::format("{}/{}/seed{}/summary.json", out, s, i);
      if (o.force || !fs::exists(sj)) continue;
      const Json done = try_parse_json(io::read_text(sj));
      if (done.is_object() && done.value("status", "") == "completed") reused++;
    }
  }

  if (resolved.value("threads", int64_t{0}) > 0) set_threads(resolved["threads"].get<int>());
  CompareOptions co;
  co.samplers = samplers;
  co.seeds = seeds;
  co.out_dir = out;
  co.force = o.force;
  co.jobs = o.jobs;
  co.quiet = o.quiet;
  const auto t0 = std::chrono::steady_clock::now();
  Json compared = compare_samplers(config, co);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // ---- read the runs back ----
  std::vector<RunData> runs;
  for (const auto& s : samplers) {
    for (int64_t i = 0; i < seeds; ++i) {
      runs.push_back(read_run(fmt::format("{}/{}/seed{}", out, s, i), s, i));
    }
  }
  std::map<std::string, std::vector<const RunData*>> by_sampler;
  for (const auto& r : runs) by_sampler[r.sampler].push_back(&r);
  const bool images = data::is_image_dataset_type(resolved["data"]["type"].get<std::string>());
  const int64_t T = configured_iterations(runs, resolved);

  // Headline metrics.
  std::vector<Metric> headline;
  std::set<std::string> fd_keys, kid_keys;
  for (const auto& r : runs) {
    auto note = [&](const std::string& k) {
      if (feature_metric(k, "fd_")) fd_keys.insert(k);
      if (feature_metric(k, "kid_")) kid_keys.insert(k);
    };
    for (const auto& [k, s] : r.series) note(k);
    if (r.summary.is_object())
      for (auto it = r.summary.begin(); it != r.summary.end(); ++it)
        if (it.value().is_number()) note(it.key());
  }
  if (!images) {
    headline = {{"sample_tv", "sample TV (chains vs data, lower is better)", "{:.4f}"},
                {"kl", "model KL(p_data ‖ p_θ) in nats (lower is better)", "{:.3f}", true}};
  } else if (!fd_keys.empty()) {
    for (const auto& k : fd_keys) {
      headline.push_back({k,
                          "FD-" + k.substr(3) + " (Fréchet distance in " + k.substr(3) +
                              " features, lower is better)",
                          "{:.2f}"});
    }
  } else {
    headline = {
        {"energy_gap", "energy gap mean f(data) − mean f(chains) (training batch)", "{:.4g}"}};
  }

  // ---- the report ----
  io::Report rep(spec.title);
  if (!spec.about.empty()) rep.paragraph(spec.about);
  rep.paragraph(
      "Reproduce this report (finished runs in the output folder are reused, "
      "interrupted ones resume from their last checkpoint):");
  rep.code(reproduce_command(name, o));

  rep.heading("Setup");
  {
    const Json& tr = resolved["train"];
    const Json& ch = resolved["chains"];
    const Json& data = resolved["data"];
    std::string data_text = data.value("type", "");
    if (data.contains("path") && data["path"].is_string())
      data_text += " (`" + data["path"].get<std::string>() + "`)";
    std::string text = fmt::format(
        "Experiment file `{}`. Data: {}. Model: {}. Chains: {} (init {}, scale {:g}). Training: "
        "T = {} iterations, M = {} chains per iteration, K = {} sampler steps per iteration, {} "
        "with lr {:g}. {} seed(s) per sampler ({}).",
        path, data_text, describe_section(resolved["model"]), ch.value("type", ""),
        ch.value("init", std::string("-")), ch.value("scale", 0.0), T,
        tr["batch_size"].get<int64_t>(), tr["mcmc_steps"].get<int64_t>(),
        tr["optimizer"].value("type", std::string("adam")), tr["optimizer"].value("lr", 0.0), seeds,
        seeds == 1 ? fmt::format("seed {}", resolved["seed"].get<uint64_t>())
                   : fmt::format("seeds {}..{}", resolved["seed"].get<uint64_t>(),
                                 resolved["seed"].get<uint64_t>() + uint64_t(seeds) - 1));
    if (!spec.budget.empty()) text += " " + spec.budget;
    if (o.iterations > 0) {
      text += fmt::format(
          " This report was made with --iterations {} (eval.every, "
          "train.log_every and train.checkpoint_every scaled alike).",
          o.iterations);
    }
    rep.paragraph(text);
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : samplers) {
      const auto& rs = by_sampler[s];
      std::vector<double> secs;
      for (const RunData* r : rs)
        if (r->summary.is_object() && r->summary.contains("seconds") &&
            r->summary["seconds"].is_number())
          secs.push_back(r->summary["seconds"].get<double>());
      const Json& cfg = rs.front()->config;
      const bool ok = cfg.is_object();
      rows.push_back({s, ok ? sampler_settings(resolve_sampler(cfg)) : "-",
                      ok ? std::to_string(gradient_budget(cfg)) : "0", status_text(rs),
                      mean_sd(secs, "{:.1f}")});
    }
    rep.table({"sampler", "settings (as run)", "∇f evaluations / iteration", "runs", "s/run"}, rows,
              "Samplers. Every sampler targets exp(f/ε²) (model temperature T = ε²) and evaluates "
              "f and ∇f once per step (HMC: L times per step), so the ∇f column is the "
              "gradient budget per training iteration.");
    rep.paragraph(fmt::format(
        "{} of {} runs were reused from an earlier invocation; this invocation took {:.0f} s "
        "of wall time ({} at a time).",
        reused, runs.size(), wall,
        o.jobs > 0 ? fmt::format("{} runs", o.jobs) : std::string("one run per core")));
  }

  rep.heading("Results");
  for (const auto& m : headline) {
    std::vector<int64_t> its = checkpoints(runs, m.key, T);
    if (its.empty()) continue;
    std::vector<std::string> header = {"sampler"};
    for (int64_t it : its) header.push_back(fmt::format("it {}", it));
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : samplers) {
      std::vector<std::string> row = {s};
      for (int64_t it : its) row.push_back(cell(by_sampler[s], m, it));
      rows.push_back(row);
    }
    rep.table(header, rows,
              fmt::format("{}: up to four evenly spaced iterations and the last, mean ± sd over "
                          "{} seed(s).",
                          m.title, seeds));
  }
  // Final metrics from summary.json.
  {
    std::vector<Metric> finals;
    if (!images) {
      finals = {{"sample_tv", "sample_tv", "{:.4f}"},
                {"sample_mmd", "sample_mmd", "{:.5f}"},
                {"kl", "model kl", "{:.3f}"},
                {"tv", "model tv", "{:.4f}"},
                {"nll", "model nll", "{:.3f}"}};
    } else {
      finals = {{"energy_gap", "energy gap (short run)", "{:.4g}"},
                {"energy_gap_long_run", "energy gap (long run)", "{:.4g}"}};
      for (const auto& k : fd_keys) finals.push_back({k, "FD-" + k.substr(3), "{:.2f}"});
      for (const auto& k : kid_keys) finals.push_back({k, "KID-" + k.substr(4), "{:.4f}"});
    }
    std::vector<std::string> header = {"sampler"};
    for (const auto& m : finals) header.push_back(m.title);
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : samplers) {
      std::vector<std::string> row = {s};
      int64_t diverged = 0;
      for (const RunData* r : by_sampler[s]) diverged += r->diverged;
      for (const auto& m : finals) {
        std::vector<double> v;
        for (const RunData* r : by_sampler[s]) {
          if (!r->diverged && r->summary.is_object() && r->summary.contains(m.key) &&
              r->summary[m.key].is_number()) {
            v.push_back(r->summary[m.key].get<double>());
          }
        }
        std::string c = mean_sd(v, m.format);
        if (diverged)
          c = v.empty() ? fmt::format("diverged ({}/{})", diverged, by_sampler[s].size())
                        : c + fmt::format(" ({}/{} diverged)", diverged, by_sampler[s].size());
        row.push_back(c);
      }
      rows.push_back(row);
    }
    rep.table(
        header, rows,
        fmt::format("Final metrics (summary.json of each run), mean ± sd over {} seed(s).", seeds));
  }
  // Published reference numbers.
  if (!spec.published.is_null()) {
    const Json& p = spec.published;
    const std::string metric = p.value("metric", std::string("published metric"));
    std::vector<std::string> header = {
        "sampler",
        fmt::format("published {} ({} iterations)", metric, p.value("iterations", int64_t{0}))};
    for (const auto& k : fd_keys) header.push_back("this report: FD-" + k.substr(3) + " (final)");
    std::vector<std::string> names = samplers;
    for (auto it = p["values"].begin(); it != p["values"].end(); ++it)
      if (std::find(names.begin(), names.end(), it.key()) == names.end()) names.push_back(it.key());
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : names) {
      std::vector<std::string> row = {s};
      row.push_back(p["values"].contains(s) && p["values"][s].is_number()
                        ? fmt::format("{:g}", p["values"][s].get<double>())
                        : "-");
      for (const auto& k : fd_keys) {
        std::vector<double> v;
        if (by_sampler.count(s))
          for (const RunData* r : by_sampler[s])
            if (!r->diverged && r->summary.is_object() && r->summary.contains(k) &&
                r->summary[k].is_number())
              v.push_back(r->summary[k].get<double>());
        row.push_back(mean_sd(v, "{:.2f}"));
      }
      rows.push_back(row);
    }
    rep.table(header, rows,
              "Published reference (" + p.value("source", std::string("the paper")) +
                  "): " + metric +
                  " as reported in the paper. Not comparable to the FD columns of this report: "
                  "different feature network (unless --features is the same Inception network), "
                  "sample counts and, unless run in full, iteration budget.");
  }

  // Curves.
  std::vector<Metric> curve_metrics = headline;
  curve_metrics.push_back({"energy_gap", "energy gap mean f(data) − mean f(chains)", "", false});
  curve_metrics.push_back({"grad_abs", "mean |∇f| along the chains", "", true});
  std::set<std::string> drawn;
  for (const auto& m : curve_metrics) {
    if (!drawn.insert(m.key).second) continue;
    std::vector<io::Series> series = curves(samplers, by_sampler, m.key);
    bool any = false;
    for (const auto& s : series) any = any || !s.x.empty();
    if (!any) continue;
    io::PlotOptions po;
    po.title = fmt::format("{} (mean over {} seed(s))", m.key, seeds);
    po.xlabel = "iteration";
    po.ylabel = m.key;
    po.width = 720;
    po.height = 420;
    po.log_y = m.log_y && all_positive(series);
    if (m.key == "energy_gap") po.hlines = {0.0};
    const std::string file = "curve_" + m.key + ".png";
    io::write_png(io::line_plot(series, po), out + "/" + file);
    rep.figure(file, fmt::format("{} against training iteration, one line per sampler (mean over "
                                 "seeds){}.",
                                 m.title, po.log_y ? ", log scale" : ""));
  }

  // Sample figures of seed 0.
  rep.heading("Samples (seed 0)");
  {
    std::vector<std::vector<io::Panel>> rows;
    std::vector<std::string> labels;
    for (const auto& s : samplers) {
      const RunData* r = by_sampler[s].front();
      const std::string fig = r->dir + "/figure.png";
      if (!r->diverged && fs::exists(fig)) {
        rows.push_back({{"", io::read_png(fig)}});
      } else {
        rows.push_back(
            {{"", placeholder(r->diverged ? fmt::format("diverged at iteration {}", r->diverged_at)
                                          : std::string("no figure"))}});
      }
      labels.push_back(s);
    }
    io::write_png(io::compose(rows, labels, spec.title + ": seed 0 of each sampler"),
                  out + "/samples_seed0.png");
    rep.figure("samples_seed0.png",
               images ? "Each sampler's seed-0 run: data | chains after K steps | the same chains "
                        "continued (long run)."
                      : "Each sampler's seed-0 run: data density | model density exp(f/T)/Z | "
                        "model log-density | chain samples drawn as in training.");
  }

  // Inpainting with each sampler's seed-0 model.
  Json inpaint_out = Json::object();
  if (spec.inpaint) {
    const int64_t count = inpaint_batch.size(0);
    std::vector<std::vector<io::Panel>> fig_rows;
    std::vector<std::string> labels;
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : samplers) {
      const RunData* r = by_sampler[s].front();
      labels.push_back(s);
      if (r->diverged) {
        rows.push_back({s, "diverged", "-", "-"});
        fig_rows.push_back(
            {{"", placeholder(fmt::format("diverged at iteration {}", r->diverged_at))}});
        continue;
      }
      LoadedRun run = load_run(r->dir);
      InpaintOptions io_;
      io_.mask = spec.inpaint_mask;
      io_.steps = spec.inpaint_steps;
      io_.seed = static_cast<uint64_t>(spec.inpaint_seed);
      io_.out_dir = out + "/inpaint/" + s;
      io_.force = true;
      Json res = inpaint_images(run, inpaint_batch, io_);
      inpaint_out[s] = res;
      rows.push_back({s, fmt::format("{:.4f}", res.value("mse", NAN)),
                      fmt::format("{:.4f}", res.value("mse_start", NAN)),
                      fmt::format("{}", res.value("steps", int64_t{0}))});
      fig_rows.push_back({{"", io::read_png(io_.out_dir + "/figure.png")}});
    }
    rep.heading("Inpainting");
    rep.paragraph(fmt::format(
        "{} images ({}), mask `{}`. The masked pixels start from the run's noise init and each "
        "sampler runs with its own trained seed-0 model, the kept pixels held fixed. Lower mse "
        "on the masked pixels is better; the noise start is the reference.",
        count, inpaint_note, spec.inpaint_mask));
    rep.table({"sampler", "mse (masked pixels)", "mse at the noise start", "steps"}, rows,
              "Inpainting error on the masked pixels against the original images.");
    io::write_png(io::compose(fig_rows, labels, spec.title + ": inpainting (seed-0 models)"),
                  out + "/inpaint.png");
    rep.figure("inpaint.png", "Per sampler: original | masked | inpainted.");
  }

  rep.heading("How to read this");
  if (!images) {
    double floor = NAN;
    for (const auto& r : runs)
      if (r.summary.is_object() && r.summary.contains("sample_tv_floor") &&
          r.summary["sample_tv_floor"].is_number())
        floor = r.summary["sample_tv_floor"].get<double>();
    const int64_t n_final = resolved["eval"]["samples"].get<int64_t>();
    const int64_t n_during = resolved["eval"]["chains"].get<int64_t>();
    const std::string batches =
        n_final == n_during
            ? fmt::format("every evaluation uses {} chains, so the columns are comparable", n_final)
            : fmt::format(
                  "evaluations during training use eval.chains = {} chains and the "
                  "final one eval.samples = {}, so the final column has a lower floor "
                  "and is not directly comparable with the others",
                  n_during, n_final);
    rep.paragraph(fmt::format(
        "**Sample metrics** (sample_tv, sample_mmd) compare chains drawn exactly as in training "
        "with the data: they measure the sampler-plus-model as a generator. sample_tv has a "
        "finite-sample floor{}; {}. "
        "**Model metrics** (kl, tv, nll) measure the normalised density exp(f/T)/Z with T = ε² "
        "on the evaluation grid.",
        std::isfinite(floor)
            ? fmt::format(" (exact samples of the final batch's size give about {:.3f})", floor)
            : std::string(),
        batches));
    rep.paragraph(
        "In the short-run regime (noise-initialised chains, K steps, small noise) the two "
        "disagree by design: a model can give good samples with a poor density and the other "
        "way round. Unadjusted AniLA is biased even for small steps (its chains target "
        "exp(f/ε²)/γ; see anila's docs/samplers.md), so its model learns f ≈ log p_data + log γ; "
        "AniLA-MH and "
        "MALA remove the bias. The energy gap is mean f(data) − mean f(chains) on the training "
        "batch (near 0 when the model cannot tell chains from data); grad_abs is the mean "
        "|∇f| along the chains.");
  } else {
    std::string tags;
    for (const auto& k : fd_keys) tags += (tags.empty() ? "" : ", ") + ("FD-" + k.substr(3));
    std::string sizes, extractor;
    for (const auto& r : runs) {
      if (!r.summary.is_object()) continue;
      if (r.summary.contains("n_generated") && r.summary.contains("n_reference")) {
        sizes = fmt::format(" ({} chains against {} data images; features: {})",
                            r.summary["n_generated"].dump(), r.summary["n_reference"].dump(),
                            r.summary.value("features", std::string("?")));
      }
    }
    if (!tags.empty()) tags += sizes;
    rep.paragraph(
        "**FD-TAG** (summary key `fd_TAG`) is the Fréchet distance between Gaussian fits of "
        "feature vectors of "
        "samples and of data, in the feature network named by eval.features (`fmnist`: the "
        "built-in Fashion-MNIST classifier; a file: that TorchScript network). It is **not** "
        "the Inception FID of the paper unless the features are the same Inception network, "
        "and even then the sample count and iteration budget must match. KID is the kernel "
        "distance in the same features, with its standard error in summary.json." +
        (tags.empty() ? std::string(" No features were configured for this report "
                                    "(--features FILE), so the energy gap is the headline.")
                      : " Computed here: " + tags + "."));
    rep.paragraph(
        "The energy gap is mean f(data) − mean f(samples): near 0 when the model cannot tell "
        "its chains from data. The long-run gap uses the same chains continued to "
        "eval.long_run_steps: a short-run model whose long-run samples drift away (gap grows, "
        "images saturate) is a generator, not a density. grad_abs is the mean |∇f| along the "
        "chains; AniLA's γ = b / max(b, |∇f|) is set from it.");
  }
  rep.heading("Files");
  rep.paragraph(
      fmt::format("Run folders: `{}/<sampler>/seed<i>/` (config.json, metrics.csv, summary.json, "
                  "figure.png, checkpoints/). The comparison table of `anila compare`: compare.md, "
                  "compare.csv, compare.png. The experiment as run: experiment.json.",
                  out));
  rep.write(out);

  Json result = {{"report", out + "/report.md"},
                 {"html", out + "/report.html"},
                 {"out_dir", out},
                 {"compare", compared}};
  if (!inpaint_out.empty()) result["inpaint"] = inpaint_out;
  return result;
}

}  // namespace anila
