// cli_run.h — runs the built `anila` binary (ANILA_BINARY, or $ANILA_TEST_BINARY
// when set) for the CLI tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace anila::test {

struct Result {
  int code = -1;
  std::string output;  // stdout + stderr
};

// The anila binary the CLI tests run: $ANILA_TEST_BINARY when set (a sanitizer
// build's, an installed one), else the one this test program was built with.
inline std::string anila_binary() {
  const char* env = std::getenv("ANILA_TEST_BINARY");
  return env && *env ? std::string(env) : std::string(ANILA_BINARY);
}

// `anila ARGS` with stderr folded into stdout; code is the exit status (-1 if killed).
inline Result run(const std::string& args) {
  std::string cmd = anila_binary() + " " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace anila::test
