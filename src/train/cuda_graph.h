// cuda_graph.h (private) — the K-step sampler loop captured as one CUDA graph,
// and the CUDA memory figures `anila bench` reports.
//
// Capture records every kernel of ChainState::start(z0) and `steps` sampler steps
// for one z0 shape [M, ...] into a graph whose input (z0) and outputs (z, f) sit
// at fixed device addresses; replay() copies a new z0 in, launches the whole graph
// at once and hands back copies of z and f. The model's parameters are read at
// their addresses at replay time, so in-place optimizer updates are seen; anything
// that re-allocates them (loading a checkpoint, model->to()) needs a new capture.
// Random draws inside use the device's default CUDA generator (the one generator
// LibTorch 1.13 can capture); replay() seeds it first.
//
// In a build without CUDA (ANILA_WITH_CUDA unset: LibTorch without CUDA) compiled()
// is false and the constructor throws: callers run the loop eagerly.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "anila/common.h"
#include "anila/logdensity.h"
#include "anila/samplers/sampler.h"

namespace anila {

class SamplerGraph {
 public:
  // Whether this build of anila can capture CUDA graphs at all.
  static bool compiled();
  // Captures `steps` steps of `sampler` on `logp` from chains shaped like z0
  // (on a CUDA device). Throws std::runtime_error with the reason when it cannot.
  SamplerGraph(const Sampler& sampler, const LogDensity& logp, const at::Tensor& z0, int64_t steps,
               uint64_t seed);
  ~SamplerGraph();
  SamplerGraph(const SamplerGraph&) = delete;
  SamplerGraph& operator=(const SamplerGraph&) = delete;
  // z0: [M, ...] as at capture -> {z, f} after the captured steps (grad undefined).
  ChainState replay(const at::Tensor& z0, uint64_t seed);
  // The chain shape this graph was captured for.
  std::vector<int64_t> shape() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// CUDA caching-allocator figures of `device` in MiB: {"peak_allocated_mib",
// "allocated_mib", "reserved_mib"}; empty on CPU or in a build without CUDA.
Json cuda_memory_json(const c10::Device& device);
// Resets the peak counters behind cuda_memory_json (no-op without CUDA).
void cuda_reset_peak_memory(const c10::Device& device);

}  // namespace anila
