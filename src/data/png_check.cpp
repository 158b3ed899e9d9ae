// png_check.cpp — PNG chunk checksums, which stb_image does not verify.
//
// A PNG is the 8-byte signature 89 50 4E 47 0D 0A 1A 0A, then chunks:
//   length (uint32 big-endian) | type (4 ASCII letters) | data | CRC-32 of type+data
// ending with IEND. IHDR (first) holds width and height (uint32 big-endian).
#include <zlib.h>

#include <cstring>
#include <string>

#include "data/images_internal.h"

namespace anila::data::internal {

namespace {

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

}  // namespace

std::string png_damage(const uint8_t* data, size_t size) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return "not a PNG file (wrong signature)";
  size_t at = 8;
  bool first = true;
  while (true) {
    if (size - at < 12) return "truncated (no IEND chunk)";
    const uint32_t length = be32(data + at);
    const uint8_t* type = data + at + 4;
    if (length > size - at - 12) {
      return "truncated or damaged (chunk " + std::string(reinterpret_cast<const char*>(type), 4) +
             " claims " + std::to_string(length) + " bytes, " + std::to_string(size - at - 12) +
             " left)";
    }
    const uint32_t crc = be32(data + at + 8 + length);
    const uLong computed = ::crc32(::crc32(0L, Z_NULL, 0), type, uInt(length) + 4);
    const std::string name(reinterpret_cast<const char*>(type), 4);
    if (uint32_t(computed) != crc) return "damaged (CRC mismatch in chunk " + name + ")";
    if (first) {
      if (name != "IHDR" || length < 8) return "damaged (first chunk is not IHDR)";
      const uint32_t w = be32(type + 4), h = be32(type + 8);
      if (w == 0 || h == 0 || w > (1u << 24) || h > (1u << 24)) {
        return "IHDR says " + std::to_string(w) + "×" + std::to_string(h) +
               " (width and height must be in 1..16777216)";
      }
      first = false;
    }
    at += 12 + size_t(length);
    if (name == "IEND") return "";
  }
}

}  // namespace anila::data::internal
