// chain_source.h — where each training iteration's M chains start (docs/architecture.md,
// "Training").
//
//   noise       fresh uniform [-scale, scale] or Gaussian N(0, scale²) every
//               iteration (short-run MCMC)
//   persistent  a bank of N chains; draw M without replacement, write them back
//   replay      a buffer of past samples; each drawn chain is reinitialised from
//               noise with probability p (reinit_prob), then written back
//   data        the current data batch (contrastive divergence)
//
// Shapes: sample_shape is one sample's shape ({2} for 2D, {C, H, W} for images);
// states are [M, ...]; the bank/buffer is [N, ...] with N = bank_size.
//
// Bank storage (persistent, replay; key `storage`). The bank lives on the
// configured device in its storage dtype; draw() always returns float32 and
// give_back() converts back, touching only the M drawn rows.
//   float32  exact (default)
//   float16  at::kHalf; give_back rounds to the nearest half (|v| > 65504 → ±inf)
//   uint8    with [lo, hi] = storage_range, s = 255/(hi − lo):
//              q = round((clamp(v, lo, hi) − lo)·s)   (round half to even),
//              v' = lo + q/s, computed in double, rounded once to float32.
//            In-range values come back within (hi − lo)/510 (half a level);
//            out-of-range values are clamped, so chains restart from the
//            clamped, quantised state (the usual 8-bit image replay buffer).
//            With the default [−1, 1] the 256 levels are exactly the image
//            loaders' pixel values b/127.5 − 1.
// A 10000 × 3×32×32 bank takes 123 MB as float32, 61 MB as float16, 31 MB as uint8.
// state() returns the bank in its storage dtype (checkpoints stay compact);
// set_state() takes that dtype, or any floating bank of the same shape, which it
// converts (quantising for uint8). A uint8 bank cannot say which storage_range
// wrote it: resume with the same range.
//
//   ChainOptions o = parse_chain_options({{"type", "persistent"}, {"bank_size", 10000}});
//   auto src = anila::make_chain_source(o, {2}, cpu, gen);
//   at::Tensor z0 = src->draw(100, data_batch, gen);   // [100, 2]
//   ... run the sampler ...
//   src->give_back(z);
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "anila/common.h"

namespace anila {

struct ChainOptions {
  std::string type = "noise";       // noise | persistent | replay | data
  std::string init = "uniform";     // uniform | gaussian (noise, and initial bank/buffer)
  double scale = 1.0;               // uniform half-width / Gaussian sd (<= 0: from the data box)
  int64_t bank_size = 10000;        // persistent bank N / replay buffer size
  double reinit_prob = 0.05;        // replay: p
  std::string storage = "float32";  // persistent/replay bank dtype: float32 | float16 | uint8
  std::array<double, 2> storage_range{-1.0, 1.0};  // uint8: [lo, hi], lo < hi
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
  // Persistent state for checkpoints: the bank/buffer [N, ...] in its storage dtype
  // (the live tensor, not a copy); undefined when stateless.
  virtual at::Tensor state() const { return {}; }
  // bank: [N, ...] in the storage dtype, or floating (converted). UserError on a
  // shape mismatch (chains.bank_size) or a non-floating bank of another dtype
  // (chains.storage, e.g. resuming a uint8 checkpoint with float32 storage).
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

// ---- bank storage (see the header comment) ----
// The noise and data types parse and ignore bank_size, reinit_prob, storage and
// storage_range (to_json omits them), as a config may switch `type` alone.
std::vector<std::string> chain_storage_types();  // float32, float16, uint8
// at::kFloat, at::kHalf or at::kByte for options.storage.
at::ScalarType chain_storage_dtype(const ChainOptions& options);
// z: [...] floating states -> [...] in the storage dtype, same device (z itself
// when it already has the float32/float16 storage dtype).
at::Tensor chain_storage_encode(const at::Tensor& z, const ChainOptions& options);
// stored: [...] in the storage dtype -> [...] float32, same device.
at::Tensor chain_storage_decode(const at::Tensor& stored, const ChainOptions& options);

}  // namespace anila
