// trainer.h — maximum-likelihood EBM training with short-run MCMC negatives
// (Algorithm 1 of the paper, generalised; docs/architecture.md, "Training").
//
//   for t = 1..T:
//       x ← M data points (+ σ_data·ξ if data noise is set)
//       z ← M chain states from the chain source
//       repeat K times: z ← sampler.step(z, f_θ)            # θ frozen
//       loss(θ) = −(mean f_θ(x) − mean f_θ(z)) + α·mean(f_θ(x)² + f_θ(z)²)
//       θ ← optimizer step (SGD/Adam, optional grad-norm clip, lr schedule)
//       write z back to the chain source
//
// Notation: M batch size (= number of chains per iteration), K MCMC steps,
// α the L2 energy regulariser. Deterministic for a given seed and thread
// count on CPU; checkpoints hold everything needed to resume bit-exactly
// (model, optimizer, chain bank, RNG state, iteration).
//
// CUDA graphs (train.cuda_graph = auto | on | off): on a CUDA device, in a CUDA
// build of LibTorch, the K-step sampler loop (from ChainState::start to the K-th
// step) is captured once at the second iteration, for the fixed shape [M, ...],
// and replayed every iteration after that: one launch instead of ~25·K. The
// replayed steps draw their noise from the device's default CUDA generator,
// re-seeded every iteration from the trainer's seed and the iteration number
// (so runs stay reproducible and resumable). Logged iterations (sampler stats)
// and other shapes run eagerly. Where capture is not possible (CPU, a CPU-only
// LibTorch, a failed capture) the loop runs eagerly; with "on", or when a
// capture fails, one line says so through the notice handler (stderr by default).
#pragma once

#include <array>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/chains/chain_source.h"
#include "anila/common.h"
#include "anila/models/energy.h"
#include "anila/samplers/sampler.h"

namespace torch::optim {
class Optimizer;
}
namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize
namespace anila::dist {
class Communicator;
}

namespace anila {

struct LrSchedule {
  std::string type = "constant";  // constant | cosine | step | linear
  int64_t warmup = 0;             // linear warm-up iterations from 0 to lr
  double min_lr = 0;              // cosine/linear: final lr
  int64_t step_every = 1000;      // step: multiply by gamma every step_every iterations
  double gamma = 0.5;
  // lr at (0-based) iteration t of T given the base lr.
  double at(int64_t t, int64_t total, double base) const;
  Json to_json() const;
};

// Guard against blow-ups that are not NaN/Inf (config train.divergence). Checked every
// iteration before the update, on the values every rank shares (docs/configs.md):
//   energy  max(|mean f(x)|, |mean f(z)|) > energy_factor · (S_f + floor)
//   gap     |mean f(x) − mean f(z)|      > gap_factor · (S_gap + floor)
//   grad    ‖∇θ loss‖                    > grad_factor · (S_grad + floor)
//   chains  max |z| > chain_range · D (D: the largest |coordinate| of the data seen)
// S_* are running means (rate `rate`) of the same quantities over the iterations
// before; the three ratio checks start after `warmup` iterations. A factor of 0 turns
// its check off. On a trigger the run stops (exit 3, last good checkpoint kept) or,
// with on_divergence = "rollback", goes back to the last checkpoint with the learning
// rate scaled by lr_factor, at most max_rollbacks times.
struct DivergenceOptions {
  double energy_factor = 100, gap_factor = 100, grad_factor = 1000;
  double floor = 10;                   // added to each running scale
  double chain_range = 100;            // multiples of the data's largest |coordinate| (0 = off)
  double rate = 0.02;                  // running-mean rate of S_*
  int64_t warmup = 50;                 // iterations before the ratio checks start
  std::string on_divergence = "stop";  // stop | rollback
  double lr_factor = 0.5;              // rollback: lr multiplier per rollback
  int64_t max_rollbacks = 3;           // rollback: then stop as for "stop"
  Json to_json() const;
};

// Random augmentation of image positives [M, C, H, W] (config train.augment): a
// horizontal flip with probability ½ when `flip`, then a shift by (dy, dx) drawn
// uniformly from {−translate..translate}² with edge pixels repeated (a random crop of
// the replicate-padded image). Each sample draws its own; returns a new tensor.
struct AugmentOptions {
  bool flip = false;
  int64_t translate = 0;  // pixels
  bool on() const { return flip || translate > 0; }
  Json to_json() const;
};
at::Tensor augment_images(const at::Tensor& x, const AugmentOptions& options, at::Generator& gen);

struct TrainOptions {
  int64_t iterations = 10000;      // T
  int64_t batch_size = 100;        // M
  int64_t mcmc_steps = 100;        // K
  std::string optimizer = "adam";  // adam | sgd
  double lr = 1e-4;
  double beta1 = 0.9, beta2 = 0.999;  // adam
  double momentum = 0.0;              // sgd
  double weight_decay = 0.0;
  double grad_clip = 0.0;   // max L2 norm of the parameter gradient (0 = off)
  double energy_l2 = 0.0;   // α
  double data_noise = 0.0;  // σ_data (config key data.noise)
  LrSchedule schedule;
  int64_t log_every = 50;  // iterations between metric rows (sampler stats on those)
  int64_t checkpoint_every = 1000;
  std::string cuda_graph = "auto";  // auto | on | off (see above)
  // Exponential moving average of the parameters (0 = off): after every update
  // θ̄ ← ema·θ̄ + (1 − ema)·θ. With ema_weights, evaluations, sample grids and
  // anila sample / eval / inpaint use θ̄ (training always updates θ).
  double ema = 0;
  // Warm-up: update t (0, 1, ...) uses min(ema, (1 + t) / (10 + t)), so the early
  // average is not held back by the initial weights.
  bool ema_warmup = true;
  bool ema_weights = true;
  // Clip every coordinate of the chains' ∇_z f to ±drift_clip in every sampler step
  // of training and of the run's evaluations (IGEBM's gradient clip; 0 = off).
  double drift_clip = 0;
  AugmentOptions augment;
  DivergenceOptions divergence;
  Json to_json() const;  // the "train" section (data_noise lives in "data")
};

TrainOptions parse_train_options(const Json& section, const std::string& path = "train");

// What one iteration measured (float values are host doubles).
struct IterationStats {
  int64_t iteration = 0;  // 1-based, after the update
  double loss = 0, f_data = 0, f_samples = 0, grad_norm = 0, lr = 0;
  double threshold = NAN;  // the AniLA threshold b the chains used (threshold "auto"), else NaN
  Json sampler;            // SamplerStats::summary() on logged iterations, else empty
};

// Draws M data points [M, ...] with the given generator.
using DataFn = std::function<at::Tensor(int64_t M, at::Generator& gen)>;

class SamplerGraph;         // train/sampler_graph.h
class DivergenceGuard;      // train/divergence.h
class ThresholdAdaptation;  // anila/samplers/adapt.h

class Trainer {
 public:
  Trainer(EnergyModelPtr model, SamplerPtr sampler, ChainSourcePtr chains, DataFn data,
          TrainOptions options, at::Generator gen, c10::Device device);
  ~Trainer();

  // One iteration of Algorithm 1. Throws DivergedError on NaN/Inf or when the
  // divergence guard fires (state not updated).
  IterationStats step(bool collect_sampler_stats);
  int64_t iteration() const { return iteration_; }

  // Multiplies the learning rate (on top of the schedule) by `factor`; kept in checkpoints.
  void scale_lr(double factor) { lr_scale_ *= factor; }
  double lr_scale() const { return lr_scale_; }

  // ---- threshold "auto" (anila/samplers/anila.h) ----
  // With a sampler whose threshold is "auto", b is set from the chains' gradients:
  // at the first iteration from those of its starting states, and after every
  // iteration from those of its final states (ThresholdAdaptation with weight
  // floor kTrainThresholdRate; the state is kept in checkpoints). The K-step loop
  // then runs eagerly (a captured CUDA graph would keep the old b).
  bool threshold_auto() const { return threshold_ != nullptr; }

  // ---- EMA of the parameters (TrainOptions::ema) ----
  bool has_ema() const { return !ema_.empty(); }
  // Exchanges the model's parameter values with the EMA's (no-op without EMA); twice
  // restores both exactly. See EvaluationWeights.
  void swap_ema();
  // "ema" when evaluations use the EMA weights, else "raw".
  std::string evaluation_weights() const {
    return has_ema() && options_.ema_weights ? "ema" : "raw";
  }

  // The log-density the chains see: the model, with drift_clip applied when set.
  std::unique_ptr<LogDensity> chain_log_density() const;

  // K sampler steps of the training chains from z0: [M, ...] -> the final state
  // (z, f; grad when run eagerly). Replays the captured CUDA graph when there is
  // one for z0's shape and stats is null; otherwise runs the sampler eagerly.
  ChainState run_chains(const at::Tensor& z0, SamplerStats* stats = nullptr);
  // How the K-step loop runs: "off", "eager (<why>)", "captured" or "pending"
  // (auto/on on CUDA before the capture at the second iteration).
  const std::string& cuda_graph_status() const { return graph_status_; }
  // Where the one-line notices go (default: "anila: <line>" on stderr).
  void set_notice_handler(std::function<void(const std::string&)> handler);

  // Single-file checkpoint (written atomically: temporary file, then rename).
  void save_checkpoint(const std::string& path) const;
  // UserError when the file is missing, corrupt or from a different architecture.
  void load_checkpoint(const std::string& path);

  // Chains drawn exactly as training draws them (source, sampler, K), with a
  // separate generator; the chain source's bank is not written.
  at::Tensor draw_samples(int64_t n, at::Generator& gen, int64_t steps = -1);
  // The same, also keeping the states after each step count in `keep`
  // (ascending, each in 0..steps) in *kept: [n, ...] per entry, on the device.
  at::Tensor draw_samples(int64_t n, at::Generator& gen, int64_t steps,
                          const std::vector<int64_t>& keep, std::vector<at::Tensor>* kept);

  // ---- data-parallel training (anila/train/distributed.h) ----
  // Makes this trainer rank r of N = comm->world_size(): each step takes rows
  // [r·m, (r+1)·m), m = M / N, of the global batch [M, ...] drawn with `data_gen`
  // (a CPU generator seeded alike on every rank), draws m chains from its own
  // source (the caller gives it bank_size / N chains and a generator of its own),
  // and averages the gradients over the ranks in one allreduce before the update.
  // step() and save_checkpoint() become collectives (every rank calls them at the
  // same iterations); checkpoints, written by rank 0, hold the global bank (every
  // rank's, in rank order) and every rank's generator state.
  void set_distributed(std::shared_ptr<dist::Communicator> comm, at::Generator data_gen);
  const std::shared_ptr<dist::Communicator>& communicator() const { return comm_; }
  // Ranks that wrote the checkpoint loaded last (1 for a single-process one).
  int64_t checkpoint_world_size() const { return checkpoint_world_size_; }

  const EnergyModelPtr& model() const { return model_; }
  const SamplerPtr& sampler() const { return sampler_; }
  const ChainSourcePtr& chains() const { return chains_; }
  const TrainOptions& options() const { return options_; }
  at::Generator& generator() { return gen_; }

 private:
  EnergyModelPtr model_;
  SamplerPtr sampler_;
  ChainSourcePtr chains_;
  DataFn data_;
  TrainOptions options_;
  at::Generator gen_;
  c10::Device device_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  int64_t iteration_ = 0;
  // CUDA graph of the K-step loop (null until captured).
  void prepare_graph(const at::Tensor& z0);
  std::unique_ptr<SamplerGraph> graph_;
  std::string graph_status_;
  bool graph_noticed_ = false;
  std::function<void(const std::string&)> notice_;

  // Data-parallel state (see set_distributed).
  std::shared_ptr<dist::Communicator> comm_;
  at::Generator data_gen_;
  int64_t checkpoint_world_size_ = 1;
  bool replicas_checked_ = false;
  int64_t fault_nan_iteration_ = -1;  // ANILA_FAULT_NAN (tests)
  double lr_scale_ = 1;
  std::vector<at::Tensor> ema_;  // EMA of model_->parameters(), same order
  std::unique_ptr<DivergenceGuard> guard_;
  std::unique_ptr<ThresholdAdaptation> threshold_;  // null unless threshold "auto"
  void adapt_threshold(const at::Tensor& grad);
  void update_ema();
  double parameter_grad_norm();
  void write_state(torch::serialize::OutputArchive& archive) const;
  void read_state(torch::serialize::InputArchive& archive, const std::string& path);
  void read_model(torch::serialize::InputArchive& archive, const std::string& path);
  void read_ema(torch::serialize::InputArchive& archive, const std::string& path);
  at::Tensor positives(int64_t M);
  // Averages gradients, loss and energies over the ranks (one allreduce); returns
  // {loss, mean f(x), mean f(z)}; DivergedError naming the ranks whose chains broke.
  std::array<double, 3> average_over_ranks(const at::Tensor& loss, const at::Tensor& f_x,
                                           const at::Tensor& f_z, int chains_broke);
  // The DivergedError message for broken chains (reason 1 NaN/Inf, 2 out of range).
  std::string chain_failure(int64_t iteration, int reason, const std::string& ranks) const;
  // Internal error unless every rank holds bit-identical parameters.
  void check_replicas(const std::string& when) const;
};

// Within its scope the trainer's model holds the weights evaluations use (the EMA
// when TrainOptions::ema and ema_weights are on); the training weights come back,
// bit for bit, when it ends.
class EvaluationWeights {
 public:
  explicit EvaluationWeights(Trainer& trainer)
      : trainer_(trainer), swapped_(trainer.evaluation_weights() == "ema") {
    if (swapped_) trainer_.swap_ema();
  }
  ~EvaluationWeights() {
    if (swapped_) trainer_.swap_ema();
  }
  EvaluationWeights(const EvaluationWeights&) = delete;
  EvaluationWeights& operator=(const EvaluationWeights&) = delete;

 private:
  Trainer& trainer_;
  bool swapped_;
};

}  // namespace anila
