// reproduce_sweep.h — `anila reproduce` at several K (reproduce.mcmc_steps): the
// comparisons at the other step counts and the report section that sets every K
// side by side, with its verdict in words (internal to the library).
//
//   run_sweep(ex, compare_options);          // out/K<k>/<sampler>/seed<i> for k != ex.K
//   sweep_section(ex, *kind, features, rep); // tables sampler × K, sweep.csv; the verdict
#pragma once

#include <string>
#include <vector>

#include "anila/io/report.h"
#include "anila/train/experiment.h"
#include "train/reproduce_report.h"

namespace anila {

// The folder holding the runs at K: ex.out for the experiment's own K, else ex.out/K<k>.
std::string sweep_folder(const Experiment& ex, int64_t K);
// The experiment's config with train.mcmc_steps = K.
Json sweep_config(const Experiment& ex, int64_t K);
// Runs the comparison at every K of ex.sweep other than ex.K (finished runs are reused).
void run_sweep(const Experiment& ex, const CompareOptions& options);
// The "Sampler steps K" section when ex.sweep holds several K: per sample metric a
// table sampler × K of mean ± sd over seeds and ex.out/sweep.csv; then (at any number
// of K) the verdict in words on the first sample metric.
void sweep_section(const Experiment& ex, const RunKind& kind, const FeatureKeys& features,
                   io::Report& rep);

// One comparison of the verdict: mean ± sd of a metric (lower is better) over seeds
// for a sampler and its baseline at one K.
struct SweepContrast {
  std::string sampler, baseline, metric;
  int64_t K = 0;
  std::vector<double> values, baseline_values;
  int64_t diverged = 0, baseline_diverged = 0;  // runs that diverged (no value)
};
// One sentence: which is lower, by how much (absolute, relative, in seed sd) and
// whether the difference exceeds twice its standard error.
std::string contrast_sentence(const SweepContrast& c, const std::string& format);
// −1: the sampler's mean is lower than the baseline's by more than twice the
// standard error of the difference; +1: higher by as much; 0: otherwise.
int contrast_outcome(const SweepContrast& c);
// One line for a pair over every K: at which K it is clearly lower, higher, or neither.
std::string contrast_summary(const std::vector<SweepContrast>& by_k);

}  // namespace anila
