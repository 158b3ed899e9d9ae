// fuzz_checkpoint.cpp — checkpoint files: the checksummed envelope, then
// LibTorch's archive reader with the reads Trainer::load_checkpoint makes.
//
// Input: byte 0 even: the rest is a whole file (envelope checks; a damaged
// file never passes the CRC, an intact one is read like the trainer reads it).
// Byte 0 odd, and only with ANILA_FUZZ_LIBTORCH=1 in the environment: the rest
// is a payload wrapped in a valid envelope, so that mutations reach LibTorch's
// zip, pickle and TorchScript readers. LibTorch 1.13 crashes on such crafted
// payloads within seconds (a segfault in ScriptTypeParser::parseClassConstant
// via SourceImporter::loadType, reached from the pickled class names of the
// archive); that is LibTorch's bug, outside anila's reach: a checkpoint that
// passes the CRC is one anila wrote, or one crafted on purpose.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>

#include <cstdlib>

#include "anila/common.h"
#include "anila/io/checkpoint_file.h"
#include "fuzz.h"

namespace {

void read_like_the_trainer(const std::string& payload) {
  torch::serialize::InputArchive archive, model, optim;
  archive.load_from(payload.data(), payload.size(), torch::Device(torch::kCPU));
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
  static const bool libtorch = std::getenv("ANILA_FUZZ_LIBTORCH") != nullptr;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    if (!libtorch) return 0;
    bytes = anila::io::checkpoint_header(bytes) + bytes;
  }
  try {
    const std::string payload = anila::io::checkpoint_payload(bytes, "fuzz.pt");
    try {
      read_like_the_trainer(payload);
    } catch (const std::exception&) {
      // Trainer::load_checkpoint turns these into "checkpoint X is corrupt ...".
    }
  } catch (const anila::UserError&) {
  }
  return 0;
}
