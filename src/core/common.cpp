// common.cpp — random generators and device parsing.
#include "anila/common.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>

namespace anila {

std::string shape_text(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

at::Generator make_generator(uint64_t seed, const c10::Device& device) {
  if (device.is_cuda()) {
    auto gen = at::globalContext().defaultGenerator(device).clone();
    gen.set_current_seed(seed);
    return gen;
  }
  return at::detail::createCPUGenerator(seed);
}

c10::Device parse_device(const std::string& name, const std::string& what) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA) : c10::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    c10::Device device(c10::kCPU);
    try {
      device = c10::Device(name);
    } catch (const std::exception&) {
      throw UserError(what + ": invalid device \"" + name + "\"; allowed: cpu, cuda, cuda:N, auto");
    }
    if (!torch::cuda::is_available()) {
      throw UserError(
          what + ": \"" + name +
          "\" requested but this build of LibTorch sees no CUDA device; use cpu or auto");
    }
    return device;
  }
  throw UserError(what + ": invalid device \"" + name + "\"; allowed: cpu, cuda, cuda:N, auto");
}

void set_cuda_tf32(bool tf32) {
  at::globalContext().setAllowTF32CuBLAS(tf32);
  at::globalContext().setAllowTF32CuDNN(tf32);
}

void set_threads(int threads) {
  if (threads <= 0) return;
  at::set_num_threads(threads);
  // OpenBLAS's pthread build spins its own workers for every matmul unless told
  // otherwise; look the setter up at run time so other BLAS builds still link.
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    fn(threads);
  }
}

}  // namespace anila
