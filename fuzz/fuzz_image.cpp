// fuzz_image.cpp — image files in an image folder (PNG checks + stb_image decoding).
//
// Input: byte 0 picks the extension (.png, .jpg, .bmp) and the channels
// (1 or 3); the rest is the file.
#include <filesystem>

#include "anila/common.h"
#include "data/images_internal.h"
#include "fuzz.h"

ANILA_FUZZ_TARGET(image) {
  if (size < 1) return 0;
  static const char* kExt[] = {".png", ".jpg", ".bmp"};
  const char* ext = kExt[data[0] % 3];
  const int64_t channels = data[0] & 0x80 ? 1 : 3;
  const std::string folder = anila::fuzz::scratch() + "/images";
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  anila::fuzz::put_file(std::string("images/x") + ext, data + 1, size - 1);
  (void)anila::data::internal::png_damage(data + 1, size - 1);
  try {
    (void)anila::data::internal::load_image_folder(folder, 8, channels, 0, "data.path");
  } catch (const anila::UserError&) {
  }
  return 0;
}
