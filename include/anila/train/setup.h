// setup.h — a config turned into the objects of a run: the library's way to
// get a Trainer (and its data, model, sampler and chains) from a config.
//
// parse_run_config validates a config (every user mistake is a UserError naming
// the key) and resolves it without loading data: RunConfig::config is the
// resolved JSON that config.json records, the other members the typed pieces.
// build_setup adds the loaded data. make_trainer builds the model
// (seeded), the sampler, the chain source and the trainer from it. Every
// command (train, compare, bench, eval, sample, inpaint, reproduce) builds its
// runs this way.
//
//   anila::RunSetup setup = anila::build_setup(anila::load_json_file("configs/demo.json"));
//   auto trainer = anila::make_trainer(setup);
//   for (int i = 0; i < 100; ++i) trainer->step(/*collect_sampler_stats=*/false);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "anila/chains/chain_source.h"
#include "anila/common.h"
#include "anila/data/dataset2d.h"
#include "anila/data/images.h"
#include "anila/samplers/sampler.h"
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
  // CSV data: the fraction of the file's points held out of training; nll is
  // computed on them (data::Dataset2DOptions). Other data draw fresh points.
  double holdout = 0.1;
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

// A config read and validated once, typed. Nothing is trained and no image
// file is opened: an image run's sample shape comes from its data section
// (data::image_shape_hint). A 2D point set is built here (a CSV file is read)
// and the run reuses it. Every user mistake is a UserError naming the key, so
// commands call this before they create any folder.
struct RunConfig {
  Json config;  // resolved: every default filled in (what config.json records)
  uint64_t seed = 0;
  int64_t threads = 1;
  bool tf32 = false;  // CUDA: allow TensorFloat-32 in matmuls/convolutions
  c10::Device device{c10::kCPU};
  bool image_data = false;                // data.type is an image format
  std::shared_ptr<data::Dataset2D> data;  // 2D data (null for images)
  std::vector<int64_t> sample_shape{2};   // one sample: {2} or {C, H, W}
  double data_noise = 0;
  ChainOptions chains;
  EvalConfig eval;
  TrainOptions train;
  SamplerOptions sampler;  // the sampler that runs (resolve_sampler)
};

// `image_shape` (when not empty) replaces the data section's shape hint: the
// shape of image data already loaded.
RunConfig parse_run_config(const Json& config, const std::vector<int64_t>& image_shape = {});

// Everything a run needs: the typed config and its loaded data.
struct RunSetup : RunConfig {
  std::shared_ptr<data::ImageDataset> images;  // image data (null for 2D)
};

// Loads the data of a parsed config (image data once per process, see
// data::load_image_dataset_shared). `images`, when given, replaces loading
// (benchmarks of configs whose data is not on this machine).
RunSetup build_setup(const RunConfig& config, std::shared_ptr<data::ImageDataset> images = nullptr);
RunSetup build_setup(const Json& config, std::shared_ptr<data::ImageDataset> images = nullptr);

// Model (seeded init), sampler, chain source and trainer for a resolved config.
// With `comm` (data-parallel training): this rank's trainer, its chain source
// holding bank_size / N chains, its generators derived from the seed and the rank
// (dist::rank_seed), the data generator seeded as a single-process run's.
std::unique_ptr<Trainer> make_trainer(const RunSetup& setup, const Json& resolved,
                                      const std::shared_ptr<dist::Communicator>& comm = nullptr);
// The same for setup.config (single process).
std::unique_ptr<Trainer> make_trainer(const RunSetup& setup);

}  // namespace anila
