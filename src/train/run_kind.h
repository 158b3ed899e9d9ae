// run_kind.h — what differs between 2D point runs and image runs in the
// reports of `anila compare` and `anila reproduce`, behind one interface: the
// metric columns, the headline metrics, the figures and the explanatory text.
// (Internal to the library.)
//
//   auto kind = anila::run_kind(resolved);          // from a resolved config
//   io::ResultsTable t(kind->final_columns(summaries));
//   md += kind->compare_note(resolved);
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "anila/common.h"
#include "anila/io/image.h"
#include "anila/io/results.h"

namespace anila {

// A metric tracked against the training iteration (reproduce's tables and curves).
struct Metric {
  std::string key, title, format;
  bool log_y = false;
};

// The fd_<tag> / kid_<tag> metric keys (not their _se) among `keys`.
struct FeatureKeys {
  std::set<std::string> fd, kid;
  void note(const std::string& key);
  void note_summary(const Json& summary);  // every numeric key of a summary.json
};

// One run of a report: its folder, its summary.json (null when missing) and
// whether it diverged (at which iteration).
struct ReportRun {
  std::string sampler, dir;
  int64_t seed_index = 0;
  Json summary, config;
  bool diverged = false;
  int64_t diverged_at = 0;
};

class RunKind {
 public:
  virtual ~RunKind() = default;
  virtual bool images() const = 0;
  // Final metrics of summary.json, as the columns of compare's and reproduce's tables.
  virtual std::vector<io::Column> final_columns(const FeatureKeys& features) const = 0;
  // The metrics reproduce tracks over the iterations (tables and curves).
  virtual std::vector<Metric> headline(const FeatureKeys& features) const = 0;
  // The sample-quality metrics reproduce compares across K (reproduce.mcmc_steps),
  // lower is better; the first one is the verdict's.
  virtual std::vector<Metric> sample_metrics(const FeatureKeys& features) const = 0;
  // The paragraph below compare's table.
  virtual std::string compare_note(const Json& resolved) const = 0;
  // compare.png: rows of panels and their labels from the seed-0 runs (diverged ones skipped).
  virtual void compare_figure(const Json& resolved, const std::vector<ReportRun>& seed0,
                              std::vector<std::vector<io::Panel>>* rows,
                              std::vector<std::string>* labels) const = 0;
  // The caption of reproduce's seed-0 sample figure.
  virtual std::string samples_caption() const = 0;
  // reproduce's "How to read this" paragraphs.
  virtual std::vector<std::string> reading_notes(const Json& resolved,
                                                 const std::vector<ReportRun>& runs,
                                                 const FeatureKeys& features) const = 0;
};

// The kind of a resolved config's runs (its data.type).
std::unique_ptr<RunKind> run_kind(const Json& resolved);

}  // namespace anila
