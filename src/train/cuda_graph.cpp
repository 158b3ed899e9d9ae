// cuda_graph.cpp — SamplerGraph (see cuda_graph.h): capture on a side stream after
// one warm-up step there, replay on the current stream. Only the CUDA branch
// (ANILA_WITH_CUDA, set by CMake when LibTorch has CUDA) touches CUDA headers;
// LibTorch 1.13 and 2.x share the calls used here.
#include "train/cuda_graph.h"

#include <mutex>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#ifdef ANILA_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace anila {

#ifdef ANILA_WITH_CUDA

namespace {

at::Generator default_cuda_generator(const c10::Device& device) {
  return at::cuda::detail::getDefaultCUDAGenerator(device.index());
}

void seed_default_cuda_generator(const c10::Device& device, uint64_t seed) {
  at::Generator gen = default_cuda_generator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(seed);
}

}  // namespace

struct SamplerGraph::Impl {
  at::cuda::CUDAGraph graph;
  c10::Device device{c10::kCUDA};
  at::Tensor z0, z, f;  // the graph's input and outputs (fixed addresses)
};

bool SamplerGraph::compiled() {
  return true;
}

SamplerGraph::SamplerGraph(const Sampler& sampler, const LogDensity& logp, const at::Tensor& z0,
                           int64_t steps, uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  if (!z0.is_cuda()) {
    throw std::runtime_error("chains are on " + z0.device().str() + ", not a CUDA device");
  }
  Impl& m = *impl_;
  m.device = z0.device();
  c10::cuda::CUDAGuard device_guard(m.device);
  m.z0 = z0.clone();
  at::Generator gen = default_cuda_generator(m.device);
  seed_default_cuda_generator(m.device, seed);
  // Capture needs a stream other than the default one. One eager step there
  // first initialises what is created lazily (cuBLAS/cuDNN handles, autograd's
  // device queue), which must not happen during capture.
  c10::cuda::getCurrentCUDAStream(m.device.index()).synchronize();
  c10::cuda::CUDAStream side =
      c10::cuda::getStreamFromPool(/*isHighPriority=*/false, m.device.index());
  {
    c10::cuda::CUDAStreamGuard stream_guard(side);
    ChainState warm = ChainState::start(m.z0, logp);
    sampler.run(warm, logp, 1, gen);
    side.synchronize();
    m.graph.capture_begin();
    try {
      ChainState state = ChainState::start(m.z0, logp);
      sampler.run(state, logp, steps, gen);
      m.z = state.z;
      m.f = state.f;
      m.graph.capture_end();
    } catch (...) {
      try {
        m.graph.capture_end();  // leaves capture mode on the stream
      } catch (...) {
      }
      throw;
    }
    side.synchronize();
  }
}

SamplerGraph::~SamplerGraph() = default;

ChainState SamplerGraph::replay(const at::Tensor& z0, uint64_t seed) {
  Impl& m = *impl_;
  c10::cuda::CUDAGuard device_guard(m.device);
  m.z0.copy_(z0);
  seed_default_cuda_generator(m.device, seed);
  m.graph.replay();
  return {m.z.clone(), m.f.clone(), {}, {}};
}

std::vector<int64_t> SamplerGraph::shape() const {
  return impl_->z0.sizes().vec();
}

Json cuda_memory_json(const c10::Device& device) {
  if (!device.is_cuda()) return Json::object();
  const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
  // auto: the stats type moved between LibTorch versions; index 0 is the aggregate.
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  constexpr double kMiB = 1024.0 * 1024.0;
  return {{"peak_allocated_mib", double(stats.allocated_bytes[0].peak) / kMiB},
          {"allocated_mib", double(stats.allocated_bytes[0].current) / kMiB},
          {"reserved_mib", double(stats.reserved_bytes[0].current) / kMiB}};
}

void cuda_reset_peak_memory(const c10::Device& device) {
  if (!device.is_cuda()) return;
  const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
  c10::cuda::CUDACachingAllocator::resetPeakStats(index);
}

#else  // no CUDA in this build

struct SamplerGraph::Impl {};

bool SamplerGraph::compiled() {
  return false;
}

SamplerGraph::SamplerGraph(const Sampler&, const LogDensity&, const at::Tensor&, int64_t,
                           uint64_t) {
  throw std::runtime_error("this build of anila has no CUDA (LibTorch without CUDA)");
}

SamplerGraph::~SamplerGraph() = default;

ChainState SamplerGraph::replay(const at::Tensor&, uint64_t) {
  throw std::logic_error("SamplerGraph::replay in a build without CUDA");
}

std::vector<int64_t> SamplerGraph::shape() const {
  return {};
}

Json cuda_memory_json(const c10::Device&) {
  return Json::object();
}

void cuda_reset_peak_memory(const c10::Device&) {}

#endif

}  // namespace anila
