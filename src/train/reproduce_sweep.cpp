// reproduce_sweep.cpp — reproduce at several K and the section comparing them
// (see train/reproduce_sweep.h).
//
// Notation: K sampler steps per training iteration; sd the sample standard
// deviation over seeds (n − 1); se the standard error of a difference of means.
#include "train/reproduce_sweep.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "anila/config.h"
#include "anila/io/files.h"
#include "anila/samplers/sampler.h"

namespace anila {

namespace {

bool completed(const Json& summary) {
  return summary.is_object() && summary.value("status", "") == "completed";
}

// Every run's summary.json at every K, read once: [sampler][K][seed] (null when missing).
using SweepRuns = std::map<std::string, std::map<int64_t, std::vector<Json>>>;

SweepRuns read_sweep(const Experiment& ex) {
  SweepRuns runs;
  for (const auto& s : ex.samplers)
    for (int64_t K : ex.sweep)
      for (int64_t i = 0; i < ex.seeds; ++i)
        runs[s][K].push_back(
            read_json_or_null(fmt::format("{}/{}/seed{}/summary.json", sweep_folder(ex, K), s, i)));
  return runs;
}

// The final values of `key` of the completed runs of `sampler` at K.
std::vector<double> finals(const SweepRuns& runs, const std::string& sampler, int64_t K,
                           const std::string& key) {
  std::vector<double> out;
  for (const Json& s : runs.at(sampler).at(K)) {
    if (completed(s) && s.contains(key) && s[key].is_number()) {
      const double v = s[key].get<double>();
      if (std::isfinite(v)) out.push_back(v);
    }
  }
  return out;
}

// How many runs of `sampler` at K diverged.
int64_t diverged_runs(const SweepRuns& runs, const std::string& sampler, int64_t K) {
  int64_t n = 0;
  for (const Json& s : runs.at(sampler).at(K))
    n += s.is_object() && s.value("status", "") == "diverged";
  return n;
}

// The sampler type a name of the experiment runs (a type or a named variant).
std::string type_of(const Experiment& ex, const std::string& name) {
  return resolve_sampler(ex.resolved, name).type;
}

// The pairs the verdict compares: every AniLA-type sampler against langevin, every
// AniLA-MH-type sampler against mala, and every MALA-type sampler against langevin
// (does the MH correction help?), when both are in the experiment.
std::vector<std::pair<std::string, std::string>> contrast_pairs(const Experiment& ex) {
  auto has = [&](const std::string& s) {
    return std::find(ex.samplers.begin(), ex.samplers.end(), s) != ex.samplers.end();
  };
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& s : ex.samplers) {
    const std::string t = type_of(ex, s);
    if (t == "anila" && has("langevin")) pairs.push_back({s, "langevin"});
    if (t == "anila-mh" && has("mala")) pairs.push_back({s, "mala"});
    if (t == "mala" && has("langevin")) pairs.push_back({s, "langevin"});
  }
  return pairs;
}

void write_sweep_csv(const Experiment& ex, const SweepRuns& runs,
                     const std::vector<Metric>& metrics) {
  std::string csv = "sampler,K,seed,status";
  for (const auto& m : metrics) csv += "," + m.key;
  csv += "\n";
  for (const auto& s : ex.samplers) {
    for (int64_t K : ex.sweep) {
      for (int64_t i = 0; i < ex.seeds; ++i) {
        const Json& sm = runs.at(s).at(K)[static_cast<size_t>(i)];
        csv += fmt::format("{},{},{},{}", s, K, i,
                           sm.is_object() ? sm.value("status", "unknown") : "missing");
        for (const auto& m : metrics) {
          const bool ok = completed(sm) && sm.contains(m.key) && sm[m.key].is_number();
          csv += ok ? fmt::format(",{:.6g}", sm[m.key].get<double>()) : std::string(",");
        }
        csv += "\n";
      }
    }
  }
  io::write_atomic(ex.out + "/sweep.csv", csv);
}

void metric_table(const Experiment& ex, const SweepRuns& runs, const Metric& m, io::Report& rep) {
  std::vector<std::string> header = {"sampler"};
  for (int64_t K : ex.sweep) header.push_back(fmt::format("K = {}", K));
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : ex.samplers) {
    std::vector<std::string> row = {s};
    for (int64_t K : ex.sweep) {
      const std::vector<double> v = finals(runs, s, K, m.key);
      std::string cell = io::mean_sd(v, m.format);
      if (static_cast<int64_t>(v.size()) < ex.seeds)
        cell += fmt::format(" ({}/{} runs)", v.size(), ex.seeds);
      row.push_back(cell);
    }
    rows.push_back(row);
  }
  rep.table(header, rows,
            fmt::format("{}: final value at each K, mean ± sd over {} seed(s); every sampler at K "
                        "runs K steps per training iteration.",
                        m.title, ex.seeds));
}

std::string join_numbers(const std::vector<int64_t>& v) {
  std::vector<std::string> parts;
  for (int64_t x : v) parts.push_back(std::to_string(x));
  return join(parts, ", ");
}

}  // namespace

std::string sweep_folder(const Experiment& ex, int64_t K) {
  return K == ex.K ? ex.out : fmt::format("{}/K{}", ex.out, K);
}

Json sweep_config(const Experiment& ex, int64_t K) {
  Json config = ex.config;
  if (!config.contains("train") || !config["train"].is_object()) config["train"] = Json::object();
  config["train"]["mcmc_steps"] = K;
  return config;
}

void run_sweep(const Experiment& ex, const CompareOptions& options) {
  for (int64_t K : ex.sweep) {
    if (K == ex.K) continue;
    CompareOptions o = options;
    o.out_dir = sweep_folder(ex, K);
    if (!o.quiet) std::cerr << fmt::format("reproduce: K = {} -> {}\n", K, o.out_dir);
    compare_samplers(sweep_config(ex, K), o);
  }
}

// The standard error of the difference of the means; NaN with fewer than two
// finished runs on either side.
double contrast_se(const SweepContrast& c) {
  const double sa = io::sample_sd(c.values), sb = io::sample_sd(c.baseline_values);
  return std::sqrt(sa * sa / static_cast<double>(c.values.size()) +
                   sb * sb / static_cast<double>(c.baseline_values.size()));
}

int contrast_outcome(const SweepContrast& c) {
  const double diff = io::mean(c.values) - io::mean(c.baseline_values), se = contrast_se(c);
  if (!std::isfinite(diff) || !std::isfinite(se) || !(std::abs(diff) > 2 * se)) return 0;
  return diff < 0 ? -1 : 1;
}

std::string contrast_sentence(const SweepContrast& c, const std::string& format) {
  const double ms = io::mean(c.values), mb = io::mean(c.baseline_values);
  const auto num = [&](double v) { return fmt::format(fmt::runtime(format), v); };
  std::string text = fmt::format("At K = {}, {}'s {} is {} against {}'s {}", c.K, c.sampler,
                                 c.metric, io::mean_sd(c.values, format), c.baseline,
                                 io::mean_sd(c.baseline_values, format));
  if (c.values.empty() || c.baseline_values.empty()) {
    const bool mine = c.values.empty();
    const int64_t diverged = mine ? c.diverged : c.baseline_diverged;
    if (diverged > 0) {
      return text + fmt::format(": no comparison, every finished run of {} diverged ({}).",
                                mine ? c.sampler : c.baseline, diverged);
    }
    return text + ": not enough finished runs.";
  }
  const double diff = ms - mb;
  const std::string way = diff < 0 ? "lower (better)" : "higher (worse)";
  text += fmt::format(": {} by {} ({:.0f} %)", way, num(std::abs(diff)),
                      100 * std::abs(diff) / std::abs(mb));
  const double se = contrast_se(c);
  if (!std::isfinite(se)) return text + "; one seed, so no spread to judge it against.";
  const double sa = io::sample_sd(c.values), sb = io::sample_sd(c.baseline_values);
  const double pooled = std::sqrt(0.5 * (sa * sa + sb * sb));
  text += fmt::format(", {:.1f} seed sd", pooled > 0 ? std::abs(diff) / pooled : INFINITY);
  if (contrast_outcome(c) != 0)
    return text + fmt::format(" — beyond twice its standard error ({}).", num(se));
  return text +
         fmt::format(" — within twice its standard error ({}): no clear difference.", num(se));
}

std::string contrast_summary(const std::vector<SweepContrast>& by_k) {
  std::vector<int64_t> lower, tie, higher;
  for (const auto& c : by_k) {
    const int o = contrast_outcome(c);
    (o < 0 ? lower : o > 0 ? higher : tie).push_back(c.K);
  }
  const SweepContrast& c = by_k.front();
  std::vector<std::string> parts;
  if (!lower.empty()) parts.push_back("clearly lower (better) at K = " + join_numbers(lower));
  if (!higher.empty()) parts.push_back("clearly higher (worse) at K = " + join_numbers(higher));
  if (!tie.empty()) parts.push_back("no clear difference at K = " + join_numbers(tie));
  return fmt::format("**{} against {}**: {} {}.", c.sampler, c.baseline, c.metric,
                     join(parts, "; "));
}

namespace {

// The verdict in words: every pair of contrast_pairs at every K, on the first
// sample metric; with one K only the sentences (a summary would repeat them).
void verdict(const Experiment& ex, const SweepRuns& runs, const Metric& m, io::Report& rep) {
  const auto pairs = contrast_pairs(ex);
  if (pairs.empty()) return;
  std::vector<std::string> summaries, lines;
  for (const auto& [s, b] : pairs) {
    std::vector<SweepContrast> by_k;
    for (int64_t K : ex.sweep) {
      by_k.push_back({s, b, m.key, K, finals(runs, s, K, m.key), finals(runs, b, K, m.key),
                      diverged_runs(runs, s, K), diverged_runs(runs, b, K)});
      lines.push_back(contrast_sentence(by_k.back(), m.format));
    }
    if (ex.sweep.size() > 1) summaries.push_back(contrast_summary(by_k));
  }
  rep.heading("Verdict", ex.sweep.size() > 1 ? 3 : 2);
  rep.paragraph(fmt::format(
      "Lower {} is better. \"Beyond twice its standard error\" means the difference of the means "
      "exceeds 2·√(sd₁²/n₁ + sd₂²/n₂) over the seeds; anything less is within the noise of "
      "this many seeds.",
      m.key));
  for (const auto& line : summaries) rep.paragraph(line);
  for (const auto& line : lines) rep.paragraph(line);
}

}  // namespace

void sweep_section(const Experiment& ex, const RunKind& kind, const FeatureKeys& features,
                   io::Report& rep) {
  const std::vector<Metric> metrics = kind.sample_metrics(features);
  const bool sweep = ex.sweep.size() > 1;
  if (sweep) {
    rep.heading("Sampler steps K");
    if (metrics.empty()) {
      rep.paragraph("No sample-quality metric to compare across K: set eval.features.");
      return;
    }
    rep.paragraph(fmt::format(
        "The same comparison at K = {} sampler steps per training iteration (the runs at K = {} "
        "are the ones above; the others are in `{}/K<k>/`), to answer whether a sampler gives "
        "better samples with fewer steps. Everything else is unchanged.",
        join_numbers(ex.sweep), ex.K, ex.out));
  }
  if (metrics.empty()) return;
  const SweepRuns runs = read_sweep(ex);
  if (sweep) {
    for (const auto& m : metrics) metric_table(ex, runs, m, rep);
    write_sweep_csv(ex, runs, metrics);
  }
  verdict(ex, runs, metrics.front(), rep);
}

}  // namespace anila
