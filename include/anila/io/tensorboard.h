// tensorboard.h — a TensorBoard event-file writer (scalars and PNG images) and a
// checking reader, hand-encoded: no protobuf or TensorFlow library is needed.
//
//   TensorBoardWriter tb("runs/rings/tb");        // DIR/events.out.tfevents.<s>.<host>.<pid>
//   tb.add_scalar("train/loss", 0.12, /*step=*/100);
//   tb.add_image("samples", grid, /*step=*/100);  // anila::io::Image, stored as PNG
//   // then: tensorboard --logdir runs
//
// File format (TFRecord framing of tensorflow.Event protobuf messages):
//   record = uint64 length (LE) | uint32 masked_crc32c(length bytes)
//          | data[length]       | uint32 masked_crc32c(data)
//   crc32c: Castagnoli polynomial (reflected 0x82F63B78), init and final xor ~0;
//   mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8   (uint32 arithmetic).
//   Event:         1 wall_time double, 2 step int64, 3 file_version string, 5 summary
//   Summary:       1 value (repeated Summary.Value)
//   Summary.Value: 1 tag string, 2 simple_value float, 4 image Summary.Image
//   Summary.Image: 1 height, 2 width, 3 colorspace (3 = RGB), 4 encoded_image_string (PNG)
// The first record of every file is the version event file_version = "brain.Event:2".
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace anila::io {

class Image;  // anila/io/image.h

// ---- writer ------------------------------------------------------------------

// Appends events to one new event file. Every add_* call writes one complete
// record and flushes it, so a run that crashes leaves a readable file.
// Not copyable; one writer per file.
class TensorBoardWriter {
 public:
  // Creates `dir` (and parents) if needed and opens
  // dir/events.out.tfevents.<unix seconds>.<hostname>.<pid> (with ".1", ".2", ...
  // appended if that name is already taken, e.g. a second writer in the same
  // second), then writes the file_version record. UserError if not writable.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One Summary.Value with simple_value = float(value). wall_time: seconds
  // since the Unix epoch; negative means now.
  void add_scalar(const std::string& tag, double value, int64_t step, double wall_time = -1);
  // image: RGB, at least 1×1; stored PNG-encoded with colorspace 3 (RGB).
  void add_image(const std::string& tag, const Image& image, int64_t step, double wall_time = -1);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);
  struct FileCloser {
    void operator()(FILE* f) const;
  };
  std::string path_;
  std::unique_ptr<FILE, FileCloser> file_;
};

// ---- reader (for tests and tools) ----------------------------------------------

// One event as read back. Summary values other than simple_value and image
// (histograms, tensors, ...) and unknown fields are skipped.
struct EventRecord {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;                             // "" unless the version event
  std::vector<std::pair<std::string, double>> scalars;  // tag, simple_value (a float)
  std::vector<std::tuple<std::string, int, int, std::string>> images;  // tag, height, width, PNG
};

// Reads every record of an event file, verifying each length and data CRC and
// the protobuf encoding. UserError naming the file and the record (0-based
// index and byte offset) on a bad CRC, a truncated record or a malformed event.
std::vector<EventRecord> read_tensorboard_events(const std::string& file);

// ---- checksums -----------------------------------------------------------------

// CRC-32C (Castagnoli) of `size` bytes; crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t size);
// The TFRecord masking of a CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t tfrecord_mask_crc(uint32_t crc);

}  // namespace anila::io
