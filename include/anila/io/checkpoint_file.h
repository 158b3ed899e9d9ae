// checkpoint_file.h — the checksummed envelope around a LibTorch checkpoint.
//
// A checkpoint file is a 24-byte header followed by the payload (LibTorch's
// zip archive, as `torch::serialize::OutputArchive::save_to` writes it):
//
//   offset  size  field
//        0     8  magic "ANILACK1"
//        8     8  payload length in bytes, uint64 little-endian
//       16     4  CRC-32 (zlib) of the payload, uint32 little-endian
//       20     4  zero
//
// Writes go through a unique temporary file in the same folder, fsync and
// rename, so a full disk or an I/O error leaves the previous file untouched and
// no temporary behind. Reads verify the length and the CRC: a truncated or
// bit-flipped file is refused with one line naming it, instead of loading
// silently. Files from before the envelope (a bare zip, "PK\3\4") are read
// without a check.
//
//   io::write_checkpoint_file("run/checkpoints/last.pt", payload);
//   std::string payload = io::read_checkpoint_file("run/checkpoints/last.pt");
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace anila::io {

constexpr size_t kCheckpointHeaderSize = 24;

// The 24-byte header for `payload`.
std::string checkpoint_header(std::string_view payload);

// Header + payload, atomically; UserError("cannot write checkpoint PATH: reason").
void write_checkpoint_file(const std::string& path, std::string_view payload);

// The payload of a file's bytes; UserError naming `path` when the magic, the
// length or the CRC is wrong. `path` is used only in messages.
std::string checkpoint_payload(std::string bytes, const std::string& path);

// read_file + checkpoint_payload; UserError when missing or unreadable.
std::string read_checkpoint_file(const std::string& path);

}  // namespace anila::io
