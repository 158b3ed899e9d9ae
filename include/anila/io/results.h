// results.h — the results table of `anila compare`, `anila reproduce` and
// `anila sample`: rows are runs (a sampler × a seed), columns are metrics with
// a display format, and a group (one sampler) shows as mean ± sd over its rows.
//
//   io::ResultsTable t({{"kl", "model kl [nats]", "{:.3f}"},
//                       {"seconds", "s/run", "{:.1f}"}});
//   t.add({"langevin", 0, {{"kl", 0.12}, {"seconds", 3.1}}});
//   t.add({"langevin", 1, {{"kl", 0.16}, {"seconds", 3.3}}});
//   t.add({"anila", 0, {}, /*diverged=*/true});
//   t.markdown();  // | sampler | model kl [nats] | s/run |
//                  // | langevin | 0.140 ± 0.028 | 3.2 ± 0.1 |
//                  // | anila (1 of 1 diverged) | diverged | diverged |
//   t.csv();       // sampler,runs,diverged,kl_mean,kl_sd,seconds_mean,seconds_sd
//
// A cell is the mean ± sd (sample sd) of the finite numbers its group's rows
// hold under the column's key; a text column (format "") shows the first row's
// text. A row marked diverged that lacks a value counts as diverged in that
// cell: "diverged" when no row has a value, "x ± y (1/3 diverged)" otherwise.
// Nothing is dropped silently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "anila/common.h"

namespace anila::io {

struct Column {
  std::string key;        // the value's key in each row
  std::string title;      // the column's header
  std::string format;     // fmt syntax for numbers ("{:.3f}"); "" for a text column
  bool csv_only = false;  // in the CSV files, not in the markdown table
};

struct ResultRow {
  std::string group;  // the sampler
  int64_t seed = 0;   // the seed index within the group
  Json values;        // key -> number or text; missing keys are empty cells
  bool diverged = false;
  std::string note;  // shown after the group's label for a one-row group ("diverged at step 40")
};

class ResultsTable {
 public:
  explicit ResultsTable(std::vector<Column> columns, std::string group_title = "sampler");

  void add(ResultRow row);

  const std::vector<Column>& columns() const { return columns_; }
  const std::vector<ResultRow>& rows() const { return rows_; }
  // The groups in the order their first row was added.
  std::vector<std::string> groups() const;
  // The finite numbers group `group` holds under `key` (rows in order).
  std::vector<double> values(const std::string& group, const std::string& key) const;

  // The formatted cell of `group` in column `c` (see the file comment).
  std::string cell(const std::string& group, const Column& c) const;
  // "langevin", "langevin (1 of 3 diverged)", or with a one-row group its note.
  std::string label(const std::string& group) const;

  // One row per group: the header and the cells, for markdown or io::Report.
  std::vector<std::string> header() const;
  std::vector<std::vector<std::string>> cells() const;
  std::string markdown() const;
  // One line per group: group, runs, diverged, then <key>_mean and <key>_sd of
  // each number column (9 significant digits; sd empty for fewer than two values).
  std::string csv() const;
  // One line per row: group, seed, diverged, then every column's raw value.
  std::string csv_rows() const;
  // [{"sampler": g, "runs": n, "diverged": d, key: {"mean", "sd", "n"}}, ...]
  Json to_json() const;

 private:
  std::vector<Column> columns_;
  std::string group_title_;
  std::vector<ResultRow> rows_;
};

// Mean and sample sd (NaN where undefined) of v.
struct MeanSd {
  double mean, sd;
  size_t n;
};
MeanSd mean_and_sd(const std::vector<double>& v);

}  // namespace anila::io
