// config.h — reading JSON config sections with defaults, types, ranges and
// helpful errors.
//
// A config is one JSON object with a section per module (docs/configs.md). Each
// component reads its section through a `ConfigReader`, which
//   * returns the default when a key is absent,
//   * throws UserError("sampler.step_size: expected a number, got \"abc\"") on a wrong type,
//   * throws UserError on out-of-range values ("must be > 0, got -1"),
//   * and, in `finish()`, rejects keys nobody read, suggesting the closest
//     valid one ("unknown key sampler.stepsize (did you mean step_size?)").
// Components write their resolved options back with `to_json()`, so a run
// folder records every default that was filled in.
//
//   ConfigReader r(config["sampler"], "sampler");
//   double s = r.number("step_size", 1.0, Range::positive());
//   r.finish();
#pragma once

#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "anila/common.h"

namespace anila {

// Allowed interval for a number; `lo_open`/`hi_open` make a bound strict.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;
  static Range any() { return {}; }
  static Range positive() { return {0.0, std::numeric_limits<double>::infinity(), true, false}; }
  static Range non_negative() { return {0.0, std::numeric_limits<double>::infinity()}; }
  static Range unit() { return {0.0, 1.0}; }  // [0, 1]
  static Range at_least(double lo) { return {lo, std::numeric_limits<double>::infinity()}; }
};

class ConfigReader {
 public:
  // section: a JSON object (or null, treated as empty); path: its dotted name for messages.
  ConfigReader(const Json& section, std::string path);

  double number(const std::string& key, double def, Range range = Range::any());
  int64_t integer(const std::string& key, int64_t def, Range range = Range::any());
  bool boolean(const std::string& key, bool def);
  std::string string(const std::string& key, const std::string& def);
  // A string that must be one of `choices`.
  std::string choice(const std::string& key, const std::string& def,
                     const std::vector<std::string>& choices);
  // A list of positive integers, e.g. hidden widths [32, 64, 64, 64].
  std::vector<int64_t> int_list(const std::string& key, const std::vector<int64_t>& def);
  // A nested object (null when absent); marks the key as known.
  Json object(const std::string& key);
  // Any JSON value, unchecked (null when absent); marks the key as known.
  Json raw(const std::string& key);
  bool has(const std::string& key) const;
  // Marks keys as valid without reading them (handled elsewhere).
  void allow(const std::vector<std::string>& keys);

  // Throws UserError for the first key that was never read or allowed.
  void finish() const;

  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const;

 private:
  const Json* get(const std::string& key);
  Json section_;
  std::string path_;
  std::set<std::string> known_;
};

// The member of `candidates` with the smallest edit distance to `word`
// (empty when nothing is reasonably close).
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// "a, b, c"
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

// The items of a comma-separated list, trimmed, empty ones dropped
// ("langevin, anila," -> {"langevin", "anila"}): compare.samplers, bench.samplers.
std::vector<std::string> split_list(const std::string& text);

// `s` without leading and trailing whitespace (space, \t, \n, \r, \f, \v).
std::string trim(const std::string& s);

// JSON nested deeper than this is refused: configs use 3 or 4 levels, and
// copying or printing a value 10^5 levels deep recurses until the stack ends.
constexpr int kMaxJsonDepth = 64;

// Parses JSON text (// and /* */ comments allowed). UserError("<what>:LINE:
// invalid JSON"), or "<what>: nested deeper than 64 levels", or
// "<what>:LINE: number 1e400 is beyond the range of a double".
Json parse_json(const std::string& text, const std::string& what);
// The same parser and limits, but any problem gives a discarded value
// (`is_discarded()`) instead of an exception: for files anila wrote itself
// (metrics.jsonl rows, summary.json), where a torn line is skipped.
Json try_parse_json(const std::string& text);

// Reads a JSON config file; UserError on a missing file or a parse error (with line).
Json load_json_file(const std::string& path);

// Applies one "--set section.key=value" override. The value is parsed as JSON
// when it parses (numbers, true/false, null, quoted strings, arrays), else
// taken as a plain string. UserError on a malformed assignment.
void apply_override(Json& config, const std::string& assignment);

// Sizes a user gives (batch, bank, evaluation samples, image side) are checked
// against the memory they imply before anything is allocated:
// UserError("<what> needs at least 8.0 TB of memory; this machine has 125.8 GB")
// when `bytes` exceeds the machine's physical memory (or is not finite).
void check_memory(const std::string& what, double bytes);
// "8.0 TB", "125.8 GB", "512 B" (powers of 1000).
std::string format_bytes(double bytes);

// Compact short text of a JSON value for error messages.
std::string describe_json(const Json& value);

}  // namespace anila
