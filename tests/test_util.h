// test_util.h — small helpers shared by the test files.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "anila/common.h"

namespace anila::test {

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "anila_test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (tag + "_XXXXXX")).string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }
  const std::string& str() const { return path_; }
  // Names of the entries directly inside, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

// Runs `f`, expecting a UserError; returns its message ("" and a test failure otherwise).
inline std::string user_error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UserError";
  return "";
}

// Writes a raw IDX images file of n 28×28 images (n < 256): image k has rows of
// value ((row + k) % 7) · 36.
inline void write_idx_images(const std::string& path, int n) {
  std::ofstream out(path, std::ios::binary);
  const unsigned char header[16] = {0, 0, 8, 3,  0, 0, 0, static_cast<unsigned char>(n),
                                    0, 0, 0, 28, 0, 0, 0, 28};
  out.write(reinterpret_cast<const char*>(header), 16);
  for (int k = 0; k < n; ++k) {
    for (int i = 0; i < 28 * 28; ++i) out.put(static_cast<char>(((i / 28 + k) % 7) * 36));
  }
}

}  // namespace anila::test
