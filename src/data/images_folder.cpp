// images_folder.cpp — a folder of image files (Oxford Flowers, CelebA, your own).
//
// Every .png/.jpg/.jpeg/.bmp (any case) under the folder, recursively, sorted
// by path, is decoded with stb_image (8 bits per channel, RGB), reduced to
// luminance Y = 0.299R + 0.587G + 0.114B when channels = 1, centre-cropped to
// the largest square and box-filtered to S×S (resize_square). Files decode
// in parallel (parallel_each: at::get_num_threads() threads, one file at a
// time); with a limit they decode in chunks until enough usable images are
// found. Files that fail to decode or are smaller than 8×8 are skipped and
// summarised in one warning.
#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "data/images_internal.h"

namespace anila::data::internal {

namespace fs = std::filesystem;

namespace {

constexpr int kMinSide = 8;
constexpr int64_t kMinChunk = 256;

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// The image files under `folder`, sorted by path.
std::vector<fs::path> list_image_files(const std::string& folder) {
  std::vector<fs::path> files;
  try {
    const auto options = fs::directory_options::follow_directory_symlink |
                         fs::directory_options::skip_permission_denied;
    for (const auto& entry : fs::recursive_directory_iterator(folder, options)) {
      std::error_code ec;
      if (entry.is_regular_file(ec) && has_image_extension(entry.path())) {
        files.push_back(entry.path());
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw UserError("cannot list image folder " + folder + ": " + e.code().message());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Decodes one file into out [channels, size, size]; returns "" or why it was skipped.
std::string decode_file(const fs::path& file, int64_t size, int64_t channels, float* out) {
  int w = 0, h = 0, n = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load(file.c_str(), &w, &h, &n, 3),
                                                 stbi_image_free);
  if (!data) {
    const char* why = stbi_failure_reason();
    return std::string("cannot decode (") + (why ? why : "unknown error") + ")";
  }
  if (w < kMinSide || h < kMinSide) {
    return std::to_string(w) + "×" + std::to_string(h) + " is smaller than 8×8";
  }
  const int64_t s = std::min(w, h), y0 = (h - s) / 2, x0 = (w - s) / 2;
  std::vector<double> square(size_t(channels * s * s));
  const stbi_uc* px = data.get();
  for (int64_t y = 0; y < s; ++y) {
    for (int64_t x = 0; x < s; ++x) {
      const stbi_uc* p = px + ((y0 + y) * w + x0 + x) * 3;
      if (channels == 1) {
        square[size_t(y * s + x)] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
      } else {
        for (int64_t c = 0; c < 3; ++c) square[size_t((c * s + y) * s + x)] = p[c];
      }
    }
  }
  resize_square(square.data(), channels, s, size, out);
  return "";
}

}  // namespace

FolderImages load_image_folder(const std::string& folder, int64_t size, int64_t channels,
                               int64_t limit, const std::string& key) {
  std::error_code ec;
  if (!fs::exists(folder, ec))
    throw UserError(key + ": image folder " + folder + " does not exist");
  if (!fs::is_directory(folder, ec)) {
    throw UserError(key + ": " + folder + " is not a folder (type image_folder expects a folder)");
  }
  const std::vector<fs::path> files = list_image_files(folder);
  if (files.empty()) {
    throw UserError(folder + ": no .png, .jpg, .jpeg or .bmp files found (searched recursively)");
  }

  std::vector<at::Tensor> kept;
  int64_t kept_count = 0, skipped = 0;
  std::string first_skip;
  const int64_t per_image = channels * size * size;
  for (int64_t begin = 0; begin < int64_t(files.size());) {
    const int64_t want =
        limit > 0 ? std::max(limit - kept_count, kMinChunk) : int64_t(files.size());
    const int64_t count = std::min(want, int64_t(files.size()) - begin);
    at::Tensor chunk = at::empty({count, channels, size, size}, at::kFloat);
    float* out = chunk.data_ptr<float>();
    std::vector<std::string> why(static_cast<size_t>(count));
    parallel_each(count, [&](int64_t i) {
      try {
        why[size_t(i)] = decode_file(files[size_t(begin + i)], size, channels, out + i * per_image);
      } catch (const std::exception& e) {  // std::bad_alloc on a huge image
        why[size_t(i)] = std::string("cannot decode (") + e.what() + ")";
      }
    });
    // Files after the limit-th usable one count neither as kept nor as skipped.
    std::vector<int64_t> good;
    for (int64_t i = 0; i < count; ++i) {
      if (limit > 0 && kept_count + int64_t(good.size()) >= limit) break;
      if (why[size_t(i)].empty()) {
        good.push_back(i);
        continue;
      }
      ++skipped;
      if (first_skip.empty()) {
        first_skip =
            files[size_t(begin + i)].lexically_relative(folder).string() + ": " + why[size_t(i)];
      }
    }
    if (!good.empty()) {
      kept.push_back(int64_t(good.size()) == count
                         ? chunk
                         : chunk.index_select(0, at::tensor(good, at::kLong)));
      kept_count += int64_t(good.size());
    }
    begin += count;
    if (limit > 0 && kept_count >= limit) break;
  }

  if (kept_count == 0) {
    throw UserError(folder + ": no usable images (" + std::to_string(skipped) +
                    " files skipped; first: " + first_skip + ")");
  }
  FolderImages result;
  result.images = kept.size() == 1 ? kept[0] : at::cat(kept, 0);
  if (skipped > 0) {
    result.warnings.push_back("skipped " + std::to_string(skipped) + " files in " + folder +
                              " (first: " + first_skip + ")");
  }
  return result;
}

}  // namespace anila::data::internal
