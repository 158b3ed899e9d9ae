// files.h — atomic writes and small array/table writers for run folders.
//
//   write_atomic(path, text)   temporary file in the same folder, then rename
//   write_npy(path, tensor)    NumPy .npy (v1.0, little-endian, C order) for
//                              float32/float64/int64/uint8 tensors
//   read_npy(path)             the inverse (for tests and resume)
//   MetricsLog                 metrics.csv + metrics.jsonl, one row per call
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "anila/common.h"

namespace anila::io {

// Writes `content` to `path` via `path.tmp-<pid>` and rename; UserError naming the path on failure.
void write_atomic(const std::string& path, const std::string& content);
std::string read_text(const std::string& path);  // UserError if missing

void write_npy(const std::string& path, const at::Tensor& array);
at::Tensor read_npy(const std::string& path);

// Creates a folder (and parents); UserError "cannot create output folder X: reason".
void make_dirs(const std::string& path);
// Throws UserError unless a file can be created in `dir` (which must exist).
void check_writable(const std::string& dir);

// Appends one row per `append` to DIR/metrics.csv and DIR/metrics.jsonl.
// The CSV header is the union of `columns` given at construction; missing
// values are written empty (CSV) / omitted (JSONL). With `resume`, existing
// rows with iteration > `keep_until` are dropped first (so a resumed run does
// not duplicate rows written after its checkpoint), and so are rows at
// `keep_until` without a "loss" (final-evaluation rows): both files are rebuilt
// atomically from the kept rows of metrics.jsonl (which holds every value),
// and a torn last line of a killed run is dropped. Without `resume` both files
// start empty (CSV: header only). Every `append` is on disk (flushed) when it
// returns. CSV numbers: integers as integers, doubles as %.9g; cells quoted
// RFC 4180 style when they contain a comma, quote or newline.
class MetricsLog {
 public:
  MetricsLog(const std::string& dir, std::vector<std::string> columns, bool resume = false,
             int64_t keep_until = -1);
  void append(const Json& row);

 private:
  std::string csv_path_, jsonl_path_;
  std::vector<std::string> columns_;
};

// A markdown table; `rows` are already formatted cells (as many as `header`).
// Columns are padded to a common width (at least 3), '|' in a cell is escaped:
//   | name | value |
//   |------|-------|
//   | a    | 1     |
// csv_table: comma-separated lines ended by '\n'; cells with a comma, quote or
// newline are quoted RFC 4180 style (say "hi" -> "say ""hi""").
std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows);
std::string csv_table(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows);

}  // namespace anila::io
