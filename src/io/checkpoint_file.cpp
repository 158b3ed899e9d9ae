// checkpoint_file.cpp — the checksummed checkpoint envelope (see anila/io/checkpoint_file.h).
#include "anila/io/checkpoint_file.h"

#include <zlib.h>

#include <algorithm>

#include "anila/common.h"
#include "io/write_file.h"

namespace anila::io {

namespace {

constexpr char kMagic[] = "ANILACK2";
constexpr char kOldMagic[] = "ANILACK1";  // the same envelope around LibTorch's zip
constexpr size_t kMagicLen = 8;

uint32_t crc32_of(std::string_view bytes) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(bytes.data());
  size_t left = bytes.size();
  while (left > 0) {  // zlib's crc32 takes a uInt length
    const uInt n = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    crc = ::crc32(crc, p, n);
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(crc);
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_le(const std::string& in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return v;
}

}  // namespace

std::string checkpoint_header(std::string_view payload) {
  std::string h(kMagic, kMagicLen);
  put_le(h, payload.size(), 8);
  put_le(h, crc32_of(payload), 4);
  put_le(h, 0, 4);
  return h;
}

void write_checkpoint_file(const std::string& path, std::string_view payload) {
  const std::string header = checkpoint_header(payload);
  detail::write_file_atomic(path, {header, payload}, "checkpoint ");
}

CheckpointPayload checkpoint_payload(std::string bytes, const std::string& path) {
  const std::string where = "checkpoint " + path;
  if (bytes.size() >= 4 && bytes.compare(0, 4, "PK\x03\x04", 4) == 0) {
    return {std::move(bytes), CheckpointFormat::libtorch_zip};  // before any envelope
  }
  const bool old = bytes.size() >= kMagicLen && bytes.compare(0, kMagicLen, kOldMagic) == 0;
  if (bytes.size() < kCheckpointHeaderSize || (!old && bytes.compare(0, kMagicLen, kMagic) != 0)) {
    throw UserError(where + " is not an anila checkpoint (wrong magic bytes)");
  }
  const uint64_t length = get_le(bytes, 8, 8);
  const uint32_t crc = static_cast<uint32_t>(get_le(bytes, 16, 4));
  const uint64_t held = bytes.size() - kCheckpointHeaderSize;
  if (length != held) {
    throw UserError(where + " is truncated or damaged: its header says " + std::to_string(length) +
                    " bytes of payload, the file holds " + std::to_string(held));
  }
  bytes.erase(0, kCheckpointHeaderSize);
  if (crc32_of(bytes) != crc) {
    throw UserError(where +
                    " is damaged: its checksum does not match its content (disk or copy error?)");
  }
  return {std::move(bytes), old ? CheckpointFormat::libtorch_zip : CheckpointFormat::anila};
}

CheckpointPayload read_checkpoint_file(const std::string& path) {
  return checkpoint_payload(detail::read_file(path, "checkpoint "), path);
}

}  // namespace anila::io
