// test_tensorboard.cpp — the TensorBoard event writer and reader: CRC-32C against
// published test vectors, record bytes against a hand-assembled protobuf, a
// round trip of scalars and an image, and the reader's checks on damaged files.
//
// Expected bytes are written out by hand from the format (see tensorboard.h);
// their CRCs come from a bit-at-a-time CRC-32C in this file, independent of the
// table-driven one under test.
#include "anila/io/tensorboard.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <stb_image.h>

#include "anila/io/image.h"
#include "test_util.h"

namespace anila::io {
namespace {

using anila::test::TempDir;
using anila::test::user_error_message;

// Bit-at-a-time reflected CRC-32C (polynomial 0x82F63B78, init/final xor ~0).
uint32_t reference_crc32c(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : s) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0u);
  }
  return ~c;
}

uint32_t reference_masked(const std::string& s) {
  const uint32_t c = reference_crc32c(s);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string le_bytes(uint64_t v, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

// A TFRecord around `data`.
std::string frame(const std::string& data) {
  const std::string len = le_bytes(data.size(), 8);
  return len + le_bytes(reference_masked(len), 4) + data + le_bytes(reference_masked(data), 4);
}

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_all(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
}

// Length of the first record of `file` (the version record) in bytes, from its header.
size_t first_record_size(const std::string& file) {
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i)
    len |= static_cast<uint64_t>(static_cast<uint8_t>(file[i])) << (8 * i);
  return 16 + static_cast<size_t>(len);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Image test_image() {
  Image img(/*width=*/5, /*height=*/3);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 5; ++x) {
      img.at(x, y) = {static_cast<uint8_t>(x * 50), static_cast<uint8_t>(y * 100 + 7),
                      static_cast<uint8_t>(255 - 20 * (x + y))};
    }
  }
  return img;
}

TEST(TensorBoard, Crc32cPublishedVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  // RFC 3720 appendix B.4: 32 bytes of 0x00, 0xFF, 0..31 ascending, 31..0 descending.
  std::string zeros(32, '\0'), ones(32, '\xFF'), up(32, '\0'), down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up.data(), up.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down.data(), down.size()), 0x113FDB5Cu);
  EXPECT_EQ(crc32c("", 0), 0u);
  // The test's own bitwise CRC agrees on the check string, so it can frame records below.
  EXPECT_EQ(reference_crc32c("123456789"), 0xE3069283u);
  const std::string text = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(crc32c(text.data(), text.size()), reference_crc32c(text));
}

TEST(TensorBoard, MaskedCrcByHand) {
  EXPECT_EQ(tfrecord_mask_crc(0), 0xA282EAD8u);
  EXPECT_EQ(tfrecord_mask_crc(1), 0xA284EAD8u);       // 1 << 17 = 0x20000
  EXPECT_EQ(tfrecord_mask_crc(0x8000), 0xA282EAD9u);  // bit 15 rotates to bit 0; << 17 drops it
  // 0xE3069283 rotated right by 15 = 0x25060000 | 0x0001C60D = 0x2507C60D; + 0xA282EAD8.
  EXPECT_EQ(tfrecord_mask_crc(0xE3069283u), 0xC78AB0E5u);
  EXPECT_EQ(tfrecord_mask_crc(0x6E000000u), 0xA283C6D8u);  // >> 15 = 0xDC00; << 17 drops every bit
  EXPECT_EQ(tfrecord_mask_crc(0xFFFFFFFFu), 0xA282EAD7u);  // 0xFFFFFFFF + 0xA282EAD8 mod 2^32
}

TEST(TensorBoard, ScalarRecordBytesMatchHandAssembly) {
  TempDir dir("anila_tb");
  std::string path;
  {
    TensorBoardWriter tb(dir.str());
    path = tb.path();
    tb.add_scalar("a", 1.0, /*step=*/2, /*wall_time=*/3.0);
  }
  const std::string file = read_all(path);
  ASSERT_GT(file.size(), 16u);

  // Version record: Event{ 1: wall_time (now), 3: "brain.Event:2" } = 09 <8> 1A 0D <13 bytes>.
  const size_t n0 = first_record_size(file);
  ASSERT_EQ(n0, 16u + 24u);
  const std::string wall = file.substr(12 + 1, 8);
  const std::string version = bytes({0x09}) + wall + bytes({0x1A, 0x0D}) + "brain.Event:2";
  EXPECT_EQ(file.substr(0, n0), frame(version));
  double t;
  std::memcpy(&t, wall.data(), 8);
  EXPECT_NEAR(t, now_seconds(), 60.0);

  // Event{ 1: 3.0 (fixed64 0x4008000000000000), 2: 2, 5: Summary{ 1: Value{ 1: "a", 2: 1.0f } } }
  const std::string value = bytes({0x0A, 0x01, 'a', 0x15, 0x00, 0x00, 0x80, 0x3F});
  const std::string summary = bytes({0x0A, 0x08}) + value;
  const std::string event =
      bytes({0x09, 0, 0, 0, 0, 0, 0, 0x08, 0x40, 0x10, 0x02, 0x2A, 0x0A}) + summary;
  ASSERT_EQ(event.size(), 23u);
  const std::string expected = bytes({23, 0, 0, 0, 0, 0, 0, 0}) +
                               le_bytes(reference_masked(bytes({23, 0, 0, 0, 0, 0, 0, 0})), 4) +
                               event + le_bytes(reference_masked(event), 4);
  EXPECT_EQ(file.substr(n0), expected);
}

TEST(TensorBoard, ImageRecordBytesMatchHandAssembly) {
  TempDir dir("anila_tb");
  std::string path;
  {
    TensorBoardWriter tb(dir.str());
    path = tb.path();
    tb.add_image("im", test_image(), /*step=*/300, /*wall_time=*/0.5);
  }
  const auto events = read_tensorboard_events(path);
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[1].images.size(), 1u);
  const std::string& png = std::get<3>(events[1].images[0]);
  ASSERT_GT(png.size(), 8u);
  ASSERT_LT(png.size(), 128u);  // one-byte length varints below
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");

  // Summary.Image{ 1: 3 (height), 2: 5 (width), 3: 3 (RGB), 4: png }
  const std::string image =
      bytes({0x08, 3, 0x10, 5, 0x18, 3, 0x22, static_cast<int>(png.size())}) + png;
  // Summary.Value{ 1: "im", 4: image }
  const std::string value =
      bytes({0x0A, 2, 'i', 'm', 0x22, static_cast<int>(image.size())}) + image;
  ASSERT_LT(value.size(), 128u);
  const std::string summary = bytes({0x0A, static_cast<int>(value.size())}) + value;
  // step 300 = 0b10_0101100 -> varint AC 02; wall_time 0.5 = 0x3FE0000000000000.
  std::string event = bytes({0x09, 0, 0, 0, 0, 0, 0, 0xE0, 0x3F, 0x10, 0xAC, 0x02, 0x2A});
  if (summary.size() < 128) {
    event += bytes({static_cast<int>(summary.size())});
  } else {
    event += bytes(
        {static_cast<int>((summary.size() & 0x7F) | 0x80), static_cast<int>(summary.size() >> 7)});
  }
  event += summary;
  const std::string file = read_all(path);
  EXPECT_EQ(file.substr(first_record_size(file)), frame(event));
}

TEST(TensorBoard, RoundTripScalarsAndImage) {
  TempDir dir("anila_tb");
  const Image img = test_image();
  const double t0 = now_seconds();
  std::string path;
  {
    TensorBoardWriter tb(dir / "nested/tb");
    path = tb.path();
    tb.add_scalar("loss", 0.1, 0, 1.7e9 + 0.123456789);
    tb.add_scalar("loss", -2.5e-3, 10, 1.7e9 + 1.0);
    tb.add_scalar("train/kl", 1e30, int64_t{1} << 40, 1.7e9 + 2.0);
    tb.add_scalar("negative step", 3.0, -1, 1.7e9 + 3.0);
    tb.add_image("samples/grid", img, 10, 1.7e9 + 4.0);
    tb.add_scalar("now", 7.0, 11);
  }
  const double t1 = now_seconds();

  const std::string name = path.substr(path.rfind('/') + 1);
  EXPECT_EQ(path.substr(0, path.rfind('/')), dir / "nested/tb");
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  EXPECT_NE(name.find("." + std::to_string(static_cast<long>(::getpid()))), std::string::npos);

  const auto ev = read_tensorboard_events(path);
  ASSERT_EQ(ev.size(), 7u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_TRUE(ev[0].scalars.empty() && ev[0].images.empty());
  EXPECT_GE(ev[0].wall_time, t0 - 1.0);
  EXPECT_LE(ev[0].wall_time, t1 + 1.0);

  struct Expected {
    std::string tag;
    double value;
    int64_t step;
    double wall;
  };
  const Expected want[] = {{"loss", 0.1, 0, 1.7e9 + 0.123456789},
                           {"loss", -2.5e-3, 10, 1.7e9 + 1.0},
                           {"train/kl", 1e30, int64_t{1} << 40, 1.7e9 + 2.0},
                           {"negative step", 3.0, -1, 1.7e9 + 3.0}};
  for (int i = 0; i < 4; ++i) {
    const EventRecord& e = ev[1 + i];
    EXPECT_TRUE(e.file_version.empty());
    EXPECT_EQ(e.step, want[i].step);
    EXPECT_EQ(e.wall_time, want[i].wall);  // a double, stored exactly
    ASSERT_EQ(e.scalars.size(), 1u);
    EXPECT_EQ(e.scalars[0].first, want[i].tag);
    EXPECT_EQ(e.scalars[0].second, static_cast<double>(static_cast<float>(want[i].value)));
    EXPECT_TRUE(e.images.empty());
  }

  const EventRecord& ie = ev[5];
  EXPECT_EQ(ie.step, 10);
  EXPECT_EQ(ie.wall_time, 1.7e9 + 4.0);
  EXPECT_TRUE(ie.scalars.empty());
  ASSERT_EQ(ie.images.size(), 1u);
  const auto& [tag, height, width, png] = ie.images[0];
  EXPECT_EQ(tag, "samples/grid");
  EXPECT_EQ(height, 3);
  EXPECT_EQ(width, 5);
  int w = 0, h = 0, channels = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                                            static_cast<int>(png.size()), &w, &h, &channels, 3);
  ASSERT_NE(px, nullptr) << stbi_failure_reason();
  EXPECT_EQ(w, 5);
  EXPECT_EQ(h, 3);
  EXPECT_EQ(channels, 3);
  EXPECT_EQ(std::memcmp(px, img.data(), 5 * 3 * 3), 0);
  stbi_image_free(px);

  EXPECT_EQ(ev[6].scalars.at(0).first, "now");
  EXPECT_GE(ev[6].wall_time, t0 - 1.0);
  EXPECT_LE(ev[6].wall_time, t1 + 1.0);
}

TEST(TensorBoard, RecordsAreOnDiskBeforeTheWriterCloses) {
  TempDir dir("anila_tb");
  TensorBoardWriter tb(dir.str());
  EXPECT_EQ(read_tensorboard_events(tb.path()).size(), 1u);
  tb.add_scalar("x", 1.5, 1, 10.0);
  const auto ev = read_tensorboard_events(tb.path());
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].scalars.at(0).second, 1.5);
  tb.flush();
}

TEST(TensorBoard, TwoWritersInOneFolderGetTwoFiles) {
  TempDir dir("anila_tb");
  TensorBoardWriter a(dir.str()), b(dir.str());
  EXPECT_NE(a.path(), b.path());
  a.add_scalar("a", 1.0, 1, 1.0);
  b.add_scalar("b", 2.0, 1, 1.0);
  EXPECT_EQ(read_tensorboard_events(a.path()).at(1).scalars.at(0).first, "a");
  EXPECT_EQ(read_tensorboard_events(b.path()).at(1).scalars.at(0).first, "b");
  EXPECT_EQ(dir.entries().size(), 2u);
}

TEST(TensorBoard, ReaderSkipsUnknownFields) {
  // Event{ 1: 3.0, 4: "xyz" (unknown, bytes), 2: 7, 7: 300 (unknown varint),
  //        9: fixed32 (unknown), 5: Summary{ 1: Value{ 3: "old" (unknown), 2: 0.5f, 1: "b" },
  //                                        1: Value{ 1: "h", 5: "" (histogram: skipped) },
  //                                        2: 1 (unknown) } }
  const std::string v1 = bytes({0x1A, 3, 'o', 'l', 'd', 0x15, 0, 0, 0, 0x3F, 0x0A, 1, 'b'});
  const std::string v2 = bytes({0x0A, 1, 'h', 0x2A, 0});
  const std::string summary = bytes({0x0A, static_cast<int>(v1.size())}) + v1 +
                              bytes({0x0A, static_cast<int>(v2.size())}) + v2 + bytes({0x10, 1});
  const std::string event = bytes({0x09, 0,
                                   0,    0,
                                   0,    0,
                                   0,    0x08,
                                   0x40, 0x22,
                                   3,    'x',
                                   'y',  'z',
                                   0x10, 7,
                                   0x38, 0xAC,
                                   0x02, 0x4D,
                                   1,    2,
                                   3,    4,
                                   0x2A, static_cast<int>(summary.size())}) +
                            summary;
  TempDir dir("anila_tb");
  write_all(dir / "events", frame(event));
  const auto ev = read_tensorboard_events(dir / "events");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].wall_time, 3.0);
  EXPECT_EQ(ev[0].step, 7);
  ASSERT_EQ(ev[0].scalars.size(), 1u);
  EXPECT_EQ(ev[0].scalars[0].first, "b");
  EXPECT_EQ(ev[0].scalars[0].second, 0.5);
  EXPECT_TRUE(ev[0].images.empty());
}

class TensorBoardDamaged : public ::testing::Test {
 protected:
  void SetUp() override {
    TensorBoardWriter tb(dir_ / "tb");
    path_ = tb.path();
    tb.add_scalar("a", 1.0, 1, 1.0);
    tb.add_scalar("b", 2.0, 2, 2.0);
    tb.add_scalar("c", 3.0, 3, 3.0);
    good_ = read_all(path_);
    // Byte offsets of records 0..3: the version record, then three scalar records.
    offsets_.push_back(0);
    for (int i = 0; i < 3; ++i) {
      uint64_t len = 0;
      for (int k = 0; k < 8; ++k) {
        len |= static_cast<uint64_t>(static_cast<uint8_t>(good_[offsets_.back() + k])) << (8 * k);
      }
      offsets_.push_back(offsets_.back() + 16 + static_cast<size_t>(len));
    }
    ASSERT_EQ(read_tensorboard_events(path_).size(), 4u);
  }
  std::string error_for(const std::string& content) {
    write_all(path_, content);
    return user_error_message([&] { read_tensorboard_events(path_); });
  }
  TempDir dir_{"anila_tb"};
  std::string path_, good_;
  std::vector<size_t> offsets_;
};

TEST_F(TensorBoardDamaged, CorruptDataByte) {
  std::string bad = good_;
  bad[offsets_[2] + 12 + 3] ^= 0x01;  // inside record 2's event bytes
  const std::string msg = error_for(bad);
  EXPECT_NE(msg.find(path_), std::string::npos) << msg;
  EXPECT_NE(msg.find("record 2 "), std::string::npos) << msg;
  EXPECT_NE(msg.find("data CRC"), std::string::npos) << msg;
}

TEST_F(TensorBoardDamaged, CorruptDataCrc) {
  std::string bad = good_;
  bad[offsets_[3] - 1] ^= 0x80;  // last byte of record 2's data CRC
  const std::string msg = error_for(bad);
  EXPECT_NE(msg.find("record 2 "), std::string::npos) << msg;
  EXPECT_NE(msg.find("data CRC"), std::string::npos) << msg;
}

TEST_F(TensorBoardDamaged, CorruptLength) {
  std::string bad = good_;
  bad[offsets_[1]] ^= 0x04;  // record 1's length
  const std::string msg = error_for(bad);
  EXPECT_NE(msg.find("record 1 "), std::string::npos) << msg;
  EXPECT_NE(msg.find("length CRC"), std::string::npos) << msg;
}

TEST_F(TensorBoardDamaged, TruncatedData) {
  const std::string msg = error_for(good_.substr(0, good_.size() - 1));
  EXPECT_NE(msg.find(path_), std::string::npos) << msg;
  EXPECT_NE(msg.find("record 3 "), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST_F(TensorBoardDamaged, TruncatedHeader) {
  const std::string msg = error_for(good_.substr(0, offsets_[2] + 5));
  EXPECT_NE(msg.find("record 2 "), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST_F(TensorBoardDamaged, MalformedEventWithValidCrcs) {
  // Event field 1 (wall_time) sent as a varint instead of fixed64: 08 01.
  const std::string msg = error_for(good_.substr(0, offsets_[1]) + frame(bytes({0x08, 0x01})));
  EXPECT_NE(msg.find("record 1 "), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed"), std::string::npos) << msg;
  // A length-delimited field longer than the event: 1A 05 'a'.
  const std::string msg2 = error_for(frame(bytes({0x1A, 0x05, 'a'})));
  EXPECT_NE(msg2.find("record 0 "), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("malformed"), std::string::npos) << msg2;
}

TEST(TensorBoard, UserErrors) {
  TempDir dir("anila_tb");
  write_all(dir / "file", "x");
  // A regular file where the folder should be (works even when running as root).
  const std::string msg = user_error_message([&] { TensorBoardWriter tb(dir / "file"); });
  EXPECT_NE(msg.find(dir / "file"), std::string::npos) << msg;
  const std::string missing = user_error_message([&] { read_tensorboard_events(dir / "nope"); });
  EXPECT_NE(missing.find(dir / "nope"), std::string::npos) << missing;
  TensorBoardWriter tb(dir / "tb");
  const std::string empty = user_error_message([&] { tb.add_image("empty", Image(0, 0), 1); });
  EXPECT_NE(empty.find("empty"), std::string::npos) << empty;
}

}  // namespace
}  // namespace anila::io
