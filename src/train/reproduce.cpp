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
#include "train/reproduce_report.h"
#include "train/reproduce_sweep.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

const std::vector<std::string> kExperiments = {"rings",   "gmm",     "fashion-mnist",
                                               "flowers", "cifar10", "celeba-inpainting"};

// ---- small helpers -----------------------------------------------------------

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

// The "reproduce" section of an experiment file.
ReproduceSpec parse_spec(const Json& section, const std::string& name) {
  ReproduceSpec spec;
  ConfigReader r(section, "reproduce");
  spec.title = r.string("title", name);
  spec.about = r.string("about", "");
  spec.budget = r.string("budget", "");
  spec.published = r.object("published");
  spec.mcmc_steps = r.int_list("mcmc_steps", {});
  const Json inpaint = r.object("inpaint");
  r.finish();
  if (!inpaint.is_null()) {
    ConfigReader ir(inpaint, "reproduce.inpaint");
    spec.inpaint = true;
    spec.inpaint_n = ir.integer("n", spec.inpaint_n, Range::at_least(1));
    spec.inpaint_mask = ir.choice("mask", spec.inpaint_mask, inpaint_mask_types());
    spec.inpaint_steps = ir.integer("steps", spec.inpaint_steps, Range::at_least(-1));
    spec.inpaint_seed = ir.integer("seed", spec.inpaint_seed, Range::non_negative());
    spec.inpaint_data = ir.object("data");
    ir.finish();
  }
  const Json& p = spec.published;
  if (!p.is_null() && (!p.is_object() || !p.contains("values") || !p["values"].is_object())) {
    throw UserError(
        "reproduce.published: expected {\"source\", \"metric\", \"iterations\", "
        "\"values\": {sampler: number}} (and optionally \"key\": the summary key it matches)");
  }
  if (!p.is_null()) {
    ConfigReader pr(p, "reproduce.published");
    pr.string("source", "");
    pr.string("metric", "");
    pr.integer("iterations", 0, Range::non_negative());
    pr.string("key", "");
    pr.allow({"values"});
    pr.finish();
  }
  return spec;
}

// The experiment file with the options applied; `spec` receives its reproduce section.
Json load_experiment(const std::string& name, const ReproduceOptions& o, std::string* path,
                     ReproduceSpec* spec) {
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
  *spec = parse_spec(section, name);
  return config;
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

namespace {

// The inpainting batch, loaded before any training so that a bad section fails early.
void load_inpaint_batch(Experiment& ex) {
  Json section = ex.spec.inpaint_data;
  ex.inpaint_note = "given by reproduce.inpaint.data";
  if (section.is_null()) {
    section = ex.resolved["data"];
    ex.inpaint_note =
        "the first ones of the training data; set reproduce.inpaint.data to a held-out folder "
        "for a test batch";
  }
  if (!section.contains("limit")) section["limit"] = ex.spec.inpaint_n;
  data::ImageDataset batch = data::load_image_dataset(section, "reproduce.inpaint.data");
  ex.inpaint_batch =
      batch.images.slice(0, 0, std::min<int64_t>(ex.spec.inpaint_n, batch.images.size(0)));
}

Experiment prepare_experiment(const std::string& name, const ReproduceOptions& o) {
  if (o.config_path.empty()) find_reproduce_config(name);  // unknown name: the list, first
  if (o.seeds < 0) throw UserError("--seeds: must be >= 1, got " + std::to_string(o.seeds));
  Experiment ex;
  ex.name = name;
  ex.config = load_experiment(name, o, &ex.path, &ex.spec);
  ex.resolved = resolve_config(ex.config);  // every config error before any run
  ex.out = o.out_dir.empty() ? "runs/reproduce-" + name : o.out_dir;
  const Json compare = ex.resolved.value("compare", Json::object());
  ex.samplers = split_list(compare.value("samplers", std::string(kDefaultComparedSamplers)));
  ex.seeds = o.seeds > 0 ? o.seeds : compare.value("seeds", int64_t{1});
  ex.K = ex.resolved["train"]["mcmc_steps"].get<int64_t>();
  ex.sweep = ex.spec.mcmc_steps;
  ex.sweep.push_back(ex.K);
  std::sort(ex.sweep.begin(), ex.sweep.end());
  ex.sweep.erase(std::unique(ex.sweep.begin(), ex.sweep.end()), ex.sweep.end());
  for (int64_t K : ex.sweep) resolve_config(sweep_config(ex, K));  // every K valid before any run
  if (ex.spec.inpaint) load_inpaint_batch(ex);
  return ex;
}

// An output folder made with another configuration would mix runs: refused
// (without force). Then OUT/experiment.json records this one.
void claim_out_folder(const Experiment& ex, const ReproduceOptions& o) {
  const std::string record = ex.out + "/experiment.json";
  if (!o.force && fs::exists(record)) {
    Json before = try_parse_json(io::read_text(record));
    if (before.is_object() && before.contains("config") && before["config"] != ex.config) {
      Json diff = Json::diff(before["config"], ex.config);
      const std::string where = diff.empty() ? "" : diff[0].value("path", "");
      throw UserError(ex.out + " holds runs of a different configuration of " + ex.name +
                      " (first difference at " + where +
                      "); use --force to redo them or --out for a new folder");
    }
  }
  io::make_dirs(ex.out);
  io::check_writable(ex.out);
  const Json text = {
      {"name", ex.name},   {"file", ex.path},         {"command", reproduce_command(ex.name, o)},
      {"seeds", ex.seeds}, {"samplers", ex.samplers}, {"config", ex.config}};
  io::write_atomic(record, text.dump(2) + "\n");
}

// Runs finished before this call, at every K (compare_samplers reuses them).
int64_t finished_runs(const Experiment& ex, const ReproduceOptions& o) {
  if (o.force) return 0;
  int64_t reused = 0;
  for (int64_t K : ex.sweep)
    for (const auto& s : ex.samplers)
      for (int64_t i = 0; i < ex.seeds; ++i)
        reused += run_completed(fmt::format("{}/{}/seed{}", sweep_folder(ex, K), s, i));
  return reused;
}

}  // namespace

Json reproduce(const std::string& name, const ReproduceOptions& o) {
  const Experiment ex = prepare_experiment(name, o);
  claim_out_folder(ex, o);
  Invocation inv;
  inv.reused = finished_runs(ex, o);
  if (ex.resolved.value("threads", int64_t{0}) > 0) set_threads(ex.resolved["threads"].get<int>());
  CompareOptions co;
  co.samplers = ex.samplers;
  co.seeds = ex.seeds;
  co.out_dir = ex.out;
  co.force = o.force;
  co.jobs = o.jobs;
  co.quiet = o.quiet;
  const auto t0 = std::chrono::steady_clock::now();
  Json compared = compare_samplers(ex.config, co);
  run_sweep(ex, co);
  inv.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const Json inpainted = write_reproduce_report(ex, o, inv);
  Json result = {{"report", ex.out + "/report.md"},
                 {"html", ex.out + "/report.html"},
                 {"out_dir", ex.out},
                 {"compare", compared}};
  if (!inpainted.empty()) result["inpaint"] = inpainted;
  return result;
}

}  // namespace anila
