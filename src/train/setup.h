// setup.h (private) — a resolved config turned into the objects of a run.
//
// Shared by run_experiment, compare_samplers and bench_config so that all
// three build models, samplers, chain sources and trainers the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "anila/common.h"
#include "anila/data/dataset2d.h"
#include "anila/data/images.h"
#include "anila/train/trainer.h"

namespace anila {

namespace dist {
class Communicator;
}

struct EvalConfig {
  int64_t every = 500;       // iterations between evaluations (0: only at the end)
  int64_t samples = 10000;   // final evaluation batch (samples.npy)
  int64_t chains = 1000;     // evaluation batch during training
  int64_t resolution = 256;  // grid cells per axis
  int64_t hist_bins = 64;    // histogram bins per axis (sample_tv)
  int64_t n_data = 10000;    // fresh data for KL / NLL
  int64_t n_mmd = 2000;      // points per side for MMD
  std::vector<double> box;   // optional [xmin, xmax, ymin, ymax]
  // Image runs: the evaluation chains are continued to this many steps for the
  // long-run grid (is the model a good long-run density?); -1 = 10·K, 0 = off.
  int64_t long_run_steps = -1;
  // Image runs: FD/KID in this feature space every `every` iterations and at the
  // end ("" = off; "fmnist" = the built-in classifier; or a TorchScript file),
  // on fd_samples chains drawn as in training, against up to fd_reference images.
  std::string features;
  int64_t fd_samples = 1000;
  int64_t fd_reference = 10000;
  Json to_json() const;
};

// Everything a run needs, read from a config (validated; UserError otherwise).
struct RunSetup {
  Json config;  // resolved: every default filled in
  uint64_t seed = 0;
  int64_t threads = 1;
  bool tf32 = false;  // CUDA: allow TensorFloat-32 in matmuls/convolutions
  c10::Device device{c10::kCPU};
  std::unique_ptr<data::Dataset2D> data;       // 2D data (null for images)
  std::shared_ptr<data::ImageDataset> images;  // image data (null for 2D)
  std::vector<int64_t> sample_shape{2};        // one sample: {2} or {C, H, W}
  double data_noise = 0;
  EvalConfig eval;
  TrainOptions train;
};

// `images`, when given, replaces loading the config's image data (benchmarks
// of configs whose data is not on this machine).
RunSetup build_setup(const Json& config, std::shared_ptr<data::ImageDataset> images = nullptr);

// Model (seeded init), sampler, chain source and trainer for a resolved config.
// With `comm` (data-parallel training): this rank's trainer, its chain source
// holding bank_size / N chains, its generators derived from the seed and the rank
// (dist::rank_seed), the data generator seeded as a single-process run's.
std::unique_ptr<Trainer> make_trainer(const RunSetup& setup, const Json& resolved,
                                      const std::shared_ptr<dist::Communicator>& comm = nullptr);

}  // namespace anila
