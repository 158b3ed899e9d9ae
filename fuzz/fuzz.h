// fuzz.h — shared pieces of anila's fuzz targets (fuzz/fuzz_*.cpp).
//
// Each target is one function of the input bytes that must return normally:
// a UserError (bad input, one clear line) is the expected way to refuse an
// input; any other exception, a crash or a sanitizer report is a finding.
//
// Two builds of the same files:
//   * libFuzzer (make fuzz, clang, ASan + UBSan): ANILA_FUZZ_TARGET(name)
//     defines LLVMFuzzerTestOneInput, one executable per target.
//   * smoke (the normal build, part of make test): ANILA_FUZZ_SMOKE is
//     defined and every target registers itself in one executable,
//     anila_fuzz_smoke, which replays a seed corpus and a fixed set of
//     mutations of it (fuzz/smoke_main.cpp).
//
// Adding a target: write fuzz/fuzz_NAME.cpp with ANILA_FUZZ_TARGET(NAME) { ... },
// add its seeds to fuzz/make_seeds.py, and its sources to ANILA_FUZZ_TARGETS in
// cmake/fuzz.cmake.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

namespace anila::fuzz {

using Target = int (*)(const uint8_t*, size_t);

inline std::map<std::string, Target>& registry() {
  static std::map<std::string, Target> targets;
  return targets;
}

struct Registrar {
  Registrar(const char* name, Target t) { registry()[name] = t; }
};

// A scratch folder for this process (loaders that take paths read from it).
inline const std::string& scratch() {
  static const std::string dir = [] {
    const std::string d = (std::filesystem::temp_directory_path() /
                           ("anila-fuzz-" + std::to_string(static_cast<long>(::getpid()))))
                              .string();
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes bytes to scratch()/name and returns the path.
inline std::string put_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace anila::fuzz

#ifdef ANILA_FUZZ_SMOKE
#define ANILA_FUZZ_TARGET(name)                                                        \
  static int anila_fuzz_##name(const uint8_t* data, size_t size);                      \
  static const anila::fuzz::Registrar anila_fuzz_reg_##name(#name, anila_fuzz_##name); \
  static int anila_fuzz_##name(const uint8_t* data, size_t size)
#else
#define ANILA_FUZZ_TARGET(name) \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#endif
