// common.h — shared vocabulary of the anila library: errors, JSON, random generators.
//
// Every user-caused problem (bad config key, bad value, missing file) is a
// `UserError`; the CLI prints its one-line message and exits with code 2.
// A run whose chains or parameters stop being finite raises `DivergedError`
// (exit code 3). Anything else is a programming error and fails loudly.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>
#include <c10/util/ArrayRef.h>
#include <nlohmann/json.hpp>

namespace anila {

using Json = nlohmann::json;

// Exit codes of the `anila` command (docs/configs.md).
constexpr int kExitOk = 0;
constexpr int kExitUserError = 2;
constexpr int kExitDiverged = 3;

// A mistake the user can fix: one line naming the key or file and what is allowed.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A training run produced NaN/Inf; the last good checkpoint is kept.
class DivergedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "[a, b, c]": a tensor shape for messages.
std::string shape_text(c10::IntArrayRef sizes);

// A random generator for `device` seeded with `seed` (CPU or CUDA). All random
// draws in the library take an explicit generator so runs are reproducible.
at::Generator make_generator(uint64_t seed, const c10::Device& device);

// Parses "cpu", "cuda", "cuda:1" or "auto" (cuda when available) into a device;
// throws UserError naming `what` otherwise.
c10::Device parse_device(const std::string& name, const std::string& what = "device");

// CUDA matrix-multiply/convolution precision: tf32 = true lets cuBLAS and cuDNN
// use TensorFloat-32 (faster on Ampere and later, ~1e-3 relative error in
// products). No effect on CPU.
void set_cuda_tf32(bool tf32);

// Sets the number of intra-op threads: LibTorch's pool and, when the BLAS in
// use is OpenBLAS (which keeps its own pthread pool), OpenBLAS's as well.
// threads <= 0 leaves the defaults.
void set_threads(int threads);

}  // namespace anila
