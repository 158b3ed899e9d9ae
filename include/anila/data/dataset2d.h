// dataset2d.h — 2D point datasets with (where possible) exact log-densities.
//
// Notation: x is [n, 2] (float32 for samples); log-densities are returned as
// float64 [n]. Toy densities are infinite-data generators; a CSV dataset
// resamples its training points with replacement (a run holds a fraction of the
// file's points out of training, eval.holdout: held_out()).
//
// Types (public config names, defined in docs/datasets.md):
//   rings, gmm, 8gaussians, 25gaussians, checkerboard   exact closed form
//   moons, swissroll, 2spirals                          exact up to quadrature
//                                                       over the curve parameter
//   pinwheel, csv                                       Gaussian KDE reference
//                                                       from many samples
//
//   auto ds = anila::data::make_dataset2d({{"type", "rings"}});
//   torch::Tensor x = ds->sample(100, gen);            // [100, 2]
//   torch::Tensor lp = ds->log_density(x);             // [100] float64
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/common.h"

namespace anila::data {

// Axis-aligned evaluation box.
struct Box {
  double xmin = -1, xmax = 1, ymin = -1, ymax = 1;
};

class Dataset2D {
 public:
  virtual ~Dataset2D() = default;
  virtual std::string name() const = 0;
  // Fresh draws: [n, 2] float32 on CPU.
  virtual at::Tensor sample(int64_t n, at::Generator& gen) const = 0;
  // x: [n, 2] (any float dtype, CPU) -> log p_data(x): [n] float64.
  virtual at::Tensor log_density(const at::Tensor& x) const = 0;
  // True for closed-form or quadrature densities; false for a KDE reference.
  virtual bool log_density_exact() const = 0;
  // A box holding essentially all the mass (used for the evaluation grid).
  virtual Box box() const = 0;
  // Resolved options, including "type".
  virtual Json to_json() const = 0;
  // Points held out of training for evaluation: [n, 2] float32, never returned by
  // sample() (csv with Dataset2DOptions::holdout > 0). Undefined for generators,
  // whose fresh draws are held out by construction.
  virtual at::Tensor held_out() const { return at::Tensor(); }
};

// How a run builds its data beyond the data section (the run's eval.holdout and seed).
struct Dataset2DOptions {
  // csv: this fraction of the file's points, ⌈holdout·N⌉ of them, is held out of
  // training (held_out()); 0 keeps all of them for training. Other types ignore it.
  double holdout = 0;
  uint64_t seed = 0;  // the split's seed: the same seed gives the same split
};

// Builds a dataset from its config section; UserError on an unknown type or key,
// a missing or garbled CSV file (naming the line), or a holdout that leaves fewer
// than 2 training points.
std::unique_ptr<Dataset2D> make_dataset2d(const Json& section, const std::string& path = "data",
                                          const Dataset2DOptions& options = {});

// The valid values of data.type for 2D data.
std::vector<std::string> dataset2d_types();
// Whether a 2D data type has an exact log-density (Dataset2D::log_density_exact):
// false for pinwheel and csv, whose reference is a KDE.
bool dataset2d_density_exact(const std::string& type);

}  // namespace anila::data
