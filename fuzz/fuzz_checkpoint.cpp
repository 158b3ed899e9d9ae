// fuzz_checkpoint.cpp — checkpoint files: the checksummed envelope, anila's
// payload parser, the rebuilt archive, and the reads Trainer::load_checkpoint makes.
//
// Input: byte 0 even: the rest is a whole file (envelope checks; a damaged
// file never passes the CRC, an intact one is read like the trainer reads it).
// Byte 0 odd: the rest is a payload wrapped in a valid envelope, so that
// mutations reach the parser (io::decode_checkpoint) and, when it accepts
// them, the archive it rebuilds and hands to LibTorch.
//
// Old LibTorch-format payloads are refused without LibTorch reading them.
// With ANILA_FUZZ_LIBTORCH=1 the target sets ANILA_TRUST_OLD_CHECKPOINTS=1 and
// wraps odd-byte inputs in the old envelope, so mutations reach LibTorch 1.13's
// own zip/pickle/TorchScript reader, which segfaults within seconds (see
// docs/reliability.md): that is why anila no longer reads it by default.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>

#include <cstdlib>

#include "anila/common.h"
#include "anila/io/checkpoint_file.h"
#include "fuzz.h"

namespace {

void read_like_the_trainer(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive model, optim;
  archive.read("model", model);
  for (const std::string& key : model.keys()) {
    at::Tensor t;
    model.try_read(key, t);
  }
  if (archive.try_read("optimizer", optim)) {
    for (const std::string& key : optim.keys()) {
      at::Tensor t;
      optim.try_read(key, t);
    }
  }
  at::Tensor it, rng;
  archive.read("iteration", it);
  (void)it.item<int64_t>();
  archive.read("rng_state", rng);
  at::Generator gen = at::detail::createCPUGenerator(0);
  gen.set_state(rng.cpu());
}

}  // namespace

ANILA_FUZZ_TARGET(checkpoint) {
  if (size < 1) return 0;
  static const bool libtorch = [] {
    const bool on = std::getenv("ANILA_FUZZ_LIBTORCH") != nullptr;
    if (on) ::setenv(anila::io::kTrustOldCheckpointsEnv, "1", 1);
    return on;
  }();
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    std::string header = anila::io::checkpoint_header(bytes);
    if (libtorch) header[7] = '1';  // the old envelope: LibTorch's reader
    bytes = header + bytes;
  }
  const std::string path = anila::fuzz::put_file(
      "last.pt", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  try {
    torch::serialize::InputArchive archive;
    anila::io::read_checkpoint(path, archive, torch::Device(torch::kCPU));
    try {
      read_like_the_trainer(archive);
    } catch (const std::exception&) {
      // Trainer::load_checkpoint turns these into "checkpoint X does not match ...".
    }
  } catch (const anila::UserError&) {
  }
  return 0;
}
