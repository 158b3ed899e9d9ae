// smoke_main.cpp — replays the fuzz targets without libFuzzer (part of make test).
//
//   anila_fuzz_smoke TARGET SEED_DIR [MUTATIONS]
//
// Runs TARGET on every file in SEED_DIR, then on MUTATIONS (default 2000)
// deterministic mutations of them (bit flips, byte overwrites with 0x00/0xff/
// 0x7f/0x80, insertions, deletions, truncations, 4-byte big numbers), so the
// same inputs run on every machine. Prints the count; a crash or an escaping
// exception fails the test. The long, coverage-guided runs are `make fuzz`.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "fuzz.h"

namespace {

struct XorShift {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  size_t below(size_t n) { return n == 0 ? 0 : size_t(next() % n); }
};

std::string mutate(std::string in, XorShift& rng) {
  const int edits = 1 + int(rng.below(4));
  for (int e = 0; e < edits; ++e) {
    const size_t at = rng.below(in.size() + 1);
    switch (rng.below(7)) {
      case 0:
        if (!in.empty()) in[std::min(at, in.size() - 1)] ^= char(1u << rng.below(8));
        break;
      case 1: {
        static const char kSpecial[] = {'\0', '\xff', '\x7f', '\x80', '9', '[', '{', '-', ','};
        if (!in.empty()) in[std::min(at, in.size() - 1)] = kSpecial[rng.below(sizeof(kSpecial))];
        break;
      }
      case 2:
        in.insert(at, 1, char(rng.next()));
        break;
      case 3:
        if (at < in.size()) in.erase(at, 1 + rng.below(16));
        break;
      case 4:
        in.resize(at);
        break;
      case 5:
        if (in.size() >= 4) {
          const size_t p = std::min(at, in.size() - 4);
          const uint32_t big[] = {0xffffffffu, 0x7fffffffu, 0x80000000u, 0x00010000u, 0};
          const uint32_t v = big[rng.below(5)];
          for (int i = 0; i < 4; ++i) in[p + i] = char(v >> (24 - 8 * i));
        }
        break;
      default:
        if (!in.empty()) {  // duplicate a slice (nesting, repeated records)
          const size_t len =
              1 + rng.below(std::min<size_t>(in.size() - std::min(at, in.size() - 1), 64));
          const size_t from = std::min(at, in.size() - 1);
          in.insert(from, in.substr(from, len));
        }
    }
  }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  auto& targets = anila::fuzz::registry();
  if (argc < 3 || !targets.count(argv[1])) {
    std::cerr << "usage: anila_fuzz_smoke TARGET SEED_DIR [MUTATIONS]; targets:";
    for (const auto& t : targets) std::cerr << " " << t.first;
    std::cerr << "\n";
    return 2;
  }
  const anila::fuzz::Target target = targets[argv[1]];
  const long mutations = argc > 3 ? std::atol(argv[3]) : 2000;
  std::vector<std::string> seeds;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(argv[2])) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (seeds.empty()) {
    std::cerr << "anila_fuzz_smoke: no seeds in " << argv[2] << "\n";
    return 2;
  }
  // Each input is saved before it runs, so a crash leaves it behind to replay.
  const std::string saved = anila::fuzz::scratch() + "/current-input";
  std::cout << "inputs are saved to " << saved << " before each run" << std::endl;
  long runs = 0;
  auto one = [&](const std::string& input) {
    anila::fuzz::put_file("current-input", reinterpret_cast<const uint8_t*>(input.data()),
                          input.size());
    target(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ++runs;
  };
  for (const auto& s : seeds) one(s);
  XorShift rng;
  for (long i = 0; i < mutations; ++i) one(mutate(seeds[rng.below(seeds.size())], rng));
  std::error_code ec;
  std::filesystem::remove_all(anila::fuzz::scratch(), ec);
  std::cout << "ok: " << argv[1] << " " << runs << " inputs (" << seeds.size() << " seeds)\n";
  return 0;
}
