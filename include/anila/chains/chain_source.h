// chain_source.h — where each training iteration's M chains start (DESIGN.md §2).
//
//   noise       fresh uniform [-scale, scale] or Gaussian N(0, scale²) every
//               iteration (short-run MCMC)
//   persistent  a bank of N chains; draw M without replacement, write them back
//   replay      a buffer of past samples; each drawn chain is reinitialised from
//               noise with probability p (reinit_prob), then written back
//   data        the current data batch (contrastive divergence)
//
// Shapes: sample_shape is one sample's shape ({2} for 2D); states are [M, ...].
//
//   auto src = anila::make_chain_source({{"type", "persistent"}, {"bank_size", 10000}}, {2}, cpu);
//   at::Tensor z0 = src->draw(100, data_batch, gen);   // [100, 2]
//   ... run the sampler ...
//   src->give_back(z);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "anila/common.h"

namespace anila {

struct ChainOptions {
  std::string type = "noise";    // noise | persistent | replay | data
  std::string init = "uniform";  // uniform | gaussian (noise, and initial bank/buffer)
  double scale = 1.0;            // uniform half-width / Gaussian sd (<= 0: from the data box)
  int64_t bank_size = 10000;     // persistent bank N / replay buffer size
  double reinit_prob = 0.05;     // replay: p
  Json to_json() const;
};

class ChainSource {
 public:
  ChainSource(ChainOptions options, std::vector<int64_t> sample_shape, c10::Device device);
  virtual ~ChainSource() = default;
  // M starting states [M, ...]. data_batch: [M, ...] the current positives (used by `data`).
  virtual at::Tensor draw(int64_t M, const at::Tensor& data_batch, at::Generator& gen) = 0;
  // Takes back the states after sampling (persistent/replay write them to the
  // slots of the last draw; the others ignore it).
  virtual void give_back(const at::Tensor& z) {}
  // Persistent state (bank or buffer) for checkpoints; undefined when stateless.
  virtual at::Tensor state() const { return {}; }
  virtual void set_state(const at::Tensor& bank) {}
  // Fresh noise states [M, ...] from the init distribution.
  at::Tensor noise(int64_t M, at::Generator& gen) const;
  const ChainOptions& options() const { return options_; }

 protected:
  ChainOptions options_;
  std::vector<int64_t> sample_shape_;
  c10::Device device_;
};

using ChainSourcePtr = std::shared_ptr<ChainSource>;

ChainOptions parse_chain_options(const Json& section, const std::string& path = "chains");
// The bank/buffer of persistent/replay sources is initialised from noise with `gen`.
ChainSourcePtr make_chain_source(const ChainOptions& options,
                                 const std::vector<int64_t>& sample_shape, c10::Device device,
                                 at::Generator& gen);
std::vector<std::string> chain_types();

}  // namespace anila
