// reproduce.h — `anila reproduce NAME`: one command per published experiment,
// ending in a report (docs/reproducing.md).
//
// An experiment is a file configs/reproduce/<name>.json: an ordinary training
// config (whose compare section names the samplers and the default number of
// seeds, and whose samplers section holds each one's settings) plus a "reproduce" section that
// only this command reads:
//
//   "reproduce": {
//     "title":       "Rings: AniLA against five other samplers",
//     "about":       "what is reproduced, from which paper",            (text)
//     "budget":      "why the iteration count differs from the paper",   (text)
//     "mcmc_steps":  [25, 50, 100],                  (optional: also compare at these K)
//     "published":   {"source": "...", "metric": "Inception FID", "iterations": 100000,
//                     "values": {"langevin": 65.2, "anila": 48.1, "hmc": 49.9}},
//                    (with "key": "sample_tv" when measured with that summary metric)
//     "inpaint":     {"n": 16, "mask": "center", "steps": -1, "data": {...}}   (optional)
//   }
//
// reproduce() runs compare_samplers (samplers × seeds into OUT/<sampler>/seed<i>/,
// finished runs reused, interrupted ones resumed from their checkpoint, so a
// re-run with the same OUT continues where it stopped), the same at every other K
// of mcmc_steps into OUT/K<k>/<sampler>/seed<i>/ (the report's "Sampler steps K"
// section, a verdict in words, OUT/sweep.csv), then, with "inpaint",
// inpaints a batch of images with each sampler's seed-0 model into
// OUT/inpaint/<sampler>/, and writes the report:
//
//   OUT/report.md, OUT/report.html   (io::Report; the .html is self-contained)
//   OUT/curve_<metric>.png           one line per sampler (mean over seeds) vs iteration
//   OUT/samples_seed0.png            each sampler's seed-0 figure.png, one row each
//   OUT/inpaint.png                  (inpainting) each sampler's inpainting figure
//   OUT/experiment.json              the experiment as run (after every override)
//   OUT/compare.{md,csv,png}         compare_samplers' own outputs
//
// Headline metric: 2D — sample_tv (chains) and kl (model), one table each;
// images — fd_<tag> when the runs computed it (eval.features), else the energy
// gap. Tables give mean ± sd over seeds at up to 4 evenly spaced evaluation
// iterations plus the final one; a seed that diverged before an iteration is
// counted in its cell ("1/2 diverged"), never dropped silently.
//
// Where the experiment file is found (first hit): options.config_path; then
// configs/reproduce/<name>.json under the current folder, under the
// executable's folder and its parent (a build folder inside the source tree),
// under <exe>/../share/anila, and under ANILA_SOURCE_DIR when the library was
// compiled with that definition.
//
//   anila::ReproduceOptions o;  o.iterations = 200;
//   anila::Json r = anila::reproduce("rings", o);   // r["report"]: OUT/report.md
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "anila/common.h"

namespace anila {

struct ReproduceOptions {
  int64_t seeds = 0;        // seeds per sampler (0: the experiment's compare.seeds)
  std::string out_dir;      // "" : runs/reproduce-<name>
  bool force = false;       // redo finished runs (and accept a changed experiment in out_dir)
  bool quiet = false;       // no progress output
  int64_t iterations = 0;   // train.iterations (0: the experiment's); eval.every,
                            // train.log_every and train.checkpoint_every are scaled alike
  int64_t jobs = 0;         // concurrent runs (0: one per core)
  std::string features;     // eval.features: "fmnist" or a TorchScript file ("": experiment's)
  std::string data_path;    // data.path ("": the experiment's)
  std::string config_path;  // the experiment file ("": search, see above)
  std::vector<std::string> sets;  // "section.key=value" overrides, applied last
                                  // (reproduce.* keys included)
};

// The public experiment names: rings, gmm, fashion-mnist, flowers, cifar10,
// celeba-inpainting.
std::vector<std::string> reproduce_experiments();

// The experiment file for `name` (search order above). UserError listing the
// names for an unknown name, or listing the folders searched when none holds it.
std::string find_reproduce_config(const std::string& name);

// Runs the experiment and writes the report. Returns
//   {"report": OUT/report.md, "html": OUT/report.html, "out_dir": OUT,
//    "compare": compare_samplers' result, "inpaint": {sampler: summary} (when inpainting)}.
// UserError: unknown name (the list of names), a bad experiment file or
// override, or an OUT made with a different experiment config (without force).
Json reproduce(const std::string& name, const ReproduceOptions& options);

// The "anila reproduce ..." command line that reproduces a report made with
// `options` (flags that do not change results, --force --quiet --jobs, left out).
std::string reproduce_command(const std::string& name, const ReproduceOptions& options);

}  // namespace anila
