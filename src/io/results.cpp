// results.cpp — rows of runs, cells of mean ± sd (see anila/io/results.h).
#include "anila/io/results.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "anila/io/files.h"
#include "anila/io/report.h"

namespace anila::io {

namespace {

bool is_number_column(const Column& c) {
  return !c.format.empty();
}

std::string raw_text(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return fmt::format("{:.9g}", v.get<double>());
  return v.dump();
}

}  // namespace

MeanSd mean_and_sd(const std::vector<double>& v) {
  MeanSd out{NAN, NAN, v.size()};
  if (v.empty()) return out;
  double sum = 0;
  for (double x : v) sum += x;
  out.mean = sum / static_cast<double>(v.size());
  if (v.size() > 1) {
    double var = 0;
    for (double x : v) var += (x - out.mean) * (x - out.mean);
    out.sd = std::sqrt(var / static_cast<double>(v.size() - 1));
  }
  return out;
}

ResultsTable::ResultsTable(std::vector<Column> columns, std::string group_title)
    : columns_(std::move(columns)), group_title_(std::move(group_title)) {}

void ResultsTable::add(ResultRow row) {
  if (!row.values.is_object()) row.values = Json::object();
  rows_.push_back(std::move(row));
}

std::vector<std::string> ResultsTable::groups() const {
  std::vector<std::string> out;
  for (const auto& r : rows_)
    if (std::find(out.begin(), out.end(), r.group) == out.end()) out.push_back(r.group);
  return out;
}

std::vector<double> ResultsTable::values(const std::string& group, const std::string& key) const {
  std::vector<double> out;
  for (const auto& r : rows_) {
    if (r.group != group || !r.values.contains(key) || !r.values[key].is_number()) continue;
    const double x = r.values[key].get<double>();
    if (std::isfinite(x)) out.push_back(x);
  }
  return out;
}

std::string ResultsTable::cell(const std::string& group, const Column& c) const {
  size_t n = 0, diverged = 0;
  std::string text;
  for (const auto& r : rows_) {
    if (r.group != group) continue;
    n++;
    const bool has = r.values.contains(c.key) && !r.values[c.key].is_null();
    if (!has && r.diverged) diverged++;
    if (has && text.empty() && r.values[c.key].is_string())
      text = r.values[c.key].get<std::string>();
  }
  if (!is_number_column(c)) return text.empty() ? "-" : text;
  const std::vector<double> v = values(group, c.key);
  if (v.empty() && diverged > 0)
    return n == 1 ? "diverged" : fmt::format("diverged ({}/{})", diverged, n);
  std::string out = mean_sd(v, c.format);
  if (diverged > 0) out += fmt::format(" ({}/{} diverged)", diverged, n);
  return out;
}

std::string ResultsTable::label(const std::string& group) const {
  size_t n = 0, diverged = 0;
  std::string note;
  for (const auto& r : rows_) {
    if (r.group != group) continue;
    n++;
    diverged += r.diverged;
    if (note.empty()) note = r.note;
  }
  if (n == 1)
    return note.empty() ? (diverged ? group + " (diverged)" : group) : group + " (" + note + ")";
  return diverged ? fmt::format("{} ({} of {} diverged)", group, diverged, n) : group;
}

std::vector<std::string> ResultsTable::header() const {
  std::vector<std::string> out = {group_title_};
  for (const auto& c : columns_) out.push_back(c.title);
  return out;
}

std::vector<std::vector<std::string>> ResultsTable::cells() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& g : groups()) {
    std::vector<std::string> row = {label(g)};
    for (const auto& c : columns_) row.push_back(cell(g, c));
    out.push_back(std::move(row));
  }
  return out;
}

std::string ResultsTable::markdown() const {
  return markdown_table(header(), cells());
}

std::string ResultsTable::csv() const {
  std::vector<std::string> head = {group_title_, "runs", "diverged"};
  for (const auto& c : columns_) {
    if (!is_number_column(c)) continue;
    head.push_back(c.key + "_mean");
    head.push_back(c.key + "_sd");
  }
  std::vector<std::vector<std::string>> lines;
  for (const auto& g : groups()) {
    int64_t runs = 0, diverged = 0;
    for (const auto& r : rows_)
      if (r.group == g) runs++, diverged += r.diverged;
    std::vector<std::string> line = {g, std::to_string(runs), std::to_string(diverged)};
    for (const auto& c : columns_) {
      if (!is_number_column(c)) continue;
      const MeanSd m = mean_and_sd(values(g, c.key));
      line.push_back(m.n ? fmt::format("{:.9g}", m.mean) : "");
      line.push_back(m.n > 1 ? fmt::format("{:.9g}", m.sd) : "");
    }
    lines.push_back(std::move(line));
  }
  return csv_table(head, lines);
}

std::string ResultsTable::csv_rows() const {
  std::vector<std::string> head = {group_title_, "seed", "diverged"};
  for (const auto& c : columns_) head.push_back(c.key);
  std::vector<std::vector<std::string>> lines;
  for (const auto& r : rows_) {
    std::vector<std::string> line = {r.group, std::to_string(r.seed), r.diverged ? "1" : "0"};
    for (const auto& c : columns_)
      line.push_back(r.values.contains(c.key) ? raw_text(r.values[c.key]) : "");
    lines.push_back(std::move(line));
  }
  return csv_table(head, lines);
}

Json ResultsTable::to_json() const {
  Json out = Json::array();
  for (const auto& g : groups()) {
    int64_t runs = 0, diverged = 0;
    for (const auto& r : rows_)
      if (r.group == g) runs++, diverged += r.diverged;
    Json row = {{group_title_, g}, {"runs", runs}, {"diverged", diverged}};
    for (const auto& c : columns_) {
      if (!is_number_column(c)) continue;
      const MeanSd m = mean_and_sd(values(g, c.key));
      row[c.key] = {{"mean", m.mean}, {"sd", m.sd}, {"n", m.n}};
    }
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace anila::io
