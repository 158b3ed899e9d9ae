// fuzz_idx.cpp — IDX images (+ labels) files, raw or gzipped, then resizing.
//
// Input: byte 0 picks the output side (0 = native, else 4..35), byte 1 says
// whether a labels file follows, bytes 2..3 (big-endian) where the images
// file ends; the rest is the images file and then the labels file.
#include "anila/common.h"
#include "data/images_internal.h"
#include "fuzz.h"

ANILA_FUZZ_TARGET(idx) {
  if (size < 4) return 0;
  const int64_t side = data[0] % 33 == 0 ? 0 : 3 + data[0] % 33;
  const bool labels = data[1] & 1;
  size_t split = size_t(data[2]) << 8 | data[3];
  data += 4, size -= 4;
  if (!labels || split > size) split = size;
  const std::string images = anila::fuzz::put_file("train-images-idx3-ubyte", data, split);
  const std::string labels_path = anila::fuzz::scratch() + "/train-labels-idx1-ubyte";
  if (labels) {
    anila::fuzz::put_file("train-labels-idx1-ubyte", data + split, size - split);
  } else {
    std::remove(labels_path.c_str());
  }
  try {
    anila::data::internal::ByteImages b =
        anila::data::internal::read_idx(images, "train", "data.path");
    (void)anila::data::internal::bytes_to_images(b.pixels, side);
  } catch (const anila::UserError&) {
  }
  return 0;
}
