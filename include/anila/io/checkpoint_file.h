// checkpoint_file.h — anila's checkpoint files: a checksummed envelope around
// anila's own bounded tensor format.
//
// A checkpoint file is a 24-byte header followed by the payload:
//
//   offset  size  field
//        0     8  magic "ANILACK2"
//        8     8  payload length in bytes, uint64 little-endian
//       16     4  CRC-32 (zlib) of the payload, uint32 little-endian
//       20     4  zero
//
// The payload is one line of JSON, a newline, then the tensors' bytes:
//
//   {"format":"anila-checkpoint","version":1,"data_bytes":D,"entries":[E, ...]}\n
//   <D bytes: every tensor's values, C order, little-endian, back to back>
//
// Each entry E names its place in the archive tree by a path of keys and holds
// exactly one value:
//
//   {"path":["model"],"archive":true}                      a nested archive
//   {"path":["model","weight"],"tensor":"float32","shape":[4,2],"offset":0,"buffer":false}
//   {"path":["optimizer","step"],"int":3}  "double": x (or "nan"/"inf"/"-inf"),
//   "bool", "string", "none": true, and lists "ints"/"doubles"/"bools"/"strings"
//
// Reading validates everything before allocating anything: the header's size (16 MiB),
// JSON depth, each key's characters and length, that every parent archive is
// declared before its children and no key repeats, each dtype and shape, that
// offsets run back to back and add up to exactly D bytes, and that bool
// tensors hold only 0 and 1. The tree is then rebuilt as a LibTorch archive in
// memory (so Module::load and Optimizer::load read it as before); LibTorch's
// own deserializer only ever sees bytes LibTorch serialised from validated
// values, never a file's bytes.
//
// Writes go through a unique temporary file in the same folder, fsync and
// rename, so a full disk or an I/O error leaves the previous file untouched and
// no temporary behind. Reads verify the length and the CRC: a truncated or
// bit-flipped file is refused with one line naming it.
//
// Old checkpoints (LibTorch's zip archive: "ANILACK1" envelopes and bare zips,
// written by anila before this format) are refused with a message saying how
// to load them: LibTorch 1.13's reader can crash on a crafted file, so it runs
// only when ANILA_TRUST_OLD_CHECKPOINTS=1 says the file is one's own (an
// ANILACK1 envelope's CRC is still checked first). The next checkpoint a
// resumed run writes is in the new format.
//
//   torch::serialize::OutputArchive archive;  model->save(archive); ...
//   io::write_checkpoint("run/checkpoints/last.pt", archive);
//   torch::serialize::InputArchive in;
//   io::read_checkpoint("run/checkpoints/last.pt", in, device);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize
namespace c10 {
struct Device;
}  // namespace c10

namespace anila::io {

constexpr size_t kCheckpointHeaderSize = 24;

// The environment variable that lets old (LibTorch-format) checkpoints load.
constexpr const char* kTrustOldCheckpointsEnv = "ANILA_TRUST_OLD_CHECKPOINTS";

// ---- the envelope -----------------------------------------------------------

// The 24-byte "ANILACK2" header for `payload`.
std::string checkpoint_header(std::string_view payload);

// Header + payload, atomically; UserError("cannot write checkpoint PATH: reason").
void write_checkpoint_file(const std::string& path, std::string_view payload);

// What the envelope held: anila's format, or LibTorch's zip from older anila.
enum class CheckpointFormat { anila, libtorch_zip };
struct CheckpointPayload {
  std::string bytes;
  CheckpointFormat format = CheckpointFormat::anila;
};

// The payload of a file's bytes; UserError naming `path` when the magic, the
// length or the CRC is wrong. `path` is used only in messages.
CheckpointPayload checkpoint_payload(std::string bytes, const std::string& path);

// read_file + checkpoint_payload; UserError when missing or unreadable.
CheckpointPayload read_checkpoint_file(const std::string& path);

// ---- the payload ------------------------------------------------------------

// `archive`'s tree (nested archives, tensors, scalars) in anila's format.
std::string encode_checkpoint(torch::serialize::OutputArchive& archive);

// Validates `payload` (anila's format) and rebuilds its tree into `archive`,
// tensors on `device`; UserError("checkpoint PATH is damaged or not an anila
// checkpoint: <what is wrong>") naming the first problem.
void decode_checkpoint(const std::string& payload, torch::serialize::InputArchive& archive,
                       const c10::Device& device, const std::string& path);

// ---- whole files --------------------------------------------------------------

// encode_checkpoint + write_checkpoint_file.
void write_checkpoint(const std::string& path, torch::serialize::OutputArchive& archive);

// read_checkpoint_file + decode_checkpoint; an old LibTorch-format file loads
// through LibTorch only with ANILA_TRUST_OLD_CHECKPOINTS=1, else UserError.
void read_checkpoint(const std::string& path, torch::serialize::InputArchive& archive,
                     const c10::Device& device);

}  // namespace anila::io
