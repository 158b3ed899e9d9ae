// tensorboard.cpp — TensorBoard event files: CRC-32C, a minimal protobuf encoder
// and decoder for tensorflow.Event, TFRecord framing, the writer and the reader.
//
// Protobuf wire format used here: a field is key = varint((field << 3) | wire)
// followed by its payload; wire 0 varint, 1 fixed64 (LE), 2 varint length +
// bytes, 5 fixed32 (LE). Varints are 7 bits per byte, least significant group
// first, high bit set on all but the last byte; an int64 < 0 takes 10 bytes.
#include "anila/io/tensorboard.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "anila/common.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "io/write_file.h"

namespace anila::io {

namespace {

constexpr char kFileVersion[] = "brain.Event:2";
constexpr int kColorspaceRgb = 3;

// Wire types.
constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

// Field numbers of the messages we read and write.
constexpr int kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;
constexpr int kSummaryValue = 1;
constexpr int kValueTag = 1, kValueSimpleValue = 2, kValueImage = 4;
constexpr int kImageHeight = 1, kImageWidth = 2, kImageColorspace = 3, kImageEncoded = 4;

// ---- CRC-32C ------------------------------------------------------------------

std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

uint32_t masked_crc(const char* data, size_t size) {
  return tfrecord_mask_crc(crc32c(data, size));
}

// ---- protobuf encoding --------------------------------------------------------

void put_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void put_le(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_key(std::string* out, int field, int wire) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire));
}

void put_varint_field(std::string* out, int field, uint64_t v) {
  put_key(out, field, kVarint);
  put_varint(out, v);
}

void put_bytes_field(std::string* out, int field, const std::string& bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  *out += bytes;
}

void put_double_field(std::string* out, int field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  put_key(out, field, kFixed64);
  put_le(out, bits, 8);
}

void put_float_field(std::string* out, int field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  put_key(out, field, kFixed32);
  put_le(out, bits, 4);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An Event carrying one Summary.Value (already encoded).
std::string summary_event(const std::string& value, int64_t step, double wall_time) {
  std::string summary;
  put_bytes_field(&summary, kSummaryValue, value);
  std::string event;
  put_double_field(&event, kEventWallTime, wall_time < 0 ? now_seconds() : wall_time);
  put_varint_field(&event, kEventStep, static_cast<uint64_t>(step));
  put_bytes_field(&event, kEventSummary, summary);
  return event;
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string h = buf;
  for (char& c : h) {
    if (c == '/') c = '_';
  }
  return h;
}

// ---- protobuf decoding --------------------------------------------------------

// Thrown by the decoder; the reader adds the file and record to the message.
struct Malformed {
  std::string what;
};

class Decoder {
 public:
  explicit Decoder(const std::string& bytes)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  bool done() const { return p_ == end_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) throw Malformed{"varint runs past the end"};
      const uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw Malformed{"varint longer than 10 bytes"};
  }
  uint64_t fixed(int bytes) {
    if (end_ - p_ < bytes) throw Malformed{"fixed-size field runs past the end"};
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(*p_++)) << (8 * i);
    return v;
  }
  std::string bytes() {
    const uint64_t n = varint();
    if (n > static_cast<uint64_t>(end_ - p_))
      throw Malformed{"length-delimited field runs past the end"};
    std::string s(p_, static_cast<size_t>(n));
    p_ += n;
    return s;
  }
  // Reads a key; returns the field number and sets `wire`.
  int key(int* wire) {
    const uint64_t k = varint();
    *wire = static_cast<int>(k & 7);
    const uint64_t field = k >> 3;
    if (field == 0 || field > 0x1FFFFFFF)
      throw Malformed{"bad field number " + std::to_string(field)};
    return static_cast<int>(field);
  }
  void skip(int wire) {
    switch (wire) {
      case kVarint:
        varint();
        return;
      case kFixed64:
        fixed(8);
        return;
      case kLengthDelimited:
        bytes();
        return;
      case kFixed32:
        fixed(4);
        return;
      default:
        throw Malformed{"unsupported wire type " + std::to_string(wire)};
    }
  }

 private:
  const char* p_;
  const char* end_;
};

void expect_wire(const char* message, int field, int wire, int expected) {
  if (wire != expected) {
    throw Malformed{std::string(message) + " field " + std::to_string(field) + " has wire type " +
                    std::to_string(wire) + ", expected " + std::to_string(expected)};
  }
}

double bits_to_double(uint64_t bits) {
  double v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

float bits_to_float(uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

void decode_image(const std::string& bytes, const std::string& tag, EventRecord* out) {
  Decoder d(bytes);
  int height = 0, width = 0;
  std::string png;
  while (!d.done()) {
    int wire;
    const int field = d.key(&wire);
    if (field == kImageHeight || field == kImageWidth) {
      expect_wire("Summary.Image", field, wire, kVarint);
      (field == kImageHeight ? height : width) = static_cast<int>(d.varint());
    } else if (field == kImageEncoded) {
      expect_wire("Summary.Image", field, wire, kLengthDelimited);
      png = d.bytes();
    } else {
      d.skip(wire);  // colorspace and anything newer
    }
  }
  out->images.emplace_back(tag, height, width, std::move(png));
}

void decode_value(const std::string& bytes, EventRecord* out) {
  Decoder d(bytes);
  std::string tag;
  bool has_scalar = false;
  float scalar = 0;
  std::string image;
  bool has_image = false;
  while (!d.done()) {
    int wire;
    const int field = d.key(&wire);
    if (field == kValueTag) {
      expect_wire("Summary.Value", field, wire, kLengthDelimited);
      tag = d.bytes();
    } else if (field == kValueSimpleValue) {
      expect_wire("Summary.Value", field, wire, kFixed32);
      scalar = bits_to_float(static_cast<uint32_t>(d.fixed(4)));
      has_scalar = true;
    } else if (field == kValueImage) {
      expect_wire("Summary.Value", field, wire, kLengthDelimited);
      image = d.bytes();
      has_image = true;
    } else {
      d.skip(wire);
    }
  }
  // The tag may come after the payload, so both are stored once the value is read.
  if (has_scalar) out->scalars.emplace_back(tag, static_cast<double>(scalar));
  if (has_image) decode_image(image, tag, out);
}

EventRecord decode_event(const std::string& bytes) {
  EventRecord ev;
  Decoder d(bytes);
  while (!d.done()) {
    int wire;
    const int field = d.key(&wire);
    if (field == kEventWallTime) {
      expect_wire("Event", field, wire, kFixed64);
      ev.wall_time = bits_to_double(d.fixed(8));
    } else if (field == kEventStep) {
      expect_wire("Event", field, wire, kVarint);
      ev.step = static_cast<int64_t>(d.varint());
    } else if (field == kEventFileVersion) {
      expect_wire("Event", field, wire, kLengthDelimited);
      ev.file_version = d.bytes();
    } else if (field == kEventSummary) {
      expect_wire("Event", field, wire, kLengthDelimited);
      const std::string summary = d.bytes();
      Decoder s(summary);
      while (!s.done()) {
        int swire;
        const int sfield = s.key(&swire);
        if (sfield == kSummaryValue) {
          expect_wire("Summary", sfield, swire, kLengthDelimited);
          decode_value(s.bytes(), &ev);
        } else {
          s.skip(swire);
        }
      }
    } else {
      d.skip(wire);
    }
  }
  return ev;
}

}  // namespace

// ---- checksums -----------------------------------------------------------------

uint32_t crc32c(const void* data, size_t size) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t tfrecord_mask_crc(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

// ---- writer ------------------------------------------------------------------

void TensorBoardWriter::FileCloser::operator()(FILE* f) const {
  std::fclose(f);
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  make_dirs(dir);
  const auto seconds =
      static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
  const std::string base = (std::filesystem::path(dir) /
                            ("events.out.tfevents." + std::to_string(seconds) + "." + hostname() +
                             "." + std::to_string(static_cast<long>(::getpid()))))
                               .string();
  // "x": fail rather than truncate when the name is taken (another writer this second).
  for (int n = 0;; ++n) {
    path_ = n == 0 ? base : base + "." + std::to_string(n);
    FILE* f = std::fopen(path_.c_str(), "wbx");
    if (f) {
      file_.reset(f);
      break;
    }
    if (errno != EEXIST || n >= 1000) {
      throw UserError("cannot write TensorBoard event file " + path_ + ": " + std::strerror(errno));
    }
  }
  std::string event;
  put_double_field(&event, kEventWallTime, now_seconds());
  put_bytes_field(&event, kEventFileVersion, kFileVersion);
  write_record(event);
}

TensorBoardWriter::~TensorBoardWriter() = default;

void TensorBoardWriter::write_record(const std::string& data) {
  std::string record;
  record.reserve(data.size() + 16);
  put_le(&record, data.size(), 8);
  put_le(&record, masked_crc(record.data(), 8), 4);
  record += data;
  put_le(&record, masked_crc(data.data(), data.size()), 4);
  if (std::fwrite(record.data(), 1, record.size(), file_.get()) != record.size() ||
      std::fflush(file_.get()) != 0) {
    throw UserError("cannot write TensorBoard event file " + path_ + ": " + std::strerror(errno));
  }
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step,
                                   double wall_time) {
  std::string v;
  put_bytes_field(&v, kValueTag, tag);
  put_float_field(&v, kValueSimpleValue, static_cast<float>(value));
  write_record(summary_event(v, step, wall_time));
}

void TensorBoardWriter::add_image(const std::string& tag, const Image& image, int64_t step,
                                  double wall_time) {
  std::string img;
  put_varint_field(&img, kImageHeight, static_cast<uint64_t>(image.height()));
  put_varint_field(&img, kImageWidth, static_cast<uint64_t>(image.width()));
  put_varint_field(&img, kImageColorspace, kColorspaceRgb);
  put_bytes_field(&img, kImageEncoded, encode_png(image, "TensorBoard image " + tag));
  std::string v;
  put_bytes_field(&v, kValueTag, tag);
  put_bytes_field(&v, kValueImage, img);
  write_record(summary_event(v, step, wall_time));
}

void TensorBoardWriter::flush() {
  if (std::fflush(file_.get()) != 0) {
    throw UserError("cannot write TensorBoard event file " + path_ + ": " + std::strerror(errno));
  }
}

// ---- reader --------------------------------------------------------------------

std::vector<EventRecord> read_tensorboard_events(const std::string& file) {
  const std::string bytes = detail::read_file(file, "TensorBoard event file ");
  std::vector<EventRecord> out;
  size_t pos = 0;
  for (size_t index = 0; pos < bytes.size(); ++index) {
    auto fail = [&](const std::string& what) {
      throw UserError("bad TensorBoard event file " + file + ": record " + std::to_string(index) +
                      " (byte " + std::to_string(pos) + "): " + what);
    };
    auto le = [&](size_t at, int n) {
      uint64_t v = 0;
      for (int i = 0; i < n; ++i)
        v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[at + i])) << (8 * i);
      return v;
    };
    const size_t left = bytes.size() - pos;
    if (left < 12) fail("truncated header (" + std::to_string(left) + " of 12 bytes)");
    if (le(pos + 8, 4) != masked_crc(bytes.data() + pos, 8)) fail("length CRC mismatch");
    const uint64_t length = le(pos, 8);
    if (left < 16 || length > left - 16) {
      fail("truncated data (" + std::to_string(length) + " bytes + CRC announced, " +
           std::to_string(left - 12) + " left)");
    }
    const std::string data = bytes.substr(pos + 12, static_cast<size_t>(length));
    if (le(pos + 12 + length, 4) != masked_crc(data.data(), data.size())) fail("data CRC mismatch");
    try {
      out.push_back(decode_event(data));
    } catch (const Malformed& m) {
      fail("malformed event: " + m.what);
    }
    pos += 16 + static_cast<size_t>(length);
  }
  return out;
}

}  // namespace anila::io
