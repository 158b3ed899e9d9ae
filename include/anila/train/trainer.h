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
  Json to_json() const;             // the "train" section (data_noise lives in "data")
};

TrainOptions parse_train_options(const Json& section, const std::string& path = "train");

// What one iteration measured (float values are host doubles).
struct IterationStats {
  int64_t iteration = 0;  // 1-based, after the update
  double loss = 0, f_data = 0, f_samples = 0, grad_norm = 0, lr = 0;
  Json sampler;  // SamplerStats::summary() on logged iterations, else empty
};

// Draws M data points [M, ...] with the given generator.
using DataFn = std::function<at::Tensor(int64_t M, at::Generator& gen)>;

class SamplerGraph;  // train/sampler_graph.h

class Trainer {
 public:
  Trainer(EnergyModelPtr model, SamplerPtr sampler, ChainSourcePtr chains, DataFn data,
          TrainOptions options, at::Generator gen, c10::Device device);
  ~Trainer();

  // One iteration of Algorithm 1. Throws DivergedError on NaN/Inf (state not updated).
  IterationStats step(bool collect_sampler_stats);
  int64_t iteration() const { return iteration_; }

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
  at::Tensor positives(int64_t M);
  // Averages gradients, loss and energies over the ranks (one allreduce); returns
  // {loss, mean f(x), mean f(z)}; DivergedError naming the ranks whose chains broke.
  std::array<double, 3> average_over_ranks(const at::Tensor& loss, const at::Tensor& f_x,
                                           const at::Tensor& f_z, bool chains_broke);
  // Internal error unless every rank holds bit-identical parameters.
  void check_replicas(const std::string& when) const;
};

}  // namespace anila
